// The cost model against hand-computed values: the method's Table 1 formulas, section 5's
// AlexNet numbers, the memory report of a small network, and errors for impossible settings.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <thread>

#include "core/cost/cost_model.h"
#include "core/graph/plan.h"
#include "core/io/onnx_import.h"
#include "core/ops/conv.h"
#include "core/ops/conv_direct.h"
#include "core/ops/elementwise.h"
#include "core/ops/fc.h"
#include "core/ops/pool.h"
#include "core/quant/quantized_ops.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

double round2(double x) { return std::round(x * 100.0) / 100.0; }

LayerGeometry fc_layer(std::string alias, int64_t cs, int64_t ct) {
    LayerGeometry g;
    g.name = g.alias = std::move(alias);
    g.kind = LayerKind::Fc;
    g.c_s = cs;
    g.c_t = ct;
    return g;
}

LayerGeometry conv_layer(std::string alias, int64_t cs, int64_t ct, int64_t ds, int64_t dt, int64_t dk,
                         int64_t group) {
    LayerGeometry g;
    g.name = g.alias = std::move(alias);
    g.kind = LayerKind::Conv;
    g.c_s = cs;
    g.c_t = ct;
    g.h_s = g.w_s = ds;
    g.h_t = g.w_t = dt;
    g.k_h = g.k_w = dk;
    g.group = group;
    return g;
}

QuantSetting q(int64_t dsub, int64_t k) { return QuantSetting::make_pq(dsub, k); }

// Section 5: AlexNet fc6 (C_s=9216, C_t=4096) at 4/32.
TEST(CostModel, AlexNetFc6At4Of32) {
    const LayerCost c = layer_cost(fc_layer("fc6", 9216, 4096), q(4, 32));
    EXPECT_EQ(c.flops_dense, 37748736);
    EXPECT_EQ(c.flops_qcnn, 9732096);
    EXPECT_EQ(c.flops_table, 9216 * 32);
    EXPECT_EQ(c.flops_lookup, 4096 * 2304);
    EXPECT_EQ(std::round(c.speedup() * 1000.0) / 1000.0, 3.879);
    EXPECT_EQ(c.weight_bits_dense, 1207959552);
    EXPECT_EQ(c.weight_bits_qcnn, 56623104);
    EXPECT_EQ(c.codebook_bits, 32 * 9216 * 32);
    EXPECT_EQ(c.index_bits, 5 * 4096 * 2304);
    EXPECT_EQ(round2(c.compression()), 21.33);
    EXPECT_EQ(c.m, 2304);
    EXPECT_EQ(c.code_bits, 5);
    EXPECT_EQ(c.bias_bytes, 4 * 4096);
    EXPECT_EQ(c.lut_bytes, 4 * 2304 * 32);
}

// Section 5: AlexNet conv2 (d_s=d_t=27, d_k=5, C_s=96, groups=2, C_t=256).
TEST(CostModel, AlexNetConv2SpeedUps) {
    const LayerGeometry conv2 = conv_layer("conv2", 96, 256, 27, 27, 5, 2);
    struct Case {
        int64_t dsub, k, flops_qcnn;
        double speedup;
    };
    for (const Case& e : {Case{4, 64, 60466176, 3.70}, Case{6, 64, 41803776, 5.36}, Case{6, 128, 46282752, 4.84},
                          Case{8, 128, 36951552, 6.06}}) {
        SCOPED_TRACE(cat(e.dsub, "/", e.k));
        const LayerCost c = layer_cost(conv2, q(e.dsub, e.k));
        EXPECT_EQ(c.flops_dense, 223948800);
        // Table term over all 96 channels, lookup term with M per group.
        EXPECT_EQ(c.flops_table, 27 * 27 * 96 * e.k);
        EXPECT_EQ(c.m_group, 48 / e.dsub);
        EXPECT_EQ(c.m, 96 / e.dsub);
        EXPECT_EQ(c.flops_lookup, 27 * 27 * 256 * 25 * (48 / e.dsub));
        EXPECT_EQ(c.flops_qcnn, e.flops_qcnn);
        EXPECT_EQ(round2(c.speedup()), e.speedup);
        EXPECT_EQ(c.lut_bytes, 4 * 27 * 27 * (96 / e.dsub) * e.k);
    }
}

