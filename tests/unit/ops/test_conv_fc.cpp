// ConvOp / FcOp (im2col + GEMM) against their plain loop twins over awkward shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "core/graph/plan.h"
#include "core/ops/conv.h"
#include "core/ops/conv_direct.h"
#include "core/ops/fc.h"
#include "core/ops/pool.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

Tensor random_tensor(Shape s, std::mt19937& rng) {
    Tensor t(std::move(s));
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (auto& v : t.data) v = d(rng);
    return t;
}

// |sum x_i w_i| error bound for float accumulation of `reduction` terms of |x|,|w| <= ~4.
float tolerance(int64_t reduction) { return 16.0f * 1.2e-7f * std::sqrt(float(reduction)) * 16.0f + 1e-5f; }

Tensor run_op(const Op& op, const Tensor& x, int threads) {
    ValueInfo xi;
    xi.shape = x.shape;
    auto out = op.infer({&xi});
    Tensor y(out[0].shape, std::nanf(""));
    std::vector<const Tensor*> in{&x};
    std::vector<const ValueInfo*> info{&xi};
    std::vector<Tensor*> outs{&y};
    ExecContext ctx{threads};
    op.run(RunArgs{in, info, outs, ctx});
    return y;
}

struct ConvCase {
    int64_t n, cin, cout, h, w, k, stride, pad, dil, group;
};

class ConvVsReference : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvVsReference, MatchesLoopNest) {
    const ConvCase c = GetParam();
    const unsigned seed = 1234u + static_cast<unsigned>(c.cin * 7 + c.cout * 13 + c.h);
    std::mt19937 rng(seed);
    ConvParams p;
    p.stride_h = c.stride;
    p.stride_w = c.stride;
    p.pad_top = p.pad_left = c.pad;
    p.pad_bottom = c.pad + (c.h % 2);  // asymmetric on odd sizes
    p.pad_right = c.pad;
    p.dilation_h = p.dilation_w = c.dil;
    p.group = c.group;
    Tensor w = random_tensor({c.cout, c.cin / c.group, c.k, c.k}, rng);
    std::vector<float> b(c.cout);
    for (auto& v : b) v = std::normal_distribution<float>(0, 1)(rng);
    ConvOp op(p, w, b);
    Tensor x = random_tensor({c.n, c.cin, c.h, c.w}, rng);
    Tensor ref = conv_reference(x, p, w, b);
    // Both dense paths; the backend is process-wide, restored afterwards.
    const ConvBackend before = conv_backend();
    for (ConvBackend backend : {ConvBackend::OneDnn, ConvBackend::Im2col}) {
        set_conv_backend(backend);
        const char* name = conv_backend() == ConvBackend::OneDnn ? "oneDNN" : "im2col";
        for (int threads : {1, 2}) {
            Tensor y = run_op(op, x, threads);
            ASSERT_EQ(y.shape, ref.shape);
            const float tol = tolerance(c.cin / c.group * c.k * c.k);
            for (int64_t i = 0; i < y.size(); ++i)
                ASSERT_NEAR(y.data[i], ref.data[i], tol)
                    << name << " seed " << seed << " index " << i << " threads " << threads;
        }
    }
    set_conv_backend(before);
}

