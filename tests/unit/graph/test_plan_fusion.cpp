// Activation fusion in the inference Plan (PlanOptions::fuse_activations, core/graph/plan.h):
// a Relu / Clip / LeakyRelu fused into the Conv / FC / QConv / QFc before it gives the unfused
// graph's logits (the reference twin), the activation node stops running, and an activation
// whose input is read elsewhere (a residual branch), kept or a graph output is not fused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "core/graph/plan.h"
#include "core/io/onnx_import.h"
#include "core/ops/conv.h"
#include "core/ops/conv_direct.h"
#include "core/ops/elementwise.h"
#include "core/ops/fc.h"
#include "core/ops/pool.h"
#include "core/quant/bitpack.h"
#include "core/quant/product_quantizer.h"
#include "core/quant/quantized_ops.h"
#include "core/quant/weight_layer_factory.h"
#include "../quant/quant_test_util.h"

namespace qcnn {
namespace {

using testutil::random_tensor;

// Normal codebooks; codes (i * 7 + seed) mod K, so every code value is used in every layer.
PQWeights random_pq(LayerKind kind, const Shape& weight_shape, int64_t groups, PQConfig cfg, uint64_t seed) {
    PQWeights q{pq_geometry(kind, weight_shape, groups, cfg, "test"), {}, {}};
    q.codebooks = testutil::as_vector(random_tensor({q.geo.subspaces() * q.geo.K * q.geo.dsub}, seed));
    std::vector<uint8_t> codes(q.geo.num_codes());
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>((i * 7 + seed) % q.geo.K);
    q.codes = pack_codes(codes, q.geo.bits());
    return q;
}

std::vector<float> random_bias(int64_t n, uint64_t seed) { return testutil::as_vector(random_tensor({n}, seed)); }

// Builds x -> layer -> activation (-> extra nodes) networks by hand.
struct Builder {
    Network net;
    int value(const std::string& name, Shape shape = {}) {
        ValueDecl d;
        d.name = name;
        d.shape = std::move(shape);
        return net.add_value(d);
    }
    int constant(const std::string& name, float v) {
        ValueDecl d;
        d.name = name;
        d.init_f = std::make_shared<const Tensor>(Shape{}, v);
        return net.add_value(d);
    }
    int node(const std::string& name, OpPtr op, std::vector<int> in) {
        const int out = value(name + "_out");
        net.nodes.push_back(Node{name, {}, std::move(op), std::move(in), {out}});
        return out;
    }
};

float max_abs(const Tensor& t) {
    float m = 0;
    for (float v : t.data) m = std::max(m, std::fabs(v));
    return m;
}

// Fused and unfused runs of `net` on x; returns the fused plan's node indices that carry a
// post-op (for the caller's checks) and expects the outputs to agree.
struct FusionRun {
    std::vector<int> fused_nodes;
    std::vector<int> pooling_nodes;  // nodes that write a fused 2x2 max pool
    std::vector<int> runtime_nodes;
    double max_diff = 0;
    float max_y = 0;
};

FusionRun run_both(const Network& net, const Tensor& x, int threads, const std::vector<int>& keep = {}) {
    Plan ref(net, {x.shape}, keep);
    Plan fused(net, {x.shape}, keep, PlanOptions{.fuse_activations = true});
    const ExecContext ctx{threads};
    ref.run({&x}, ctx);
    // Run twice: the second pass reuses slots the first one left holding other values.
    fused.run({&x}, ctx);
    fused.run({&x}, ctx);
    FusionRun r;
    for (size_t ni = 0; ni < net.nodes.size(); ++ni)
    {
        if (fused.fused_post_op(static_cast<int>(ni))) r.fused_nodes.push_back(static_cast<int>(ni));
        if (fused.fused_max_pool(static_cast<int>(ni))) r.pooling_nodes.push_back(static_cast<int>(ni));
    }
    r.runtime_nodes = fused.runtime_nodes();
    for (size_t o = 0; o < ref.num_outputs(); ++o) {
        const Tensor& a = ref.output(o);
        const Tensor& b = fused.output(o);
        EXPECT_EQ(a.shape, b.shape);
        for (int64_t i = 0; i < a.size(); ++i) {
            EXPECT_FALSE(std::isnan(b.data[i])) << "output " << o << " element " << i;
            r.max_diff = std::max(r.max_diff, std::fabs(static_cast<double>(a.data[i]) - b.data[i]));
        }
        r.max_y = std::max(r.max_y, max_abs(a));
    }
    return r;
}

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

struct Activation {
    std::string name;
    std::function<OpPtr()> op;
    bool constant_bounds = false;  // Clip with min/max as constant inputs
};

std::vector<Activation> activations() {
    return {
        {"Relu", [] { return std::make_shared<ActivationOp>(ActivationKind::Relu); }},
        {"LeakyRelu", [] { return std::make_shared<ActivationOp>(ActivationKind::LeakyRelu, 0.1f); }},
        {"ClipAttr", [] { return std::make_shared<ClipOp>(-0.5f, 0.7f); }},
        {"ClipInputs", [] { return std::make_shared<ClipOp>(); }, true},
    };
}

// x -> layer -> activation -> output.
Network chain(OpPtr layer, const Activation& act) {
    Builder b;
    const int x = b.value("x", {-1, -1, -1, -1});
    b.net.inputs = {x};
    const int v = b.node("layer", std::move(layer), {x});
    std::vector<int> in{v};
    if (act.constant_bounds) {
        in.push_back(b.constant("lo", -0.25f));
        in.push_back(b.constant("hi", 0.5f));
    }
    b.net.outputs = {b.node("act", act.op(), in)};
    return b.net;
}

struct ConvCase {
    int64_t n, cin, cout, h, w, k, stride, pad, group;
};

// Shapes chosen to break tiles: odd sizes, 15-17 / 31-33 channels, strides, groups, 1x1.
const ConvCase kConvCases[] = {
    {1, 3, 5, 7, 9, 3, 1, 1, 1},     {2, 16, 17, 15, 13, 3, 2, 1, 1}, {1, 32, 33, 17, 17, 1, 1, 0, 1},
    {3, 8, 16, 9, 11, 5, 2, 2, 2},   {1, 16, 31, 33, 31, 3, 1, 1, 1}, {2, 64, 65, 7, 7, 1, 2, 0, 1},
};

TEST(PlanFusion, ConvAndQConvWithEveryActivationMatchTheUnfusedGraph) {
    for (const auto backend : {ConvBackend::OneDnn, ConvBackend::Im2col}) {
        set_conv_backend(backend);
        for (const ConvCase& c : kConvCases)
            for (const Activation& act : activations())
                for (int threads : {1, 2})
                    for (int quantized = 0; quantized < 2; ++quantized) {
                        const uint64_t seed = static_cast<uint64_t>(c.cin * 131 + c.cout * 7 + c.h);
                        ConvParams p;
                        p.kernel_h = p.kernel_w = c.k;
                        p.stride_h = p.stride_w = c.stride;
                        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = c.pad;
                        p.group = c.group;
                        const Shape ws{c.cout, c.cin / c.group, c.k, c.k};
                        OpPtr layer;
                        if (quantized) {
                            if ((c.cin / c.group) % 4 != 0 || c.cout % c.group != 0) continue;
                            layer = std::make_shared<QConvOp>(
                                p, random_pq(LayerKind::Conv, ws, c.group, PQConfig{4, 16}, seed), random_bias(c.cout, seed + 2));
                        } else {
                            layer = std::make_shared<ConvOp>(p, random_tensor(ws, seed), random_bias(c.cout, seed + 2));
                        }
                        const Network net = chain(layer, act);
                        const Tensor x = random_tensor({c.n, c.cin, c.h, c.w}, seed + 3);
                        const FusionRun r = run_both(net, x, threads);
                        const std::string what = std::string(quantized ? "QConv" : "Conv") + " " + act.name + " cin " +
                                                 std::to_string(c.cin) + " cout " + std::to_string(c.cout) + " h " +
                                                 std::to_string(c.h) + " threads " + std::to_string(threads) +
                                                 " backend " + std::to_string(static_cast<int>(backend)) + " seed " +
                                                 std::to_string(seed);
                        EXPECT_EQ(r.fused_nodes, std::vector<int>{0}) << what;
                        EXPECT_EQ(r.runtime_nodes, std::vector<int>{0}) << what;
                        // The same arithmetic before the activation: only float reassociation
                        // inside a fused oneDNN kernel may differ.
                        EXPECT_LE(r.max_diff, 1e-5 * std::max(1.0f, r.max_y)) << what;
                    }
    }
    set_conv_backend(ConvBackend::OneDnn);
}

TEST(PlanFusion, FcAndQFcWithEveryActivationMatchTheUnfusedGraph) {
    const int64_t shapes[][3] = {{1, 4, 1}, {3, 16, 17}, {1, 64, 33}, {5, 128, 65}, {2, 256, 1000}};
    for (const auto& s : shapes)
        for (const Activation& act : activations())
            for (int threads : {1, 2})
                for (int quantized = 0; quantized < 2; ++quantized) {
                    const int64_t rows = s[0], cs = s[1], ct = s[2];
                    const uint64_t seed = static_cast<uint64_t>(cs * 31 + ct);
                    OpPtr layer =
                        quantized ? OpPtr(std::make_shared<QFcOp>(random_pq(LayerKind::Fc, {ct, cs}, 1, PQConfig{4, 16}, seed),
                                                                  random_bias(ct, seed + 2)))
                                  : OpPtr(std::make_shared<FcOp>(random_tensor({ct, cs}, seed), random_bias(ct, seed + 2)));
                    Network net = chain(layer, act);
                    net.values[net.inputs[0]].shape = {-1, -1};
                    const Tensor x = random_tensor({rows, cs}, seed + 3);
                    const FusionRun r = run_both(net, x, threads);
                    const std::string what = std::string(quantized ? "QFc" : "Fc") + " " + act.name + " " +
                                             std::to_string(cs) + "->" + std::to_string(ct) + " rows " +
                                             std::to_string(rows) + " threads " + std::to_string(threads);
                    EXPECT_EQ(r.fused_nodes, std::vector<int>{0}) << what;
                    EXPECT_EQ(r.max_diff, 0.0) << what;  // the same expression on the same values
                }
}

// conv -> v; relu(v) -> r; add(r, v): the conv output is also read by the residual add.
TEST(PlanFusion, ActivationWhoseInputIsReadElsewhereIsNotFused) {
    ConvParams p;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    Builder b;
    const int x = b.value("x", {-1, 8, -1, -1});
    b.net.inputs = {x};
    const int v = b.node("conv", std::make_shared<ConvOp>(p, random_tensor({8, 8, 3, 3}, 1), random_bias(8, 2)), {x});
    const int r = b.node("relu", std::make_shared<ActivationOp>(ActivationKind::Relu), {v});
    const int sum = b.node("add", std::make_shared<BinaryOp>(BinaryKind::Add), {r, v});
    // A second branch that is fusable, so the test sees the pass run at all.
    const int v2 = b.node("conv2", std::make_shared<ConvOp>(p, random_tensor({8, 8, 3, 3}, 3), random_bias(8, 4)), {sum});
    b.net.outputs = {b.node("relu2", std::make_shared<ActivationOp>(ActivationKind::Relu), {v2})};
    const Tensor in = random_tensor({2, 8, 11, 9}, 5);
    const FusionRun run = run_both(b.net, in, 1);
    EXPECT_EQ(run.fused_nodes, std::vector<int>{3});  // conv2 only
    EXPECT_TRUE(contains(run.runtime_nodes, 1)) << "the residual branch's relu must run";
    EXPECT_FALSE(contains(run.runtime_nodes, 4));
    EXPECT_LE(run.max_diff, 1e-5 * std::max(1.0f, run.max_y));

    // Kept (calibration reads it) or a graph output: not fused either.
    Network kept = b.net;
    const FusionRun k = run_both(kept, in, 1, {v2});
    EXPECT_TRUE(k.fused_nodes.empty());
    Network out = b.net;
    out.outputs.push_back(v2);
    const FusionRun o = run_both(out, in, 1);
    EXPECT_TRUE(o.fused_nodes.empty());
    EXPECT_EQ(o.max_diff, 0.0);
}

// A residual block's activation after its Add (x -> conv -> Add(conv, x) -> act) is applied by
// the Add as it writes; so is one after a broadcast Add (a per-channel vector). Same bits as
// the unfused graph, on 1 and 2 threads, for every fusable activation.
TEST(PlanFusion, ActivationAfterAnAddIsFusedIntoItWithTheSameBits) {
    ConvParams p;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    for (const Activation& act : activations())
        for (bool broadcast : {false, true})
            for (int threads : {1, 2}) {
                Builder b;
                const int x = b.value("x", {-1, 8, -1, -1});
                b.net.inputs = {x};
                const int v = b.node("conv", std::make_shared<ConvOp>(p, random_tensor({8, 8, 3, 3}, 1), random_bias(8, 2)), {x});
                int other = x;
                if (broadcast) {
                    ValueDecl d;
                    d.name = "per_channel";
                    d.init_f = std::make_shared<const Tensor>(random_tensor({1, 8, 1, 1}, 9));
                    other = b.net.add_value(d);
                }
                const int sum = b.node("add", std::make_shared<BinaryOp>(BinaryKind::Add), {v, other});
                std::vector<int> in{sum};
                if (act.constant_bounds) {
                    in.push_back(b.constant("lo", -0.25f));
                    in.push_back(b.constant("hi", 0.5f));
                }
                b.net.outputs = {b.node("act", act.op(), in)};
                const FusionRun run = run_both(b.net, random_tensor({2, 8, 37, 29}, 5), threads);
                EXPECT_TRUE(contains(run.fused_nodes, 1)) << act.name << " broadcast " << broadcast;
                EXPECT_FALSE(contains(run.runtime_nodes, 2)) << act.name << ": the activation must not run";
                EXPECT_EQ(run.max_diff, 0.0) << act.name << " broadcast " << broadcast << " threads " << threads;
            }
}

// Clip whose bounds are computed at run time stays a node of its own.
TEST(PlanFusion, ClipWithRunTimeBoundsIsNotFused) {
    Builder b;
    const int x = b.value("x", {-1, 16});
    const int lo = b.value("lo", {});
    b.net.inputs = {x, lo};
    const int v = b.node("fc", std::make_shared<FcOp>(random_tensor({8, 16}, 1), random_bias(8, 2)), {x});
    b.net.outputs = {b.node("clip", std::make_shared<ClipOp>(), {v, lo})};
    const Tensor in = random_tensor({2, 16}, 3);
    const Tensor bound(Shape{}, -0.1f);
    Plan fused(b.net, {in.shape, bound.shape}, {}, PlanOptions{.fuse_activations = true});
    fused.run({&in, &bound}, ExecContext{1});
    EXPECT_FALSE(fused.fused_post_op(0));
    EXPECT_EQ(fused.runtime_nodes(), (std::vector<int>{0, 1}));
}

OpPtr max_pool(std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> pads = {}) {
    PoolParams p;
    p.kernel = std::move(k);
    p.strides = std::move(s);
    p.pads = std::move(pads);
    return std::make_shared<PoolOp>(p);
}

// Runs `net` on `in` with the unfused and the fused plan (the fused one twice: the second
// pass reuses slots the first left holding other values), expects the same output bits, and
// returns the fused plan for the caller's checks.
std::unique_ptr<Plan> expect_fused_bits(const Network& net, const Tensor& in, const ExecContext& ctx,
                                        const std::string& what) {
    Plan ref(net, {in.shape});
    auto fused = std::make_unique<Plan>(net, std::vector<Shape>{in.shape}, std::vector<int>{},
                                        PlanOptions{.fuse_activations = true});
    ref.run({&in}, ctx);
    fused->run({&in}, ctx);
    fused->run({&in}, ctx);
    const Tensor& r = ref.output(0);
    const Tensor& f = fused->output(0);
    EXPECT_EQ(r.shape, f.shape) << what;
    if (r.shape == f.shape) {
        EXPECT_EQ(0, std::memcmp(r.ptr(), f.ptr(), sizeof(float) * r.size())) << what;
    }
    return fused;
}

// x -> conv (3 input channels) [-> relu] -> MaxPool 2x2 s2 (-> relu), odd and even sizes: the
// conv writes the pooled map (the MaxPool node stops running) with the unfused graph's bits.
// On the im2col backend (and in builds without oneDNN, where it is the only one) the unfused
// conv is a GEMM whose sums differ from the direct kernel's, so nothing is fused there.
TEST(PlanFusion, ConvThenMaxPoolFusesAndMatchesTheUnfusedGraph) {
    ConvParams p;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    const ConvBackend before = conv_backend();
    for (ConvBackend backend : {ConvBackend::OneDnn, ConvBackend::Im2col})
        for (const Shape& xs : {Shape{1, 3, 11, 14}, Shape{2, 3, 8, 9}})
            for (bool relu : {true, false})
                for (int threads : {1, 2}) {
                    set_conv_backend(backend);
                    const bool direct = conv_backend() == ConvBackend::OneDnn && conv_direct_applies(p, 3);
                    Builder b;
                    const int x = b.value("x", {-1, -1, -1, -1});
                    b.net.inputs = {x};
                    auto conv = std::make_shared<ConvOp>(p, random_tensor({6, 3, 3, 3}, 11), random_bias(6, 12));
                    EXPECT_EQ(conv->runs_direct(), direct);
                    int v = b.node("conv", conv, {x});
                    if (relu) v = b.node("relu", std::make_shared<ActivationOp>(ActivationKind::Relu), {v});
                    b.net.outputs = {b.node("pool", max_pool({2, 2}, {2, 2}), {v})};
                    const Tensor in = random_tensor(xs, 13);
                    const std::string what = to_string(xs) + (relu ? " relu" : "") + " threads " +
                                             std::to_string(threads) + (direct ? " direct" : " im2col");
                    const auto fused = expect_fused_bits(b.net, in, ExecContext{threads}, what);
                    EXPECT_EQ(fused->fused_max_pool(0), direct) << what;
                    if (direct) {
                        EXPECT_EQ(fused->runtime_nodes(), std::vector<int>{0}) << what;
                    }
                }
    set_conv_backend(before);
}

// x -> QConv -> LeakyRelu -> MaxPool 2x2 s2: the quantized layer pools inside its tiles with
// the fast kernel, and after the whole map with the float reference tables; both give the
// unfused graph's bits.
TEST(PlanFusion, QConvThenMaxPoolFusesAndMatchesTheUnfusedGraph) {
    ConvParams p;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    p.kernel_h = p.kernel_w = 3;
    const auto layer = std::make_shared<QConvOp>(p, random_pq(LayerKind::Conv, {20, 16, 3, 3}, 1, PQConfig{4, 16}, 31),
                                                 random_bias(20, 32));
    Builder b;
    const int x = b.value("x", {-1, -1, -1, -1});
    b.net.inputs = {x};
    const int v = b.node("qconv", layer, {x});
    const int a = b.node("act", std::make_shared<ActivationOp>(ActivationKind::LeakyRelu, 0.1f), {v});
    b.net.outputs = {b.node("pool", max_pool({2, 2}, {2, 2}), {a})};
    for (const Shape& xs : {Shape{1, 16, 30, 41}, Shape{2, 16, 9, 8}})
        for (LutKernel k : {LutKernel::Fast, LutKernel::Reference})
            for (int threads : {1, 2}) {
                const Tensor in = random_tensor(xs, 33);
                ExecContext ctx{threads};
                ctx.lut_kernel = k;
                const std::string what = to_string(xs) + (k == LutKernel::Fast ? " fast" : " reference") + " threads " +
                                         std::to_string(threads);
                const auto fused = expect_fused_bits(b.net, in, ctx, what);
                EXPECT_TRUE(fused->fused_max_pool(0)) << what;
                EXPECT_EQ(fused->runtime_nodes(), std::vector<int>{0}) << what;
            }
}

// Pools that are not 2x2 stride 2 without padding, a conv the direct kernel does not run
// (8 input channels), and a conv output also read elsewhere stay unfused.
TEST(PlanFusion, OtherPoolsAndLayersAreNotFusedWithTheirMaxPool) {
    struct Case {
        std::string what;
        OpPtr pool;
        int64_t cin;
        bool second_reader;
    };
    const Case cases[] = {
        {"3x3 s2", max_pool({3, 3}, {2, 2}), 3, false},
        {"2x2 s1", max_pool({2, 2}, {1, 1}), 3, false},
        {"2x2 s2 padded", max_pool({2, 2}, {2, 2}, {1, 1, 1, 1}), 3, false},
        {"8 input channels", max_pool({2, 2}, {2, 2}), 8, false},
        {"conv output read twice", max_pool({2, 2}, {2, 2}), 3, true},
    };
    for (const Case& c : cases) {
        Builder b;
        const int x = b.value("x", {-1, -1, -1, -1});
        b.net.inputs = {x};
        const int v =
            b.node("conv", std::make_shared<ConvOp>(ConvParams{}, random_tensor({4, c.cin, 1, 1}, 21), random_bias(4, 22)), {x});
        b.net.outputs = {b.node("pool", c.pool, {v})};
        if (c.second_reader) b.net.outputs.push_back(b.node("relu", std::make_shared<ActivationOp>(ActivationKind::Relu), {v}));
        const Tensor in = random_tensor({1, c.cin, 6, 6}, 23);
        const auto fused = expect_fused_bits(b.net, in, ExecContext{1}, c.what);
        EXPECT_FALSE(fused->fused_max_pool(0)) << c.what;
        EXPECT_TRUE(contains(fused->runtime_nodes(), 1)) << c.what << ": the MaxPool must run";
    }
}

// The bundled networks, float and with every layer that fits C_s' = 4 quantized (random
// codebooks), through the Engine (fusion on) against the unfused Engine.
TEST(PlanFusion, BundledNetworksFusedEqualUnfused) {
    for (const std::string name : {"lenet5", "vgg7", "resnet8"}) {
        const Network net = import_onnx(std::string(QCNN_DATASETS_DIR) + "/" + name + ".onnx");
        Network q = net;
        int quantized = 0;
        for (int ni : q.weight_layers()) {
            const WeightLayer w = *q.nodes[ni].op->as_weight_layer();
            if (w.group_in_channels() % 4 != 0) continue;
            const PQWeights pq = random_pq(w.kind, w.weight_shape(), w.groups, PQConfig{4, 16}, 100 + ni);
            q.nodes[ni].op = make_quantized_layer(w, pq, w.bias);
            ++quantized;
        }
        EXPECT_GT(quantized, 0) << name;
        Shape s = net.sample_shape();
        s.insert(s.begin(), 3);
        const Tensor x = random_tensor(s, 7);
        for (const Network* n : std::vector<const Network*>{&net, &q})
            for (int threads : {1, 2}) {
                const std::string what = name + (n == &q ? " quantized" : " float") + " threads " + std::to_string(threads);
                const FusionRun r = run_both(*n, x, threads);
                EXPECT_FALSE(r.fused_nodes.empty()) << what;
                // LeNet-5: conv1 (1 channel, float) -> relu -> 2x2 max pool is pooled by the direct
                // kernel; conv2 -> relu -> 2x2 max pool by its QConv once quantized.
                if (name == "lenet5") {
                    const size_t direct =
                        conv_backend() == ConvBackend::OneDnn && conv_direct_applies(ConvParams{}, 1) ? 1 : 0;
                    EXPECT_EQ(r.pooling_nodes.size(), direct + (n == &q ? 1 : 0)) << what;
                }
                if (name == "vgg7" && n == &q) {
                    EXPECT_EQ(r.pooling_nodes.size(), 3u) << what;  // its three conv -> relu -> pool stages
                }
                EXPECT_LE(r.max_diff, 1e-4 * std::max(1.0f, r.max_y)) << what;
                auto shared = std::make_shared<const Network>(*n);
                Engine fused(shared, threads), plain(shared, threads);
                plain.set_fuse_activations(false);
                EXPECT_TRUE(fused.fuse_activations());
                const Tensor a = plain.forward(x);
                const Tensor c = fused.forward(x);
                ASSERT_EQ(a.shape, c.shape) << what;
                for (int64_t i = 0; i < a.size(); ++i)
                    EXPECT_NEAR(a.data[i], c.data[i], 1e-4 * std::max(1.0f, max_abs(a))) << what << " logit " << i;
            }
    }
}

}  // namespace
}  // namespace qcnn
