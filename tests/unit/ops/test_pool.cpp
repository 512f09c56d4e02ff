// Pooling: PoolOp against pool_reference over awkward sizes, kernels, strides, pads,
// dilations, ceil_mode, count_include_pad, auto_pad and 1-D/2-D/3-D inputs; hand-computed
// values; GlobalAveragePool; errors for kernels that do not fit.
#include <gtest/gtest.h>

#include "core/ops/pool.h"
#include "core/util/error.h"
#include "tests/unit/ops/op_runner.h"

namespace qcnn {
namespace {

using namespace qcnn::testing;

TEST(Pool, HandComputed2x2) {
    Tensor x({1, 1, 4, 4});
    for (int i = 0; i < 16; ++i) x.data[i] = static_cast<float>(i);
    PoolParams p;
    p.kernel = {2, 2};
    p.strides = {2, 2};
    p.kind = PoolKind::Max;
    EXPECT_EQ(run_op(PoolOp(p), {runtime(x)}).out[0].data, (AlignedVector<float>{5, 7, 13, 15}));
    p.kind = PoolKind::Average;
    EXPECT_EQ(run_op(PoolOp(p), {runtime(x)}).out[0].data, (AlignedVector<float>{2.5f, 4.5f, 10.5f, 12.5f}));
    // 3x3 average with pad 1: a corner window holds 4 inputs; include_pad divides by 9.
    p.kernel = {3, 3};
    p.strides = {1, 1};
    p.pads = {1, 1, 1, 1};
    const float corner = (0 + 1 + 4 + 5) / 4.0f;
    EXPECT_FLOAT_EQ(run_op(PoolOp(p), {runtime(x)}).out[0].data[0], corner);
    p.count_include_pad = true;
    EXPECT_FLOAT_EQ(run_op(PoolOp(p), {runtime(x)}).out[0].data[0], (0 + 1 + 4 + 5) / 9.0f);
}

TEST(Pool, MatchesReferenceOverAwkwardGeometry) {
    uint32_t seed = 100;
    int checked = 0;
    for (int64_t h : {1, 2, 5, 8, 15, 17})
        for (int64_t w : {1, 3, 16, 33})
            for (int64_t k : {1, 2, 3, 4})
                for (int64_t s : {1, 2, 3})
                    for (int64_t pad : {0, 1, 2})
                        for (int variant = 0; variant < 4; ++variant) {
                            PoolParams p;
                            p.kind = variant % 2 ? PoolKind::Average : PoolKind::Max;
                            p.kernel = {k, std::max<int64_t>(1, k - 1)};
                            p.strides = {s, s == 3 ? 1 : s};
                            p.pads = {pad, std::min<int64_t>(pad, 1), pad / 2, pad};
                            p.ceil_mode = variant >= 2;
                            p.count_include_pad = variant == 3;
                            if (p.kind == PoolKind::Max && k > 1 && (h + w) % 2) p.dilations = {2, 1 + w % 2};
                            const Shape xs{2, 3, h, w};
                            Tensor ref;
                            try {
                                ref = pool_reference(random_tensor(xs, seed), p);
                            } catch (const Error&) {
                                EXPECT_THROW(run_op(PoolOp(p), {runtime(random_tensor(xs, seed))}), Error);
                                ++seed;
                                continue;
                            }
                            const Tensor x = random_tensor(xs, seed);
                            SCOPED_TRACE(cat("x ", to_string(xs), " k ", k, " s ", s, " pad ", pad, " variant ",
                                             variant, " seed ", seed));
                            for (int threads : {1, 2}) {
                                const OpOutput r = run_op(PoolOp(p), {runtime(x)}, threads);
                                ASSERT_EQ(r.out[0].shape, ref.shape);
                                EXPECT_LT(max_abs_diff(r.out[0], ref), 1e-5);
                            }
                            ++seed;
                            ++checked;
                        }
    EXPECT_GT(checked, 1000);
}

// Max pooling on the square kernels CNNs use (AlexNet's 3x3 s2 on 55x55 / 27x27 / 13x13, VGG's
// 2x2 s2, ResNet's 3x3 s2 p1) and awkward sizes around them, padded, dilated and ceil-mode, at 1
// and 2 threads, against pool_reference: the test above uses k x (k-1) kernels only.
TEST(Pool, SeparableMaxPoolMatchesReferenceOnSquareKernels) {
    uint32_t seed = 700;
    int checked = 0;
    for (int64_t hw : {1, 2, 3, 6, 7, 13, 15, 16, 17, 27, 33, 55})
        for (int64_t k : {2, 3, 5})
            for (int64_t s : {1, 2, 3})
                for (int64_t pad : {0, 1})
                    for (int variant = 0; variant < 3; ++variant) {
                        PoolParams p;
                        p.kind = PoolKind::Max;
                        p.kernel = {k, k};
                        p.strides = {s, s};
                        if (pad > k / 2) continue;  // ONNX: pads below the kernel size
                        p.pads = {pad, pad, pad, pad};
                        p.ceil_mode = variant == 1;
                        if (variant == 2) p.dilations = {2, 2};
                        const Shape xs{2, 5, hw, hw + (variant == 1 ? 2 : 0)};
                        const Tensor x = random_tensor(xs, seed);
                        Tensor ref;
                        try {
                            ref = pool_reference(x, p);
                        } catch (const Error&) {
                            ++seed;
                            continue;  // the kernel does not fit (MatchesReferenceOverAwkwardGeometry checks the error)
                        }
                        SCOPED_TRACE(cat("x ", to_string(xs), " k ", k, " s ", s, " pad ", pad, " variant ", variant,
                                         " seed ", seed));
                        for (int threads : {1, 2}) {
                            const OpOutput r = run_op(PoolOp(p), {runtime(x)}, threads);
                            ASSERT_EQ(r.out[0].shape, ref.shape);
                            EXPECT_EQ(max_abs_diff(r.out[0], ref), 0.0);  // max is exact
                        }
                        ++seed;
                        ++checked;
                    }
    EXPECT_GT(checked, 300);
}

TEST(Pool, OneAndThreeDimensionalAndAutoPad) {
    uint32_t seed = 7;
    for (const char* ap : {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"})
        for (PoolKind kind : {PoolKind::Max, PoolKind::Average}) {
            PoolParams p1;
            p1.kind = kind;
            p1.auto_pad = ap;
            p1.kernel = {3};
            p1.strides = {2};
            const Tensor x1 = random_tensor({2, 3, 11}, seed++);
            const Tensor r1 = pool_reference(x1, p1);
            EXPECT_LT(max_abs_diff(run_op(PoolOp(p1), {runtime(x1)}).out[0], r1), 1e-6) << ap;
            PoolParams p3 = p1;
            p3.kernel = {2, 3, 2};
            p3.strides = {1, 2, 2};
            const Tensor x3 = random_tensor({1, 2, 5, 6, 7}, seed++);
            const Tensor r3 = pool_reference(x3, p3);
            EXPECT_LT(max_abs_diff(run_op(PoolOp(p3), {runtime(x3)}, 2).out[0], r3), 1e-6) << ap;
        }
    // SAME_UPPER keeps ceil(in / stride) outputs and puts the odd pad at the end.
    PoolParams p;
    p.kernel = {2, 2};
    p.strides = {2, 2};
    p.auto_pad = "SAME_UPPER";
    EXPECT_EQ(pool_output_shape(p, {1, 1, 5, 5}), (Shape{1, 1, 3, 3}));
    const PoolGeometry g = pool_geometry(p, {1, 1, 5, 5});
    EXPECT_EQ(g.pb[1], 0);
    EXPECT_EQ(g.pe[1], 1);
}

TEST(Pool, CeilModeDropsWindowsStartingInPadding) {
    PoolParams p;
    p.kernel = {2, 2};
    p.strides = {2, 2};
    p.pads = {1, 1, 1, 1};
    p.ceil_mode = true;
    // in 4: span 4 + 2 - 2 = 4 -> 4/2 + 1 = 3 windows; the last starts at padded position 4,
    // input row 3: kept.
    EXPECT_EQ(pool_output_shape(p, {1, 1, 4, 4}), (Shape{1, 1, 3, 3}));
    // in 5: span 5 -> ceil(5/2) + 1 = 4 windows, but the fourth would start at padded position
    // 6 = in + pad_begin (entirely in the end padding), so it is dropped (PyTorch's rule).
    EXPECT_EQ(pool_output_shape(p, {1, 1, 5, 5}), (Shape{1, 1, 3, 3}));
    p.pads = {0, 0, 0, 0};
    p.kernel = {3, 3};
    EXPECT_EQ(pool_output_shape(p, {1, 1, 4, 4}), (Shape{1, 1, 2, 2}));
}

TEST(Pool, ErrorsAreClear) {
    PoolParams p;
    p.kernel = {5, 5};
    EXPECT_THROW(run_op(PoolOp(p), {runtime(Tensor({1, 1, 3, 3}))}), Error);
    EXPECT_THROW(run_op(PoolOp(p), {runtime(Tensor({1, 3, 3}))}), Error);  // rank mismatch
    p.strides = {1};
    EXPECT_THROW(PoolOp{p}, Error);
    p.strides = {};
    p.pads = {-1, 0, 0, 0};
    EXPECT_THROW(PoolOp{p}, Error);
    p.pads = {};
    p.kernel = {1, 1, 1, 1};
    EXPECT_THROW(PoolOp{p}, Error);
}

TEST(GlobalAveragePool, MeansEveryPlane) {
    const Tensor x = random_tensor({3, 5, 7, 9}, 31);
    for (int threads : {1, 2}) {
        const OpOutput r = run_op(GlobalAveragePoolOp(), {runtime(x)}, threads);
        ASSERT_EQ(r.out[0].shape, (Shape{3, 5, 1, 1}));
        for (int64_t p = 0; p < 15; ++p) {
            double s = 0;
            for (int64_t i = 0; i < 63; ++i) s += x.data[p * 63 + i];
            EXPECT_NEAR(r.out[0].data[p], s / 63, 1e-6);
        }
    }
    EXPECT_EQ(run_op(GlobalAveragePoolOp(), {runtime(Tensor({2, 4, 6}))}).out[0].shape, (Shape{2, 4, 1}));
    EXPECT_THROW(run_op(GlobalAveragePoolOp(), {runtime(Tensor({2, 4}))}), Error);
}

}  // namespace
}  // namespace qcnn
