// FastConv: every instruction set against the scalar twin (bit-exact integer sums and outputs,
// for 1-3 threads) and against the float LUT math in double within the documented per-tile
// bound of 8-bit and 16-bit tables, over strides, asymmetric padding, dilation, groups and odd
// sizes.
#include <gtest/gtest.h>

#include <cmath>

#include "core/kernels/fast_conv.h"
#include "core/util/error.h"
#include "kernel_test_util.h"

namespace qcnn {
namespace {

using test::RandomLayer;

struct ConvCase {
    int64_t cs, ct, groups, kh, kw;
    ConvWindow win;
    int64_t h, w, n, dsub, K;
};

LutGeometry conv_geometry(const ConvCase& c) {
    LutGeometry g;
    g.out_channels = c.ct;
    g.in_channels = c.cs;
    g.groups = c.groups;
    g.kernel_h = c.kh;
    g.kernel_w = c.kw;
    g.dsub = c.dsub;
    g.K = c.K;
    return g;
}

ConvWindow window(int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb, int64_t pr, int64_t dh, int64_t dw) {
    return {sh, sw, pt, pl, pb, pr, dh, dw};
}

void check_conv(const ConvCase& cc, KernelIsa isa, uint64_t seed, LutPrecision precision) {
    const RandomLayer l = test::random_layer(conv_geometry(cc), seed, seed % 3 != 0);
    const LutGeometry& g = l.geo;
    const ConvWindow& win = cc.win;
    SCOPED_TRACE(testing::Message() << isa_name(isa) << " C_s " << cc.cs << " C_t " << cc.ct << " g " << cc.groups
                                    << " k " << cc.kh << "x" << cc.kw << " s " << win.stride_h << "x" << win.stride_w
                                    << " d " << win.dilation_h << " in " << cc.h << "x" << cc.w << " N " << cc.n
                                    << " dsub " << cc.dsub << " K " << cc.K << " seed " << seed << " precision "
                                    << lut_precision_name(precision));
    const FastConv f(g, l.codebooks, l.codes, l.bias, isa, precision);
    ASSERT_EQ(f.precision(), precision);
    const double levels = precision == LutPrecision::Bits16 ? 65535.0 : 255.0;
    const std::vector<float> x = test::random_input(cc.n * cc.cs * cc.h * cc.w, seed + 1);
    const auto [oh, ow] = conv_window_output(cc.h, cc.w, cc.kh, cc.kw, win);
    const int64_t ohw = oh * ow, count = cc.n * cc.ct * ohw;
    std::vector<float> yr(count);
    LutTrace tr;
    f.run_reference(x.data(), cc.n, cc.h, cc.w, win, yr.data(), &tr);
    for (int threads : {1, 2, 3}) {
        std::vector<float> y(count, -7.0f);
        LutTrace t;
        f.run(x.data(), cc.n, cc.h, cc.w, win, y.data(), threads, &t);
        ASSERT_TRUE(test::same_bits(y, yr)) << "threads " << threads;
        ASSERT_EQ(t.acc, tr.acc) << "threads " << threads;
        ASSERT_EQ(t.scale, tr.scale) << "threads " << threads;
    }
    const bool quantized = f.method() != LutMethod::Float;
    const ConvTiling tl = f.tiling(oh, ow);
    ASSERT_EQ(tr.scale.size(), quantized ? size_t(cc.n * tl.count()) : 0u);

    std::vector<int> taps;
    const std::vector<double> ref = test::conv_lut_math(l, x, cc.n, cc.h, cc.w, win, &taps);
    const int64_t Mg = g.subspaces_per_group();
    for (int64_t ni = 0; ni < cc.n; ++ni) {
        // Image-wide LUT statistics: a tile's range is at most the image's.
        double image_range = 0, amax = 0;
        for (int64_t pos = 0; pos < cc.h * cc.w; ++pos) {
            double r, a;
            test::lut_stats(l, x.data() + ni * cc.cs * cc.h * cc.w + pos, cc.h * cc.w, &r, &a);
            image_range = std::max(image_range, r);
            for (int64_t m = 0; m < g.subspaces(); ++m)
                for (int64_t k = 0; k < g.K; ++k)
                    amax = std::max(amax, std::abs(test::lut_entry(l, x.data() + ni * cc.cs * cc.h * cc.w + pos,
                                                                   cc.h * cc.w, m, k)));
        }
        for (int64_t c = 0; c < cc.ct; ++c)
            for (int64_t oy = 0; oy < oh; ++oy)
                for (int64_t ox = 0; ox < ow; ++ox) {
                    const int64_t o = ((ni * cc.ct + c) * oh + oy) * ow + ox;
                    double bound = 0;
                    if (quantized) {
                        const double scale = tr.scale[ni * tl.count() + (oy / tl.th) * tl.tiles_x + ox / tl.tw];
                        ASSERT_GE(scale, levels / image_range * (1 - 1e-4)) << "tile scale of output " << o;
                        bound = taps[o] * Mg * 0.5 / scale * (1 + 1e-4);
                    }
                    const double tol =
                        bound + 1e-5 * ((l.bias.empty() ? 0.0 : std::abs(l.bias[c])) + taps[o] * Mg * amax);
                    ASSERT_NEAR(yr[o], ref[o], tol) << "output " << o << " (c " << c << ", " << oy << ", " << ox << ")";
                }
    }
}

const std::vector<ConvCase>& cases() {
    static const std::vector<ConvCase> v = {
        {8, 17, 1, 3, 3, window(1, 1, 1, 1, 1, 1, 1, 1), 9, 11, 1, 4, 16},     // 3x3 pad 1, odd sizes
        {12, 15, 1, 3, 3, window(2, 2, 1, 1, 1, 1, 1, 1), 13, 10, 3, 4, 16},   // stride 2, N = 3, M = 3
        {7, 31, 1, 3, 3, window(1, 1, 2, 2, 2, 2, 2, 2), 11, 9, 1, 1, 5},      // dilation 2, M = 7, K = 5
        {8, 34, 2, 3, 3, window(1, 1, 1, 0, 2, 1, 1, 1), 10, 12, 1, 4, 16},    // groups 2, asymmetric pads
        {12, 63, 3, 1, 1, window(1, 1, 0, 0, 0, 0, 1, 1), 6, 7, 2, 2, 16},     // 1x1, groups 3 (21 per group)
        {6, 65, 1, 5, 3, window(2, 1, 0, 1, 0, 1, 1, 2), 15, 8, 1, 3, 16},     // 5x3, mixed stride/dilation
        {8, 20, 1, 3, 3, window(1, 1, 1, 1, 1, 1, 1, 1), 20, 23, 2, 4, 16},    // several full-width tiles
        {4, 3, 1, 3, 3, window(1, 1, 1, 1, 1, 1, 1, 1), 9, 70, 1, 4, 16},      // square tiles (W_t > 64)
        {4, 4, 4, 3, 3, window(1, 1, 1, 1, 1, 1, 1, 1), 7, 6, 1, 1, 16},       // depthwise: 1 channel per group
        {4, 5, 1, 1, 1, window(1, 1, 2, 2, 2, 2, 1, 1), 5, 5, 1, 2, 16},       // border outputs read padding only
        {6, 9, 1, 5, 5, window(1, 1, 2, 2, 2, 2, 1, 1), 3, 3, 1, 2, 16},       // kernel larger than the input
        {8, 17, 1, 3, 3, window(2, 2, 1, 1, 1, 1, 1, 1), 9, 9, 1, 4, 64},      // K = 64
        {6, 34, 2, 3, 3, window(1, 1, 1, 1, 1, 1, 1, 1), 7, 8, 2, 3, 128},     // K = 128, groups 2
        {4, 17, 1, 3, 3, window(1, 1, 1, 1, 1, 1, 1, 1), 6, 7, 1, 2, 256},     // K = 256
        {4, 1, 1, 2, 2, window(1, 1, 0, 0, 1, 1, 1, 1), 4, 5, 1, 4, 7},        // C_t = 1, M = 1, even kernel
        {8, 20, 1, 1, 1, window(2, 2, 0, 0, 0, 0, 1, 1), 9, 11, 2, 4, 16},     // 1x1 stride 2: gathered tiles
        {6, 33, 1, 1, 1, window(3, 2, 0, 0, 0, 0, 1, 1), 14, 9, 1, 2, 16},     // 1x1 stride 3x2, odd sizes
        {32, 9, 1, 1, 1, window(2, 2, 0, 0, 0, 0, 1, 1), 7, 6, 1, 2, 64},      // gathered, K = 64, rows 1 KiB: padded
        {256, 65, 1, 3, 3, window(1, 1, 1, 1, 1, 1, 1, 1), 5, 7, 1, 4, 16},    // M = 64: rows of 1 KiB, padded
        {8, 20, 1, 1, 1, window(2, 2, 1, 0, 0, 1, 1, 1), 9, 11, 1, 4, 16},     // 1x1 stride 2 with padding: not gathered
    };
    return v;
}

TEST(FastConv, MatchesTwinAndFloatLutOnAwkwardShapes) {
    uint64_t seed = 500;
    for (const ConvCase& c : cases())
        for (KernelIsa isa : test::isas_to_test(c.K))
            for (LutPrecision p : {LutPrecision::Bits8, LutPrecision::Bits16}) {
                check_conv(c, isa, ++seed, p);
                if (testing::Test::HasFatalFailure()) return;
            }
}

// run_max_pool2 = run, then the activation, then the 2x2 max pool, bit for bit: every case
// with a 2x2 output or more (tiles of odd and even sizes, groups, K up to 256), every
// instruction set, 1-3 threads, with and without an activation.
TEST(FastConv, FusedMaxPoolGivesTheBitsOfRunThenActivationThenPool) {
    PostOp leaky;
    leaky.kind = PostOp::Kind::LeakyRelu;
    leaky.alpha = 0.3f;
    uint64_t seed = 900;
    for (const ConvCase& cc : cases())
        for (KernelIsa isa : test::isas_to_test(cc.K)) {
            const auto [oh, ow] = conv_window_output(cc.h, cc.w, cc.kh, cc.kw, cc.win);
            if (oh < 2 || ow < 2) continue;
            const RandomLayer l = test::random_layer(conv_geometry(cc), ++seed, true);
            const FastConv f(l.geo, l.codebooks, l.codes, l.bias, isa);
            const std::vector<float> x = test::random_input(cc.n * cc.cs * cc.h * cc.w, seed + 1);
            std::vector<float> full(cc.n * cc.ct * oh * ow);
            f.run(x.data(), cc.n, cc.h, cc.w, cc.win, full.data(), 1);
            for (const PostOp* post : std::vector<const PostOp*>{nullptr, &leaky}) {
                std::vector<float> act = full;
                if (post) post->apply(act.data(), static_cast<int64_t>(act.size()));
                std::vector<float> expect(cc.n * cc.ct * (oh / 2) * (ow / 2));
                max_pool2_planes(act.data(), cc.n * cc.ct, oh, ow, expect.data());
                for (int threads : {1, 2, 3}) {
                    std::vector<float> y(expect.size(), -7.0f);
                    f.run_max_pool2(x.data(), cc.n, cc.h, cc.w, cc.win, y.data(), threads, post);
                    ASSERT_TRUE(test::same_bits(y, expect))
                        << isa_name(isa) << " C_s " << cc.cs << " C_t " << cc.ct << " " << oh << "x" << ow << " K "
                        << cc.K << " threads " << threads << " post " << (post != nullptr);
                }
            }
        }
}

// Worst case: every looked-up entry is 255 and an interior output sums 9 taps x 300 terms
// (688,500: far past uint16); corners and edges sum fewer taps.
TEST(FastConv, WorstCaseAccumulationIsExact) {
    const int64_t cs = 300, ct = 65;
    ConvCase cc{cs, ct, 1, 3, 3, window(1, 1, 1, 1, 1, 1, 1, 1), 4, 4, 1, 1, 2};
    const LutGeometry g = conv_geometry(cc);
    std::vector<float> cb(cs * 2);
    for (int64_t m = 0; m < cs; ++m) cb[m * 2 + 1] = 1.0f;
    const std::vector<uint8_t> codes(ct * 9 * cs, 1);
    const std::vector<float> x(cs * 16, 1.0f);
    for (KernelIsa isa : test::isas_to_test()) {
        const FastConv f(g, cb, codes, {}, isa);
        std::vector<float> y(ct * 16);
        LutTrace t;
        f.run(x.data(), 1, 4, 4, cc.win, y.data(), 2, &t);
        for (int64_t c = 0; c < ct; ++c)
            for (int64_t oy = 0; oy < 4; ++oy)
                for (int64_t ox = 0; ox < 4; ++ox) {
                    const int64_t taps = (oy == 0 || oy == 3 ? 2 : 3) * (ox == 0 || ox == 3 ? 2 : 3);
                    const int64_t o = (c * 4 + oy) * 4 + ox;
                    ASSERT_EQ(t.acc[o], uint32_t(255 * taps * cs)) << isa_name(isa) << " output " << o;
                    ASSERT_NEAR(y[o], double(taps * cs), taps * cs * 1e-6) << isa_name(isa) << " output " << o;
                }
    }
}

// The same with 16-bit tables: every entry 65535 (both planes 255), sums up to 65535 x 2700.
TEST(FastConv, WorstCase16BitAccumulationIsExact) {
    const int64_t cs = 300, ct = 65;
    ConvCase cc{cs, ct, 1, 3, 3, window(1, 1, 1, 1, 1, 1, 1, 1), 4, 4, 1, 1, 2};
    const LutGeometry g = conv_geometry(cc);
    std::vector<float> cb(cs * 2);
    for (int64_t m = 0; m < cs; ++m) cb[m * 2 + 1] = 1.0f;
    const std::vector<uint8_t> codes(ct * 9 * cs, 1);
    const std::vector<float> x(cs * 16, 1.0f);
    for (KernelIsa isa : test::isas_to_test()) {
        const FastConv f(g, cb, codes, {}, isa, LutPrecision::Bits16);
        std::vector<float> y(ct * 16);
        LutTrace t;
        f.run(x.data(), 1, 4, 4, cc.win, y.data(), 2, &t);
        for (int64_t c = 0; c < ct; ++c)
            for (int64_t oy = 0; oy < 4; ++oy)
                for (int64_t ox = 0; ox < 4; ++ox) {
                    const int64_t taps = (oy == 0 || oy == 3 ? 2 : 3) * (ox == 0 || ox == 3 ? 2 : 3);
                    const int64_t o = (c * 4 + oy) * 4 + ox;
                    ASSERT_EQ(t.acc[o], uint32_t(65535 * taps * cs)) << isa_name(isa) << " output " << o;
                    ASSERT_NEAR(y[o], double(taps * cs), taps * cs * 1e-6) << isa_name(isa) << " output " << o;
                }
    }
}

TEST(FastConv, NonFiniteInputMakesItsTilesNaN) {
    ConvCase cc{4, 5, 1, 3, 3, window(1, 1, 1, 1, 1, 1, 1, 1), 6, 6, 2, 2, 16};
    const RandomLayer l = test::random_layer(conv_geometry(cc), 3);
    std::vector<float> x = test::random_input(2 * 4 * 36, 4);
    x[36 + 7] = std::nanf("");  // sample 0, channel 1
    for (KernelIsa isa : test::isas_to_test())
        for (LutPrecision p : {LutPrecision::Bits8, LutPrecision::Bits16}) {
            const FastConv f(l.geo, l.codebooks, l.codes, l.bias, isa, p);
            std::vector<float> y(2 * 5 * 36), yr(2 * 5 * 36);
            f.run(x.data(), 2, 6, 6, cc.win, y.data(), 2);
            f.run_reference(x.data(), 2, 6, 6, cc.win, yr.data());
            EXPECT_TRUE(test::same_bits(y, yr));
            for (int64_t i = 0; i < 5 * 36; ++i) {
                EXPECT_TRUE(std::isnan(y[i])) << isa_name(isa) << " " << i;  // one tile covers sample 0
                EXPECT_TRUE(std::isfinite(y[5 * 36 + i])) << isa_name(isa) << " " << i;
            }
        }
}

TEST(FastConv, RejectsInvalidWindowsAndWeights) {
    ConvCase cc{4, 5, 1, 3, 3, window(1, 1, 0, 0, 0, 0, 1, 1), 6, 6, 1, 2, 16};
    const RandomLayer l = test::random_layer(conv_geometry(cc), 3);
    const FastConv f(l.geo, l.codebooks, l.codes, l.bias);
    std::vector<float> x(4 * 36), y(5 * 36);
    EXPECT_THROW(f.run(x.data(), 1, 2, 6, cc.win, y.data(), 1), Error);  // 3x3 does not fit 2x6
    EXPECT_THROW(f.run(x.data(), 1, 6, 6, window(0, 1, 0, 0, 0, 0, 1, 1), y.data(), 1), Error);
    EXPECT_THROW(f.run(x.data(), 1, 6, 6, window(1, 1, -1, 0, 0, 0, 1, 1), y.data(), 1), Error);
    LutGeometry bad = l.geo;
    bad.groups = 3;
    EXPECT_THROW(FastConv(bad, l.codebooks, l.codes, l.bias), Error);
    std::vector<uint8_t> codes = l.codes;
    codes.pop_back();
    EXPECT_THROW(FastConv(l.geo, l.codebooks, codes, l.bias), Error);
}

}  // namespace
}  // namespace qcnn
