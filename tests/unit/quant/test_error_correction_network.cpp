// Error correction inside quantize_network (layer and network modes) and per-layer response
// errors, on a small random network and on the bundled LeNet-5 with Fashion-MNIST images.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/data/dataset.h"
#include "core/graph/plan.h"
#include "core/io/onnx_import.h"
#include "core/ops/elementwise.h"
#include "core/ops/layout.h"
#include "core/quant/calibration.h"
#include "core/quant/quantize_network.h"
#include "core/quant/quantized_ops.h"
#include "ec_test_util.h"
#include "tests/unit/timing.h"

namespace qcnn {
namespace {

using namespace ectest;
using testutil::value;

// x {N,3,8,8} -> Conv_0 (3->8, 3x3 p1) -> Relu_1 -> Conv_2 (8->16, 3x3 p1, group 2) -> Relu_3
//   -> Flatten_4 -> Gemm_5 (1024->32) -> Relu_6 -> Gemm_7 (32->10)
Network small_net(uint64_t seed) {
    Network net;
    net.source = "small_net";
    const int x = net.add_value(value("x", {-1, 3, 8, 8}));
    net.inputs = {x};
    int cur = x, index = 0;
    auto add = [&](const std::string& type, OpPtr op) {
        const int out = net.add_value(value(cat(type, "_", index, "_out"), {}));
        net.nodes.push_back(Node{cat(type, "_", index), "", std::move(op), {cur}, {out}});
        cur = out;
        ++index;
    };
    ConvParams p1 = conv_params(3, 3, 1, 1, 1, 1);
    add("Conv", std::make_shared<ConvOp>(p1, random_tensor({8, 3, 3, 3}, seed, 0.4f), as_vector(random_tensor({8}, seed + 1, 0.1f))));
    add("Relu", std::make_shared<ActivationOp>(ActivationKind::Relu));
    ConvParams p2 = conv_params(3, 3, 1, 1, 1, 2);
    add("Conv", std::make_shared<ConvOp>(p2, random_tensor({16, 4, 3, 3}, seed + 2, 0.3f), as_vector(random_tensor({16}, seed + 3, 0.1f))));
    add("Relu", std::make_shared<ActivationOp>(ActivationKind::Relu));
    add("Flatten", std::make_shared<FlattenOp>(1));
    add("Gemm", std::make_shared<FcOp>(random_tensor({32, 1024}, seed + 4, 0.05f), as_vector(random_tensor({32}, seed + 5, 0.1f))));
    add("Relu", std::make_shared<ActivationOp>(ActivationKind::Relu));
    add("Gemm", std::make_shared<FcOp>(random_tensor({10, 32}, seed + 6, 0.3f), std::vector<float>{}));
    net.outputs = {cur};
    net.assign_aliases();
    net.validate();
    return net;
}

QuantizeOptions ec_options(EcMode mode, uint64_t seed = 5, int threads = 2) {
    QuantizeOptions o;
    o.seed = seed;
    o.threads = threads;
    o.max_iter = 8;
    o.ec = mode;
    o.ec_conv_images = 24;
    o.ec_fc_images = 40;
    o.ec_positions = 0;
    o.ec_iterations = 3;
    o.ec_tol = 0;
    o.ec_batch = 16;
    return o;
}

const char* kSettings = "conv=1/8,conv2=2/4,fc=4/8,fc2=2/4";

Tensor images(int64_t n, uint64_t seed) { return random_tensor({n, 3, 8, 8}, seed); }

// The first n images of a batch.
Tensor first(const Tensor& t, int64_t n) {
    Shape s = t.shape;
    s[0] = n;
    Tensor out(s);
    std::copy(t.data.begin(), t.data.begin() + out.size(), out.data.begin());
    return out;
}

PQWeights pq_of(const Network& net, int node) {
    const Op* op = net.nodes[node].op.get();
    if (const auto* qc = dynamic_cast<const QConvOp*>(op)) return qc->pq();
    return dynamic_cast<const QFcOp&>(*op).pq();
}

void expect_same_bits(const Network& a, const Network& b, const std::string& what) {
    for (int node : a.weight_layers()) {
        const PQWeights& pa = pq_of(a, node);
        const PQWeights& pb = pq_of(b, node);
        ASSERT_EQ(pa.codebooks.size(), pb.codebooks.size()) << what;
        EXPECT_EQ(std::memcmp(pa.codebooks.data(), pb.codebooks.data(), sizeof(float) * pa.codebooks.size()), 0)
            << what << ", node " << node;
        EXPECT_EQ(pa.codes, pb.codes) << what << ", node " << node;
    }
}

TEST(EcMode, ParseAndPrint) {
    for (EcMode m : {EcMode::None, EcMode::Layer, EcMode::Network}) EXPECT_EQ(parse_ec_mode(to_string(m)), m);
    EXPECT_EQ(to_string(EcMode::Network), "network");
    try {
        parse_ec_mode("Network ");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "error correction mode 'Network ': expected none, layer or network");
    }
}

TEST(QuantizeNetworkEc, NoneWithCalibrationEqualsPlainQuantization) {
    const Network net = small_net(1);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings(kSettings));
    const QuantizedNetwork a = quantize_network(net, rs, ec_options(EcMode::None));
    const QuantizedNetwork b = quantize_network(net, rs, ec_options(EcMode::None), images(8, 2));
    expect_same_bits(a.network, b.network, "ec none");
    for (const LayerQuantInfo& l : b.layers) {
        EXPECT_FALSE(l.error_corrected);
        EXPECT_TRUE(l.ec_objective.empty());
    }
}

