// Elementwise ops: the merged-dimension broadcast kernel against the per-element twin over
// awkward shape pairs and thread counts; activations and Clip against plain formulas;
// int64 shape arithmetic folds in infer().
#include <gtest/gtest.h>

#include <cmath>

#include "core/ops/elementwise.h"
#include "core/util/error.h"
#include "tests/unit/ops/op_runner.h"

namespace qcnn {
namespace {

using namespace qcnn::testing;

TEST(Broadcast, ShapesFollowNumpyRules) {
    EXPECT_EQ(broadcast_shape({2, 3, 4}, {4}), (Shape{2, 3, 4}));
    EXPECT_EQ(broadcast_shape({3, 1, 5}, {1, 4, 1}), (Shape{3, 4, 5}));
    EXPECT_EQ(broadcast_shape({}, {2, 2}), (Shape{2, 2}));
    EXPECT_EQ(broadcast_shape({0, 3}, {1, 3}), (Shape{0, 3}));
    EXPECT_THROW(broadcast_shape({2, 3}, {3, 2}), Error);
    const BroadcastLoop l = make_broadcast_loop({2, 8, 5, 5}, {8, 1, 1});
    EXPECT_EQ(l.dims, (std::vector<int64_t>{2, 8, 25}));  // H and W merged; bias along C
    EXPECT_EQ(l.stride_b, (std::vector<int64_t>{0, 1, 0}));
}

TEST(Broadcast, KernelMatchesReference) {
    const std::vector<std::pair<Shape, Shape>> pairs = {
        {{17}, {17}},
        {{2, 3, 5, 7}, {2, 3, 5, 7}},
        {{2, 16, 9, 9}, {16, 1, 1}},
        {{2, 16, 9, 9}, {1, 16, 1, 1}},
        {{1}, {3, 33}},
        {{3, 33}, {}},
        {{3, 1, 5}, {1, 4, 1}},
        {{4, 1}, {1, 65}},
        {{2, 1, 3, 1, 2}, {5, 1, 4, 2}},
        {{63, 64}, {64}},
        {{15, 1, 31}, {15, 2, 1}},
        {{0, 3}, {1, 3}},
        {{300, 257}, {257}},  // big enough to split over threads
        {{2, 40000}, {2, 1}},
    };
    uint32_t seed = 1;
    for (const auto& [sa, sb] : pairs)
        for (BinaryKind k : {BinaryKind::Add, BinaryKind::Mul})
            for (int threads : {1, 2}) {
                SCOPED_TRACE(cat(to_string(sa), " op ", to_string(sb), " threads ", threads, " seed ", seed));
                const Tensor a = random_tensor(sa, seed++), b = random_tensor(sb, seed++);
                Tensor ref;
                binary_reference(k, a, b, ref);
                const BinaryOp op(k);
                const OpOutput r = run_op(op, {runtime(a), runtime(b)}, threads);
                EXPECT_EQ(r.out[0].shape, ref.shape);
                EXPECT_EQ(max_abs_diff(r.out[0], ref), 0.0);  // same arithmetic, exact
                const OpOutput swapped = run_op(op, {runtime(b), runtime(a)}, threads);
                EXPECT_EQ(max_abs_diff(swapped.out[0], ref), 0.0);
            }
}

TEST(Broadcast, Int64OperandsFoldInInfer) {
    const BinaryOp mul(BinaryKind::Mul), add(BinaryKind::Add);
    const OpOutput m = run_op(mul, {ints({2}, {3, 4}), ints({}, {5})});
    ASSERT_TRUE(m.info[0].iconst);
    EXPECT_EQ(*m.info[0].iconst, (std::vector<int64_t>{15, 20}));
    const OpOutput a = run_op(add, {ints({2, 1}, {1, 2}), ints({3}, {10, 20, 30})});
    EXPECT_EQ(a.info[0].shape, (Shape{2, 3}));
    EXPECT_EQ(*a.info[0].iconst, (std::vector<int64_t>{11, 21, 31, 12, 22, 32}));
    const Tensor f({2});
    EXPECT_THROW(run_op(add, {ints({2}, {1, 2}), runtime(f)}), Error);
}

TEST(Activation, MatchesFormulas) {
    Tensor x = random_tensor({3, 70001}, 7, -30.0f, 30.0f);
    x.data[0] = 0.0f;
    x.data[1] = -0.0f;
    for (ActivationKind k : {ActivationKind::Relu, ActivationKind::LeakyRelu, ActivationKind::Sigmoid, ActivationKind::Tanh})
        for (int threads : {1, 2}) {
            const ActivationOp op(k, 0.2f);
            SCOPED_TRACE(op.type());
            const OpOutput r = run_op(op, {runtime(x)}, threads);
            Tensor ref(x.shape);
            activation_reference(k, 0.2f, x.ptr(), ref.ptr(), x.size());
            double worst = 0;
            for (int64_t i = 0; i < x.size(); ++i)
                worst = std::max(worst, std::abs(static_cast<double>(r.out[0].data[i]) - ref.data[i]) /
                                            std::max(1e-30, std::abs(static_cast<double>(ref.data[i]))));
            EXPECT_LT(worst, 1e-5);
        }
    const ActivationOp leaky(ActivationKind::LeakyRelu, 0.1f);
    const Tensor v = [] {
        Tensor t({3});
        t.data = {-2.0f, 0.0f, 3.0f};
        return t;
    }();
    const OpOutput r = run_op(leaky, {runtime(v)});
    EXPECT_FLOAT_EQ(r.out[0].data[0], -0.2f);
    EXPECT_FLOAT_EQ(r.out[0].data[1], 0.0f);
    EXPECT_FLOAT_EQ(r.out[0].data[2], 3.0f);
}

TEST(Clip, BoundsFromAttributesOrInputs) {
    const Tensor x = random_tensor({5, 7}, 9, -2.0f, 2.0f);
    const ClipOp attr_clip(-0.5f, 0.75f);
    const OpOutput a = run_op(attr_clip, {runtime(x)});
    for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(a.out[0].data[i], std::clamp(x.data[i], -0.5f, 0.75f));

    const ClipOp input_clip;
    const Tensor lo(Shape{}, -1.0f), hi(Shape{}, 0.25f);
    const OpInput xi = runtime(x), loi = constant(lo), hii = constant(hi);
    const OpOutput only_max = run_op(input_clip, std::vector<const OpInput*>{&xi, nullptr, &hii});
    for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(only_max.out[0].data[i], std::min(x.data[i], 0.25f));
    const OpOutput both = run_op(input_clip, std::vector<const OpInput*>{&xi, &loi, &hii});
    for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(both.out[0].data[i], std::clamp(x.data[i], -1.0f, 0.25f));
    const Tensor vec({2});
    EXPECT_THROW(run_op(input_clip, {runtime(x), constant(vec)}), Error);
}

}  // namespace
}  // namespace qcnn
