// LayerNormalization: the threaded kernel against its double twin over awkward shapes and
// every axis; a hand-computed row; Mean / InvStdDev outputs; scalar and missing affine terms;
// shape errors naming both shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "core/ops/layer_norm.h"
#include "core/util/error.h"
#include "tests/unit/ops/op_runner.h"

namespace qcnn {
namespace {

using namespace qcnn::testing;

TEST(LayerNorm, KernelMatchesReferenceOnEveryAxis) {
    const std::vector<Shape> shapes = {{7}, {3, 5}, {2, 3, 17}, {2, 4, 3, 33}, {1, 7, 7, 768}, {65, 1, 3}};
    uint32_t seed = 11;
    for (const Shape& s : shapes)
        for (int64_t axis = -static_cast<int64_t>(s.size()); axis < static_cast<int64_t>(s.size()); ++axis)
            for (int threads : {1, 2}) {
                SCOPED_TRACE(cat(to_string(s), " axis ", axis, " threads ", threads, " seed ", seed));
                const Tensor x = random_tensor(s, seed++, -3.0f, 5.0f);
                const int64_t a = axis < 0 ? axis + static_cast<int64_t>(s.size()) : axis;
                const Shape norm(s.begin() + a, s.end());
                const Tensor g = random_tensor(norm, seed++, 0.5f, 1.5f), b = random_tensor(norm, seed++);
                const std::vector<float> bias(b.data.begin(), b.data.end());
                const LayerNormOp op(axis, 1e-5f, g, bias, 3);
                const OpOutput r = run_op(op, {runtime(x)}, threads);
                Tensor mean, inv;
                const Tensor ref = layer_norm_reference(x, axis, 1e-5f, g, bias, &mean, &inv);
                // Normalised values are O(1); the float kernel's error is a few ulp of that.
                EXPECT_LT(max_abs_diff(r.out[0], ref), 1e-5);
                EXPECT_LT(max_abs_diff(r.out[1], mean), 1e-6);
                EXPECT_EQ(r.out[2].shape, inv.shape);
                for (int64_t i = 0; i < inv.size(); ++i) EXPECT_NEAR(r.out[2].data[i], inv.data[i], 1e-6 * inv.data[i]);
            }
}

TEST(LayerNorm, HandComputedRow) {
    Tensor x({1, 4});
    for (int i = 0; i < 4; ++i) x.data[i] = static_cast<float>(i + 1);
    // mean 2.5, var 1.25, 1/sqrt(1.25) = 0.894427191
    const LayerNormOp op(-1, 0.0f, Tensor({1}, 2.0f), {1.0f}, 3);
    const OpOutput r = run_op(op, {runtime(x)});
    const float k = 0.894427191f;
    const std::vector<float> want = {1 - 3 * k, 1 - k, 1 + k, 1 + 3 * k};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(r.out[0].data[i], want[i], 1e-6);
    EXPECT_EQ(r.out[1].shape, (Shape{1, 1}));
    EXPECT_FLOAT_EQ(r.out[1].data[0], 2.5f);
    EXPECT_NEAR(r.out[2].data[0], k, 1e-7);
    // No bias, unit scale: the plain standardisation.
    const OpOutput plain = run_op(LayerNormOp(-1, 0.0f, Tensor({1}, 1.0f), {}), {runtime(x)});
    EXPECT_NEAR(plain.out[0].data[0], -1.5f * k, 1e-6);
}

TEST(LayerNorm, ShapeErrorsNameBothShapes) {
    const Tensor x = random_tensor({2, 3, 4}, 5);
    try {
        run_op(LayerNormOp(-1, 1e-5f, Tensor({3}, 1.0f), {}), {runtime(x)});
        ADD_FAILURE() << "a 3-value Scale was accepted for a last axis of 4";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("Scale [3]"), std::string::npos) << m;
        EXPECT_NE(m.find("X [2x3x4]"), std::string::npos) << m;
    }
    EXPECT_THROW(LayerNormOp(-1, 1e-5f, Tensor({4}, 1.0f), std::vector<float>(3, 0.0f)), Error);
    EXPECT_THROW(LayerNormOp(-1, -1.0f, Tensor({4}, 1.0f), {}), Error);
    EXPECT_THROW(run_op(LayerNormOp(3, 1e-5f, Tensor({1}, 1.0f), {}), {runtime(x)}), Error);
}

}  // namespace
}  // namespace qcnn