TEST(QuantizeNetworkEc, ErrorsNameTheProblem) {
    const Network net = small_net(1);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings(kSettings));
    try {
        quantize_network(net, rs, ec_options(EcMode::Layer));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "small_net: error correction (ec layer) needs calibration images");
    }
    QuantizeOptions o = ec_options(EcMode::Network);
    o.ec_fc_images = 0;
    EXPECT_THROW(quantize_network(net, rs, o, images(4, 1)), Error);
    // Images of the wrong shape: the planner names the network and the shapes.
    try {
        quantize_network(net, rs, ec_options(EcMode::Network), random_tensor({4, 1, 8, 8}, 1));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("small_net"), std::string::npos) << e.what();
    }
}

// ":noec" keeps one layer out of error correction: its codebooks and codes are exactly plain
// k-means's (same seed), while the other layers are corrected.
TEST(QuantizeNetworkEc, NoEcLayerKeepsItsKMeansWeights) {
    const Network net = small_net(2);
    const LayerSettings base = parse_layer_settings(kSettings);
    const ResolvedSettings plain_rs = resolve_settings(net, base);
    LayerSettings s = base;  // kSettings sets conv2 (layer 1) explicitly: mark it ":noec"
    ASSERT_EQ(plain_rs.layers[1].alias, "conv2");
    for (auto& [key, v] : s.layers)
        if (key == "conv2") v.ec = false;
    const ResolvedSettings rs = resolve_settings(net, s);
    const QuantizedNetwork plain = quantize_network(net, plain_rs, ec_options(EcMode::None));
    for (EcMode mode : {EcMode::Layer, EcMode::Network}) {
        const QuantizedNetwork q = quantize_network(net, rs, ec_options(mode), images(16, 3));
        ASSERT_EQ(q.layers.size(), plain.layers.size());
        for (size_t i = 0; i < q.layers.size(); ++i) {
            SCOPED_TRACE(q.layers[i].alias);
            EXPECT_EQ(q.layers[i].error_corrected, i != 1);
            EXPECT_EQ(q.layers[i].weight_mse == plain.layers[i].weight_mse, i == 1);
        }
    }
}