TEST(CostModel, GroupedConvStorage) {
    const LayerGeometry conv2 = conv_layer("conv2", 96, 256, 27, 27, 5, 2);
    const LayerCost per_group = layer_cost(conv2, q(8, 128));
    EXPECT_EQ(per_group.weight_bits_dense, 32 * 25 * 48 * 256);  // the weights that exist: C_s/g
    EXPECT_EQ(per_group.codebook_bits, 32 * 96 * 128);           // method formula: 4*C_s*K bytes
    EXPECT_EQ(per_group.index_bits, 7 * 25 * 6 * 256);           // d_k^2 * M_g * C_t indices
    const LayerCost shared = layer_cost(conv2, q(8, 128), GroupCodebooks::Shared);
    EXPECT_EQ(shared.codebook_bits, 32 * 48 * 128);
    EXPECT_EQ(shared.index_bits, per_group.index_bits);
    EXPECT_EQ(shared.flops_qcnn, per_group.flops_qcnn);
    EXPECT_EQ(shared.lut_bytes, per_group.lut_bytes);
}

// Non-square maps and kernels: d_s^2 -> H_s*W_s, d_t^2 -> H_t*W_t, d_k^2 -> k_h*k_w.
TEST(CostModel, NonSquareConv) {
    LayerGeometry g = conv_layer("conv1", 12, 10, 0, 0, 0, 1);
    g.h_s = 9, g.w_s = 7, g.h_t = 4, g.w_t = 3, g.k_h = 3, g.k_w = 2;
    const LayerCost c = layer_cost(g, q(3, 16));
    EXPECT_EQ(c.flops_dense, 4 * 3 * 10 * 3 * 2 * 12);
    EXPECT_EQ(c.flops_qcnn, 9 * 7 * 12 * 16 + 4 * 3 * 10 * 3 * 2 * 4);
    EXPECT_EQ(c.weight_bits_dense, 32 * 6 * 12 * 10);
    EXPECT_EQ(c.weight_bits_qcnn, 32 * 12 * 16 + 4 * 6 * 4 * 10);
    EXPECT_EQ(c.lut_bytes, 4 * 9 * 7 * 4 * 16);
}

// K that is not a power of two is stored with ceil(log2 K)-bit codes.
TEST(CostModel, CodeWidthIsCeilLog2K) {
    const LayerGeometry fc = fc_layer("fc1", 8, 5);
    for (auto [k, bits] : {std::pair{2, 1}, {3, 2}, {4, 2}, {5, 3}, {16, 4}, {17, 5}, {100, 7}, {128, 7}, {129, 8},
                           {256, 8}}) {
        const LayerCost c = layer_cost(fc, q(2, k));
        EXPECT_EQ(c.code_bits, bits) << "K=" << k;
        EXPECT_EQ(c.index_bits, bits * 4 * 5) << "K=" << k;
        EXPECT_EQ(c.weight_bits_qcnn, 32 * 8 * k + bits * 4 * 5) << "K=" << k;
    }
}

TEST(CostModel, DenseSettingCostsTheDenseLayer) {
    const LayerCost c = layer_cost(conv_layer("conv3", 256, 384, 13, 13, 3, 1), QuantSetting::make_dense());
    EXPECT_EQ(c.flops_qcnn, c.flops_dense);
    EXPECT_EQ(c.weight_bits_qcnn, c.weight_bits_dense);
    EXPECT_EQ(c.lut_bytes, 0);
    EXPECT_EQ(c.m, 0);
    EXPECT_DOUBLE_EQ(c.speedup(), 1.0);
    EXPECT_DOUBLE_EQ(c.compression(), 1.0);
}

