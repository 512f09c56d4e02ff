// The shared LUT stage: float rows, row minima, 8-bit quantization and its error bound,
// instruction-set selection.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/kernels/lut_tables.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

TEST(KernelIsa, PortableAlwaysSupportedAndAutoIsBest) {
    const std::vector<KernelIsa> isas = supported_isas();
    ASSERT_FALSE(isas.empty());
    EXPECT_EQ(isas.front(), KernelIsa::Portable);
    EXPECT_EQ(resolve_isa(KernelIsa::Auto), isas.back());
    EXPECT_EQ(resolve_isa(KernelIsa::Portable), KernelIsa::Portable);
    for (KernelIsa i : {KernelIsa::Auto, KernelIsa::Portable, KernelIsa::Avx2, KernelIsa::Avx512, KernelIsa::Avx512Vnni})
        EXPECT_EQ(parse_isa(isa_name(i)), i);
    EXPECT_FALSE(parse_isa("sse9").has_value());
    if (!cpu_features().avx512) {
        EXPECT_THROW(resolve_isa(KernelIsa::Avx512), Error);
    }
    if (!cpu_features().avx512vnni) {
        EXPECT_THROW(resolve_isa(KernelIsa::Avx512Vnni), Error);
    }
}

TEST(LutTables, MethodFollowsKAndInstructionSet) {
    EXPECT_EQ(choose_lut_method(16, KernelIsa::Portable), LutMethod::Shuffle16);
    EXPECT_EQ(choose_lut_method(2, KernelIsa::Avx2), LutMethod::Shuffle16);
    EXPECT_EQ(choose_lut_method(17, KernelIsa::Portable), LutMethod::Float);
    EXPECT_EQ(choose_lut_method(256, KernelIsa::Avx2), LutMethod::Float);
    if (cpu_features().avx512vbmi) {
        EXPECT_EQ(choose_lut_method(17, KernelIsa::Avx512), LutMethod::Perm64);
        EXPECT_EQ(choose_lut_method(64, KernelIsa::Avx512), LutMethod::Perm64);
        EXPECT_EQ(choose_lut_method(65, KernelIsa::Avx512), LutMethod::Perm128);
        EXPECT_EQ(choose_lut_method(129, KernelIsa::Avx512), LutMethod::Perm256);
    }
    EXPECT_EQ(lut_row_length(LutMethod::Float, 40), 40);
    EXPECT_EQ(lut_row_length(LutMethod::Perm128, 100), 128);
}

TEST(LutTables, BuildRowsIsTheInnerProductWithEachCodeword) {
    const int64_t M = 3, K = 5, dsub = 2, Kp = 16, npos = 4, cstride = 7;
    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    std::vector<float> cb(M * K * dsub), x(M * dsub * cstride);
    for (auto& v : cb) v = nd(rng);
    for (auto& v : x) v = nd(rng);
    const std::vector<float> dt = transpose_codebooks(cb, M, K, dsub, Kp);
    std::vector<float> lut(npos * M * Kp, -1.0f);
    build_lut_rows(x.data(), cstride, npos, dt.data(), M, 0, M, dsub, Kp, lut.data());
    for (int64_t pos = 0; pos < npos; ++pos)
        for (int64_t m = 0; m < M; ++m)
            for (int64_t k = 0; k < Kp; ++k) {
                double ref = 0;
                if (k < K)
                    for (int64_t l = 0; l < dsub; ++l) ref += double(x[(m * dsub + l) * cstride + pos]) * cb[(m * K + k) * dsub + l];
                EXPECT_NEAR(lut[(pos * M + m) * Kp + k], ref, 1e-5) << pos << " " << m << " " << k;
            }
}

// A random conv-like input (channel stride cstride, npos positions) and codebooks.
struct LutProblem {
    int64_t M, K, dsub, npos, cstride;
    std::vector<float> cb, x;
};

LutProblem lut_problem(int64_t M, int64_t K, int64_t dsub, int64_t npos, uint32_t seed) {
    LutProblem p{M, K, dsub, npos, npos + 3, {}, {}};
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    p.cb.resize(M * K * dsub);
    p.x.resize(M * dsub * p.cstride);
    for (auto& v : p.cb) v = nd(rng);
    for (auto& v : p.x) v = nd(rng);
    return p;
}

// The codebooks as a prepared layer holds them (rows of 16).
std::vector<float> dt16(const LutProblem& p) { return transpose_codebooks(p.cb, p.M, p.K, p.dsub, 16); }