// Layer mode: every layer's objective uses float inputs; its response errors before and after
// EC are the per-layer errors response_errors() measures independently, with k-means weights
// (plain quantization, same seed) and with the corrected weights.
TEST(QuantizeNetworkEc, LayerModeImprovesEveryLayerAndMatchesResponseErrors) {
    const Network net = small_net(3);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings(kSettings));
    const Tensor calib = images(40, 4);
    const QuantizedNetwork plain = quantize_network(net, rs, ec_options(EcMode::None));
    const QuantizedNetwork q = quantize_network(net, rs, ec_options(EcMode::Layer), calib);
    const std::vector<LayerResponseError> conv_plain = response_errors(net, plain.network, first(calib, 24), 7, 2);
    const std::vector<LayerResponseError> fc_plain = response_errors(net, plain.network, calib, 16, 1);
    const std::vector<LayerResponseError> conv_ec = response_errors(net, q.network, first(calib, 24), 64, 2);
    const std::vector<LayerResponseError> fc_ec = response_errors(net, q.network, calib, 5, 2);
    ASSERT_EQ(q.layers.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
        const LayerQuantInfo& l = q.layers[i];
        SCOPED_TRACE(l.alias);
        const bool conv = l.kind == LayerKind::Conv;
        EXPECT_TRUE(l.quantized);
        EXPECT_TRUE(l.error_corrected);
        EXPECT_EQ(l.calibration_images, conv ? 24 : 40);
        EXPECT_EQ(l.calibration_rows, conv ? 24 * 64 : 40);
        EXPECT_EQ(l.ec_iterations, 3);
        EXPECT_LT(l.response_error_after, l.response_error_before);
        for (size_t k = 1; k < l.ec_objective.size(); ++k)
            EXPECT_LE(l.ec_objective[k], l.ec_objective[k - 1] + 1e-12 * l.ec_objective[0]);
        const LayerResponseError& before = (conv ? conv_plain : fc_plain)[i];
        const LayerResponseError& after = (conv ? conv_ec : fc_ec)[i];
        EXPECT_EQ(before.alias, l.alias);
        EXPECT_TRUE(after.quantized);
        EXPECT_NEAR(l.response_error_before, before.layer_error, 1e-4 * before.layer_error);
        EXPECT_NEAR(l.response_error_after, after.layer_error, 1e-4 * after.layer_error);
    }
}

// Network mode: layer l's calibration inputs come from the network with layers below l
// quantized and corrected. Its "before" error is therefore the error at l's output of the
// network [corrected layers below l, k-means layer l, float above], which differs clearly from
// the k-means layer's error on float inputs; a float-input implementation fails here.
TEST(QuantizeNetworkEc, NetworkModeFeedsQuantizedInputs) {
    const Network net = small_net(5);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings(kSettings));
    const Tensor calib = images(40, 6);
    const QuantizedNetwork plain = quantize_network(net, rs, ec_options(EcMode::None));
    const QuantizedNetwork q = quantize_network(net, rs, ec_options(EcMode::Network), calib);
    const std::vector<int> layers = net.weight_layers();
    const std::vector<LayerResponseError> float_inputs = response_errors(net, plain.network, calib, 16, 2);
    for (size_t i = 1; i < layers.size(); ++i) {
        SCOPED_TRACE(q.layers[i].alias);
        const Tensor c = q.layers[i].kind == LayerKind::Conv ? first(calib, 24) : calib;
        Network mixed = q.network;
        mixed.nodes[layers[i]].op = plain.network.nodes[layers[i]].op;
        for (size_t j = i + 1; j < layers.size(); ++j) mixed.nodes[layers[j]].op = net.nodes[layers[j]].op;
        const LayerResponseError before = response_errors(net, mixed, c, 16, 2)[i];
        const LayerResponseError after = response_errors(net, q.network, c, 16, 2)[i];
        EXPECT_NEAR(q.layers[i].response_error_before, before.network_error, 1e-4 * before.network_error);
        EXPECT_NEAR(q.layers[i].response_error_after, after.network_error, 1e-4 * after.network_error);
        EXPECT_LT(q.layers[i].response_error_after, q.layers[i].response_error_before);
    }
    // fc1's inputs carry the error of two quantized conv layers: with float inputs its k-means
    // error would be clearly different. (fc2 is no such check: fc1 corrected reproduces its
    // float outputs almost exactly on these few calibration images.)
    EXPECT_GT(std::abs(q.layers[2].response_error_before - float_inputs[2].layer_error),
              0.05 * float_inputs[2].layer_error)
        << "network mode saw float inputs?";
    // Network mode corrects the accumulated error: the logits are closer to the float network's
    // than with layer-wise EC.
    const QuantizedNetwork lq = quantize_network(net, rs, ec_options(EcMode::Layer), calib);
    const double net_err = response_errors(net, q.network, calib).back().network_error;
    const double layer_err = response_errors(net, lq.network, calib).back().network_error;
    const double plain_err = float_inputs.back().network_error;
    EXPECT_LT(net_err, layer_err);
    EXPECT_LT(layer_err, plain_err);
}

