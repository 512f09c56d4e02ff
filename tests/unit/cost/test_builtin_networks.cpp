// Built-in architectures: section 5's whole-AlexNet numbers, known layer sizes and parameter
// counts, geometry without weights == geometry of the built network, and the seeded weights.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/cost/builtin_networks.h"
#include "core/graph/plan.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

const LayerGeometry& find_layer(const NetworkGeometry& geo, const std::string& name) {
    for (const auto& l : geo.layers)
        if (l.name == name) return l;
    throw Error("no layer " + name);
}

QuantSetting q(int64_t dsub, int64_t k) { return QuantSetting::make_pq(dsub, k); }

// The reference code's AlexNet configuration: conv1 M=1 (C_s'=3), K=128; conv2-5 8/128;
// fc6, fc7 4/32; fc8 scalar (C_s'=1), K=16.
std::vector<QuantSetting> reference_alexnet_settings() {
    return {q(3, 128), q(8, 128), q(8, 128), q(8, 128), q(8, 128), q(4, 32), q(4, 32), q(1, 16)};
}

TEST(BuiltinNetworks, NamesAndInputs) {
    EXPECT_EQ(builtin_names(), (std::vector<std::string>{"alexnet", "vgg16", "cnn-s"}));
    EXPECT_EQ(builtin_sample_shape("alexnet"), (Shape{3, 227, 227}));
    EXPECT_EQ(builtin_sample_shape("vgg16"), (Shape{3, 224, 224}));
    EXPECT_EQ(builtin_sample_shape("cnn-s"), (Shape{3, 224, 224}));
    try {
        builtin_geometry("resnet50");
        FAIL() << "unknown name accepted";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("resnet50"), std::string::npos) << m;
        EXPECT_NE(m.find("alexnet, vgg16, cnn-s"), std::string::npos) << m;
    }
}

TEST(BuiltinNetworks, AlexNetGeometry) {
    const NetworkGeometry geo = builtin_geometry("alexnet");
    ASSERT_EQ(geo.layers.size(), 8u);
    struct Row {
        const char *name, *alias;
        int64_t c_s, c_t, d_s, d_t, d_k, group;
    };
    const Row rows[] = {{"conv1", "conv1", 3, 96, 227, 55, 11, 1},  {"conv2", "conv2", 96, 256, 27, 27, 5, 2},
                        {"conv3", "conv3", 256, 384, 13, 13, 3, 1}, {"conv4", "conv4", 384, 384, 13, 13, 3, 2},
                        {"conv5", "conv5", 384, 256, 13, 13, 3, 2}, {"fc6", "fc1", 9216, 4096, 1, 1, 1, 1},
                        {"fc7", "fc2", 4096, 4096, 1, 1, 1, 1},     {"fc8", "fc3", 4096, 1000, 1, 1, 1, 1}};
    for (size_t i = 0; i < 8; ++i) {
        const LayerGeometry& g = geo.layers[i];
        SCOPED_TRACE(g.name);
        EXPECT_EQ(g.name, rows[i].name);
        EXPECT_EQ(g.alias, rows[i].alias);
        EXPECT_EQ(g.kind, i < 5 ? LayerKind::Conv : LayerKind::Fc);
        EXPECT_EQ(g.c_s, rows[i].c_s);
        EXPECT_EQ(g.c_t, rows[i].c_t);
        EXPECT_EQ(g.h_s, rows[i].d_s);
        EXPECT_EQ(g.w_s, rows[i].d_s);
        EXPECT_EQ(g.h_t, rows[i].d_t);
        EXPECT_EQ(g.w_t, rows[i].d_t);
        EXPECT_EQ(g.k_h, rows[i].d_k);
        EXPECT_EQ(g.group, rows[i].group);
        EXPECT_TRUE(g.bias);
    }
    EXPECT_EQ(builtin_weight_elems("alexnet"), 60965224);  // Caffe's bvlc_alexnet
}