// The direct kernel for few input channels (first convs): against the loop nest with the
// activation applied after it, over kernel / stride / padding / dilation shapes of the RGB
// first convs (VGG 3x3 p1, ResNet 7x7 s2 p3, AlexNet 11x11 s4 p2) and awkward ones, output
// widths that leave a partial vector or a partial 4-vector block, C_t not a multiple of 4;
// bit-identical for 1-3 threads.
TEST(ConvDirect, MatchesLoopNestWithEveryActivation) {
    struct Case {
        int64_t n, cin, cout, h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
    };
    const std::vector<Case> cases = {
        {1, 3, 8, 20, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},      // VGG-like, W_t 37: a partial vector
        {2, 3, 5, 23, 29, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1},      // ResNet-like stride 2, C_t 5
        {1, 3, 6, 47, 51, 11, 11, 4, 4, 2, 2, 2, 2, 1, 1},    // AlexNet-like stride 4
        {1, 1, 1, 5, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1, 1},        // W_t 1, C_t 1
        {3, 4, 9, 9, 70, 2, 3, 1, 2, 0, 2, 1, 0, 2, 1},       // asymmetric pads, dilation, W_t 36
        {1, 2, 17, 6, 130, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},     // W_t 130: 2 blocks of 4 vectors + 1
        {1, 3, 4, 4, 4, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1},        // kernel larger than the input
    };
    PostOp relu, clip, leaky;
    clip.kind = PostOp::Kind::Clip;
    clip.lo = -0.5f;
    clip.hi = 0.75f;
    leaky.kind = PostOp::Kind::LeakyRelu;
    leaky.alpha = 0.125f;
    const PostOp* posts[] = {nullptr, &relu, &clip, &leaky};
    std::mt19937 rng(77);
    for (const Case& c : cases) {
        const ConvParams p{.kernel_h = c.kh, .kernel_w = c.kw, .stride_h = c.sh, .stride_w = c.sw, .pad_top = c.pt,
                           .pad_left = c.pl, .pad_bottom = c.pb, .pad_right = c.pr, .dilation_h = c.dh,
                           .dilation_w = c.dw};
        const Tensor w = random_tensor({c.cout, c.cin, c.kh, c.kw}, rng);
        const Tensor x = random_tensor({c.n, c.cin, c.h, c.w}, rng);
        std::vector<float> b(c.cout);
        for (auto& v : b) v = std::normal_distribution<float>(0, 1)(rng);
        for (bool with_bias : {true, false}) {
            const std::vector<float> bias = with_bias ? b : std::vector<float>();
            const Tensor ref = conv_reference(x, p, w, bias);
            for (const PostOp* post : posts) {
                SCOPED_TRACE(testing::Message() << "cin " << c.cin << " cout " << c.cout << " " << c.h << "x" << c.w
                                                << " k " << c.kh << "x" << c.kw << " s " << c.sh << "x" << c.sw
                                                << " bias " << with_bias << " post " << (post ? int(post->kind) : -1));
                Tensor first;
                for (int threads : {1, 2, 3}) {
                    Tensor y(ref.shape, std::nanf(""));
                    conv_direct(x.ptr(), c.n, c.cin, c.h, c.w, p, w.ptr(), with_bias ? bias.data() : nullptr, c.cout,
                                post, y.ptr(), threads);
                    const float tol = tolerance(c.cin * c.kh * c.kw);
                    for (int64_t i = 0; i < y.size(); ++i) {
                        const float r = post ? (*post)(ref.data[i]) : ref.data[i];
                        ASSERT_NEAR(y.data[i], r, tol) << "index " << i << " threads " << threads;
                    }
                    if (threads == 1) first = y;
                    else ASSERT_EQ(0, std::memcmp(first.ptr(), y.ptr(), sizeof(float) * y.size())) << threads;
                }
            }
        }
    }
}

// With the 2x2 max pool fused (RunArgs::max_pool2): the same bits as conv_direct followed by
// PoolOp (MaxPool 2x2 s2), for odd and even output sizes, every activation, 1-3 threads.
TEST(ConvDirect, FusedMaxPoolGivesTheBitsOfConvThenMaxPool) {
    PoolParams pp;
    pp.kernel = {2, 2};
    pp.strides = {2, 2};
    const PoolOp pool(pp);
    PostOp relu, leaky;
    leaky.kind = PostOp::Kind::LeakyRelu;
    leaky.alpha = 0.2f;
    std::mt19937 rng(91);
    struct Case {
        int64_t n, cin, cout, h, w, k, pad;
    };
    for (const Case& c : {Case{1, 3, 8, 12, 34, 3, 1}, Case{2, 3, 5, 9, 17, 3, 1}, Case{1, 1, 6, 7, 6, 5, 0},
                          Case{1, 4, 17, 2, 35, 1, 0}}) {
        const ConvParams p{.kernel_h = c.k, .kernel_w = c.k, .pad_top = c.pad, .pad_left = c.pad,
                           .pad_bottom = c.pad, .pad_right = c.pad};
        const Tensor w = random_tensor({c.cout, c.cin, c.k, c.k}, rng);
        const Tensor x = random_tensor({c.n, c.cin, c.h, c.w}, rng);
        std::vector<float> b(c.cout, 0.25f);
        const int64_t oh = c.h + 2 * c.pad - c.k + 1, ow = c.w + 2 * c.pad - c.k + 1;
        for (const PostOp* post : std::vector<const PostOp*>{nullptr, &relu, &leaky}) {
            Tensor full({c.n, c.cout, oh, ow});
            conv_direct(x.ptr(), c.n, c.cin, c.h, c.w, p, w.ptr(), b.data(), c.cout, post, full.ptr(), 1);
            const Tensor expect = run_op(pool, full, 1);
            for (int threads : {1, 2, 3}) {
                Tensor y(expect.shape, std::nanf(""));
                conv_direct(x.ptr(), c.n, c.cin, c.h, c.w, p, w.ptr(), b.data(), c.cout, post, y.ptr(), threads, true);
                ASSERT_EQ(0, std::memcmp(y.ptr(), expect.ptr(), sizeof(float) * y.size()))
                    << "cin " << c.cin << " cout " << c.cout << " " << oh << "x" << ow << " threads " << threads
                    << " post " << (post ? int(post->kind) : -1);
            }
        }
    }
}