// A network whose conv layers come quantized (a model file, the paper recipe's third step):
// error correction runs them as dense twins on the decoded weights, not through the lookup
// tables. Its statistics must still be those of the network as it is: the response errors it
// reports for the FC layers match response_errors(), which runs the quantized ops themselves.
TEST(QuantizeNetworkEc, AlreadyQuantizedLayersRunAsTwinsWithTheTablesResponses) {
    const Network net = small_net(5);
    const Tensor calib = images(40, 6);
    const QuantizedNetwork pre =
        quantize_network(net, resolve_settings(net, parse_layer_settings("conv=1/8,conv2=2/4,fc=dense")),
                         ec_options(EcMode::None));
    const ResolvedSettings rs = resolve_settings(pre.network, parse_layer_settings("fc=4/8,fc2=2/4"));
    ASSERT_TRUE(rs.layers[0].already_quantized && rs.layers[1].already_quantized);
    const QuantizedNetwork plain = quantize_network(pre.network, rs, ec_options(EcMode::None));
    for (EcMode mode : {EcMode::Layer, EcMode::Network}) {
        SCOPED_TRACE(to_string(mode));
        const QuantizedNetwork q = quantize_network(pre.network, rs, ec_options(mode), calib);
        const std::vector<int> layers = net.weight_layers();
        for (size_t i = 2; i < layers.size(); ++i) {
            SCOPED_TRACE(q.layers[i].alias);
            ASSERT_TRUE(q.layers[i].error_corrected);
            // Before: k-means weights at layer i; the layers above float (network: below as corrected).
            Network before_net = mode == EcMode::Network ? q.network : pre.network;
            before_net.nodes[layers[i]].op = plain.network.nodes[layers[i]].op;
            for (size_t j = i + 1; j < layers.size(); ++j) before_net.nodes[layers[j]].op = pre.network.nodes[layers[j]].op;
            Network after_net = mode == EcMode::Network ? q.network : pre.network;
            after_net.nodes[layers[i]].op = q.network.nodes[layers[i]].op;
            for (size_t j = i + 1; j < layers.size(); ++j) after_net.nodes[layers[j]].op = pre.network.nodes[layers[j]].op;
            const auto before = response_errors(pre.network, before_net, calib, 16, 2)[i];
            const auto after = response_errors(pre.network, after_net, calib, 16, 2)[i];
            const double b = mode == EcMode::Network ? before.network_error : before.layer_error;
            const double a = mode == EcMode::Network ? after.network_error : after.layer_error;
            EXPECT_NEAR(q.layers[i].response_error_before, b, 1e-4 * b);
            EXPECT_NEAR(q.layers[i].response_error_after, a, 1e-4 * a);
            EXPECT_LT(q.layers[i].response_error_after, q.layers[i].response_error_before);
        }
        // The conv layers are left as they came.
        for (size_t i = 0; i < 2; ++i) EXPECT_EQ(q.network.nodes[layers[i]].op, pre.network.nodes[layers[i]].op);
    }
}

TEST(QuantizeNetworkEc, SameSeedSameBitsForAnyThreadCount) {
    const Network net = small_net(7);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings(kSettings));
    const Tensor calib = images(30, 8);
    QuantizeOptions o = ec_options(EcMode::Network, 9, 1);
    o.ec_positions = 20;
    o.ec_batch = 7;
    const QuantizedNetwork a = quantize_network(net, rs, o, calib);
    for (int threads : {1, 2, 3}) {
        o.threads = threads;
        const QuantizedNetwork b = quantize_network(net, rs, o, calib);
        expect_same_bits(a.network, b.network, cat("threads ", threads));
        for (size_t i = 0; i < a.layers.size(); ++i) EXPECT_EQ(a.layers[i].ec_objective, b.layers[i].ec_objective);
    }
    o.seed = 10;
    const QuantizedNetwork c = quantize_network(net, rs, o, calib);
    EXPECT_NE(pq_of(a.network, 0).codebooks, pq_of(c.network, 0).codebooks);
}

TEST(QuantizeNetworkEc, PositionSubsamplingIsSeededPerLayer) {
    const Network net = small_net(7);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings(kSettings));
    QuantizeOptions o = ec_options(EcMode::Layer);
    o.ec_positions = 10;
    const QuantizedNetwork a = quantize_network(net, rs, o, images(30, 8));
    EXPECT_EQ(a.layers[0].calibration_rows, 24 * 10);
    EXPECT_EQ(a.layers[1].calibration_rows, 24 * 10);
    EXPECT_LT(a.layers[0].response_error_after, a.layers[0].response_error_before);
}