TEST(CostModel, ImpossibleSettingsThrowNamingTheLayer) {
    const LayerGeometry conv2 = conv_layer("conv2", 96, 256, 27, 27, 5, 2);
    try {
        layer_cost(conv2, q(5, 64));
        FAIL() << "C_s' = 5 accepted for 48 channels per group";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("conv2"), std::string::npos) << m;
        EXPECT_NE(m.find("C_s' = 5"), std::string::npos) << m;
        EXPECT_NE(m.find("valid C_s' values: 1, 2, 3, 4, 6, 8, 12, 16, 24, 48"), std::string::npos) << m;
    }
    // 96 divides C_s but not C_s/g.
    EXPECT_THROW(layer_cost(conv2, q(96, 64)), Error);
    EXPECT_THROW(layer_cost(conv2, q(0, 64)), Error);
    EXPECT_THROW(layer_cost(conv2, q(-4, 64)), Error);
    try {
        layer_cost(fc_layer("fc7", 4096, 4096), q(4, 1));
        FAIL() << "K=1 accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("fc7"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("K = 1"), std::string::npos) << e.what();
    }
    EXPECT_THROW(layer_cost(fc_layer("fc7", 4096, 4096), q(4, 257)), Error);
    EXPECT_NO_THROW(layer_cost(fc_layer("fc7", 4096, 4096), q(4, 256)));
    EXPECT_NO_THROW(layer_cost(fc_layer("fc7", 4096, 4096), q(4, 2)));
    // A dense setting ignores dsub and K.
    EXPECT_NO_THROW(layer_cost(conv2, QuantSetting{true, PQConfig{5, 1}}));
    // Inconsistent geometry.
    EXPECT_THROW(layer_cost(conv_layer("conv9", 96, 256, 27, 27, 5, 5), QuantSetting::make_dense()), Error);
    EXPECT_THROW(layer_cost(conv_layer("conv9", 0, 256, 27, 27, 5, 1), QuantSetting::make_dense()), Error);
    // Network level: settings count and batch.
    const std::vector<LayerGeometry> layers{conv2};
    EXPECT_THROW(network_cost(layers, {}), Error);
    EXPECT_THROW(network_cost(layers, {QuantSetting::make_dense()}, CostOptions{GroupCodebooks::PerGroup, 0}), Error);
    try {
        network_cost(layers, {q(7, 16)});
        FAIL() << "C_s'=7 accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("conv2"), std::string::npos) << e.what();
    }
}

