// Softmax against the double-precision twin for every axis, both opset semantics, large
// magnitudes (max subtraction), and thread counts.
#include <gtest/gtest.h>

#include "core/ops/softmax.h"
#include "core/util/error.h"
#include "tests/unit/ops/op_runner.h"

namespace qcnn {
namespace {

using namespace qcnn::testing;

TEST(Softmax, MatchesReferenceOnEveryAxis) {
    uint32_t seed = 3;
    for (const Shape& s : {Shape{17}, Shape{3, 33}, Shape{2, 3, 4, 5}, Shape{64, 1000}, Shape{1, 7, 1}})
        for (int64_t axis = -static_cast<int64_t>(s.size()); axis < static_cast<int64_t>(s.size()); ++axis)
            for (bool coerce : {false, true})
                for (int threads : {1, 2}) {
                    SCOPED_TRACE(cat(to_string(s), " axis ", axis, " coerce ", coerce, " seed ", seed));
                    const Tensor x = random_tensor(s, seed++, -20.0f, 20.0f);
                    const OpOutput r = run_op(SoftmaxOp(axis, coerce), {runtime(x)}, threads);
                    EXPECT_LT(max_abs_diff(r.out[0], softmax_reference(x, axis, coerce)), 1e-6);
                }
}

TEST(Softmax, StableForLargeInputsAndSemanticsDiffer) {
    Tensor x({1, 3});
    x.data = {10000.0f, 10001.0f, 10002.0f};
    const OpOutput r = run_op(SoftmaxOp(-1, false), {runtime(x)});
    EXPECT_NEAR(r.out[0].data[0], 0.09003057, 1e-6);
    EXPECT_NEAR(r.out[0].data[2], 0.66524096, 1e-6);
    // Over axis 1 of {2, 3, 4}: opset 13 normalizes each column of 3, opset < 13 each row of 12.
    const Tensor y = random_tensor({2, 3, 4}, 5);
    const Tensor a = run_op(SoftmaxOp(1, false), {runtime(y)}).out[0];
    const Tensor b = run_op(SoftmaxOp(1, true), {runtime(y)}).out[0];
    EXPECT_NEAR(a.data[0] + a.data[4] + a.data[8], 1.0, 1e-6);
    double row = 0;
    for (int i = 0; i < 12; ++i) row += b.data[i];
    EXPECT_NEAR(row, 1.0, 1e-6);
    EXPECT_THROW(run_op(SoftmaxOp(3, false), {runtime(y)}), Error);
}

}  // namespace
}  // namespace qcnn