// Section 5: the reference code's whole-AlexNet configuration.
TEST(BuiltinNetworks, AlexNetReferenceConfiguration) {
    const NetworkGeometry geo = builtin_geometry("alexnet");
    const NetworkCost nc = network_cost(geo, reference_alexnet_settings());
    EXPECT_EQ(nc.flops_dense, 724406816);  // includes fc8 (4,096,000) and conv1 at d_s = 227
    EXPECT_EQ(nc.flops_qcnn, 174299872);
    EXPECT_EQ(std::round(nc.speedup() * 1000.0) / 1000.0, 4.156);
    EXPECT_EQ(nc.layers[0].flops_table, 227 * 227 * 3 * 128);
    EXPECT_EQ(nc.layers[7].flops_qcnn, 4096 * 16 + 1000 * 4096);

    // Weights only: 1,950,548,992 bits dense. With one codebook per subspace (the method's
    // 4*C_s*K bytes) the configuration compresses 18.24x; section 5's 18.54x needs grouped
    // layers to share their M_g codebooks across groups, as the reference code stores them.
    EXPECT_EQ(nc.weight_bits_dense, 1950548992);
    EXPECT_EQ(nc.weight_bits_qcnn, 106961824);
    EXPECT_EQ(std::round(nc.compression() * 100.0) / 100.0, 18.24);
    const NetworkCost shared = network_cost(geo, reference_alexnet_settings(), {GroupCodebooks::Shared, 1});
    EXPECT_EQ(shared.weight_bits_qcnn, 105192352);
    EXPECT_EQ(std::round(shared.compression() * 100.0) / 100.0, 18.54);
    EXPECT_EQ(shared.flops_qcnn, nc.flops_qcnn);

    // Biases (10,568 floats) on both sides.
    EXPECT_EQ(nc.bias_bytes, 4 * (96 + 256 + 384 + 384 + 256 + 4096 + 4096 + 1000));
    EXPECT_DOUBLE_EQ(nc.compression_with_biases(),
                     double(1950548992 + 32 * 10568) / double(106961824 + 32 * 10568));
}

// Memory report of the reference configuration, from the chain's liveness.
TEST(BuiltinNetworks, AlexNetMemoryReport) {
    const NetworkGeometry geo = builtin_geometry("alexnet");
    const NetworkCost nc = network_cost(geo, reference_alexnet_settings());
    // Peak activations: relu1 reads conv1's 96x55x55 output and writes a copy.
    EXPECT_EQ(nc.dense.activation_bytes, 4 * 2 * 96 * 55 * 55);
    EXPECT_EQ(nc.dense.weight_bytes, 1950548992 / 8);
    EXPECT_EQ(nc.dense.bias_bytes, 4 * 10568);
    EXPECT_EQ(nc.dense.peak_bytes, 1950548992 / 8 + 4 * 10568 + 4 * 2 * 96 * 55 * 55);
    // Largest LUT: conv1, 227*227 positions x M=1 x K=128 floats.
    EXPECT_EQ(nc.quantized.lut_bytes, 4 * 227 * 227 * 128);
    int64_t qbytes = 0;
    for (const auto& l : nc.layers) qbytes += (l.weight_bits_qcnn + 7) / 8;
    EXPECT_EQ(nc.quantized.weight_bytes, qbytes);
    // conv1's step: input 3x227x227 + output 96x55x55 + its LUT.
    EXPECT_EQ(nc.quantized.peak_bytes,
              qbytes + 4 * 10568 + 4 * (3 * 227 * 227 + 96 * 55 * 55) + 4 * 227 * 227 * 128);
    const NetworkCost b8 = network_cost(geo, reference_alexnet_settings(), {GroupCodebooks::PerGroup, 8});
    EXPECT_EQ(b8.quantized.lut_bytes, 8 * nc.quantized.lut_bytes);
    EXPECT_EQ(b8.dense.activation_bytes, 8 * nc.dense.activation_bytes);
}

TEST(BuiltinNetworks, Vgg16Geometry) {
    const NetworkGeometry geo = builtin_geometry("vgg16");
    ASSERT_EQ(geo.layers.size(), 16u);
    EXPECT_EQ(geo.layers[0].name, "conv1_1");
    EXPECT_EQ(geo.layers[0].h_s, 224);
    EXPECT_EQ(find_layer(geo, "conv5_3").h_s, 14);
    EXPECT_EQ(find_layer(geo, "conv5_3").c_s, 512);
    EXPECT_EQ(find_layer(geo, "fc6").c_s, 25088);
    EXPECT_EQ(find_layer(geo, "fc6").alias, "fc1");
    std::vector<QuantSetting> dense(16);
    EXPECT_EQ(network_cost(geo, dense).flops_dense, 15470264320);
    EXPECT_EQ(builtin_weight_elems("vgg16"), 138357544);
}

