// Per-layer kernel choice (core/eval/kernel_choice.h): the dense twins compute the quantized
// layers' W_hat, the engine's op shapes are predicted, and a chosen network keeps every layer
// on the faster of its two timed paths while computing the same function.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "core/eval/kernel_choice.h"
#include "core/graph/plan.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/quantize_network.h"
#include "core/quant/quantized_ops.h"
#include "core/quant/settings.h"
#include "eval_test_util.h"

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
