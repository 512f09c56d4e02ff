// Elementwise ops: the merged-dimension broadcast kernel against the per-element twin over
// awkward shape pairs and thread counts; activations and Clip against plain formulas;
// int64 shape arithmetic folds in infer().
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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
    Tensor positive = x;  // Sqrt's domain
    for (float& v : positive.data) v = std::abs(v);
    for (ActivationKind k : {ActivationKind::Relu, ActivationKind::LeakyRelu, ActivationKind::Sigmoid, ActivationKind::Tanh,
                             ActivationKind::Sqrt, ActivationKind::Erf, ActivationKind::HardSigmoid,
                             ActivationKind::HardSwish, ActivationKind::Gelu})
        for (int threads : {1, 2}) {
            const ActivationOp op(k, 0.2f, 0.4f);
            SCOPED_TRACE(op.type());
            const Tensor& in = k == ActivationKind::Sqrt ? positive : x;
            const OpOutput r = run_op(op, {runtime(in)}, threads);
            Tensor ref(in.shape);
            activation_reference(k, 0.2f, 0.4f, in.ptr(), ref.ptr(), in.size());
            // A few ulp of the result, plus the cancellation in 1 + erf(x) (GELU, x < 0): ~eps |x|.
            int64_t bad = 0;
            for (int64_t i = 0; i < in.size(); ++i) {
                const double g = r.out[0].data[i], w = ref.data[i];
                if (!(std::abs(g - w) <= 1e-5 * std::abs(w) + 1e-6 * std::max(1.0, std::abs(double(in.data[i]))))) ++bad;
            }
            EXPECT_EQ(bad, 0);
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

Tensor vec(std::vector<float> v) {
    Tensor t({static_cast<int64_t>(v.size())});
    t.data.assign(v.begin(), v.end());
    return t;
}

void expect_values(const ActivationOp& op, const std::vector<float>& x, const std::vector<float>& want) {
    SCOPED_TRACE(op.type());
    const Tensor in = vec(x);
    const OpOutput r = run_op(op, {runtime(in)});
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(r.out[0].data[i], want[i], 1e-6) << "x = " << x[i];
}

TEST(Activation, HandComputedValues) {
    expect_values(ActivationOp(ActivationKind::HardSigmoid, 0.2f, 0.5f), {-3, -2.5f, 0, 1, 2.5f, 3}, {0, 0, 0.5f, 0.7f, 1, 1});
    expect_values(ActivationOp(ActivationKind::HardSwish), {-4, -3, -1, 0, 1, 3, 4},
                  {0, 0, -1.0f / 3, 0, 2.0f / 3, 3, 4});
    expect_values(ActivationOp(ActivationKind::Erf), {-1, 0, 0.5f, 3}, {-0.8427007929f, 0, 0.5204998778f, 0.9999779095f});
    expect_values(ActivationOp(ActivationKind::Sqrt), {0, 0.25f, 4, 2}, {0, 0.5f, 2, 1.4142135624f});
    // GELU(x) = x Phi(x): Phi(1) = 0.8413447461, Phi(-1) = 0.1586552539.
    expect_values(ActivationOp(ActivationKind::Gelu), {-1, 0, 1, 2}, {-0.1586552539f, 0, 0.8413447461f, 1.9544997361f});
    const OpOutput neg = run_op(ActivationOp(ActivationKind::Sqrt), {runtime(vec({-1}))});
    EXPECT_TRUE(std::isnan(neg.out[0].data[0]));  // as std::sqrt and ONNX Runtime
}

TEST(Binary, SubDivPowMatchTheirTwins) {
    const std::vector<std::pair<Shape, Shape>> pairs = {
        {{17}, {17}}, {{2, 16, 9, 9}, {16, 1, 1}}, {{1}, {3, 33}}, {{3, 1, 5}, {1, 4, 1}}, {{63, 64}, {64}},
        {{15, 1, 31}, {15, 2, 1}}, {{300, 257}, {}}, {{2, 40000}, {2, 1}},
    };
    uint32_t seed = 500;
    for (const auto& [sa, sb] : pairs)
        for (BinaryKind k : {BinaryKind::Sub, BinaryKind::Div, BinaryKind::Pow})
            for (int threads : {1, 2}) {
                SCOPED_TRACE(cat(binary_name(k), " ", to_string(sa), " ", to_string(sb), " threads ", threads, " seed ", seed));
                // Positive bases keep Pow real; divisors stay away from 0.
                const Tensor a = random_tensor(sa, seed++, 0.1f, 2.0f), b = random_tensor(sb, seed++, 0.5f, 2.0f);
                Tensor ref;
                binary_reference(k, a, b, ref);
                const OpOutput r = run_op(BinaryOp(k), {runtime(a), runtime(b)}, threads);
                ASSERT_EQ(r.out[0].shape, ref.shape);
                if (k == BinaryKind::Pow) {
                    for (int64_t i = 0; i < ref.size(); ++i)
                        ASSERT_NEAR(r.out[0].data[i], ref.data[i], 2e-7 * std::abs(ref.data[i])) << "element " << i;
                } else {
                    // Sub and Div are correctly rounded in float and in double-then-float alike.
                    EXPECT_EQ(max_abs_diff(r.out[0], ref), 0.0);
                }
            }
}

TEST(Binary, PowByScalarExponentsUsesExactShortForms) {
    const Tensor x = random_tensor({1000}, 77, 0.0f, 3.0f);
    for (float e : {2.0f, 1.0f, 0.5f, 3.0f, -1.5f}) {
        SCOPED_TRACE(e);
        const OpOutput r = run_op(BinaryOp(BinaryKind::Pow), {runtime(x), constant(Tensor(Shape{}, e))});
        for (int64_t i = 0; i < x.size(); ++i) {
            const double want = std::pow(static_cast<double>(x.data[i]), static_cast<double>(e));
            ASSERT_NEAR(r.out[0].data[i], want, 2e-7 * std::abs(want) + 1e-30) << "x = " << x.data[i];
        }
    }
}

TEST(Binary, Int64SubAndDivFoldAndDivTruncates) {
    const OpOutput d = run_op(BinaryOp(BinaryKind::Div), {ints({4}, {7, -7, 6, 0}), ints({}, {2})});
    ASSERT_TRUE(d.info[0].iconst);
    EXPECT_EQ(*d.info[0].iconst, (std::vector<int64_t>{3, -3, 3, 0}));
    const OpOutput s = run_op(BinaryOp(BinaryKind::Sub), {ints({2}, {5, 3}), ints({1}, {1})});
    EXPECT_EQ(*s.info[0].iconst, (std::vector<int64_t>{4, 2}));
    try {
        run_op(BinaryOp(BinaryKind::Div), {ints({2}, {5, 3}), ints({2}, {1, 0})});
        ADD_FAILURE() << "division by zero folded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("division by zero"), std::string::npos) << e.what();
    }
    EXPECT_THROW(run_op(BinaryOp(BinaryKind::Pow), {ints({1}, {2}), ints({1}, {3})}), Error);
    // Overflow in shape arithmetic from a file is an error, not undefined behaviour.
    const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
    EXPECT_THROW(run_op(BinaryOp(BinaryKind::Div), {ints({1}, {small}), ints({1}, {-1})}), Error);
    EXPECT_THROW(run_op(BinaryOp(BinaryKind::Sub), {ints({1}, {small}), ints({1}, {1})}), Error);
    EXPECT_THROW(run_op(BinaryOp(BinaryKind::Add), {ints({1}, {big}), ints({1}, {1})}), Error);
    EXPECT_THROW(run_op(BinaryOp(BinaryKind::Mul), {ints({1}, {big}), ints({1}, {2})}), Error);
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