TEST(BuiltinNetworks, CnnSGeometry) {
    const NetworkGeometry geo = builtin_geometry("cnn-s");
    ASSERT_EQ(geo.layers.size(), 8u);
    const LayerGeometry& c1 = find_layer(geo, "conv1");
    EXPECT_EQ(c1.h_s, 224);
    EXPECT_EQ(c1.h_t, 109);
    const LayerGeometry& c2 = find_layer(geo, "conv2");  // after the 3x3 s3 ceil-mode pool
    EXPECT_EQ(c2.h_s, 37);
    EXPECT_EQ(c2.h_t, 35);
    EXPECT_EQ(c2.c_s, 96);
    for (const char* name : {"conv3", "conv4", "conv5"}) {
        EXPECT_EQ(find_layer(geo, name).h_s, 18) << name;
        EXPECT_EQ(find_layer(geo, name).h_t, 18) << name;
    }
    EXPECT_EQ(find_layer(geo, "fc6").c_s, 18432);
    std::vector<QuantSetting> dense(8);
    const int64_t flops = 109LL * 109 * 96 * 49 * 3 + 35LL * 35 * 256 * 25 * 96 + 18LL * 18 * 512 * 9 * 256 +
                          2 * 18LL * 18 * 512 * 9 * 512 + 18432LL * 4096 + 4096LL * 4096 + 4096LL * 1000;
    EXPECT_EQ(network_cost(geo, dense).flops_dense, flops);
    EXPECT_EQ(builtin_weight_elems("cnn-s"), 102908520);
}

TEST(BuiltinNetworks, WeightLimitIsCheckedBeforeBuilding) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
        builtin_network("vgg16", 1, 1000000);
        FAIL() << "138M weights accepted under a 1M limit";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("138357544"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.1);
    EXPECT_THROW(builtin_network("lenet", 1), Error);
}