TEST(QuantizeNetworkEc, BiasRefitChangesOnlyBiasesOfCorrectedLayers) {
    const Network net = small_net(17);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings("conv=1/8,conv2=2/4,fc1=4/8"));
    const Tensor calib = images(40, 18);
    QuantizeOptions o = ec_options(EcMode::Network);
    const QuantizedNetwork plain = quantize_network(net, rs, o, calib);
    o.ec_bias = true;
    const QuantizedNetwork refit = quantize_network(net, rs, o, calib);
    const auto& fc_float = dynamic_cast<const FcOp&>(*net.nodes[5].op);
    const auto& fc_plain = dynamic_cast<const QFcOp&>(*plain.network.nodes[5].op);
    const auto& fc_refit = dynamic_cast<const QFcOp&>(*refit.network.nodes[5].op);
    EXPECT_EQ(fc_plain.bias(), fc_float.bias());
    EXPECT_NE(fc_refit.bias(), fc_float.bias());
    EXPECT_EQ(refit.network.nodes[7].op.get(), net.nodes[7].op.get());  // fc2 left dense
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_LE(refit.layers[i].response_error_after, refit.layers[i].response_error_before);
        for (size_t k = 1; k < refit.layers[i].ec_objective.size(); ++k)
            EXPECT_LE(refit.layers[i].ec_objective[k], refit.layers[i].ec_objective[k - 1]);
    }
    // fc1's error after EC is what response_errors measures for the refit network.
    const double measured = response_errors(net, refit.network, calib)[2].network_error;
    EXPECT_NEAR(refit.layers[2].response_error_after, measured, 1e-4 * measured);
}

TEST(ResponseErrors, DenseLayersAndTheFirstQuantizedLayer) {
    const Network net = small_net(11);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings("conv2=2/4,fc=4/8"));
    const QuantizedNetwork q = quantize_network(net, rs, ec_options(EcMode::None));
    const Tensor calib = images(20, 12);
    const std::vector<LayerResponseError> e = response_errors(net, q.network, calib, 6, 2);
    ASSERT_EQ(e.size(), 4u);
    EXPECT_EQ(e[0].alias, "conv1");
    EXPECT_FALSE(e[0].quantized);
    EXPECT_EQ(e[0].layer_error, 0.0);
    EXPECT_EQ(e[0].network_error, 0.0);
    // conv2 sees exact inputs: its own error is the network's error at its output.
    EXPECT_TRUE(e[1].quantized);
    EXPECT_GT(e[1].layer_error, 0.01);
    EXPECT_NEAR(e[1].network_error, e[1].layer_error, 1e-6);
    // Brute force for conv2's own error over all positions.
    {
        const auto& qc = dynamic_cast<const QConvOp&>(*q.network.nodes[2].op);
        const auto& fc = dynamic_cast<const ConvOp&>(*net.nodes[2].op);
        const int in = net.nodes[2].inputs[0];
        Plan plan(net, {calib.shape}, {in});
        plan.run({&calib}, ExecContext{1});
        const Tensor& s = plan.value(in);
        const Tensor t = conv_reference(s, fc.conv_params(), fc.weight(), fc.bias());
        const Tensor th = conv_reference(s, fc.conv_params(), qc.pq().decode(), qc.bias());
        double num = 0, den = 0;
        for (int64_t i = 0; i < t.size(); ++i) {
            num += std::pow(double(th.data[i]) - t.data[i], 2);
            den += double(t.data[i]) * t.data[i];
        }
        EXPECT_NEAR(e[1].layer_error, std::sqrt(num / den), 1e-5);
    }
    // Errors accumulate upwards.
    EXPECT_GT(e[2].network_error, e[2].layer_error);
    // Batch size and threads do not matter beyond float rounding.
    const std::vector<LayerResponseError> e2 = response_errors(net, q.network, calib, 64, 1);
    for (size_t i = 0; i < e.size(); ++i) {
        EXPECT_NEAR(e[i].layer_error, e2[i].layer_error, 1e-6);
        EXPECT_NEAR(e[i].network_error, e2[i].network_error, 1e-6);
    }
    // A network that is not a copy of the reference is refused.
    Network other = small_net(11);
    other.nodes.pop_back();
    other.outputs = {other.nodes.back().outputs[0]};
    EXPECT_THROW(response_errors(net, other, calib), Error);
}

