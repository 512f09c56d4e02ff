// The whole-network backward (core/train/trainable_network.h) against central finite
// differences of the softmax cross-entropy loss on sampled parameters: a small residual graph
// (conv-bn-relu, Add, GlobalAveragePool, Gemm) and the bundled LeNet-5 (dense, and with two
// layers product-quantized: codebook gradients). Also: the refusal of an op without a
// backward, before any training; an SGD step lowering the loss on a fixed batch; determinism;
// the training forward of quantized layers (dense twins) against the reference tables.
//
// Tolerance rule for the network checks (eps = 2^-24): the logits z carry a float error of
// about eps * sqrt(R) * (max|z| + T) where R sums the reduction lengths of the weight layers
// on the path and T bounds the layers' product terms (taken as 4: inputs and weights are O(1));
// the loss' sensitivity to z is at most 2 (softmax - one-hot, averaged over the batch), so
//   err_L = 2 eps sqrt(R) (max|z| + T)   and   tol = 8 (err_L / h + eps sqrt(R) |grad|).
// ReLU and max-pool kinks crossed by a perturbation make the central difference average two
// slopes; network_fd_check() therefore also tries a smaller step (see there).
#include <gtest/gtest.h>

#include <cmath>

#include "core/io/onnx_import.h"
#include "core/ops/batchnorm.h"
#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/ops/fc.h"
#include "core/ops/layout.h"
#include "core/ops/pool.h"
#include "core/ops/softmax.h"
#include "core/quant/weight_layer_factory.h"
#include "core/train/backward.h"
#include "core/train/trainable_network.h"
#include "tests/unit/train/fd_check.h"