// The built AlexNet plans to exactly the geometry computed without weights, runs, and has
// He-normal weights drawn per layer.
TEST(BuiltinNetworks, BuiltAlexNetMatchesItsGeometry) {
    const uint64_t seed = 20160627;
    auto net = builtin_network("alexnet", seed, builtin_weight_elems("alexnet"));
    const NetworkGeometry built = network_geometry(*net, builtin_sample_shape("alexnet"));
    const NetworkGeometry desc = builtin_geometry("alexnet");
    ASSERT_EQ(built.layers.size(), desc.layers.size());
    for (size_t i = 0; i < desc.layers.size(); ++i) {
        const LayerGeometry &a = built.layers[i], &b = desc.layers[i];
        SCOPED_TRACE(b.name);
        EXPECT_EQ(a.name, b.name);
        EXPECT_EQ(a.alias, b.alias);
        EXPECT_EQ(a.kind, b.kind);
        EXPECT_EQ(a.c_s, b.c_s);
        EXPECT_EQ(a.c_t, b.c_t);
        EXPECT_EQ(a.h_s, b.h_s);
        EXPECT_EQ(a.w_s, b.w_s);
        EXPECT_EQ(a.h_t, b.h_t);
        EXPECT_EQ(a.w_t, b.w_t);
        EXPECT_EQ(a.k_h, b.k_h);
        EXPECT_EQ(a.k_w, b.k_w);
        EXPECT_EQ(a.group, b.group);
        EXPECT_EQ(a.bias, b.bias);
    }
    ASSERT_EQ(built.steps.size(), desc.steps.size());
    for (size_t s = 0; s < desc.steps.size(); ++s) {
        EXPECT_EQ(built.steps[s].node, desc.steps[s].node) << "step " << s;
        EXPECT_EQ(built.steps[s].layer, desc.steps[s].layer) << "step " << s;
        EXPECT_EQ(built.steps[s].live_bytes, desc.steps[s].live_bytes) << "step " << s;
    }

    // Dense FLOPs agree with the ops' own counts.
    Plan plan(*net, {{1, 3, 227, 227}});
    int64_t op_flops = 0;
    for (int ni : net->weight_layers()) {
        const Node& n = net->nodes[ni];
        op_flops += n.op->flops({&plan.info(n.inputs[0])}, {plan.info(n.outputs[0])});
    }
    EXPECT_EQ(op_flops, 724406816);

    // He-normal statistics of fc6 (37.7M samples): std sqrt(2/9216), mean 0.
    const Node& fc6 = net->nodes[net->find_node("fc6")];
    const auto* op = dynamic_cast<const FcOp*>(fc6.op.get());
    ASSERT_NE(op, nullptr);
    double sum = 0, sq = 0;
    for (float v : op->weight().data) {
        sum += v;
        sq += double(v) * v;
    }
    const double n = double(op->weight().size());
    const double expected_std = std::sqrt(2.0 / 9216.0);
    EXPECT_NEAR(sum / n, 0.0, 1e-3 * expected_std);
    EXPECT_NEAR(std::sqrt(sq / n) / expected_std, 1.0, 1e-3);
    for (float b : op->bias()) ASSERT_EQ(b, 0.0f);

    // A forward pass at batch 1 gives finite, non-constant logits.
    {
    Engine engine(net, 0);
    Tensor x({1, 3, 227, 227});
    for (int64_t i = 0; i < x.size(); ++i) x.data[i] = float((i * 7919) % 255) / 255.0f - 0.5f;
    const Tensor& y = engine.forward(x);
    ASSERT_EQ(y.shape, (Shape{1, 1000}));
    float lo = y.data[0], hi = y.data[0];
    for (float v : y.data) {
        ASSERT_TRUE(std::isfinite(v));
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    EXPECT_LT(lo, hi);
    }

    // Every layer draws its own stream: conv4 and conv5 (same fan-in) differ.
    const auto* conv4 = dynamic_cast<const ConvOp*>(net->nodes[net->find_node("conv4")].op.get());
    const auto* conv5 = dynamic_cast<const ConvOp*>(net->nodes[net->find_node("conv5")].op.get());
    ASSERT_TRUE(conv4 && conv5);
    int64_t same = 0;
    for (int64_t i = 0; i < conv5->weight().size(); ++i) same += conv4->weight().data[i] == conv5->weight().data[i];
    EXPECT_LT(same, 10);
}

TEST(HeNormal, DeterministicForAnyThreadCount) {
    const int64_t n = 100003;  // several blocks and an odd tail
    std::vector<float> a(n), b(n), c(n);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    fill_he_normal(a.data(), n, 50, 42);
    omp_set_num_threads(2);
    fill_he_normal(b.data(), n, 50, 42);
    omp_set_num_threads(saved);
    EXPECT_EQ(a, b);
    fill_he_normal(c.data(), n, 50, 43);
    int64_t same = 0;
    for (int64_t i = 0; i < n; ++i) same += a[i] == c[i];
    EXPECT_LT(same, 10);
}

TEST(HeNormal, IsNormalWithHeVariance) {
    const int64_t n = 400000;
    const int64_t fan_in = 8;
    std::vector<float> v(n);
    fill_he_normal(v.data(), n, fan_in, 7);
    const double sd = std::sqrt(2.0 / fan_in);
    double sum = 0, sq = 0;
    int64_t within1 = 0, within2 = 0;
    for (float x : v) {
        sum += x;
        sq += double(x) * x;
        within1 += std::abs(x) < sd;
        within2 += std::abs(x) < 2 * sd;
    }
    // Standard errors: mean sd/632, variance ratio ~0.0022, fractions ~0.0007 / 0.0004.
    EXPECT_NEAR(sum / n / sd, 0.0, 0.01);
    EXPECT_NEAR(sq / n / (sd * sd), 1.0, 0.01);
    EXPECT_NEAR(double(within1) / n, 0.682689, 0.004);
    EXPECT_NEAR(double(within2) / n, 0.954500, 0.003);
}

}  // namespace
}  // namespace qcnn
