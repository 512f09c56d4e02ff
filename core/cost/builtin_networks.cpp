#include "core/cost/builtin_networks.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/ops/fc.h"
#include "core/ops/layout.h"
#include "core/ops/pool.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

// One node of an architecture description.
struct Stage {
    enum Kind { Conv, Relu, Pool, Flatten, Fc } kind;
    std::string name;
    int64_t out = 0;  // Conv: C_t; Fc: out features
    int64_t k = 0, stride = 1, pad = 0, group = 1;
};

struct Arch {
    Shape sample;
    std::vector<Stage> stages;
};

Stage conv(std::string name, int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t group = 1) {
    return {Stage::Conv, std::move(name), out, k, stride, pad, group};
}
Stage relu(std::string name) { return {Stage::Relu, std::move(name)}; }
Stage pool(std::string name, int64_t k, int64_t stride) { return {Stage::Pool, std::move(name), 0, k, stride}; }
Stage flatten() { return {Stage::Flatten, "flatten"}; }
Stage fc(std::string name, int64_t out) { return {Stage::Fc, std::move(name), out}; }

// fc6 (+ReLU), fc7 (+ReLU), fc8: the classifier all three networks share.
void add_classifier(std::vector<Stage>& s) {
    s.push_back(flatten());
    s.push_back(fc("fc6", 4096));
    s.push_back(relu("relu6"));
    s.push_back(fc("fc7", 4096));
    s.push_back(relu("relu7"));
    s.push_back(fc("fc8", 1000));
}

Arch alexnet() {
    Arch a{{3, 227, 227}, {}};
    auto& s = a.stages;
    s = {conv("conv1", 96, 11, 4, 0),     relu("relu1"), pool("pool1", 3, 2),
         conv("conv2", 256, 5, 1, 2, 2),  relu("relu2"), pool("pool2", 3, 2),
         conv("conv3", 384, 3, 1, 1),     relu("relu3"),
         conv("conv4", 384, 3, 1, 1, 2),  relu("relu4"),
         conv("conv5", 256, 3, 1, 1, 2),  relu("relu5"), pool("pool5", 3, 2)};
    add_classifier(s);
    return a;
}

Arch vgg16() {
    Arch a{{3, 224, 224}, {}};
    const std::vector<std::vector<int64_t>> blocks{{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512},
                                                   {512, 512, 512}};
    for (size_t b = 0; b < blocks.size(); ++b) {
        for (size_t i = 0; i < blocks[b].size(); ++i) {
            const std::string id = cat(b + 1, "_", i + 1);
            a.stages.push_back(conv("conv" + id, blocks[b][i], 3, 1, 1));
            a.stages.push_back(relu("relu" + id));
        }
        a.stages.push_back(pool(cat("pool", b + 1), 2, 2));
    }
    add_classifier(a.stages);
    return a;
}

Arch cnn_s() {
    Arch a{{3, 224, 224}, {}};
    auto& s = a.stages;
    s = {conv("conv1", 96, 7, 2, 0),  relu("relu1"), pool("pool1", 3, 3),
         conv("conv2", 256, 5, 1, 1), relu("relu2"), pool("pool2", 2, 2),
         conv("conv3", 512, 3, 1, 1), relu("relu3"),
         conv("conv4", 512, 3, 1, 1), relu("relu4"),
         conv("conv5", 512, 3, 1, 1), relu("relu5"), pool("pool5", 3, 3)};
    add_classifier(s);
    return a;
}

Arch arch(const std::string& name) {
    if (name == "alexnet") return alexnet();
    if (name == "vgg16") return vgg16();
    if (name == "cnn-s") return cnn_s();
    std::string known;
    for (const auto& n : builtin_names()) known += (known.empty() ? "" : ", ") + n;
    fail("unknown built-in network '", name, "' (known: ", known, ")");
}

ConvParams conv_params(const Stage& s) {
    ConvParams p;
    p.kernel_h = p.kernel_w = s.k;
    p.stride_h = p.stride_w = s.stride;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = s.pad;
    p.group = s.group;
    return p;
}

PoolParams pool_params(const Stage& s) {
    PoolParams p;
    p.kind = PoolKind::Max;
    p.kernel = {s.k, s.k};
    p.strides = {s.stride, s.stride};
    p.ceil_mode = true;
    return p;
}

// Input and output shape of every stage at batch 1, from the ops' own shape functions.
struct StageShapes {
    Shape in, out;
};

std::vector<StageShapes> stage_shapes(const Arch& a) {
    Shape x{1};
    x.insert(x.end(), a.sample.begin(), a.sample.end());
    std::vector<StageShapes> shapes;
    for (const Stage& s : a.stages) {
        Shape y;
        switch (s.kind) {
            case Stage::Conv: y = conv_output_shape(x, conv_params(s), {s.out, x[1] / s.group, s.k, s.k}); break;
            case Stage::Relu: y = x; break;
            case Stage::Pool: y = pool_output_shape(pool_params(s), x); break;
            case Stage::Flatten: y = {x[0], numel(x) / x[0]}; break;
            case Stage::Fc: y = {x[0], s.out}; break;
        }
        shapes.push_back({x, y});
        x = y;
    }
    return shapes;
}

bool is_weight_stage(const Stage& s) { return s.kind == Stage::Conv || s.kind == Stage::Fc; }

// {weight shape, fan_in} of a weight stage.
std::pair<Shape, int64_t> weight_shape(const Stage& s, const Shape& in) {
    if (s.kind == Stage::Conv) return {{s.out, in[1] / s.group, s.k, s.k}, in[1] / s.group * s.k * s.k};
    return {{s.out, in[1]}, in[1]};
}