// The float rows of every position (the values the minima and 8-bit passes rebuild).
std::vector<float> float_rows(const LutProblem& p, int64_t Kp) {
    const std::vector<float> dt = transpose_codebooks(p.cb, p.M, p.K, p.dsub, Kp);
    std::vector<float> lut(p.npos * p.M * Kp);
    build_lut_rows(p.x.data(), p.cstride, p.npos, dt.data(), p.M, 0, p.M, p.dsub, Kp, lut.data());
    return lut;
}

TEST(LutTables, MinimaAreTheRowMinimaOfTheFloatRows) {
    for (int64_t npos : {1, 5, 64, 70}) {
        const LutProblem p = lut_problem(3, 13, 4, npos, static_cast<uint32_t>(npos));
        const std::vector<float> lut = float_rows(p, 16);
        std::vector<float> off(p.M * npos);
        const LutRange range =
            lut_minima_positions(p.x.data(), p.cstride, npos, dt16(p).data(), p.M, p.dsub, p.K, 16, off.data(), npos);
        ASSERT_TRUE(range.finite);
        double expect_range = 0;
        for (int64_t pos = 0; pos < npos; ++pos)
            for (int64_t m = 0; m < p.M; ++m) {
                const float* row = lut.data() + (pos * p.M + m) * 16;
                const float lo = *std::min_element(row, row + p.K), hi = *std::max_element(row, row + p.K);
                EXPECT_NEAR(off[m * npos + pos], lo, 1e-6 * (1 + std::abs(lo))) << pos << " " << m;
                expect_range = std::max<double>(expect_range, hi - lo);
            }
        EXPECT_NEAR(range.max_range, expect_range, 1e-5 * expect_range);
    }
    // One position, vectorised over subspaces (FC): 70 subspaces cross the 64-wide chunks.
    const LutProblem p = lut_problem(70, 16, 2, 1, 9);
    const std::vector<float> lut = float_rows(p, 16);
    std::vector<float> xt(p.M * p.dsub), off(p.M), off_split(p.M);
    for (int64_t m = 0; m < p.M; ++m)
        for (int64_t l = 0; l < p.dsub; ++l) xt[l * p.M + m] = p.x[(m * p.dsub + l) * p.cstride];
    const std::vector<float> dt = transpose_codebooks(p.cb, p.M, p.K, p.dsub, 16);
    const LutRange range = lut_minima_subspaces(xt.data(), dt.data(), p.M, 0, p.M, p.dsub, p.K, 16, off.data());
    LutRange split = lut_minima_subspaces(xt.data(), dt.data(), p.M, 0, 33, p.dsub, p.K, 16, off_split.data());
    split.merge(lut_minima_subspaces(xt.data(), dt.data(), p.M, 33, p.M, p.dsub, p.K, 16, off_split.data()));
    EXPECT_EQ(off, off_split);
    EXPECT_EQ(range.max_range, split.max_range);
    for (int64_t m = 0; m < p.M; ++m) {
        const float* row = lut.data() + m * 16;
        EXPECT_NEAR(off[m], *std::min_element(row, row + 16), 1e-6 * (1 + std::abs(off[m]))) << m;
    }
}

// Each entry reconstructs to within 0.5 / scale; the largest range maps to 255; entries past K are 0.
TEST(LutTables, QuantizationErrorIsAtMostHalfAStep) {
    for (int64_t Kp : {16, 64}) {
        const LutProblem p = lut_problem(5, 13, 3, 37, 11);
        const std::vector<float> lut = float_rows(p, Kp);
        const std::vector<float> dt = transpose_codebooks(p.cb, p.M, p.K, p.dsub, Kp);
        std::vector<float> off(p.M * p.npos);
        const LutRange range =
            lut_minima_positions(p.x.data(), p.cstride, p.npos, dt.data(), p.M, p.dsub, p.K, Kp, off.data(), p.npos);
        const float scale = lut_scale(range.max_range);
        std::vector<uint8_t> q(p.npos * p.M * Kp, 77);
        quantize_lut_rows(p.x.data(), p.cstride, p.npos, dt.data(), p.M, 0, p.M, p.dsub, p.K, Kp, off.data(), p.npos,
                          scale, q.data());
        int max_q = 0;
        for (int64_t pos = 0; pos < p.npos; ++pos)
            for (int64_t m = 0; m < p.M; ++m)
                for (int64_t k = 0; k < Kp; ++k) {
                    const int64_t r = pos * p.M + m;
                    const uint8_t e = q[r * Kp + k];
                    if (k >= p.K) {
                        ASSERT_EQ(e, 0);
                        continue;
                    }
                    max_q = std::max<int>(max_q, e);
                    const double err = std::abs(e / double(scale) + off[m * p.npos + pos] - lut[r * Kp + k]);
                    ASSERT_LE(err, 0.5 / scale * (1 + 1e-4)) << pos << " " << m << " " << k;
                }
        EXPECT_EQ(max_q, 255);
    }
}