// Flatten {N, ...} -> {N, prod}: a test-local op, so the memory test needs only Conv, Relu,
// MaxPool and FC.
class TestFlatten : public Op {
public:
    std::string type() const override { return "Flatten"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override {
        ValueInfo v;
        v.shape = {in[0]->shape[0], numel(in[0]->shape) / in[0]->shape[0]};
        return {v};
    }
    void run(const RunArgs& a) const override { a.out[0]->data = a.in[0]->data; }
};

Tensor filled(Shape s, float v) { return Tensor(std::move(s), v); }

ValueDecl value(std::string name, Shape shape) {
    ValueDecl v;
    v.name = std::move(name);
    v.shape = std::move(shape);
    return v;
}

// x {2,5,5} -> conv1 2->4 3x3 p1 -> relu -> maxpool 2x2 s2 -> flatten -> fc 16->3.
std::shared_ptr<Network> small_network() {
    auto net = std::make_shared<Network>();
    net->source = "test";
    int x = net->add_value(value("x", {-1, 2, 5, 5}));
    net->inputs = {x};
    auto add = [&](std::string name, OpPtr op, int in) {
        int out = net->add_value(value(name, {}));
        net->nodes.push_back({name, "", std::move(op), {in}, {out}});
        return out;
    };
    ConvParams cp;
    cp.pad_top = cp.pad_left = cp.pad_bottom = cp.pad_right = 1;
    int v = add("c", std::make_shared<ConvOp>(cp, filled({4, 2, 3, 3}, 0.1f), std::vector<float>(4, 0.0f)), x);
    v = add("r", std::make_shared<ActivationOp>(ActivationKind::Relu), v);
    PoolParams pp;
    pp.kernel = {2, 2};
    pp.strides = {2, 2};
    v = add("p", std::make_shared<PoolOp>(pp), v);
    v = add("f", std::make_shared<TestFlatten>(), v);
    v = add("y", std::make_shared<FcOp>(filled({3, 16}, 0.1f), std::vector<float>(3, 0.0f)), v);
    net->outputs = {v};
    net->assign_aliases();
    net->validate();
    return net;
}

TEST(CostModel, StaticBatchExportCostsTheSameAsDynamic) {
    // A file exported with a fixed batch of 3 (torch.onnx.export without dynamic_axes) used to
    // fail: the cost model planned one image against the declared {3, 2, 5, 5}.
    auto dyn = small_network();
    auto fixed = small_network();
    fixed->values[fixed->inputs[0]].shape = {3, 2, 5, 5};
    const NetworkGeometry a = network_geometry(*dyn, {2, 5, 5}), b = network_geometry(*fixed, {2, 5, 5});
    ASSERT_EQ(a.layers.size(), b.layers.size());
    for (size_t i = 0; i < a.layers.size(); ++i) EXPECT_EQ(a.layers[i].h_s, b.layers[i].h_s);
    ASSERT_EQ(a.steps.size(), b.steps.size());
    for (size_t i = 0; i < a.steps.size(); ++i) EXPECT_EQ(a.steps[i].live_bytes, b.steps[i].live_bytes) << "step " << i;
    const std::vector<QuantSetting> s(2, QuantSetting::make_pq(2, 4));
    EXPECT_EQ(network_cost(a, s).quantized.peak_bytes, network_cost(b, s).quantized.peak_bytes);
    EXPECT_EQ(network_cost(a, s).flops_qcnn, network_cost(b, s).flops_qcnn);
}

TEST(CostModel, GeometryFromAPlannedNetwork) {
    auto net = small_network();
    const NetworkGeometry geo = network_geometry(*net, {2, 5, 5});
    ASSERT_EQ(geo.layers.size(), 2u);
    const LayerGeometry& c = geo.layers[0];
    EXPECT_EQ(c.alias, "conv1");
    EXPECT_EQ(c.name, "c");
    EXPECT_EQ(c.kind, LayerKind::Conv);
    EXPECT_EQ(c.c_s, 2);
    EXPECT_EQ(c.c_t, 4);
    EXPECT_EQ(c.h_s, 5);  // unpadded
    EXPECT_EQ(c.h_t, 5);
    EXPECT_EQ(c.k_h, 3);
    EXPECT_EQ(c.group, 1);
    const LayerGeometry& f = geo.layers[1];
    EXPECT_EQ(f.alias, "fc1");
    EXPECT_EQ(f.kind, LayerKind::Fc);
    EXPECT_EQ(f.c_s, 16);
    EXPECT_EQ(f.c_t, 3);
    EXPECT_EQ(f.h_s, 1);
    // Live floats per step: conv x+c, relu c+r, pool r+p, flatten p+f, fc f+y.
    const std::vector<int64_t> live{4 * (50 + 100), 4 * (100 + 100), 4 * (100 + 16), 4 * (16 + 16), 4 * (16 + 3)};
    ASSERT_EQ(geo.steps.size(), live.size());
    for (size_t s = 0; s < live.size(); ++s) {
        EXPECT_EQ(geo.steps[s].node, static_cast<int>(s));
        EXPECT_EQ(geo.steps[s].live_bytes, live[s]) << "step " << s;
    }
    EXPECT_EQ(geo.steps[0].layer, 0);
    EXPECT_EQ(geo.steps[1].layer, -1);
    EXPECT_EQ(geo.steps[4].layer, 1);
}

TEST(CostModel, MemoryReportOfASmallNetwork) {
    auto net = small_network();
    const NetworkGeometry geo = network_geometry(*net, {2, 5, 5});
    // conv1 at C_s'=2, K=4 (M=1); fc1 at C_s'=4, K=3 (M=4, 2-bit codes).
    const std::vector<QuantSetting> settings{q(2, 4), q(4, 3)};
    const NetworkCost nc = network_cost(geo, settings);
    // conv1: dense 25*4*9*2 = 1800 FLOPs; Q-CNN 25*2*4 + 25*4*9*1 = 1100.
    // fc1: dense 48; Q-CNN 16*3 + 3*4 = 60.
    EXPECT_EQ(nc.flops_dense, 1800 + 48);
    EXPECT_EQ(nc.flops_qcnn, 1100 + 60);
    // conv1 bits: 32*9*2*4 = 2304 -> 32*2*4 + 2*9*1*4 = 328 (41 bytes).
    // fc1 bits: 32*48 = 1536 -> 32*16*3 + 2*4*3 = 1560 (195 bytes).
    EXPECT_EQ(nc.weight_bits_dense, 2304 + 1536);
    EXPECT_EQ(nc.weight_bits_qcnn, 328 + 1560);
    EXPECT_EQ(nc.bias_bytes, 4 * 4 + 4 * 3);
    EXPECT_DOUBLE_EQ(nc.compression_with_biases(), double(2304 + 1536 + 8 * 28) / double(328 + 1560 + 8 * 28));
    // LUTs: conv1 4*25*1*4 = 400 bytes, fc1 4*4*3 = 48.
    EXPECT_EQ(nc.lut_bytes_sum, 448);

    EXPECT_EQ(nc.dense.weight_bytes, 480);
    EXPECT_EQ(nc.dense.bias_bytes, 28);
    EXPECT_EQ(nc.dense.activation_bytes, 800);
    EXPECT_EQ(nc.dense.lut_bytes, 0);
    EXPECT_EQ(nc.dense.peak_bytes, 480 + 28 + 800);

    EXPECT_EQ(nc.quantized.weight_bytes, 41 + 195);
    EXPECT_EQ(nc.quantized.bias_bytes, 28);
    EXPECT_EQ(nc.quantized.activation_bytes, 800);
    EXPECT_EQ(nc.quantized.lut_bytes, 400);
    // conv1's step: 600 activation bytes + its 400-byte LUT beats relu's 800.
    EXPECT_EQ(nc.quantized.peak_bytes, 236 + 28 + 1000);

    const NetworkCost b2 = network_cost(geo, settings, CostOptions{GroupCodebooks::PerGroup, 2});
    EXPECT_EQ(b2.dense.activation_bytes, 1600);
    EXPECT_EQ(b2.quantized.lut_bytes, 800);
    EXPECT_EQ(b2.quantized.peak_bytes, 236 + 28 + 2000);
    EXPECT_EQ(b2.dense.peak_bytes, 480 + 28 + 1600);
    EXPECT_EQ(b2.flops_qcnn, nc.flops_qcnn);  // FLOPs are per sample

    // Keeping conv1 dense: no conv LUT; fc1's 48-byte LUT at its 76-byte step.
    const NetworkCost mixed = network_cost(geo, {QuantSetting::make_dense(), q(4, 3)});
    EXPECT_EQ(mixed.quantized.weight_bytes, 288 + 195);
    EXPECT_EQ(mixed.quantized.lut_bytes, 48);
    EXPECT_EQ(mixed.quantized.peak_bytes, 483 + 28 + 800);
}

// Run-time bytes, layer by layer: weights + biases + the plan's activation buffers + the largest
// step's LUT plus dense-conv scratch (the im2col matrix 4 * C_s/g * k_h*k_w * H_t*W_t per image).
TEST(CostModel, RuntimeBytesAddPlanBuffersAndDenseScratch) {
    auto net = small_network();
    const NetworkGeometry geo = network_geometry(*net, {2, 5, 5});
    EXPECT_EQ(geo.buffer_bytes,
              Plan(*net, {Shape{1, 2, 5, 5}}, {}, PlanOptions{.fuse_activations = true}).activation_bytes());
    // conv (2 channels: the direct kernel) -> relu -> 2x2 pool run as one step: the buffers hold
    // the pooled map and the flattened copy (4 x 2 x 2 floats each; the logits reuse a slot),
    // not the 4 x 5 x 5 conv map and its activation (the unfused plan's 800 bytes).
    if (conv_backend() == ConvBackend::OneDnn && conv_direct_applies(ConvParams{}, 2)) {
        EXPECT_EQ(geo.buffer_bytes, 2 * 4 * 16);
        EXPECT_EQ(Plan(*net, {Shape{1, 2, 5, 5}}).activation_bytes(), 800);
    }
    int64_t peak_live = 0;
    for (const ActivationStep& st : geo.steps) peak_live = std::max(peak_live, st.live_bytes);
    // The steps count the unfused graph: its plan's slots hold every live value but the input,
    // and the fused plan holds no more.
    const int64_t unfused = Plan(*net, {Shape{1, 2, 5, 5}}).activation_bytes();
    EXPECT_GE(unfused, peak_live - 4 * 2 * 25);
    EXPECT_LE(geo.buffer_bytes, unfused);
    const int64_t conv_im2col = 4 * (2 * 9) * 25;          // conv1: C_s 2, 3x3, 5x5 output
    const NetworkCost dense = network_cost(geo, {QuantSetting::make_dense(), QuantSetting::make_dense()});
    EXPECT_EQ(dense.layers[0].scratch_bytes, conv_im2col);
    EXPECT_EQ(dense.layers[1].scratch_bytes, 0);  // FC: no im2col
    EXPECT_EQ(dense.dense.scratch_bytes, conv_im2col);
    EXPECT_EQ(dense.dense.runtime_bytes, 480 + 28 + geo.buffer_bytes + conv_im2col);
    // conv1 quantized (LUT 400 bytes, no scratch); fc1 dense.
    const NetworkCost q1 = network_cost(geo, {q(2, 4), QuantSetting::make_dense()});
    EXPECT_EQ(q1.quantized.scratch_bytes, 0);
    EXPECT_EQ(q1.quantized.runtime_bytes, q1.quantized.weight_bytes + 28 + geo.buffer_bytes + 400);
    // Batch 2: both images in one GEMM (25 columns each, < 512), plus the copied-out product.
    const NetworkCost b2 = network_cost(geo, {QuantSetting::make_dense(), QuantSetting::make_dense()},
                                        CostOptions{GroupCodebooks::PerGroup, 2});
    EXPECT_EQ(b2.dense.scratch_bytes, 2 * (conv_im2col + 4 * 4 * 25));
    EXPECT_EQ(b2.dense.runtime_bytes, 480 + 28 + 2 * geo.buffer_bytes + 2 * (conv_im2col + 4 * 4 * 25));
}

// dense_backend_memory accounts what running a network in the Engine makes a fresh thread's
// dense-conv buffers hold: one work buffer per backend, as large as its largest layer's, not one
// per layer. The bundled VGG-7 and ResNet-8 (float) run their 1-channel first conv on the
// direct kernel (AVX-512 builds) and the others on oneDNN.
TEST(CostModel, DenseBackendMemoryIsWhatTheEngineMakesAThreadAllocate) {
    for (const char* name : {"vgg7", "resnet8"}) {
        auto net = std::make_shared<const Network>(import_onnx(std::string(QCNN_DATASETS_DIR) + "/" + name + ".onnx"));
        const Shape input{1, 1, 28, 28};
        const DenseBackendMemory m = dense_backend_memory(*net, input);
        int convs = 0;
        int64_t sum = 0;
        for (const Node& n : net->nodes)
            if (const auto* c = dynamic_cast<const ConvOp*>(n.op.get())) {
                ++convs;
                sum += c->dense_memory(Plan(*net, {input}).info(n.inputs[0]).shape).work_bytes;
            }
        EXPECT_EQ(m.layers, convs) << name;
        ASSERT_GE(convs, 5) << name;
        EXPECT_LT(m.work_bytes, sum) << name << ": per backend the largest layer's, not the sum";
        int64_t allocated = -1;
        std::thread([&] {
            Engine engine(net, 1);
            engine.forward(Tensor(input, 0.25f));
            allocated = conv_thread_work_bytes();
        }).join();
        EXPECT_EQ(allocated, m.work_bytes) << name;
    }
}

// The dense FLOPs agree with the ops' own multiply-add counts.
TEST(CostModel, DenseFlopsMatchTheOps) {
    auto net = small_network();
    Plan plan(*net, {{1, 2, 5, 5}});
    int64_t op_flops = 0;
    for (int ni : net->weight_layers()) {
        const Node& n = net->nodes[ni];
        const ValueInfo* in = &plan.info(n.inputs[0]);
        op_flops += n.op->flops({in}, {plan.info(n.outputs[0])});
    }
    EXPECT_EQ(network_cost(network_geometry(*net, {2, 5, 5}), {QuantSetting::make_dense(), QuantSetting::make_dense()}).flops_dense,
              op_flops);
}

// A network whose layers are already quantized costs the same as the float network with
// the settings it was quantized with, and the quantized ops count the same FLOPs.
TEST(CostModel, QuantizedNetworkCostsItsStoredSettings) {
    auto net = small_network();
    auto qnet = std::make_shared<Network>(*net);
    PQTrainOptions opt;
    opt.seed = 5;
    auto& cnode = qnet->nodes[qnet->find_node("conv1")];
    const auto* conv = dynamic_cast<const ConvOp*>(cnode.op.get());
    ASSERT_NE(conv, nullptr);
    cnode.op = std::make_shared<QConvOp>(conv->conv_params(),
                                         train_pq(conv->weight(), LayerKind::Conv, 1, PQConfig{2, 4}, opt), conv->bias());
    auto& fnode = qnet->nodes[qnet->find_node("fc1")];
    const auto* fc = dynamic_cast<const FcOp*>(fnode.op.get());
    ASSERT_NE(fc, nullptr);
    fnode.op = std::make_shared<QFcOp>(train_pq(fc->weight(), LayerKind::Fc, 1, PQConfig{4, 3}, opt), fc->bias());

    const std::vector<QuantSetting> stored = stored_settings(*qnet);
    ASSERT_EQ(stored.size(), 2u);
    EXPECT_EQ(stored[0], q(2, 4));
    EXPECT_EQ(stored[1], q(4, 3));
    EXPECT_EQ(stored_settings(*net), (std::vector<QuantSetting>(2, QuantSetting::make_dense())));

    const NetworkGeometry geo = network_geometry(*qnet, {2, 5, 5});
    const NetworkGeometry fgeo = network_geometry(*net, {2, 5, 5});
    ASSERT_EQ(geo.layers.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(geo.layers[i].c_s, fgeo.layers[i].c_s);
        EXPECT_EQ(geo.layers[i].c_t, fgeo.layers[i].c_t);
        EXPECT_EQ(geo.layers[i].h_s, fgeo.layers[i].h_s);
        EXPECT_EQ(geo.layers[i].h_t, fgeo.layers[i].h_t);
        EXPECT_EQ(geo.layers[i].k_h, fgeo.layers[i].k_h);
        EXPECT_EQ(geo.layers[i].group, fgeo.layers[i].group);
        EXPECT_EQ(geo.layers[i].kind, fgeo.layers[i].kind);
    }
    const NetworkCost qc = network_cost(geo, stored);
    const NetworkCost fc_cost = network_cost(fgeo, stored);
    EXPECT_EQ(qc.flops_qcnn, fc_cost.flops_qcnn);
    EXPECT_EQ(qc.weight_bits_qcnn, fc_cost.weight_bits_qcnn);
    EXPECT_EQ(qc.quantized.peak_bytes, fc_cost.quantized.peak_bytes);

    Plan plan(*qnet, {{1, 2, 5, 5}});
    for (size_t i = 0; i < 2; ++i) {
        const Node& n = qnet->nodes[qnet->weight_layers()[i]];
        EXPECT_EQ(n.op->flops({&plan.info(n.inputs[0])}, {plan.info(n.outputs[0])}), qc.layers[i].flops_qcnn)
            << n.alias;
    }
}

// An FC applied to every row of {N, T, C_s} costs T times the per-vector formula.
TEST(CostModel, FcOverRows) {
    auto net = std::make_shared<Network>();
    int x = net->add_value(value("x", {-1, 5, 8}));
    int y = net->add_value(value("y", {}));
    net->inputs = {x};
    net->outputs = {y};
    net->nodes.push_back({"fc", "", std::make_shared<FcOp>(filled({6, 8}, 1.0f), std::vector<float>{}), {x}, {y}});
    net->assign_aliases();
    const auto layers = layer_geometry(*net, {5, 8});
    ASSERT_EQ(layers.size(), 1u);
    EXPECT_EQ(layers[0].h_s, 5);
    EXPECT_EQ(layers[0].h_t, 5);
    EXPECT_FALSE(layers[0].bias);
    const LayerCost c = layer_cost(layers[0], q(2, 4));
    EXPECT_EQ(c.flops_dense, 5 * 8 * 6);
    EXPECT_EQ(c.flops_qcnn, 5 * (8 * 4 + 6 * 4));
    EXPECT_EQ(c.weight_bits_qcnn, 32 * 8 * 4 + 2 * 6 * 4);  // storage does not depend on rows
    EXPECT_EQ(c.lut_bytes, 4 * 5 * 4 * 4);
    EXPECT_EQ(c.bias_bytes, 0);
}

TEST(CostModel, ChainGeometry) {
    const NetworkGeometry geo =
        chain_geometry({conv_layer("conv1", 3, 8, 10, 8, 3, 1), fc_layer("fc1", 512, 10)});
    ASSERT_EQ(geo.steps.size(), 2u);
    EXPECT_EQ(geo.steps[0].live_bytes, 4 * (300 + 512));
    EXPECT_EQ(geo.steps[1].live_bytes, 4 * (512 + 10));
    EXPECT_EQ(geo.steps[1].layer, 1);
}

}  // namespace
}  // namespace qcnn