int64_t weight_elems(const Arch& a) {
    const auto shapes = stage_shapes(a);
    int64_t total = 0;
    for (size_t i = 0; i < a.stages.size(); ++i)
        if (is_weight_stage(a.stages[i]))
            total += numel(weight_shape(a.stages[i], shapes[i].in).first) + a.stages[i].out;
    return total;
}

uint64_t splitmix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t derive_stream(uint64_t seed, uint64_t index) { return splitmix64(splitmix64(seed) ^ splitmix64(~index)); }

ValueDecl value(std::string name, Shape shape) {
    ValueDecl v;
    v.name = std::move(name);
    v.shape = std::move(shape);
    return v;
}

}  // namespace

std::vector<std::string> builtin_names() { return {"alexnet", "vgg16", "cnn-s"}; }

Shape builtin_sample_shape(const std::string& name) { return arch(name).sample; }

int64_t builtin_weight_elems(const std::string& name) { return weight_elems(arch(name)); }

NetworkGeometry builtin_geometry(const std::string& name) {
    const Arch a = arch(name);
    const auto shapes = stage_shapes(a);
    NetworkGeometry geo;
    int nconv = 0, nfc = 0;
    for (size_t i = 0; i < a.stages.size(); ++i) {
        const Stage& s = a.stages[i];
        const Shape& in = shapes[i].in;
        const Shape& out = shapes[i].out;
        int layer = -1;
        if (is_weight_stage(s)) {
            LayerGeometry g;
            g.name = s.name;
            g.c_s = in[1];
            g.c_t = out[1];
            if (s.kind == Stage::Conv) {
                g.kind = LayerKind::Conv;
                g.alias = cat("conv", ++nconv);
                g.h_s = in[2], g.w_s = in[3], g.h_t = out[2], g.w_t = out[3];
                g.k_h = g.k_w = s.k;
                g.group = s.group;
            } else {
                g.kind = LayerKind::Fc;
                g.alias = cat("fc", ++nfc);
            }
            layer = static_cast<int>(geo.layers.size());
            geo.layers.push_back(std::move(g));
        }
        // A chain: only this node's input and output are live while it runs.
        geo.steps.push_back({static_cast<int>(i), layer, 4 * (numel(in) + numel(out))});
    }
    return geo;
}

std::shared_ptr<Network> builtin_network(const std::string& name, uint64_t seed, int64_t max_weight_elems) {
    const Arch a = arch(name);
    const int64_t elems = weight_elems(a);
    if (elems > max_weight_elems)
        fail("built-in network '", name, "' has ", elems, " weights and biases, more than the allowed ",
             max_weight_elems);
    const auto shapes = stage_shapes(a);
    auto net = std::make_shared<Network>();
    net->source = "builtin:" + name;
    Shape in_decl{-1};
    in_decl.insert(in_decl.end(), a.sample.begin(), a.sample.end());
    int x = net->add_value(value("data", in_decl));
    net->inputs = {x};
    uint64_t layer = 0;
    for (size_t i = 0; i < a.stages.size(); ++i) {
        const Stage& s = a.stages[i];
        OpPtr op;
        if (is_weight_stage(s)) {
            auto [wshape, fan_in] = weight_shape(s, shapes[i].in);
            Tensor w(wshape);
            fill_he_normal(w.ptr(), w.size(), fan_in, derive_stream(seed, layer++));
            std::vector<float> b(s.out, 0.0f);
            if (s.kind == Stage::Conv)
                op = std::make_shared<ConvOp>(conv_params(s), std::move(w), std::move(b));
            else
                op = std::make_shared<FcOp>(std::move(w), std::move(b));
        } else if (s.kind == Stage::Relu) {
            op = std::make_shared<ActivationOp>(ActivationKind::Relu);
        } else if (s.kind == Stage::Pool) {
            op = std::make_shared<PoolOp>(pool_params(s));
        } else {
            op = std::make_shared<FlattenOp>(1);
        }
        Shape decl = shapes[i].out;
        decl[0] = -1;
        const int y = net->add_value(value(s.name, decl));
        net->nodes.push_back({s.name, "", std::move(op), {x}, {y}});
        x = y;
    }
    net->outputs = {x};
    net->assign_aliases();
    net->validate();
    return net;
}

void fill_he_normal(float* data, int64_t n, int64_t fan_in, uint64_t seed) {
    QCNN_ASSERT(n >= 0 && fan_in >= 1, "fill_he_normal: n=", n, " fan_in=", fan_in);
    constexpr int64_t kBlock = 32768;
    const float stddev = static_cast<float>(std::sqrt(2.0 / static_cast<double>(fan_in)));
    const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
        std::mt19937_64 rng(derive_stream(seed, static_cast<uint64_t>(b)));
        const int64_t end = std::min(n, (b + 1) * kBlock);
        for (int64_t i = b * kBlock; i < end; i += 2) {
            // Box-Muller on one 64-bit draw: u1 in (0, 1) from the top 24 bits, u2 in [0, 1) from
            // the next 24.
            const uint64_t r = rng();
            const float u1 = (static_cast<float>(r >> 40) + 0.5f) * 0x1.0p-24f;
            const float u2 = static_cast<float>((r >> 8) & 0xffffffULL) * 0x1.0p-24f;
            const float radius = stddev * std::sqrt(-2.0f * std::log(u1));
            const float angle = 2.0f * std::numbers::pi_v<float> * u2;
            data[i] = radius * std::cos(angle);
            if (i + 1 < end) data[i + 1] = radius * std::sin(angle);
        }
    }
}

}  // namespace qcnn