TEST(ConvDirect, AppliesToOneGroupOfAtMostFourChannelsAtStrideOne) {
#ifdef __AVX512F__
    ConvParams p;
    EXPECT_TRUE(conv_direct_applies(p, 3));
    EXPECT_TRUE(conv_direct_applies(p, 4));
    EXPECT_FALSE(conv_direct_applies(p, 5));
    p.stride_w = 2;
    EXPECT_FALSE(conv_direct_applies(p, 3));
    p.stride_w = 1;
    p.group = 3;
    EXPECT_FALSE(conv_direct_applies(p, 3));
#else
    EXPECT_FALSE(conv_direct_applies(ConvParams{}, 3));  // measured only against AVX-512 builds
#endif
}

#ifdef QCNN_HAVE_DNNL
TEST(ConvBackend, OneDnnIsTheDefaultAndSwitchable) {
    EXPECT_EQ(conv_backend(), ConvBackend::OneDnn);
    set_conv_backend(ConvBackend::Im2col);
    EXPECT_EQ(conv_backend(), ConvBackend::Im2col);
    set_conv_backend(ConvBackend::OneDnn);
    EXPECT_EQ(conv_backend(), ConvBackend::OneDnn);
}
#endif

INSTANTIATE_TEST_SUITE_P(AwkwardShapes, ConvVsReference,
                         ::testing::Values(ConvCase{1, 1, 1, 1, 1, 1, 1, 0, 1, 1}, ConvCase{1, 3, 5, 7, 9, 3, 1, 1, 1, 1},
                                           ConvCase{2, 4, 6, 15, 17, 3, 2, 1, 1, 2},
                                           ConvCase{3, 8, 8, 16, 16, 3, 1, 2, 2, 8},
                                           ConvCase{1, 16, 33, 31, 33, 5, 1, 2, 1, 1},
                                           ConvCase{5, 6, 4, 9, 8, 1, 1, 0, 1, 2},
                                           ConvCase{2, 17, 65, 8, 8, 1, 2, 0, 1, 1},
                                           ConvCase{64, 3, 8, 5, 5, 3, 1, 1, 1, 1},
                                           ConvCase{4, 32, 32, 7, 7, 3, 1, 1, 1, 1},
                                           ConvCase{2, 6, 9, 11, 6, 4, 3, 0, 1, 3},
                                           // im2col in tiles of output rows (kdim x W_t > 2 MiB
                                           // budget per row block): last tile partial, over
                                           // images and threads, with dilation and stride
                                           ConvCase{1, 64, 8, 67, 65, 3, 1, 1, 1, 1},
                                           ConvCase{2, 128, 6, 45, 40, 3, 1, 1, 1, 1},
                                           ConvCase{1, 96, 7, 50, 61, 3, 1, 2, 2, 1},
                                           ConvCase{1, 256, 6, 33, 129, 3, 2, 1, 1, 2}));

