// The float LUT path (QFcOp / QConvOp) against the dense loop nests (fc_reference /
// conv_reference) run with the decoded weights W_hat, over awkward shapes and thread counts.
#include <gtest/gtest.h>

#include "quant_test_util.h"

#include <cmath>
#include <cstring>
#include <numbers>
#include <ostream>

#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/quantized_ops.h"
#include "core/quant/random.h"

namespace qcnn {
namespace {

using testutil::random_tensor;

float max_abs(const Tensor& t) {
    float m = 0;
    for (float v : t.data) m = std::max(m, std::fabs(v));
    return m;
}

// Float accumulation of `reduction` products bounded by max|x|*max|w| (plus the bias).
float tolerance(int64_t reduction, float max_x, float max_w) {
    return 16.0f * 1.2e-7f * std::sqrt(static_cast<float>(reduction)) * max_x * max_w + 1e-6f;
}

// Random codebooks (normal) and codes (uniform in [0, K)): every code value gets used.
PQWeights random_pq(LayerKind kind, const Shape& weight_shape, int64_t groups, PQConfig cfg, uint64_t seed) {
    PQWeights q;
    q.geo = pq_geometry(kind, weight_shape, groups, cfg, "test");
    const Tensor cb = random_tensor({q.geo.subspaces() * q.geo.K * q.geo.dsub}, seed);
    q.codebooks.assign(cb.data.begin(), cb.data.end());
    Rng rng(seed + 1);
    std::vector<uint8_t> codes(q.geo.num_codes());
    for (auto& c : codes) c = static_cast<uint8_t>(rng.below(static_cast<uint64_t>(q.geo.K)));
    q.codes = pack_codes(codes, q.geo.bits());
    return q;
}

Tensor run_op(const Op& op, const Tensor& x, int threads) {
    ValueInfo xi;
    xi.shape = x.shape;
    auto out = op.infer({&xi});
    Tensor y(out[0].shape, std::nanf(""));
    std::vector<const Tensor*> in{&x};
    std::vector<const ValueInfo*> info{&xi};
    std::vector<Tensor*> outs{&y};
    ExecContext ctx{threads, LutKernel::Reference};
    op.run(RunArgs{in, info, outs, ctx});
    return y;
}

struct FcCase {
    Shape x;  // input shape, last dim C_s
    int64_t ct, dsub, K;
};

void PrintTo(const FcCase& c, std::ostream* os) {
    *os << "x " << to_string(c.x) << " C_t " << c.ct << " PQ " << c.dsub << "/" << c.K;
}

class QFcVsDense : public ::testing::TestWithParam<FcCase> {};

TEST_P(QFcVsDense, LutPathEqualsDenseWithDecodedWeights) {
    const FcCase c = GetParam();
    const int64_t cs = c.x.back();
    const uint64_t seed = 1000 + cs * 31 + c.ct * 7 + c.K;
    const Tensor b = random_tensor({c.ct}, seed + 1);
    const Tensor x = random_tensor(c.x, seed + 2);
    QFcOp op(random_pq(LayerKind::Fc, {c.ct, cs}, 1, {c.dsub, c.K}, seed), std::vector<float>(b.data.begin(), b.data.end()));
    const Tensor w_hat = op.pq().decode();
    const Tensor ref = fc_reference(x, w_hat, op.bias());
    const float tol = tolerance(cs, max_abs(x), max_abs(w_hat));
    Tensor first;
    for (int threads : {1, 2, 3}) {
        const Tensor y = run_op(op, x, threads);
        ASSERT_EQ(y.shape, ref.shape);
        for (int64_t i = 0; i < y.size(); ++i)
            ASSERT_NEAR(y.data[i], ref.data[i], tol) << "index " << i << " threads " << threads << " seed " << seed;
        if (threads == 1) first = y;
        else EXPECT_TRUE(std::memcmp(first.ptr(), y.ptr(), sizeof(float) * y.size()) == 0) << "threads " << threads;
    }
}

INSTANTIATE_TEST_SUITE_P(AwkwardShapes, QFcVsDense,
                         ::testing::Values(FcCase{{1, 1}, 1, 1, 2}, FcCase{{3, 17}, 5, 17, 4},
                                           FcCase{{7, 64}, 33, 4, 16}, FcCase{{2, 96}, 65, 8, 256},
                                           FcCase{{1, 256}, 100, 2, 32}, FcCase{{2, 3, 15}, 9, 3, 7},
                                           FcCase{{16, 63}, 31, 9, 128},
                                           // large enough to run on several threads:
                                           FcCase{{1, 2048}, 515, 8, 256},    // one sample: split LUT/outputs
                                           FcCase{{5, 1024}, 257, 4, 64}));  // samples in parallel

struct ConvCase {
    int64_t n, cin, cout, h, w, kh, kw, stride, pt, pl, pb, pr, dil, group, dsub, K;
    std::string auto_pad = "NOTSET";
};

void PrintTo(const ConvCase& c, std::ostream* os) {
    *os << "n " << c.n << " C_s " << c.cin << " C_t " << c.cout << " " << c.h << "x" << c.w << " k " << c.kh << "x"
        << c.kw << " s " << c.stride << " pads " << c.pt << "," << c.pl << "," << c.pb << "," << c.pr << " d " << c.dil
        << " g " << c.group << " " << c.auto_pad << " PQ " << c.dsub << "/" << c.K;
}

class QConvVsDense : public ::testing::TestWithParam<ConvCase> {};

TEST_P(QConvVsDense, LutPathEqualsDenseWithDecodedWeights) {
    const ConvCase c = GetParam();
    const uint64_t seed = 2000 + c.cin * 13 + c.cout * 7 + c.h * 3 + c.K;
    ConvParams p;
    p.stride_h = c.stride;
    p.stride_w = c.stride == 1 ? 1 : c.stride + 1;  // unequal strides when > 1
    p.pad_top = c.pt;
    p.pad_left = c.pl;
    p.pad_bottom = c.pb;
    p.pad_right = c.pr;
    p.dilation_h = c.dil;
    p.dilation_w = 1;
    p.group = c.group;
    p.auto_pad = c.auto_pad;
    const Tensor b = random_tensor({c.cout}, seed + 1);
    const Tensor x = random_tensor({c.n, c.cin, c.h, c.w}, seed + 2);
    QConvOp op(p, random_pq(LayerKind::Conv, {c.cout, c.cin / c.group, c.kh, c.kw}, c.group, {c.dsub, c.K}, seed),
               std::vector<float>(b.data.begin(), b.data.end()));
    const Tensor w_hat = op.pq().decode();
    const Tensor ref = conv_reference(x, p, w_hat, op.bias());
    const float tol = tolerance(c.cin / c.group * c.kh * c.kw, max_abs(x), max_abs(w_hat));
    Tensor first;
    for (int threads : {1, 2, 3}) {
        const Tensor y = run_op(op, x, threads);
        ASSERT_EQ(y.shape, ref.shape);
        for (int64_t i = 0; i < y.size(); ++i)
            ASSERT_NEAR(y.data[i], ref.data[i], tol) << "index " << i << " threads " << threads << " seed " << seed;
        if (threads == 1) first = y;
        else EXPECT_TRUE(std::memcmp(first.ptr(), y.ptr(), sizeof(float) * y.size()) == 0) << "threads " << threads;
    }
}

INSTANTIATE_TEST_SUITE_P(
    AwkwardShapes, QConvVsDense,
    ::testing::Values(
        // n cin cout  h  w kh kw s pt pl pb pr dil g dsub K
        ConvCase{1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 2},
        ConvCase{2, 4, 6, 15, 17, 3, 3, 2, 1, 0, 2, 1, 1, 2, 2, 16},     // stride 2x3, asymmetric pads, groups
        ConvCase{3, 8, 8, 16, 16, 3, 3, 1, 2, 2, 2, 2, 2, 8, 1, 4},      // depthwise, dilation 2
        ConvCase{1, 16, 33, 31, 33, 5, 5, 1, 2, 2, 2, 2, 1, 1, 4, 32},   // odd sizes
        ConvCase{5, 6, 4, 9, 8, 1, 1, 1, 0, 0, 0, 0, 1, 2, 3, 8},        // pointwise, groups
        ConvCase{2, 12, 9, 11, 6, 4, 3, 3, 0, 1, 0, 2, 1, 3, 2, 256},    // K > #sub-vectors
        ConvCase{1, 3, 7, 13, 12, 3, 3, 2, 1, 1, 1, 1, 2, 1, 3, 128},    // first-layer-like
        ConvCase{4, 16, 32, 7, 7, 3, 3, 1, 0, 0, 0, 0, 1, 1, 8, 64, "SAME_UPPER"},
        ConvCase{2, 10, 10, 6, 9, 2, 2, 2, 0, 0, 0, 0, 1, 5, 2, 3, "SAME_LOWER"},
        ConvCase{3, 2, 5, 4, 4, 5, 5, 1, 2, 1, 2, 3, 1, 1, 1, 5},        // kernel larger than input
        // large enough to run on several threads:
        ConvCase{1, 16, 24, 31, 29, 3, 3, 1, 1, 1, 1, 1, 1, 2, 4, 256},  // one sample: split LUT/rows
        ConvCase{3, 12, 20, 17, 19, 3, 3, 2, 1, 0, 1, 2, 1, 1, 3, 128})); // samples in parallel

TEST(QuantizedOps, TrainedWeightsMatchDense) {
    const uint64_t seed = 77;
    const Tensor w = random_tensor({12, 2, 3, 3}, seed);
    const Tensor x = random_tensor({2, 6, 9, 7}, seed + 1);
    PQTrainOptions o;
    o.seed = seed;
    o.max_iter = 5;
    ConvParams p;
    p.group = 3;
    p.pad_top = p.pad_left = 1;
    QConvOp op(p, train_pq(w, LayerKind::Conv, 3, {2, 8}, o), {});
    const Tensor w_hat = op.pq().decode();
    const Tensor ref = conv_reference(x, p, w_hat, {});
    const Tensor y = run_op(op, x, 1);
    const float tol = tolerance(2 * 9, max_abs(x), max_abs(w_hat));
    for (int64_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y.data[i], ref.data[i], tol) << "index " << i << " seed " << seed;
}

TEST(QuantizedOps, TypesShapesAndCounts) {
    const Tensor w = random_tensor({16, 8, 3, 3}, 1);
    ConvParams p;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    PQTrainOptions o;
    o.max_iter = 2;
    QConvOp conv(p, train_pq(w, LayerKind::Conv, 1, {4, 16}, o), {});
    EXPECT_EQ(conv.type(), "QConv");
    EXPECT_EQ(conv.source_type(), "Conv");
    LayerKind kind = LayerKind::Fc;
    EXPECT_TRUE(conv.weight_layer(&kind));
    EXPECT_EQ(kind, LayerKind::Conv);
    ValueInfo xi;
    xi.shape = {2, 8, 10, 12};
    const auto out = conv.infer({&xi});
    EXPECT_EQ(out[0].shape, (Shape{2, 16, 10, 12}));
    // d_s^2*C_s*K + d_t^2*C_t*d_k^2*M per sample: 120*8*16 + 120*16*9*2.
    EXPECT_EQ(conv.flops({&xi}, out), 120 * 8 * 16 + 120 * 16 * 9 * 2);
    EXPECT_EQ(conv.params(), 2 * 16 * 4 + 16 * 9 * 2);
    EXPECT_EQ(conv.describe(), "8->16 3x3 p1 PQ 4/16");
    xi.shape = {2, 7, 10, 12};
    EXPECT_THROW(conv.infer({&xi}), Error);

    const Tensor wf = random_tensor({10, 12}, 2);
    QFcOp fc(train_pq(wf, LayerKind::Fc, 1, {3, 4}, o), std::vector<float>(10, 0.5f), "MatMul");
    EXPECT_EQ(fc.type(), "QFc");
    EXPECT_EQ(fc.source_type(), "MatMul");
    EXPECT_TRUE(fc.weight_layer(&kind));
    EXPECT_EQ(kind, LayerKind::Fc);
    xi.shape = {5, 12};
    const auto fo = fc.infer({&xi});
    EXPECT_EQ(fo[0].shape, (Shape{5, 10}));
    EXPECT_EQ(fc.flops({&xi}, fo), 12 * 4 + 10 * 4);
    EXPECT_EQ(fc.params(), 4 * 4 * 3 + 10 * 4 + 10);
    EXPECT_EQ(fc.describe(), "12->10 PQ 3/4");
    xi.shape = {5, 11};
    EXPECT_THROW(fc.infer({&xi}), Error);
}

TEST(QuantizedOps, ConstructorChecks) {
    const Tensor wf = random_tensor({10, 12}, 2);
    PQTrainOptions o;
    o.max_iter = 1;
    PQWeights q = train_pq(wf, LayerKind::Fc, 1, {3, 4}, o);
    EXPECT_THROW(QFcOp(q, std::vector<float>(9, 0.0f)), Error);
    EXPECT_THROW(QConvOp(ConvParams{}, q, {}), Error);
    const Tensor wc = random_tensor({4, 2, 3, 3}, 3);
    PQWeights qc = train_pq(wc, LayerKind::Conv, 2, {1, 4}, o);
    ConvParams p;
    p.group = 1;
    EXPECT_THROW(QConvOp(p, qc, {}), Error);
    p.group = 2;
    EXPECT_NO_THROW(QConvOp(p, qc, {}));
    qc.codes.count -= 1;
    EXPECT_THROW(QConvOp(p, qc, {}), Error);
}


// One weight store: an op keeps its codes once (packed in the fast kernel's layout) and its
// codebooks once, and gives back exactly the PQWeights it was built from. Where channel blocks
// and term groups come out even, what it holds is the cost model's packed formula:
// 4 * (C_s * K codebook floats + C_t bias floats) + ceil(log2 K) / 8 * (C_t * P * Mg codes).
TEST(QuantizedOps, WeightsAreHeldOnceAtThePackedSize) {
    struct Case {
        LayerKind kind;
        Shape w;
        int64_t groups, dsub, K;
    };
    // C_t a multiple of 64 and Mg of 4: no block or nibble padding in any scan layout.
    for (const Case& c : {Case{LayerKind::Fc, {128, 64}, 1, 4, 16}, Case{LayerKind::Fc, {64, 512}, 1, 2, 256},
                          Case{LayerKind::Conv, {64, 16, 3, 3}, 1, 4, 16}, Case{LayerKind::Conv, {128, 32, 1, 1}, 2, 4, 16},
                          Case{LayerKind::Conv, {64, 8, 3, 3}, 1, 2, 256}}) {
        const uint64_t seed = 77 + c.w[0] + c.K;
        SCOPED_TRACE(testing::Message() << to_string(c.w) << " g " << c.groups << " " << c.dsub << "/" << c.K
                                        << " seed " << seed);
        const PQWeights q = random_pq(c.kind, c.w, c.groups, PQConfig{c.dsub, c.K}, seed);
        const Tensor b = random_tensor({c.w[0]}, seed + 5);
        const std::vector<float> bias(b.data.begin(), b.data.end());
        std::shared_ptr<Op> op;
        int64_t held = 0;
        PQWeights back;
        if (c.kind == LayerKind::Fc) {
            auto f = std::make_shared<QFcOp>(q, bias);
            held = f->weight_bytes_held();
            back = f->pq();
            EXPECT_EQ(f->bias(), bias);
        } else {
            ConvParams p;
            p.group = c.groups;
            auto f = std::make_shared<QConvOp>(p, q, bias);
            held = f->weight_bytes_held();
            back = f->pq();
            EXPECT_EQ(f->bias(), bias);
        }
        EXPECT_EQ(back.geo, q.geo);
        EXPECT_EQ(back.codebooks, q.codebooks);
        EXPECT_EQ(back.codes, q.codes);
        const int64_t packed = q.geo.num_codes() * q.geo.bits() / 8;
        EXPECT_EQ(held, 4 * (q.geo.in_channels * q.geo.K + q.geo.out_channels) + packed);
    }
}

}  // namespace
}  // namespace qcnn
