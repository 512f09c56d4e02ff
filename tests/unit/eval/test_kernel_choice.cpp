// Per-layer kernel choice (core/eval/kernel_choice.h): the dense twins compute the quantized
// layers' W_hat, the engine's op shapes are predicted, and a chosen network keeps every layer
// on the faster of its two timed paths while computing the same function.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/eval/kernel_choice.h"
#include "core/graph/plan.h"
#include "core/io/model_file.h"
#include "core/io/onnx_import.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/quantize_network.h"
#include "core/quant/quantized_ops.h"
#include "core/quant/settings.h"
#include "eval_test_util.h"
#include "tests/unit/temp_dir.h"

namespace qcnn {
namespace {

// A conv (1 -> 8 channels, 3x3) + FC (512 -> 10) net on 1x8x8 inputs, both layers quantized.
std::shared_ptr<const Network> quantized_test_net() {
    const test::TestNet t = test::make_test_net({1, 8, 8}, 8, 10, 11);
    QuantizeOptions opt;
    opt.seed = 3;
    return std::make_shared<const Network>(
        quantize_network(*t.net, resolve_settings(*t.net, parse_layer_settings("conv1=1/16,fc1=4/8")), opt).network);
}

Tensor forward(std::shared_ptr<const Network> net, const Tensor& x, LutKernel k) {
    Engine e(std::move(net), 1);
    e.set_lut_kernel(k);
    return e.forward(x);
}

void expect_close(const Tensor& a, const Tensor& b, double rel) {
    ASSERT_EQ(a.shape, b.shape);
    double scale = 0;
    for (float v : b.data) scale = std::max(scale, double(std::fabs(v)));
    for (int64_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a.data[i], b.data[i], rel * scale) << "element " << i;
}

TEST(KernelChoice, EngineOpRunShapeFollowsTheEngineSplit) {
    EXPECT_EQ(engine_op_run_shape(1, 2).samples, 1);
    EXPECT_EQ(engine_op_run_shape(1, 2).threads, 2);
    EXPECT_EQ(engine_op_run_shape(3, 2).samples, 3);  // < 2 samples per thread: ops use the threads
    EXPECT_EQ(engine_op_run_shape(3, 2).threads, 2);
    EXPECT_EQ(engine_op_run_shape(4, 2).samples, 2);  // 2 slices of 2, one thread each
    EXPECT_EQ(engine_op_run_shape(4, 2).threads, 1);
    EXPECT_EQ(engine_op_run_shape(64, 2).samples, 8);  // 8 slices of 8
    EXPECT_EQ(engine_op_run_shape(65, 2).samples, 9);  // the largest of 8 slices
    EXPECT_EQ(engine_op_run_shape(64, 1).samples, 64);
    EXPECT_EQ(engine_op_run_shape(64, 1).threads, 1);
}

TEST(KernelChoice, DenseTwinsComputeTheDecodedWeights) {
    const auto q = quantized_test_net();
    int twins = 0;
    for (int i : q->weight_layers()) {
        const Op& op = *q->nodes[i].op;
        const auto dense = dense_twin(op);
        ASSERT_TRUE(dense) << q->nodes[i].name;
        ++twins;
        if (const auto* qc = dynamic_cast<const QConvOp*>(&op)) {
            const auto* dc = dynamic_cast<const ConvOp*>(dense.get());
            ASSERT_TRUE(dc);
            EXPECT_EQ(dc->weight().data, qc->pq().decode().data);
            EXPECT_EQ(dc->bias(), qc->bias());
        } else {
            const auto* qf = dynamic_cast<const QFcOp*>(&op);
            const auto* df = dynamic_cast<const FcOp*>(dense.get());
            ASSERT_TRUE(qf && df);
            EXPECT_EQ(df->weight().data, qf->pq().decode().data);
            EXPECT_EQ(df->type(), qf->source_type());
        }
    }
    EXPECT_EQ(twins, 2);
    const test::TestNet f = test::make_test_net({1, 8, 8}, 8, 10, 11);
    EXPECT_EQ(dense_twin(*f.net->nodes[0].op), nullptr);  // a float conv has no dense twin
}

TEST(KernelChoice, DenseLayersComputeTheSameFunction) {
    const auto q = quantized_test_net();
    const Tensor x = test::random_tensor({3, 1, 8, 8}, 5);
    const Tensor ref = forward(q, x, LutKernel::Reference);
    const std::vector<int> layers = q->weight_layers();
    for (const std::vector<int>& dense : {std::vector<int>{layers[0]}, std::vector<int>{layers[1]}, layers}) {
        const auto d = with_dense_layers(*q, dense);
        for (int i : dense) EXPECT_EQ(d->nodes[i].op->weight_layer(), true);
        for (int i : dense) EXPECT_TRUE(d->nodes[i].op->type() == "Conv" || d->nodes[i].op->type() == "Gemm");
        expect_close(forward(d, x, LutKernel::Reference), ref, 1e-5);
    }
    EXPECT_THROW(with_dense_layers(*q, {0, 1}), Error);  // node 1 is the ReLU
    EXPECT_THROW(with_dense_layers(*q, {99}), Error);
}

TEST(KernelChoice, KeepsEveryLayerOnItsFasterTimedPath) {
    const auto q = quantized_test_net();
    for (int64_t batch : {1, 16}) {
        KernelChoiceOptions o;
        o.batch = batch;
        o.threads = 2;
        o.budget_s = 0.002;
        int64_t reports = 0;
        const KernelChoice kc = choose_kernels(q, {1, 8, 8}, o, [&](const Progress& p) {
            EXPECT_EQ(p.stage, "kernel-choice");
            EXPECT_EQ(p.total, 2);
            ++reports;
            return true;
        });
        EXPECT_EQ(reports, 3);
        ASSERT_EQ(kc.layers.size(), 2u);
        EXPECT_EQ(kc.threads, 2);
        const OpRunShape rs = engine_op_run_shape(batch, 2);
        std::vector<int> dense;
        for (const LayerChoice& c : kc.layers) {
            EXPECT_GT(c.quantized_seconds, 0);
            EXPECT_GT(c.dense_seconds, 0);
            EXPECT_GE(c.reps, 3);
            EXPECT_EQ(c.input_shape.at(0), rs.samples);
            EXPECT_EQ(c.threads, rs.threads);
            EXPECT_EQ(c.path, c.dense_seconds < c.quantized_seconds ? LayerPath::Dense : LayerPath::Quantized);
            const std::string t = kc.network->nodes[c.node].op->type();
            EXPECT_EQ(t.front() == 'Q', c.path == LayerPath::Quantized) << c.alias << " " << t;
            if (c.path == LayerPath::Dense) dense.push_back(c.node);
        }
        EXPECT_EQ(kc.dense_layers(), static_cast<int>(dense.size()));
        EXPECT_EQ(kc.layers[0].alias, "conv1");
        EXPECT_EQ(kc.layers[0].input_shape, (Shape{rs.samples, 1, 8, 8}));
        EXPECT_EQ(kc.layers[1].input_shape, (Shape{rs.samples, 512}));
        const Tensor x = test::random_tensor({batch, 1, 8, 8}, 6);
        expect_close(forward(kc.network, x, LutKernel::Reference),
                     forward(with_dense_layers(*q, dense), x, LutKernel::Reference), 0);
    }
    EXPECT_THROW(choose_kernels(q, {1, 8, 8}, KernelChoiceOptions{0}), Error);
    EXPECT_THROW(choose_kernels(q, {2, 8, 8}), Error);  // the conv expects 1 channel
    EXPECT_THROW(choose_kernels(q, {1, 8, 8}, {}, [](const Progress&) { return false; }), Cancelled);
}

}  // namespace
}  // namespace qcnn