// ConvOp::dense_memory's work bytes are what run() makes a fresh thread allocate, on every
// backend: the direct kernel (few channels, stride 1; with the fused pool), oneDNN (strided RGB
// conv, a grouped conv, a blocked-layout 16-channel conv), im2col (row tiles; several images per
// GEMM with the copied-out product; the pointwise case that needs none).
TEST(ConvOp, DenseMemoryIsWhatRunMakesAFreshThreadAllocate) {
    struct Case {
        int64_t n, cin, cout, h, w, k, stride, pad, group;
        bool pool;
    };
    const Case cases[] = {
        {1, 3, 8, 20, 37, 3, 1, 1, 1, false}, {2, 3, 8, 20, 36, 3, 1, 1, 1, true}, {1, 3, 16, 45, 45, 7, 2, 3, 1, false},
        {2, 16, 32, 14, 14, 3, 1, 1, 1, false}, {1, 6, 9, 11, 6, 3, 2, 1, 3, false}, {1, 64, 8, 67, 65, 3, 1, 1, 1, false},
        {5, 6, 4, 9, 8, 3, 1, 1, 2, false},     {3, 8, 8, 16, 16, 1, 1, 0, 1, false},
    };
    const ConvBackend before = conv_backend();
    std::mt19937 rng(77);
    for (ConvBackend backend : {ConvBackend::OneDnn, ConvBackend::Im2col}) {
        set_conv_backend(backend);
        for (const Case& c : cases) {
            ConvParams p;
            p.stride_h = p.stride_w = c.stride;
            p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = c.pad;
            p.group = c.group;
            ConvOp op(p, random_tensor({c.cout, c.cin / c.group, c.k, c.k}, rng), std::vector<float>(c.cout, 0.5f));
            const Tensor x = random_tensor({c.n, c.cin, c.h, c.w}, rng);
            const bool pool = c.pool && conv_direct_applies(p, c.cin);
            const DenseConvMemory m = op.dense_memory(x.shape, nullptr, pool);
            int64_t held = -1;
            std::thread([&] {  // a fresh thread: its buffers start empty
                ValueInfo xi;
                xi.shape = x.shape;
                Shape ys = op.infer({&xi})[0].shape;
                if (pool) ys = {ys[0], ys[1], ys[2] / 2, ys[3] / 2};
                Tensor y(ys);
                std::vector<const Tensor*> in{&x};
                std::vector<const ValueInfo*> info{&xi};
                std::vector<Tensor*> outs{&y};
                ExecContext ctx{1};
                op.run(RunArgs{in, info, outs, ctx, nullptr, pool});
                held = conv_thread_work_bytes();
            }).join();
            const std::string what = cat(m.backend, " n", c.n, " cin", c.cin, " k", c.k, " s", c.stride, " g", c.group,
                                         pool ? " pooled" : "");
            EXPECT_EQ(held, m.work_bytes) << what;
            if (c.k == 1 && m.backend == "im2col") {
                EXPECT_EQ(m.work_bytes, 0) << what;  // the input is the GEMM's
            }
            if (c.k > 1) {
                EXPECT_GT(m.work_bytes, 0) << what;
            }
            const char* expected = pool || (conv_direct_applies(p, c.cin) && conv_backend() == ConvBackend::OneDnn)
                                       ? "direct"
                                       : conv_backend() == ConvBackend::Im2col ? "im2col" : "onednn";
            EXPECT_EQ(m.backend, expected) << what;
        }
    }
    set_conv_backend(before);
}

TEST(ConvParams, AutoPadSameUpperMatchesOnnxRule) {
    ConvParams p;
    p.kernel_h = p.kernel_w = 3;
    p.stride_h = p.stride_w = 2;
    p.auto_pad = "SAME_UPPER";
    ConvParams r;
    auto hw = p.output_hw(5, 6, &r);
    EXPECT_EQ(hw[0], 3);
    EXPECT_EQ(hw[1], 3);
    EXPECT_EQ(r.pad_top, 1);
    EXPECT_EQ(r.pad_bottom, 1);
    EXPECT_EQ(r.pad_left, 0);   // total 1: SAME_UPPER puts the extra at the end
    EXPECT_EQ(r.pad_right, 1);
}

TEST(ConvOp, RejectsKernelLargerThanInput) {
    std::mt19937 rng(1);
    ConvOp op(ConvParams{}, random_tensor({2, 3, 5, 5}, rng), {});
    ValueInfo xi;
    xi.shape = {1, 3, 4, 4};
    EXPECT_THROW(op.infer({&xi}), Error);
    xi.shape = {1, 4, 8, 8};
    try {
        op.infer({&xi});
        FAIL() << "channel mismatch accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("4 channels"), std::string::npos) << e.what();
    }
}

class FcVsReference : public ::testing::TestWithParam<std::array<int64_t, 3>> {};

TEST_P(FcVsReference, MatchesLoop) {
    auto [n, cs, ct] = GetParam();
    const unsigned seed = static_cast<unsigned>(n * 1000 + cs * 10 + ct);
    std::mt19937 rng(seed);
    Tensor w = random_tensor({ct, cs}, rng);
    std::vector<float> b(ct, 0.5f);
    FcOp op(w, b);
    Tensor x = random_tensor({n, cs}, rng);
    Tensor ref = fc_reference(x, w, b);
    for (int threads : {1, 2}) {
        Tensor y = run_op(op, x, threads);
        for (int64_t i = 0; i < y.size(); ++i)
            ASSERT_NEAR(y.data[i], ref.data[i], tolerance(cs)) << "seed " << seed << " threads " << threads;
    }
}

INSTANTIATE_TEST_SUITE_P(AwkwardShapes, FcVsReference,
                         ::testing::Values(std::array<int64_t, 3>{1, 1, 1}, std::array<int64_t, 3>{1, 17, 65},
                                           std::array<int64_t, 3>{3, 33, 63}, std::array<int64_t, 3>{5, 64, 129},
                                           std::array<int64_t, 3>{64, 400, 120}, std::array<int64_t, 3>{1, 1152, 256}));

}  // namespace
}  // namespace qcnn