namespace qcnn {
namespace {

using testutil::as_vector;
using testutil::random_tensor;
using testutil::value;

// x {N,3,7,7} -> Conv_0 (3->4, 3x3 p1) -> BN_1 -> Relu_2 = r
//   r -> Conv_3 (4->4, 3x3 p1) -> BN_4 -> Add_5 (+ r) -> Relu_6 -> GAP_7 -> Flatten_8 -> Gemm_9 (4->5)
Network residual_net(uint64_t seed) {
    ConvParams p;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    auto bn = [&](uint64_t s) {
        return std::make_shared<BatchNormOp>(
            ChannelAffine{as_vector(random_tensor({4}, s, 0.3f)), as_vector(random_tensor({4}, s + 1, 0.2f))});
    };
    // Node k: its op and the nodes whose outputs it reads (-1: the graph input).
    const std::vector<std::pair<OpPtr, std::vector<int>>> graph = {
        {std::make_shared<ConvOp>(p, random_tensor({4, 3, 3, 3}, seed, 0.4f), as_vector(random_tensor({4}, seed + 1, 0.1f))), {-1}},
        {bn(seed + 2), {0}},
        {std::make_shared<ActivationOp>(ActivationKind::Relu), {1}},
        {std::make_shared<ConvOp>(p, random_tensor({4, 4, 3, 3}, seed + 4, 0.3f), std::vector<float>{}), {2}},
        {bn(seed + 5), {3}},
        {std::make_shared<BinaryOp>(BinaryKind::Add), {4, 2}},
        {std::make_shared<ActivationOp>(ActivationKind::Relu), {5}},
        {std::make_shared<GlobalAveragePoolOp>(), {6}},
        {std::make_shared<FlattenOp>(1), {7}},
        {std::make_shared<FcOp>(random_tensor({5, 4}, seed + 7, 1.0f), as_vector(random_tensor({5}, seed + 8, 0.1f))), {8}},
    };
    Network net;
    net.source = "residual_net";
    net.inputs = {net.add_value(value("x", {-1, 3, 7, 7}))};
    std::vector<int> out_of;
    for (const auto& [op, from] : graph) {
        const std::string name = cat(op->type(), "_", out_of.size());
        std::vector<int> ins;
        for (int k : from) ins.push_back(k < 0 ? net.inputs[0] : out_of[k]);
        out_of.push_back(net.add_value(value(name + "_out", {})));
        net.nodes.push_back(Node{name, "", op, ins, {out_of.back()}});
    }
    net.outputs = {out_of.back()};
    net.assign_aliases();
    net.validate();
    return net;
}

std::vector<int> seeded_labels(int n, int classes, uint64_t seed) {
    Rng rng(seed);
    std::vector<int> l(n);
    for (int& v : l) v = static_cast<int>(rng.next() % classes);
    return l;
}

// Checks `samples` elements of every trainable parameter against central differences of the
// loss at h = 2^-7, 2^-9 and 2^-11, keeping the best: the part of a perturbation that crosses
// ReLU or max-pool kinks shrinks with h while the float term grows as 1/h. At 2^-11 the float
// term allows a few per cent, so these network checks catch routing errors (a gradient sent to
// the wrong value, a lost residual contribution, parameters mapped to the wrong op), while
// the per-op checks (test_backward_ops.cpp, no kinks crossed) pin each backward to rounding.
// Returns the largest |analytic - fd| / tol of the kept steps.
double network_fd_check(TrainableNetwork& tn, const Tensor& x, const std::vector<int>& labels, double reduction,
                        int samples, uint64_t seed) {
    tn.zero_grad();
    tn.loss_and_backward(x, labels);
    const double zmax = testutil::max_abs(tn.forward(x));
    const double err_l = 2 * testutil::kEps * std::sqrt(reduction) * (zmax + 4);
    double worst = 0;
    for (size_t k = 0; k < tn.parameters().size(); ++k) {
        Parameter& p = tn.parameters()[k];
        if (!p.trainable) continue;
        const Tensor grad = p.grad;
        for (int64_t i : testutil::sample_indices(p.value.size(), samples, derive_seed(seed, k))) {
            const float v0 = p.value.data[i];
            const double an = grad.data[i];
            double best = 1e300, best_fd = 0, best_tol = 0;
            for (double h : {1.0 / 128, 1.0 / 512, 1.0 / 2048}) {
                p.value.data[i] = v0 + static_cast<float>(h);
                tn.commit();
                const double lp = tn.loss(x, labels);
                p.value.data[i] = v0 - static_cast<float>(h);
                tn.commit();
                const double lm = tn.loss(x, labels);
                p.value.data[i] = v0;
                const double fd = (lp - lm) / (2 * h);
                const double tol = 8 * (err_l / h + testutil::kEps * std::sqrt(reduction) * std::fabs(an));
                if (std::fabs(an - fd) / tol < best) best = std::fabs(an - fd) / tol, best_fd = fd, best_tol = tol;
            }
            EXPECT_NEAR(an, best_fd, best_tol) << p.name << " element " << i;
            worst = std::max(worst, best);
        }
    }
    tn.commit();
    return worst;
}

// Images-like input: |N(0, 1)| / 2, mostly in [0, 1] like the bundled networks' data.
Tensor image_batch(Shape s, uint64_t seed) {
    Tensor t = random_tensor(std::move(s), seed, 0.5f);
    for (float& v : t.data) v = std::fabs(v);
    return t;
}

TEST(TrainableNetwork, ResidualGraphMatchesFiniteDifferences) {
    const Network net = residual_net(11);
    TrainableNetwork tn(net, 1);
    // conv1: weight, bias; BN: scale, shift; conv2: weight; BN; gemm weight, bias.
    ASSERT_EQ(tn.parameters().size(), 9u);
    EXPECT_NE(tn.find("conv1.weight"), nullptr);
    EXPECT_NE(tn.find("fc1.bias"), nullptr);
    const Tensor x = random_tensor({3, 3, 7, 7}, 12);
    const double worst = network_fd_check(tn, x, seeded_labels(3, 5, 13), 27 + 36 + 4, 12, 14);
    std::printf("residual graph: worst |analytic - fd| / tol = %.3f\n", worst);
    // The input gradient too (the residual Add sums two paths into r, and both reach x).
    Tensor dx;
    tn.zero_grad();
    Tensor dz;
    softmax_cross_entropy(tn.forward(x), seeded_labels(3, 5, 13), &dz);
    tn.backward(dz, &dx);
    ASSERT_EQ(dx.shape, x.shape);
    const double h = 1.0 / 128;
    for (int64_t i : testutil::sample_indices(x.size(), 10, 15)) {
        Tensor xp = x, xm = x;
        xp.data[i] += static_cast<float>(h);
        xm.data[i] -= static_cast<float>(h);
        const double fd = (tn.loss(xp, seeded_labels(3, 5, 13)) - tn.loss(xm, seeded_labels(3, 5, 13))) / (2 * h);
        EXPECT_NEAR(dx.data[i], fd, 8 * 2 * testutil::kEps * std::sqrt(67.0) * 10 / h) << "input element " << i;
    }
}

Network lenet() { return import_onnx(std::string(QCNN_DATASETS_DIR) + "/lenet5.onnx"); }

TEST(TrainableNetwork, LeNet5MatchesFiniteDifferences) {
    TrainableNetwork tn(lenet(), 1);
    // conv1, conv2, fc1, fc2, fc3 (or fc1, fc2): each weight + bias.
    EXPECT_GE(tn.parameters().size(), 8u);
    const Tensor x = image_batch({3, 1, 28, 28}, 21);
    const double worst = network_fd_check(tn, x, seeded_labels(3, 10, 22), 25 + 150 + 400 + 120, 5, 23);
    std::printf("lenet5: worst |analytic - fd| / tol = %.3f\n", worst);
}

// LeNet-5 with conv2 and fc1 product-quantized (codes from k-means, fixed): the codebook and
// bias gradients of the QConv / QFc layers inside the network.
// LeNet-5 with conv2 and fc1 product-quantized at the given settings (k-means with `seed`).
Network quantized_lenet(PQConfig conv2, PQConfig fc1, uint64_t seed) {
    Network net = lenet();
    PQTrainOptions o;
    o.seed = seed;
    int quantized = 0;
    for (int ni : net.weight_layers()) {
        Node& n = net.nodes[ni];
        if (n.alias != "conv2" && n.alias != "fc1") continue;
        const WeightLayer v = *n.op->as_weight_layer();
        const PQConfig cfg = v.kind == LayerKind::Conv ? conv2 : fc1;
        n.op = make_quantized_layer(v, train_pq(*v.weight, v.kind, v.groups, cfg, o), v.bias);
        ++quantized;
    }
    EXPECT_EQ(quantized, 2);
    return net;
}

TEST(TrainableNetwork, QuantizedLeNet5CodebookGradientsMatchFiniteDifferences) {
    const Network net = quantized_lenet({2, 64}, {4, 32}, 5);
    TrainableNetwork tn(net, 1);
    ASSERT_NE(tn.find("conv2.codebooks"), nullptr);
    ASSERT_NE(tn.find("fc1.codebooks"), nullptr);
    // Only the quantized layers' parameters are checked (the dense ones are covered above).
    for (Parameter& p : tn.parameters()) p.trainable = p.name.rfind("conv2.", 0) == 0 || p.name.rfind("fc1.", 0) == 0;
    const Tensor x = image_batch({2, 1, 28, 28}, 31);
    tn.zero_grad();
    tn.loss_and_backward(x, seeded_labels(2, 10, 32));
    for (const Parameter& p : tn.parameters())
        if (!p.trainable) {
            EXPECT_EQ(testutil::max_abs(p.grad), 0.0) << p.name << " is frozen";
        }
    const double worst = network_fd_check(tn, x, seeded_labels(2, 10, 32), 25 + 150 + 400 + 120, 8, 33);
    std::printf("quantized lenet5: worst |analytic - fd| / tol = %.3f\n", worst);
}

// The training forward runs quantized layers as their dense twins (TrainForward::Decoded);
// the float-table reference path is its twin: logits, loss and every gradient agree within the
// float rule above (R = the reduction lengths on the path), before and after a step that
// re-assigns codes, and the paths keep agreeing as the ops are rebuilt.
TEST(TrainableNetwork, DecodedForwardMatchesTheReferenceTablesForwardAndGradients) {
    const Network net = quantized_lenet({2, 16}, {4, 16}, 7);
    const Tensor x = image_batch({5, 1, 28, 28}, 41);
    const std::vector<int> labels = seeded_labels(5, 10, 42);
    const double reduction = 25 + 150 + 400 + 120;
    TrainableNetwork dec(net, 2, true), ref(net, 2, true);
    ref.set_forward(TrainForward::Reference);
    ASSERT_EQ(dec.forward_path(), TrainForward::Decoded);
    for (int step = 0; step < 3; ++step) {
        const Tensor zd = dec.forward(x), zr = ref.forward(x);
        ASSERT_EQ(zd.shape, zr.shape);
        const double zmax = testutil::max_abs(zr);
        const double tol_z = 8 * testutil::kEps * std::sqrt(reduction) * (zmax + 4);
        double worst_z = 0;
        for (int64_t i = 0; i < zd.size(); ++i) worst_z = std::max<double>(worst_z, std::fabs(zd.data[i] - zr.data[i]));
        EXPECT_LE(worst_z, tol_z) << "logits, step " << step;
        dec.zero_grad();
        ref.zero_grad();
        const double ld = dec.loss_and_backward(x, labels), lr = ref.loss_and_backward(x, labels);
        EXPECT_NEAR(ld, lr, 2 * tol_z) << "loss, step " << step;
        ASSERT_EQ(dec.parameters().size(), ref.parameters().size());
        for (size_t k = 0; k < dec.parameters().size(); ++k) {
            const Parameter &pd = dec.parameters()[k], &pr = ref.parameters()[k];
            ASSERT_EQ(pd.name, pr.name);
            const double scale = testutil::max_abs(pr.grad) + 1e-3;
            double worst = 0;
            for (int64_t i = 0; i < pd.grad.size(); ++i)
                worst = std::max<double>(worst, std::fabs(pd.grad.data[i] - pr.grad.data[i]));
            // The logits differ by tol_z at most; dL/dz by 2 tol_z per logit, carried back
            // through the same layers: relative to the gradient's scale.
            EXPECT_LE(worst, 1e-3 * scale) << pd.name << ", step " << step;
        }
        // Plain SGD (not Adam, whose first step is lr * sign(g) for the smallest gradients too):
        // the two latent weights stay within rounding, so both re-assign the same codes.
        for (Parameter& p : dec.parameters()) p.lr_scale = p.role == ParamRole::Codes ? 20 : 1;
        for (Parameter& p : ref.parameters()) p.lr_scale = p.role == ParamRole::Codes ? 20 : 1;
        Sgd(SgdOptions{0.05, 0.0, 0.0}).step(dec);
        Sgd(SgdOptions{0.05, 0.0, 0.0}).step(ref);
        for (int ni : net.weight_layers()) {
            const WeightLayer a = *dec.network().nodes[ni].op->as_weight_layer();
            const WeightLayer b = *ref.network().nodes[ni].op->as_weight_layer();
            if (!a.quantized()) continue;
            const std::vector<uint8_t> ca = pq_weights(a).unpacked_codes(), cb = pq_weights(b).unpacked_codes();
            EXPECT_EQ(ca, cb) << net.nodes[ni].alias << ", step " << step;
            if (step == 0) {
                const std::vector<uint8_t> c0 = pq_weights(*net.nodes[ni].op->as_weight_layer()).unpacked_codes();
                EXPECT_NE(ca, c0) << net.nodes[ni].alias << ": the step re-assigned no code (a check that cannot fail)";
            }
        }
    }
}

TEST(TrainableNetwork, RefusesAnOpWithoutBackwardBeforeTraining) {
    Network net = residual_net(3);
    const int out = net.add_value(value("prob", {}));
    net.nodes.push_back(Node{"Softmax_12", "", std::make_shared<SoftmaxOp>(1, false), {net.outputs[0]}, {out}});
    net.outputs = {out};
    try {
        TrainableNetwork tn(net, 1);
        FAIL() << "a Softmax node was accepted";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("node 'Softmax_12': op Softmax has no backward pass; fine-tuning supports: Conv"),
                  std::string::npos)
            << msg;
        EXPECT_NE(msg.find("residual_net"), std::string::npos) << msg;
    }
}

std::vector<double> sgd_losses(int threads, int steps) {
    TrainableNetwork tn(lenet(), threads);
    Sgd sgd(SgdOptions{0.01, 0.9, 0.0});
    const Tensor x = image_batch({8, 1, 28, 28}, 41);
    const std::vector<int> labels = seeded_labels(8, 10, 42);
    std::vector<double> losses;
    for (int s = 0; s < steps; ++s) {
        tn.zero_grad();
        losses.push_back(tn.loss_and_backward(x, labels));
        sgd.step(tn);
    }
    losses.push_back(tn.loss(x, labels));
    return losses;
}

TEST(TrainableNetwork, SgdLowersTheLossOnAFixedBatchDeterministically) {
    const std::vector<double> a = sgd_losses(2, 12);
    std::printf("lenet5 SGD (lr 0.01, momentum 0.9, batch 8, 2 threads), loss per step:");
    for (double l : a) std::printf(" %.4f", l);
    std::printf("\n");
    EXPECT_LT(a.back(), 0.5 * a.front());
    for (size_t s = 1; s < a.size(); ++s) EXPECT_LT(a[s], a[s - 1]) << "step " << s;
    EXPECT_EQ(a, sgd_losses(2, 12)) << "same seed and thread count, same bits";
    // A single step of plain SGD with a small rate lowers the loss (first-order decrease).
    TrainableNetwork tn(lenet(), 1);
    const Tensor x = image_batch({4, 1, 28, 28}, 43);
    const std::vector<int> labels = seeded_labels(4, 10, 44);
    tn.zero_grad();
    const double l0 = tn.loss_and_backward(x, labels);
    Sgd(SgdOptions{1e-3}).step(tn);
    EXPECT_LT(tn.loss(x, labels), l0);
}

// Adam against its formula, computed here in double from the gradients the network reports:
// step 1 moves every element by lr * g / (|g| + eps) (bias correction makes m^ = g, v^ = g^2),
// step 2 by lr * m^ / (sqrt(v^) + eps) with both moments; frozen parameters do not move.
// Then: the loss falls over steps on a fixed batch, the same bits again.
TEST(TrainableNetwork, AdamStepsFollowTheFormulaAndLowerTheLoss) {
    TrainableNetwork tn(residual_net(11), 1);
    tn.parameters()[0].trainable = false;
    const Tensor x = image_batch({4, 3, 7, 7}, 12);
    const std::vector<int> labels = seeded_labels(4, 5, 13);
    const AdamOptions opt{.lr = 0.01, .beta1 = 0.8, .beta2 = 0.9, .eps = 1e-6, .weight_decay = 0.0};
    Adam adam(opt);
    std::vector<std::vector<double>> m(tn.parameters().size()), v(tn.parameters().size());
    for (int t = 1; t <= 2; ++t) {
        tn.zero_grad();
        tn.loss_and_backward(x, labels);
        std::vector<Tensor> before;
        for (const Parameter& p : tn.parameters()) before.push_back(p.value);
        adam.step(tn);
        for (size_t k = 0; k < tn.parameters().size(); ++k) {
            const Parameter& p = tn.parameters()[k];
            if (!p.trainable) {
                EXPECT_EQ(p.value.data, before[k].data) << p.name << " is frozen";
                continue;
            }
            m[k].resize(p.value.size());
            v[k].resize(p.value.size());
            for (int64_t i = 0; i < p.value.size(); ++i) {
                const double g = p.grad.data[i];
                m[k][i] = static_cast<float>(opt.beta1 * m[k][i] + (1 - opt.beta1) * g);
                v[k][i] = static_cast<float>(opt.beta2 * v[k][i] + (1 - opt.beta2) * g * g);
                const double mh = m[k][i] / (1 - std::pow(opt.beta1, t)), vh = v[k][i] / (1 - std::pow(opt.beta2, t));
                const double want = before[k].data[i] - opt.lr * mh / (std::sqrt(vh) + opt.eps);
                ASSERT_NEAR(p.value.data[i], want, 1e-6 * (1 + std::fabs(want))) << p.name << " element " << i << ", step " << t;
                if (t == 1 && std::fabs(g) > 1e-3) {  // a sign step of size lr
                    ASSERT_NEAR(std::fabs(p.value.data[i] - before[k].data[i]), opt.lr, 1e-3 * opt.lr) << p.name;
                }
            }
        }
    }
    auto losses = [&] {
        TrainableNetwork net(residual_net(11), 1);
        Adam a(AdamOptions{.lr = 0.01});
        std::vector<double> out;
        for (int s = 0; s < 8; ++s) {
            net.zero_grad();
            out.push_back(net.loss_and_backward(x, labels));
            a.step(net);
        }
        out.push_back(net.loss(x, labels));
        return out;
    };
    const std::vector<double> a = losses();
    std::printf("residual net Adam (lr 0.01, batch 4), loss per step:");
    for (double l : a) std::printf(" %.4f", l);
    std::printf("\n");
    EXPECT_LT(a.back(), 0.9 * a.front());
    EXPECT_EQ(a, losses()) << "same seed and thread count, same bits";
}

// Code re-assignment: nearest_codes on awkward geometries (groups, a 3x2 kernel, dsub 3, K 5; an
// FC with dsub 1): the decoded weight keeps the codes k-means chose; a latent sub-vector moved next
// to another codeword takes that codeword's code, and only it changes.
TEST(NearestCodes, DecodedWeightKeepsItsCodesAMovedSubVectorTakesTheNearestCodeword) {
    struct Case {
        LayerKind kind;
        Shape shape;
        int64_t groups;
        PQConfig cfg;
    };
    for (const Case& c : {Case{LayerKind::Conv, {6, 6, 3, 2}, 2, {3, 5}}, Case{LayerKind::Conv, {4, 9, 1, 1}, 1, {9, 3}},
                          Case{LayerKind::Fc, {7, 5}, 1, {1, 4}}}) {
        PQTrainOptions o;
        o.seed = 9;
        const PQWeights q = train_pq(random_tensor(c.shape, 17, 0.5f), c.kind, c.groups, c.cfg, o);
        const std::vector<uint8_t> codes = q.unpacked_codes();
        EXPECT_EQ(nearest_codes(q, q.decode()), codes) << to_string(c.shape);
        // Move sub-vector (c = last output, p = 0, j = 0) onto another codeword plus a little.
        const PQGeometry& g = q.geo;
        const int64_t P = g.kernel_size(), cg = g.channels_per_group(), Mg = g.subspaces_per_group();
        const int64_t co = g.out_channels - 1, m = (co / g.outputs_per_group()) * Mg;
        const int64_t i = co * P * Mg;  // code index of (co, 0, 0)
        const uint8_t other = static_cast<uint8_t>((codes[i] + 1) % g.K);
        Tensor latent = q.decode();
        for (int64_t l = 0; l < g.dsub; ++l) latent.data[(co * cg + l) * P] = q.codeword(m, other)[l] + 1e-4f;
        std::vector<uint8_t> want = codes;
        want[i] = other;
        EXPECT_EQ(nearest_codes(q, latent), want) << to_string(c.shape);
    }
    PQTrainOptions o;
    const PQWeights q = train_pq(random_tensor({4, 6}, 3, 0.5f), LayerKind::Fc, 1, {2, 3}, o);
    EXPECT_THROW(nearest_codes(q, Tensor(Shape{4, 5})), Error);
}

// LeNet-5 with conv2 quantized and latent codes: the codes parameter holds the decoded weight and
// receives dL/dW_hat, the same gradient the dense twin of the layer (its decoded weight as a
// plain Conv) gives its weight; commit() re-assigns codes only while the codes train.
TEST(TrainableNetwork, LatentCodesGetTheDenseGradientAndReassignOnlyWhenTrained) {
    Network net = lenet();
    Network twin = net;
    PQTrainOptions o;
    o.seed = 5;
    int conv2 = -1;
    for (int ni : net.weight_layers())
        if (net.nodes[ni].alias == "conv2") conv2 = ni;
    ASSERT_GE(conv2, 0);
    const WeightLayer v = *net.nodes[conv2].op->as_weight_layer();
    const PQWeights q = train_pq(*v.weight, v.kind, v.groups, PQConfig{2, 8}, o);
    net.nodes[conv2].op = make_quantized_layer(v, q, v.bias);
    twin.nodes[conv2].op = make_dense_layer(v, q.decode(), {v.bias.begin(), v.bias.end()});
    EXPECT_EQ(TrainableNetwork(net, 1).find("conv2.codes"), nullptr) << "codes only on request";
    TrainableNetwork tn(net, 2, true), dense(twin, 2);
    Parameter* codes = tn.find("conv2.codes");
    ASSERT_NE(codes, nullptr);
    EXPECT_EQ(codes->value.data, q.decode().data);
    const Tensor x = image_batch({3, 1, 28, 28}, 51);
    const std::vector<int> labels = seeded_labels(3, 10, 52);
    tn.zero_grad();
    dense.zero_grad();
    // The quantized layer's float-table path sums in another order than the dense conv: equal to
    // float rounding, not bit for bit.
    const double lq = tn.loss_and_backward(x, labels), ld = dense.loss_and_backward(x, labels);
    EXPECT_NEAR(lq, ld, 1e-5 * ld);
    const Tensor& want = dense.find("conv2.weight")->grad;
    EXPECT_GT(testutil::max_abs(want), 0.0);
    ASSERT_EQ(codes->grad.shape, want.shape);
    for (int64_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(codes->grad.data[i], want.data[i], 1e-5 * (1 + std::fabs(want.data[i]))) << "element " << i;
    // Move the latent of (c 0, p 0, j 0) onto codeword (code + 1) mod K of subspace 0.
    const uint8_t code0 = q.unpacked_codes()[0];
    const uint8_t other = static_cast<uint8_t>((code0 + 1) % 8);
    const int64_t P = q.geo.kernel_size();
    for (int64_t l = 0; l < 2; ++l) codes->value.data[l * P] = q.codeword(0, other)[l];
    auto code_of_first = [&] { return pq_weights(*tn.network().nodes[conv2].op->as_weight_layer()).unpacked_codes()[0]; };
    codes->trainable = false;
    tn.commit();
    EXPECT_EQ(code_of_first(), code0) << "frozen codes stay";
    codes->trainable = true;
    tn.commit();
    EXPECT_EQ(code_of_first(), other) << "trained codes follow the latent weight";
    const std::vector<uint8_t> after = pq_weights(*tn.network().nodes[conv2].op->as_weight_layer()).unpacked_codes();
    const std::vector<uint8_t> before = q.unpacked_codes();
    EXPECT_TRUE(std::equal(after.begin() + 1, after.end(), before.begin() + 1)) << "only the moved sub-vector changed";
}

TEST(TrainableNetwork, BackwardNeedsAForward) {
    TrainableNetwork tn(residual_net(5), 1);
    EXPECT_THROW(tn.backward(Tensor(Shape{1, 5})), Error);
    tn.forward(random_tensor({2, 3, 7, 7}, 6));
    EXPECT_THROW(tn.backward(Tensor(Shape{3, 5})), Error);  // wrong shape for batch 2
    EXPECT_THROW(tn.loss(random_tensor({2, 3, 7, 7}, 6), {0, 5}), Error);  // label out of range
}

}  // namespace
}  // namespace qcnn