namespace qcnn {
namespace {

// Issue 14, section 1: loading a quantized model file and choosing kernels builds no dense
// weight that stays: checked through the graph (op types and initializers), and the dense side
// of a layer larger than max_dense_bytes is timed on a slice of its output channels.
TEST(KernelChoice, LoadedQuantizedModelKeepsNoDenseWeightAfterTheChoice) {
    const Network f = import_onnx(std::string(QCNN_DATASETS_DIR) + "/vgg7.onnx");
    QuantizeOptions opt;
    opt.seed = 3;
    opt.threads = 1;
    opt.max_iter = 2;  // the weights' values do not matter here
    const Network q = quantize_network(f, resolve_settings(f, parse_layer_settings("conv=4/16,fc=4/16")), opt).network;
    const test::TempDir dir;
    save_quantized_model(dir.file("vgg7.qcnn"), q, {});
    const auto loaded = std::make_shared<const Network>(load_model_file(dir.file("vgg7.qcnn")));

    // Dense weight shapes of the quantized layers: no initializer may have one after loading.
    std::vector<Shape> dense_shapes;
    int quantized = 0;
    for (int i : loaded->weight_layers()) {
        const Op& op = *loaded->nodes[i].op;
        if (op.type() == "QConv") dense_shapes.push_back(static_cast<const QConvOp&>(op).geometry().weight_shape());
        if (op.type() == "QFc") dense_shapes.push_back(static_cast<const QFcOp&>(op).geometry().weight_shape());
        quantized += op.type() == "QConv" || op.type() == "QFc";
    }
    ASSERT_GE(quantized, 6);  // vgg7: conv2-6 and both FCs (conv1 has 1 input channel: dense)
    auto dense_weights_of_quantized_layers = [&](const Network& n) {
        int found = 0;
        for (const ValueDecl& v : n.values)
            if (v.init_f && std::find(dense_shapes.begin(), dense_shapes.end(), v.init_f->shape) != dense_shapes.end())
                ++found;
        return found;
    };
    EXPECT_EQ(dense_weights_of_quantized_layers(*loaded), 0);

    KernelChoiceOptions ko;
    ko.batch = 1;
    ko.threads = 1;
    ko.budget_s = 0.002;
    ko.max_dense_bytes = 64 << 10;
    const KernelChoice kc = choose_kernels(loaded, loaded->sample_shape(), ko);
    ASSERT_EQ(static_cast<int>(kc.layers.size()), quantized);
    int sliced = 0;
    for (const LayerChoice& c : kc.layers) {
        SCOPED_TRACE(c.alias);
        const Op& chosen = *kc.network->nodes[c.node].op;
        if (c.path == LayerPath::Quantized) {
            // The very op that was loaded: no dense twin, no decoded copy beside it.
            EXPECT_EQ(kc.network->nodes[c.node].op.get(), loaded->nodes[c.node].op.get());
        } else {
            EXPECT_TRUE(chosen.type() == "Conv" || chosen.type() == "Gemm") << chosen.type();
        }
        // A slice when the layer's dense weights exceed 64 KiB and it has more than 64 outputs.
        const int64_t dense_bytes = numel(c.op_type == "QConv"
                                              ? static_cast<const QConvOp&>(*loaded->nodes[c.node].op).geometry().weight_shape()
                                              : static_cast<const QFcOp&>(*loaded->nodes[c.node].op).geometry().weight_shape()) *
                                    4;
        const bool expect_slice = dense_bytes > ko.max_dense_bytes && c.out_channels > 64;
        EXPECT_EQ(c.dense_timed_outputs < c.out_channels, expect_slice);
        EXPECT_GE(c.dense_timed_outputs, std::min<int64_t>(64, c.out_channels));
        EXPECT_LE(c.dense_timed_outputs * dense_bytes / c.out_channels, std::max<int64_t>(ko.max_dense_bytes, 64 * dense_bytes / c.out_channels));
        sliced += expect_slice;
        EXPECT_GT(c.dense_seconds, 0.0);
    }
    EXPECT_GE(sliced, 2);  // conv5 (128 x 576) and fc1 (256 x 1152) at least
    // Only the layers where dense won hold dense weights, one each.
    int dense_ops = 0;
    for (int i : kc.network->weight_layers()) {
        const std::string t = kc.network->nodes[i].op->type();
        dense_ops += (t == "Conv" || t == "Gemm") && loaded->nodes[i].op->type() != t;
    }
    EXPECT_EQ(dense_ops, kc.dense_layers());
    EXPECT_EQ(dense_weights_of_quantized_layers(*kc.network), 0);
}

}  // namespace
}  // namespace qcnn
