// ReduceMean / ReduceSum: the merged-block kernel against the per-element twin over awkward
// shapes and axis sets (one block, several blocks, size-1 axes, keepdims on and off, 1 and 2
// threads); hand-computed means; axes from the attribute or the opset-18 input; errors.
#include <gtest/gtest.h>

#include "core/ops/reduce.h"
#include "core/util/error.h"
#include "tests/unit/ops/op_runner.h"

namespace qcnn {
namespace {

using namespace qcnn::testing;

ReduceParams params(ReduceKind k, std::vector<int64_t> axes, bool keepdims = true) {
    ReduceParams p;
    p.kind = k;
    p.axes = std::move(axes);
    p.keepdims = keepdims;
    return p;
}

TEST(Reduce, KernelMatchesReference) {
    const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
        {{2, 3, 5, 7}, {2, 3}},       {{2, 3, 5, 7}, {-1}},      {{2, 3, 5, 7}, {1}},       {{2, 3, 5, 7}, {0, 2}},
        {{2, 3, 5, 7}, {1, 3}},       {{2, 3, 5, 7}, {0, 1, 2, 3}}, {{1, 17, 1, 33}, {1}},  {{4, 1, 65}, {1}},
        {{4, 1, 65}, {0, 1}},         {{63}, {0}},               {{3, 64, 56, 56}, {2, 3}}, {{2, 4, 3, 768}, {-1}},
        {{5, 1, 4, 1, 3}, {1, 3}},    {{5, 2, 4, 2, 3}, {0, 2, 4}},
    };
    uint32_t seed = 1;
    for (const auto& [shape, axes] : cases)
        for (ReduceKind k : {ReduceKind::Mean, ReduceKind::Sum})
            for (bool keep : {true, false})
                for (int threads : {1, 2}) {
                    SCOPED_TRACE(cat(to_string(shape), " axes ", axes.size(), "(first ", axes[0], ") keep ", keep,
                                     " threads ", threads, " seed ", seed));
                    const Tensor x = random_tensor(shape, seed++);
                    const ReduceOp op(params(k, axes, keep));
                    const OpOutput r = run_op(op, {runtime(x)}, threads);
                    std::vector<int64_t> norm;
                    for (int64_t a : axes) norm.push_back(a < 0 ? a + static_cast<int64_t>(shape.size()) : a);
                    std::sort(norm.begin(), norm.end());
                    Tensor ref;
                    reduce_reference(k, x, norm, keep, ref);
                    ASSERT_EQ(r.out[0].shape, ref.shape);
                    // Both accumulate in double; they differ only in summation order.
                    EXPECT_LT(max_abs_diff(r.out[0], ref), 1e-6);
                }
}

TEST(Reduce, HandComputedMeanAndSum) {
    Tensor x({2, 2, 2});
    for (int i = 0; i < 8; ++i) x.data[i] = static_cast<float>(i + 1);
    const OpOutput m = run_op(ReduceOp(params(ReduceKind::Mean, {1})), {runtime(x)});
    EXPECT_EQ(m.out[0].shape, (Shape{2, 1, 2}));
    EXPECT_EQ(std::vector<float>(m.out[0].data.begin(), m.out[0].data.end()), (std::vector<float>{2, 3, 6, 7}));
    const OpOutput s = run_op(ReduceOp(params(ReduceKind::Sum, {0, 2}, false)), {runtime(x)});
    EXPECT_EQ(s.out[0].shape, (Shape{2}));
    EXPECT_EQ(std::vector<float>(s.out[0].data.begin(), s.out[0].data.end()), (std::vector<float>{14, 22}));
    ReduceParams all;  // no axes: every axis
    all.keepdims = false;
    const OpOutput a = run_op(ReduceOp(all), {runtime(x)});
    EXPECT_EQ(a.out[0].shape, Shape{});
    EXPECT_FLOAT_EQ(a.out[0].data[0], 4.5f);
}

TEST(Reduce, AxesAsInputFromOpset18) {
    const Tensor x = random_tensor({2, 3, 4, 5}, 9);
    ReduceParams p;
    p.axes_from_input = true;
    const ReduceOp op(p);
    const OpOutput r = run_op(op, {runtime(x), ints({2}, {-2, -1})});
    const OpOutput want = run_op(ReduceOp(params(ReduceKind::Mean, {2, 3})), {runtime(x)});
    EXPECT_EQ(r.out[0].shape, (Shape{2, 3, 1, 1}));
    EXPECT_EQ(max_abs_diff(r.out[0], want.out[0]), 0.0);
    // Omitted axes: everything, unless noop_with_empty_axes.
    const OpInput xi = runtime(x);
    const OpOutput all = run_op(op, std::vector<const OpInput*>{&xi, nullptr});
    EXPECT_EQ(all.out[0].shape, (Shape{1, 1, 1, 1}));
    p.noop_with_empty_axes = true;
    const OpOutput noop = run_op(ReduceOp(p), {runtime(x), ints({0}, {})});
    EXPECT_EQ(noop.out[0].shape, x.shape);
    EXPECT_EQ(max_abs_diff(noop.out[0], x), 0.0);
}

TEST(Reduce, BadAxesAreErrors) {
    const Tensor x = random_tensor({2, 3}, 3);
    EXPECT_THROW(run_op(ReduceOp(params(ReduceKind::Mean, {2})), {runtime(x)}), Error);
    EXPECT_THROW(run_op(ReduceOp(params(ReduceKind::Mean, {1, -1})), {runtime(x)}), Error);
    const Tensor empty({2, 0});
    EXPECT_THROW(run_op(ReduceOp(params(ReduceKind::Mean, {1})), {runtime(empty)}), Error);
    const OpOutput s = run_op(ReduceOp(params(ReduceKind::Sum, {1})), {runtime(empty)});
    EXPECT_EQ(std::vector<float>(s.out[0].data.begin(), s.out[0].data.end()), (std::vector<float>{0, 0}));
}

}  // namespace
}  // namespace qcnn