// A row stride past M * Kp (lut_row_stride) moves each position's rows and nothing else: the
// entries equal the packed layout's, both planes, and the padding bytes are not written.
TEST(LutTables, StridedRowsHoldThePackedEntriesAndLeaveThePadding) {
    EXPECT_EQ(lut_row_stride(64, 16), 64 * 16 + 64);    // 1 KiB: padded
    EXPECT_EQ(lut_row_stride(256, 16), 256 * 16 + 64);  // 4 KiB: padded
    EXPECT_EQ(lut_row_stride(16, 64), 16 * 64 + 64);
    EXPECT_EQ(lut_row_stride(12, 16), 12 * 16);         // not a multiple of 1 KiB
    EXPECT_EQ(lut_row_stride(5, 16), 5 * 16);
    for (int64_t Kp : {16, 64})
        for (bool wide : {false, true}) {
            const LutProblem p = lut_problem(6, 13, 2, 21, 31);
            const std::vector<float> dt = transpose_codebooks(p.cb, p.M, p.K, p.dsub, Kp);
            std::vector<float> off(p.M * p.npos);
            const LutRange range = lut_minima_positions(p.x.data(), p.cstride, p.npos, dt.data(), p.M, p.dsub, p.K,
                                                        Kp, off.data(), p.npos);
            const float scale = lut_scale(range.max_range, wide ? 65535.0f : 255.0f);
            const int64_t row = p.M * Kp, stride = row + 40;
            std::vector<uint8_t> q(p.npos * row), lo(wide ? p.npos * row : 0);
            std::vector<uint8_t> qs(p.npos * stride, 201), los(wide ? p.npos * stride : 0, 201);
            quantize_lut_rows(p.x.data(), p.cstride, p.npos, dt.data(), p.M, 0, p.M, p.dsub, p.K, Kp, off.data(),
                              p.npos, scale, q.data(), wide ? lo.data() : nullptr);
            quantize_lut_rows(p.x.data(), p.cstride, p.npos, dt.data(), p.M, 0, p.M, p.dsub, p.K, Kp, off.data(),
                              p.npos, scale, qs.data(), wide ? los.data() : nullptr, stride);
            for (int64_t pos = 0; pos < p.npos; ++pos) {
                for (int64_t i = 0; i < row; ++i) {
                    ASSERT_EQ(qs[pos * stride + i], q[pos * row + i]) << "Kp " << Kp << " pos " << pos << " byte " << i;
                    if (wide) {
                        ASSERT_EQ(los[pos * stride + i], lo[pos * row + i]) << "Kp " << Kp << " low plane";
                    }
                }
                for (int64_t i = row; i < stride; ++i) {
                    ASSERT_EQ(qs[pos * stride + i], 201) << "padding written, Kp " << Kp << " pos " << pos;
                    if (wide) {
                        ASSERT_EQ(los[pos * stride + i], 201) << "low plane padding written";
                    }
                }
            }
        }
}

