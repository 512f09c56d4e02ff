// Every backward pass of core/train/backward.h against central finite differences on awkward
// shapes (odd sizes, stride 2 + padding, dilation 2, groups 3, depthwise, batch 3, a 1x1
// spatial output). The tolerance rule is stated in fd_check.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/ops/batchnorm.h"
#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/ops/fc.h"
#include "core/ops/layout.h"
#include "core/ops/pool.h"
#include "core/quant/quantized_ops.h"
#include "core/quant/weight_layer_factory.h"
#include "tests/unit/train/fd_check.h"

namespace qcnn {
namespace {

using testutil::FdCase;
using testutil::fd_check;
using testutil::random_tensor;

// Values at least `margin` away from 0 (ReLU's kink): |x| + margin with x's sign.
Tensor away_from_zero(Tensor t, float margin) {
    for (float& v : t.data) v = v >= 0 ? v + margin : v - margin;
    return t;
}

// A permutation of 0, step, 2 step, ... (distinct values, gaps of `step`: max pooling never
// changes its argmax under a perturbation below step / 2).
Tensor spaced_values(Shape s, float step, uint64_t seed) {
    Tensor t(std::move(s));
    std::vector<int64_t> idx(t.size());
    std::iota(idx.begin(), idx.end(), 0);
    Rng rng(seed);
    for (int64_t i = t.size() - 1; i > 0; --i) std::swap(idx[i], idx[rng.next() % (i + 1)]);
    for (int64_t i = 0; i < t.size(); ++i) t.data[i] = (static_cast<float>(idx[i]) - t.size() / 2.0f) * step;
    return t;
}

// A case checking every input of op (no parameters), `samples` elements per tensor.
FdCase simple_case(std::string what, OpPtr op, std::vector<Tensor> inputs, uint64_t seed, int samples = 30) {
    FdCase f;
    f.what = std::move(what);
    f.op = std::move(op);
    f.inputs = std::move(inputs);
    f.samples = samples;
    f.seed = seed;
    return f;
}

std::vector<float> random_bias(int64_t n, uint64_t seed) {
    const Tensor t = random_tensor({n}, seed);
    return {t.data.begin(), t.data.end()};
}

struct ConvCase {
    const char* what;
    Shape x;           // {N, C_s, H, W}
    int64_t ct, kh, kw;
    int64_t sh, sw, pt, pl, pb, pr, dh, dw, group;
    bool bias;
    std::string auto_pad = "NOTSET";
};

ConvParams params_of(const ConvCase& c) {
    ConvParams p;
    p.kernel_h = c.kh, p.kernel_w = c.kw, p.stride_h = c.sh, p.stride_w = c.sw;
    p.pad_top = c.pt, p.pad_left = c.pl, p.pad_bottom = c.pb, p.pad_right = c.pr;
    p.dilation_h = c.dh, p.dilation_w = c.dw, p.group = c.group, p.auto_pad = c.auto_pad;
    return p;
}

const std::vector<ConvCase>& conv_cases() {
    static const std::vector<ConvCase> cases = {
        {"batch 3, odd 7x9, stride 2, asymmetric pads, bias", {3, 5, 7, 9}, 4, 3, 3, 2, 2, 1, 0, 2, 1, 1, 1, 1, true},
        {"dilation 2, 3x2 kernel, no bias", {1, 3, 9, 8}, 5, 3, 2, 1, 1, 2, 1, 2, 1, 2, 2, 1, false},
        {"groups 3", {2, 6, 7, 7}, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, true},
        {"depthwise x2 multiplier, stride 2", {3, 4, 5, 6}, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 4, true},
        {"1x1 spatial output", {3, 3, 3, 3}, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},
        {"SAME_UPPER stride 2, stride 1x2", {2, 3, 6, 7}, 3, 3, 3, 2, 1, 0, 0, 0, 0, 1, 1, 1, false, "SAME_UPPER"},
    };
    return cases;
}

TEST(BackwardOps, ConvMatchesFiniteDifferences) {
    uint64_t seed = 10;
    for (const ConvCase& c : conv_cases()) {
        const int64_t cg = c.x[1] / c.group;
        Tensor w = random_tensor({c.ct, cg, c.kh, c.kw}, ++seed, 0.5f);
        FdCase f;
        f.what = std::string("Conv ") + c.what;
        f.op = std::make_shared<ConvOp>(params_of(c), w, c.bias ? random_bias(c.ct, ++seed) : std::vector<float>{});
        f.inputs = {random_tensor(c.x, ++seed)};
        f.reduction = static_cast<double>(cg * c.kh * c.kw);
        f.term = testutil::max_abs(f.inputs[0]) * testutil::max_abs(w);
        f.seed = ++seed;
        EXPECT_GT(fd_check(f), 30);
    }
}

TEST(BackwardOps, ConvBackwardIsDeterministicAndThreadIndependentUpToRounding) {
    const ConvCase& c = conv_cases()[0];
    const Tensor x = random_tensor(c.x, 3), w = random_tensor({c.ct, c.x[1], c.kh, c.kw}, 4);
    Shape ys = conv_output_shape(c.x, params_of(c), w.shape);
    const Tensor dy = random_tensor(ys, 5);
    auto run = [&](int threads) {
        Tensor dx(x.shape), dw(w.shape), db(Shape{c.ct});
        conv_backward(x, params_of(c), w, dy, &dx, &dw, &db, threads);
        return std::vector<Tensor>{dx, dw, db};
    };
    const auto a = run(2), b = run(2), one = run(1);
    // Other thread counts only regroup float sums of at most N*OH*OW (dW) terms of size
    // max|dy| max|x|: tol = 8 eps sqrt(N*OH*OW) max|dy| max|x|.
    const double tol = 8 * testutil::kEps * std::sqrt(static_cast<double>(ys[0] * ys[2] * ys[3])) *
                       testutil::max_abs(dy) * std::max(testutil::max_abs(x), testutil::max_abs(w));
    for (int k = 0; k < 3; ++k) {
        EXPECT_EQ(a[k].data, b[k].data) << "same thread count, same bits";
        for (int64_t i = 0; i < a[k].size(); ++i) EXPECT_NEAR(a[k].data[i], one[k].data[i], tol);
    }
}

TEST(BackwardOps, FcMatchesFiniteDifferences) {
    struct C {
        Shape x;
        int64_t ct;
        bool bias;
        const char* src;
    };
    uint64_t seed = 200;
    for (const C& c : {C{{3, 17}, 5, true, "Gemm"}, C{{1, 33}, 7, false, "MatMul"}, C{{2, 3, 16}, 1, true, "MatMul"}}) {
        Tensor w = random_tensor({c.ct, c.x.back()}, ++seed, 0.5f);
        FdCase f;
        f.what = cat("FC ", to_string(c.x), " -> ", c.ct, " (", c.src, ")");
        f.op = std::make_shared<FcOp>(w, c.bias ? random_bias(c.ct, ++seed) : std::vector<float>{}, c.src);
        f.inputs = {random_tensor(c.x, ++seed)};
        f.reduction = static_cast<double>(c.x.back());
        f.term = testutil::max_abs(f.inputs[0]) * testutil::max_abs(w);
        f.seed = ++seed;
        EXPECT_GT(fd_check(f), 10);
    }
}

// Quantized layers: codeword gradient (codes fixed) and bias gradient and dL/dx, through the
// float-table reference path.
TEST(BackwardOps, QuantizedLayersMatchFiniteDifferencesOnCodewords) {
    uint64_t seed = 300;
    PQTrainOptions o;
    o.seed = 7;
    for (const ConvCase& c : {conv_cases()[0], conv_cases()[2], conv_cases()[3], conv_cases()[4]}) {
        const int64_t cg = c.x[1] / c.group;
        const Tensor w = random_tensor({c.ct, cg, c.kh, c.kw}, ++seed, 0.5f);
        const int64_t dsub = cg % 2 == 0 ? 2 : 1;
        const ConvOp dense(params_of(c), w, c.bias ? random_bias(c.ct, ++seed) : std::vector<float>{});
        const PQWeights q = train_pq(w, LayerKind::Conv, c.group, {dsub, 4}, o);
        FdCase f;
        f.what = std::string("QConv ") + c.what;
        f.op = make_quantized_layer(*dense.as_weight_layer(), q, dense.bias());
        ASSERT_EQ(f.op->type(), "QConv");
        f.inputs = {random_tensor(c.x, ++seed)};
        f.reduction = static_cast<double>(cg * c.kh * c.kw);
        f.term = testutil::max_abs(f.inputs[0]) * testutil::max_abs(q.decode());
        f.seed = ++seed;
        EXPECT_GT(fd_check(f), 30);
    }
    for (int64_t dsub : {1, 3}) {
        const Tensor w = random_tensor({7, 9}, ++seed, 0.5f);
        const FcOp dense(w, random_bias(7, ++seed), "Gemm");
        FdCase f;
        f.what = cat("QFc 9 -> 7, dsub ", dsub);
        f.op = make_quantized_layer(*dense.as_weight_layer(), train_pq(w, LayerKind::Fc, 1, {dsub, 3}, o), dense.bias());
        ASSERT_EQ(f.op->type(), "QFc");
        f.inputs = {random_tensor({3, 9}, ++seed)};
        f.reduction = 9;
        f.term = testutil::max_abs(f.inputs[0]) * testutil::max_abs(w) * 2;
        f.seed = ++seed;
        EXPECT_GT(fd_check(f), 20);
    }
}

TEST(BackwardOps, BatchNormAffineMatchesFiniteDifferences) {
    uint64_t seed = 400;
    for (const Shape& s : {Shape{3, 5, 4, 3}, Shape{3, 5}, Shape{1, 3, 1, 1}}) {
        const ChannelAffine a{random_bias(s[1], ++seed), random_bias(s[1], ++seed)};
        FdCase f;
        f.what = "BatchNormalization " + to_string(s);
        f.op = std::make_shared<BatchNormOp>(a);
        f.inputs = {random_tensor(s, ++seed)};
        f.seed = ++seed;
        EXPECT_GE(fd_check(f), 9);
    }
}

TEST(BackwardOps, ActivationsMatchFiniteDifferences) {
    const float h = 1e-2f;
    uint64_t seed = 500;
    struct C {
        OpPtr op;
        double c3;
    };
    for (const C& c : {C{std::make_shared<ActivationOp>(ActivationKind::Relu), 0},
                       C{std::make_shared<ActivationOp>(ActivationKind::LeakyRelu, 0.1f), 0},
                       C{std::make_shared<ActivationOp>(ActivationKind::Sigmoid), 1},
                       C{std::make_shared<ActivationOp>(ActivationKind::Tanh), 2},
                       C{std::make_shared<ClipOp>(-0.5f, 0.7f), 0}}) {
        FdCase f;
        f.what = c.op->type();
        f.op = c.op;
        Tensor x = away_from_zero(random_tensor({3, 5, 3}, ++seed), 5 * h);
        if (c.op->type() == "Clip")  // keep every value 5h away from both bounds
            for (float& v : x.data)
                for (float b : {-0.5f, 0.7f})
                    if (std::fabs(v - b) < 5 * h) v = b + (v < b ? -5 * h : 5 * h);
        f.inputs = {x};
        f.h = h;
        f.c3 = c.c3;
        f.samples = 45;
        f.seed = ++seed;
        EXPECT_EQ(fd_check(f), 45);
    }
}

TEST(BackwardOps, ClipBoundsFromInputs) {
    // Bounds given as inputs 1 and 2 (opset >= 11) override the attributes; they are not perturbed.
    const auto op = std::make_shared<ClipOp>();
    const Tensor x = random_tensor({2, 7}, 9), lo(Shape{}, -0.3f), hi(Shape{}, 0.4f);
    const std::vector<Tensor> ys = testutil::run_op(*op, {x, lo, hi}, {});
    const Tensor g = random_tensor(ys[0].shape, 10);
    FdCase f;
    f.op = op;
    f.inputs = {x, lo, hi};
    const testutil::Backward b = testutil::run_backward(f, ys, {g});
    for (int64_t i = 0; i < x.size(); ++i)
        EXPECT_EQ(b.grad_in[0].data[i], x.data[i] >= -0.3f && x.data[i] <= 0.4f ? g.data[i] : 0.0f) << i;
}

TEST(BackwardOps, PoolingMatchesFiniteDifferences) {
    uint64_t seed = 600;
    auto pool = [](PoolKind k, std::vector<int64_t> kernel, std::vector<int64_t> strides, std::vector<int64_t> pads,
                   bool ceil, bool include_pad, std::vector<int64_t> dil = {}) {
        PoolParams p;
        p.kind = k, p.kernel = std::move(kernel), p.strides = std::move(strides), p.pads = std::move(pads);
        p.ceil_mode = ceil, p.count_include_pad = include_pad, p.dilations = std::move(dil);
        return std::make_shared<PoolOp>(p);
    };
    struct C {
        OpPtr op;
        Shape x;
    };
    for (const C& c : {C{pool(PoolKind::Max, {3, 3}, {2, 2}, {1, 1, 1, 1}, false, false), {3, 4, 7, 9}},
                       C{pool(PoolKind::Max, {2, 3}, {2, 1}, {0, 1, 0, 1}, true, false, {1, 2}), {2, 3, 5, 8}},
                       C{pool(PoolKind::Average, {3, 3}, {2, 2}, {1, 1, 1, 1}, false, false), {3, 4, 7, 9}},
                       C{pool(PoolKind::Average, {3, 3}, {2, 2}, {1, 1, 1, 1}, true, true), {3, 2, 6, 7}},
                       C{pool(PoolKind::Average, {3}, {2}, {1, 0}, false, true), {2, 3, 9}},
                       C{pool(PoolKind::Max, {3, 3}, {1, 1}, {}, false, false), {3, 2, 3, 3}},
                       C{std::make_shared<GlobalAveragePoolOp>(), {3, 5, 3, 7}}}) {
        seed += 2;
        FdCase f = simple_case(c.op->type() + " " + c.op->describe() + " on " + to_string(c.x), c.op,
                               {spaced_values(c.x, 0.05f, seed - 1)}, seed, 40);
        f.reduction = 9;  // at most 9 taps summed per output
        EXPECT_GT(fd_check(f), 30);
    }
}

TEST(BackwardOps, BroadcastBinaryOpsMatchFiniteDifferences) {
    uint64_t seed = 700;
    struct C {
        BinaryKind kind;
        Shape a, b;
    };
    for (const C& c : {C{BinaryKind::Add, {3, 4, 5, 6}, {3, 4, 5, 6}}, C{BinaryKind::Add, {3, 4, 5, 6}, {4, 1, 1}},
                       C{BinaryKind::Sub, {1, 5}, {3, 1}}, C{BinaryKind::Mul, {3, 4, 5, 6}, {1, 4, 1, 6}},
                       C{BinaryKind::Mul, {}, {2, 3}}}) {
        seed += 3;
        EXPECT_GE(fd_check(simple_case(cat(binary_name(c.kind), " ", to_string(c.a), " ", to_string(c.b)),
                                       std::make_shared<BinaryOp>(c.kind),
                                       {random_tensor(c.a, seed + 1), random_tensor(c.b, seed + 2)}, seed)),
                  7);
    }
}

TEST(BackwardOps, ConcatPadAndCopiesMatchFiniteDifferences) {
    uint64_t seed = 800;
    struct C {
        OpPtr op;
        std::vector<Shape> xs;
    };
    for (const C& c : {C{std::make_shared<ConcatOp>(1), {{3, 2, 5}, {3, 1, 5}, {3, 4, 5}}},
                       C{std::make_shared<ConcatOp>(-1), {{2, 3, 1}, {2, 3, 4}}},
                       C{std::make_shared<PadOp>(PadMode::Constant, std::vector<int64_t>{0, 0, 1, 2, 0, 0, 2, -1}, 0.5f),
                         {{3, 2, 5, 6}}},
                       C{std::make_shared<PadOp>(PadMode::Reflect, std::vector<int64_t>{0, 1, 2, 0, 0, 2, 1, 3}, 0.0f),
                         {{2, 3, 4, 5}}},
                       C{std::make_shared<PadOp>(PadMode::Edge, std::vector<int64_t>{0, 0, 3, 1, 0, 0, 0, 2}, 0.0f),
                         {{2, 2, 3, 3}}},
                       C{std::make_shared<FlattenOp>(1), {{3, 4, 5}}},
                       C{std::make_shared<UnsqueezeOp>(std::vector<int64_t>{1}), {{3, 5}}},
                       C{std::make_shared<IdentityOp>(), {{3, 5}}}}) {
        std::vector<Tensor> xs;
        for (const Shape& s : c.xs) xs.push_back(random_tensor(s, ++seed));
        EXPECT_GT(fd_check(simple_case(c.op->type() + " " + c.op->describe(), c.op, std::move(xs), ++seed)), 14);
    }
}

// dz (the analytic gradient of loss at z, whose value is l0) against central differences of
// loss. Smooth losses of the logits: truncation h^2 |L'''| / 6 with |L'''| <= 1 / N; float
// rounding of the logits' exp/log in double is negligible, so tol = 8 (eps * L / h + h^2 / 6).
template <class Loss>
void expect_loss_gradient(const Tensor& z, const Tensor& dz, double l0, Loss loss) {
    const double h = 1e-2;
    for (int64_t i = 0; i < z.size(); ++i) {
        Tensor zp = z, zm = z;
        zp.data[i] += static_cast<float>(h);
        zm.data[i] -= static_cast<float>(h);
        const double fd = (loss(zp) - loss(zm)) / (2 * h);
        EXPECT_NEAR(dz.data[i], fd, 8 * (testutil::kEps * l0 / h + h * h / 6)) << i;
    }
}

TEST(BackwardOps, SoftmaxCrossEntropyMatchesFiniteDifferences) {
    Tensor z = random_tensor({3, 7}, 900, 2.0f);
    const std::vector<int> labels{6, 0, 3};
    Tensor dz;
    const double l0 = softmax_cross_entropy(z, labels, &dz);
    EXPECT_GT(l0, 0.0);
    expect_loss_gradient(z, dz, l0, [&](const Tensor& v) { return softmax_cross_entropy(v, labels, nullptr); });
    EXPECT_THROW(softmax_cross_entropy(z, {0, 7, 1}, nullptr), Error);
}

TEST(BackwardOps, SoftmaxDistillationMatchesFiniteDifferences) {
    const Tensor z = random_tensor({3, 7}, 901, 2.0f), t = random_tensor({3, 7}, 902, 2.0f);
    for (const double temperature : {1.0, 3.0}) {
        Tensor dz;
        const double l0 = softmax_distillation(z, t, temperature, &dz);
        EXPECT_GT(l0, 0.0);
        // As for cross-entropy: |L'''| <= T^2 / (T^3 N) <= 1 / N for T >= 1.
        SCOPED_TRACE(temperature);
        expect_loss_gradient(z, dz, l0, [&](const Tensor& v) { return softmax_distillation(v, t, temperature, nullptr); });
    }
    // Student = teacher (up to a constant per row, which softmax ignores): no loss, no gradient.
    Tensor shifted = t;
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t k = 0; k < 7; ++k) shifted.data[i * 7 + k] += static_cast<float>(i + 1);
    Tensor dz;
    EXPECT_NEAR(softmax_distillation(shifted, t, 2.0, &dz), 0.0, 1e-6);
    for (float g : dz.data) EXPECT_NEAR(g, 0.0f, 1e-6f);
    EXPECT_THROW(softmax_distillation(z, random_tensor({3, 6}, 903), 1.0, nullptr), Error);
    EXPECT_THROW(softmax_distillation(z, t, 0.0, nullptr), Error);
    EXPECT_THROW(softmax_distillation(z, t, std::nan(""), nullptr), Error);
}

TEST(BackwardOps, RegistryListsWhatItSupports) {
    const std::string list = backward_supported_list();
    for (const char* op : {"Conv", "QConv", "QFc", "BatchNormalization", "Relu", "LeakyRelu", "Clip", "MaxPool",
                           "GlobalAveragePool", "Add", "Concat", "Pad", "Flatten", "Reshape"})
        EXPECT_NE(list.find(op), std::string::npos) << op;
    EXPECT_EQ(backward_entry(ActivationOp(ActivationKind::Gelu)), nullptr);
    EXPECT_EQ(backward_entry(BinaryOp(BinaryKind::Div)), nullptr);
}

}  // namespace
}  // namespace qcnn