TEST(QuantizeNetworkEc, ProgressStagesAndCancel) {
    const Network net = small_net(13);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings(kSettings));
    const Tensor calib = images(40, 14);
    std::vector<std::string> stages;
    quantize_network(net, rs, ec_options(EcMode::Network), calib, [&](const Progress& p) {
        if (stages.empty() || stages.back() != p.stage + "/" + p.layer) stages.push_back(p.stage + "/" + p.layer);
        return true;
    });
    const std::vector<std::string> expect{
        "quantize/conv1", "kmeans/conv1", "calibration/conv1", "error-correction/conv1",
        "quantize/conv2", "kmeans/conv2", "calibration/conv2", "error-correction/conv2",
        "quantize/fc1",   "kmeans/fc1",   "calibration/fc1",   "error-correction/fc1",
        "quantize/fc2",   "kmeans/fc2",   "calibration/fc2",   "error-correction/fc2", "quantize/"};
    EXPECT_EQ(stages, expect);
    for (const char* stage : {"calibration", "error-correction"}) {
        int after = 0;
        bool cancelled = false;
        EXPECT_THROW(quantize_network(net, rs, ec_options(EcMode::Network), calib,
                                      [&](const Progress& p) {
                                          if (cancelled) ++after;
                                          cancelled = cancelled || (p.stage == stage && p.layer == "fc1" && p.done > 0);
                                          return !cancelled;
                                      }),
                     Cancelled)
            << stage;
        EXPECT_TRUE(cancelled) << stage;
        EXPECT_EQ(after, 0) << stage;
    }
}

// The bundled LeNet-5 on Fashion-MNIST training images: real layers, real activations.
class LeNetEc : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string model = std::string(QCNN_DATASETS_DIR) + "/lenet5.onnx";
        if (!std::filesystem::exists(model) ||
            !std::filesystem::exists(std::string(QCNN_FASHION_MNIST_DIR) + "/train-images-idx3-ubyte.gz"))
            return;
        net_ = new Network(import_onnx(model));
        DataOptions d;
        d.limit = 6000;
        const std::unique_ptr<Dataset> train = open_dataset("fashion-mnist:train", d);
        const std::vector<int64_t> idx = calibration_indices(train->size(), 400, 1);
        calib_ = new Tensor;
        std::vector<int> labels;
        train->gather(idx, *calib_, labels);
    }
    static void TearDownTestSuite() {
        delete net_;
        delete calib_;
        net_ = nullptr;
        calib_ = nullptr;
    }
    void SetUp() override {
        if (!net_) GTEST_SKIP() << "lenet5.onnx or Fashion-MNIST not available";
    }
    static QuantizeOptions options(EcMode mode) {
        QuantizeOptions o;
        o.seed = 1;
        o.threads = 2;
        o.ec = mode;
        o.ec_conv_images = 200;
        o.ec_fc_images = 400;
        o.ec_positions = 32;
        o.ec_iterations = 3;
        return o;
    }
    static Network* net_;
    static Tensor* calib_;
};
Network* LeNetEc::net_ = nullptr;
Tensor* LeNetEc::calib_ = nullptr;

TEST_F(LeNetEc, RealLayersMonotoneAndBetterThanPlainPQ) {
    const ResolvedSettings rs = resolve_settings(*net_, parse_layer_settings("conv=4/16,fc=4/16,conv1=1/4"));
    std::vector<double> gaps;
    auto last = std::chrono::steady_clock::now();
    const QuantizedNetwork q = quantize_network(*net_, rs, options(EcMode::Network), *calib_, [&](const Progress&) {
        const auto now = std::chrono::steady_clock::now();
        gaps.push_back(std::chrono::duration<double>(now - last).count());
        last = now;
        return true;
    });
    for (const LayerQuantInfo& l : q.layers) {
        SCOPED_TRACE(l.alias);
        ASSERT_TRUE(l.error_corrected);
        EXPECT_LT(l.response_error_after, l.response_error_before);
        for (size_t k = 1; k < l.ec_objective.size(); ++k)
            EXPECT_LE(l.ec_objective[k], l.ec_objective[k - 1] + 1e-12 * l.ec_objective[0]) << "step " << k;
    }
    // A cancel is seen at the next progress report: they come far more often than every 0.5 s
    // (about every 0.06 s at most here on an optimised build; the budget is scaled under a sanitizer).
    EXPECT_LT(*std::max_element(gaps.begin(), gaps.end()), test::budget(0.5));
    // The logits: network-mode EC is much closer to the float network than plain PQ.
    const QuantizedNetwork plain = quantize_network(*net_, rs, options(EcMode::None));
    const double ec = response_errors(*net_, q.network, *calib_).back().network_error;
    const double pq = response_errors(*net_, plain.network, *calib_).back().network_error;
    EXPECT_LT(ec, 0.8 * pq) << "EC " << ec << " plain " << pq;
}

}  // namespace
}  // namespace qcnn
