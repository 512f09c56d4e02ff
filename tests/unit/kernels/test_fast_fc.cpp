// FastFc: every instruction set against the scalar twin (bit-exact integer sums and outputs)
// and against the float LUT math in double within the documented bound of 8-bit and of 16-bit
// tables.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/kernels/fast_fc.h"
#include "core/util/error.h"
#include "kernel_test_util.h"

namespace qcnn {
namespace {

using test::RandomLayer;

LutGeometry fc_geometry(int64_t ct, int64_t M, int64_t dsub, int64_t K) {
    LutGeometry g;
    g.out_channels = ct;
    g.in_channels = M * dsub;
    g.dsub = dsub;
    g.K = K;
    return g;
}

// Runs the fast path (1 thread, and 2 when asked) and the twin, checks they agree bit for bit,
// and checks the outputs against the float LUT math within M * 0.5 / scale, scale = Q / (largest
// row range) with Q = 255 or 65535, or float rounding.
void check_fc(const RandomLayer& l, KernelIsa isa, int64_t rows, uint64_t seed, bool two_threads = true,
              LutPrecision precision = LutPrecision::Auto) {
    const LutGeometry& g = l.geo;
    SCOPED_TRACE(testing::Message() << isa_name(isa) << " C_t " << g.out_channels << " M " << g.subspaces() << " dsub "
                                    << g.dsub << " K " << g.K << " rows " << rows << " seed " << seed << " precision "
                                    << lut_precision_name(precision));
    const FastFc f(g, l.codebooks, l.codes, l.bias, isa, precision);
    if (precision != LutPrecision::Auto) {
        ASSERT_EQ(f.precision(), precision);
    }
    const double levels = f.precision() == LutPrecision::Bits16 ? 65535.0 : 255.0;
    const std::vector<float> x = test::random_input(rows * g.in_channels, seed);
    const int64_t ct = g.out_channels;
    std::vector<float> y1(rows * ct), y2(rows * ct), yr(rows * ct);
    LutTrace t1, t2, tr;
    f.run(x.data(), rows, y1.data(), 1, &t1);
    f.run(x.data(), rows, y2.data(), two_threads ? 2 : 1, &t2);
    f.run_reference(x.data(), rows, yr.data(), &tr);
    ASSERT_TRUE(test::same_bits(y1, yr));
    ASSERT_TRUE(test::same_bits(y2, yr));
    ASSERT_EQ(t1.acc, tr.acc);
    ASSERT_EQ(t2.acc, tr.acc);
    ASSERT_EQ(t1.scale, tr.scale);
    ASSERT_EQ(t2.scale, tr.scale);
    const bool quantized = f.method() != LutMethod::Float;
    ASSERT_EQ(tr.acc.size(), quantized ? size_t(rows * ct) : 0u);

    const std::vector<double> ref = test::fc_lut_math(l, x, rows);
    const int64_t M = g.subspaces();
    for (int64_t n = 0; n < rows; ++n) {
        double max_range, abs_sum;
        test::lut_stats(l, x.data() + n * g.in_channels, 1, &max_range, &abs_sum);
        double bound = 0;
        if (quantized) {
            const double scale = tr.scale[n];
            ASSERT_NEAR(scale, levels / max_range, levels / max_range * 1e-4) << "sample " << n;
            bound = M * 0.5 / scale * (1 + 1e-4);
        }
        for (int64_t c = 0; c < ct; ++c) {
            const double tol = bound + 1e-5 * (abs_sum + (l.bias.empty() ? 0.0 : std::abs(l.bias[c])));
            ASSERT_NEAR(yr[n * ct + c], ref[n * ct + c], tol) << "sample " << n << " channel " << c;
        }
    }
}

TEST(FastFc, MatchesTwinAndFloatLutOnAwkwardShapes) {
    uint64_t seed = 100;
    for (int64_t K : {16, 5, 2, 33, 64, 100, 256})
        for (KernelIsa isa : test::isas_to_test(K))
            for (int64_t ct : {1, 15, 17, 31, 33, 63, 65})
                for (int64_t M : {1, 3, 7})
                    for (int64_t rows : {1, 3})
                        for (LutPrecision p : {LutPrecision::Bits8, LutPrecision::Bits16}) {
                            ++seed;
                            const int64_t dsub = seed % 2 ? 4 : 1;
                            const RandomLayer l = test::random_layer(fc_geometry(ct, M, dsub, K), seed, seed % 3 != 0);
                            check_fc(l, isa, rows, seed, seed % 4 == 0, p);
                            if (testing::Test::HasFatalFailure()) return;
                        }
}

TEST(FastFc, PrecisionIs16BitAboveK16UnlessTooManyTerms) {
    EXPECT_EQ(resolve_lut_precision(LutPrecision::Auto, 16, 100), LutPrecision::Bits8);
    EXPECT_EQ(resolve_lut_precision(LutPrecision::Auto, 17, 100), LutPrecision::Bits16);
    EXPECT_EQ(resolve_lut_precision(LutPrecision::Auto, 256, kMaxLutTerms16), LutPrecision::Bits16);
    EXPECT_EQ(resolve_lut_precision(LutPrecision::Auto, 256, kMaxLutTerms16 + 1), LutPrecision::Bits8);
    EXPECT_EQ(resolve_lut_precision(LutPrecision::Bits16, 16, 100), LutPrecision::Bits16);
    EXPECT_EQ(resolve_lut_precision(LutPrecision::Bits8, 256, 100), LutPrecision::Bits8);
    const RandomLayer l16 = test::random_layer(fc_geometry(8, 4, 2, 16), 1), l32 = test::random_layer(fc_geometry(8, 4, 2, 32), 2);
    EXPECT_EQ(FastFc(l16.geo, l16.codebooks, l16.codes, l16.bias).precision(), LutPrecision::Bits8);
    EXPECT_EQ(FastFc(l32.geo, l32.codebooks, l32.codes, l32.bias).precision(), LutPrecision::Bits16);
}

TEST(FastFc, ManySubspacesCrossUint16Chunks) {
    uint64_t seed = 900;
    for (int64_t K : {16, 64})
        for (KernelIsa isa : test::isas_to_test(K))
            for (LutPrecision p : {LutPrecision::Bits8, LutPrecision::Bits16}) {
                const RandomLayer l = test::random_layer(fc_geometry(65, 600, 2, K), ++seed);
                check_fc(l, isa, 5, seed, true, p);
                if (testing::Test::HasFatalFailure()) return;
            }
}

// Worst case through the public path: every looked-up entry quantizes to 255 and there are
// M = 4100 terms (sum 1,045,500: a uint16 accumulator would have wrapped 15 times).
TEST(FastFc, WorstCaseAccumulationIsExact) {
    const int64_t M = 4100;
    LutGeometry g = fc_geometry(70, M, 1, 2);
    std::vector<float> cb(M * 2);
    for (int64_t m = 0; m < M; ++m) cb[m * 2 + 1] = 1.0f;  // D(m) = {0, 1}
    const std::vector<uint8_t> codes(70 * M, 1);
    const std::vector<float> x(M, 1.0f);  // LUT row {0, 1}: offset 0, scale 255, q = {0, 255}
    for (KernelIsa isa : test::isas_to_test()) {
        const FastFc f(g, cb, codes, {}, isa);
        std::vector<float> y(70);
        LutTrace t;
        f.run(x.data(), 1, y.data(), 2, &t);
        for (int64_t c = 0; c < 70; ++c) {
            ASSERT_EQ(t.acc[c], 255u * M) << isa_name(isa) << " channel " << c;
            ASSERT_NEAR(y[c], double(M), M * 1e-6) << isa_name(isa) << " channel " << c;
        }
    }
}

// 16-bit worst case: every entry quantizes to 65535 (high and low byte 255) and there are
// M = kMaxLutTerms16 terms: the combined sum 65535 * 65537 is exactly UINT32_MAX; one term more
// is rejected.
TEST(FastFc, WorstCase16BitAccumulationIsExact) {
    const int64_t M = kMaxLutTerms16;
    LutGeometry g = fc_geometry(70, M, 1, 2);
    std::vector<float> cb(M * 2);
    for (int64_t m = 0; m < M; ++m) cb[m * 2 + 1] = 1.0f;
    const std::vector<uint8_t> codes(70 * M, 1);
    const std::vector<float> x(M, 1.0f);  // LUT row {0, 1}: offset 0, scale 65535, q = {0, 65535}
    for (KernelIsa isa : test::isas_to_test()) {
        const FastFc f(g, cb, codes, {}, isa, LutPrecision::Bits16);
        std::vector<float> y(70);
        LutTrace t;
        f.run(x.data(), 1, y.data(), 2, &t);
        for (int64_t c = 0; c < 70; ++c) {
            ASSERT_EQ(t.acc[c], uint32_t(UINT32_MAX)) << isa_name(isa) << " channel " << c;
            ASSERT_NEAR(y[c], double(M), M * 1e-6) << isa_name(isa) << " channel " << c;
        }
    }
    const LutGeometry g2 = fc_geometry(2, M + 1, 1, 2);
    const std::vector<float> cb2((M + 1) * 2, 0.5f);
    const std::vector<uint8_t> codes2(2 * (M + 1), 0);
    EXPECT_THROW(FastFc(g2, cb2, codes2, {}, KernelIsa::Auto, LutPrecision::Bits16), Error);
    EXPECT_EQ(FastFc(g2, cb2, codes2, {}).precision(), LutPrecision::Bits8);
}

TEST(FastFc, ResultsDoNotDependOnThreadCount) {
    const RandomLayer l = test::random_layer(fc_geometry(130, 64, 4, 16), 5);
    for (KernelIsa isa : test::isas_to_test()) {
        const FastFc f(l.geo, l.codebooks, l.codes, l.bias, isa);
        for (int64_t rows : {1, 2, 5}) {
            const std::vector<float> x = test::random_input(rows * 256, 6 + rows);
            std::vector<float> base(rows * 130);
            f.run(x.data(), rows, base.data(), 1);
            for (int threads : {2, 3, 4}) {
                std::vector<float> y(rows * 130);
                f.run(x.data(), rows, y.data(), threads);
                EXPECT_TRUE(test::same_bits(y, base)) << isa_name(isa) << " rows " << rows << " threads " << threads;
            }
        }
    }
}

TEST(FastFc, NonFiniteInputMakesOnlyItsRowNaN) {
    const RandomLayer l = test::random_layer(fc_geometry(20, 8, 2, 16), 8);
    std::vector<float> x = test::random_input(3 * 16, 9);
    x[16 + 3] = std::numeric_limits<float>::infinity();
    for (KernelIsa isa : test::isas_to_test()) {
        const FastFc f(l.geo, l.codebooks, l.codes, l.bias, isa);
        for (int threads : {1, 2}) {
            std::vector<float> y(3 * 20), yr(3 * 20);
            f.run(x.data(), 3, y.data(), threads);
            f.run_reference(x.data(), 3, yr.data());
            for (int64_t c = 0; c < 20; ++c) {
                EXPECT_TRUE(std::isfinite(y[c]) && std::isfinite(y[40 + c]));
                EXPECT_TRUE(std::isnan(y[20 + c])) << isa_name(isa) << " " << y[20 + c];
            }
            EXPECT_TRUE(test::same_bits(y, yr));
        }
    }
}

TEST(FastFc, RejectsInconsistentWeights) {
    const RandomLayer l = test::random_layer(fc_geometry(10, 4, 2, 16), 10);
    std::vector<uint8_t> bad = l.codes;
    bad[7] = 16;
    EXPECT_THROW(FastFc(l.geo, l.codebooks, bad, l.bias), Error);
    EXPECT_THROW(FastFc(l.geo, std::span<const float>(l.codebooks).first(10), l.codes, l.bias), Error);
    LutGeometry grouped = l.geo;
    grouped.groups = 2;
    EXPECT_THROW(FastFc(grouped, l.codebooks, l.codes, l.bias), Error);
}

}  // namespace
}  // namespace qcnn