// 16-bit entries (two planes): e = 256 * high + low reconstructs to within 0.5 / scale with
// scale = 65535 / range, the largest range maps to 65535, entries past K are 0 in both planes.
TEST(LutTables, SixteenBitQuantizationErrorIsAtMostHalfAStep) {
    for (int64_t Kp : {16, 128}) {
        const LutProblem p = lut_problem(5, Kp == 16 ? 13 : 100, 3, 37, 12);
        const std::vector<float> lut = float_rows(p, Kp);
        const std::vector<float> dt = transpose_codebooks(p.cb, p.M, p.K, p.dsub, Kp);
        std::vector<float> off(p.M * p.npos);
        const LutRange range =
            lut_minima_positions(p.x.data(), p.cstride, p.npos, dt.data(), p.M, p.dsub, p.K, Kp, off.data(), p.npos);
        const float scale = lut_scale(range.max_range, 65535.0f);
        EXPECT_FLOAT_EQ(scale, 65535.0f / range.max_range);
        std::vector<uint8_t> hi(p.npos * p.M * Kp, 77), lo(p.npos * p.M * Kp, 77);
        quantize_lut_rows(p.x.data(), p.cstride, p.npos, dt.data(), p.M, 0, p.M, p.dsub, p.K, Kp, off.data(), p.npos,
                          scale, hi.data(), lo.data());
        int max_q = 0;
        double max_err = 0;
        for (int64_t pos = 0; pos < p.npos; ++pos)
            for (int64_t m = 0; m < p.M; ++m)
                for (int64_t k = 0; k < Kp; ++k) {
                    const int64_t i = (pos * p.M + m) * Kp + k;
                    const int e = 256 * hi[i] + lo[i];
                    if (k >= p.K) {
                        ASSERT_EQ(e, 0);
                        continue;
                    }
                    max_q = std::max(max_q, e);
                    const double err = std::abs(e / double(scale) + off[m * p.npos + pos] - lut[i]);
                    // 0.5 step, plus the float rounding of L itself (a few ulps of |L|)
                    ASSERT_LE(err, 0.5 / scale * (1 + 1e-3) + 4e-7 * std::abs(lut[i])) << pos << " " << m << " " << k;
                    max_err = std::max(max_err, err);
                }
        EXPECT_EQ(max_q, 65535);
        EXPECT_LT(max_err, 0.01 * 0.5 * (65535.0 / 255.0) / scale);  // far below the 8-bit half step
    }
}

TEST(LutTables, ConstantTablesQuantizeToZero) {
    LutProblem p = lut_problem(2, 16, 2, 3, 4);
    std::fill(p.x.begin(), p.x.end(), 0.0f);
    std::vector<float> off(p.M * p.npos, -1.0f);
    const LutRange range =
        lut_minima_positions(p.x.data(), p.cstride, p.npos, dt16(p).data(), p.M, p.dsub, p.K, 16, off.data(), p.npos);
    EXPECT_EQ(range.max_range, 0.0f);
    for (float o : off) EXPECT_EQ(o, 0.0f);
    const float scale = lut_scale(range.max_range);
    EXPECT_TRUE(std::isfinite(scale));
    const std::vector<float> dt = transpose_codebooks(p.cb, p.M, p.K, p.dsub, 16);
    std::vector<uint8_t> q(p.npos * p.M * 16, 9);
    quantize_lut_rows(p.x.data(), p.cstride, p.npos, dt.data(), p.M, 0, p.M, p.dsub, p.K, 16, off.data(), p.npos, scale,
                      q.data());
    for (uint8_t e : q) EXPECT_EQ(e, 0);
}

TEST(LutTables, NonFiniteEntriesAreReported) {
    for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
        LutProblem p = lut_problem(3, 16, 2, 5, 6);
        std::vector<float> off(p.M * p.npos);
        EXPECT_TRUE(lut_minima_positions(p.x.data(), p.cstride, p.npos, dt16(p).data(), p.M, p.dsub, p.K, 16, off.data(),
                                         p.npos).finite);
        p.x[3 * p.cstride + 4] = bad;  // channel 3 (subspace 1), position 4
        EXPECT_FALSE(lut_minima_positions(p.x.data(), p.cstride, p.npos, dt16(p).data(), p.M, p.dsub, p.K, 16, off.data(),
                                          p.npos).finite);
    }
}

TEST(LutTables, GeometryValidationNamesTheField) {
    LutGeometry g{8, 12, 1, 1, 1, 4, 16};
    std::vector<float> cb(3 * 16 * 4);
    std::vector<uint8_t> codes(8 * 3, 1);
    EXPECT_NO_THROW(g.validate("fc1", cb, codes, {}));
    codes[5] = 16;
    try {
        g.validate("fc1", cb, codes, {});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("fc1: code 16 at index 5"), std::string::npos) << e.what();
    }
    codes[5] = 0;
    std::vector<float> bias(7);
    EXPECT_THROW(g.validate("fc1", cb, codes, bias), Error);
    g.dsub = 5;
    EXPECT_THROW(g.validate("fc1"), Error);
    g.dsub = 4;
    g.K = 257;
    EXPECT_THROW(g.validate("fc1"), Error);
}

}  // namespace
}  // namespace qcnn
