// Small networks and datasets built in memory for the evaluation tests, with a plain
// reference forward pass (conv_reference, ReLU, fc_reference) to check the engine against.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/graph/network.h"
#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/ops/fc.h"
#include "core/ops/layout.h"

namespace qcnn::test {

inline Tensor random_tensor(Shape s, uint32_t seed, float scale = 1.0f) {
    Tensor t(std::move(s));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-scale, scale);
    for (float& v : t.data) v = u(rng);
    return t;
}

inline ValueDecl value(const std::string& name, Shape shape) {
    ValueDecl v;
    v.name = name;
    v.shape = std::move(shape);
    return v;
}

// x {N, C, H, W} -> Conv(conv_out, 3x3, pad 1) -> Relu -> Flatten -> Fc(classes).
// With conv_out == 0 the conv and relu are left out.
struct TestNet {
    std::shared_ptr<Network> net;
    ConvParams conv;
    Tensor conv_w, fc_w;
    std::vector<float> conv_b, fc_b;
    int conv_out = 0;

    // The plain reference logits {N, classes} for a batch.
    Tensor reference(const Tensor& x) const {
        Tensor h = x;
        if (conv_out > 0) {
            h = conv_reference(x, conv, conv_w, conv_b);
            for (float& v : h.data) v = std::max(v, 0.0f);
        }
        h.reshape({h.dim(0), h.size() / h.dim(0)});
        return fc_reference(h, fc_w, fc_b);
    }
};

inline TestNet make_test_net(const Shape& sample, int conv_out, int classes, uint32_t seed,
                             const std::string& source = "test-net.onnx") {
    TestNet t;
    t.conv_out = conv_out;
    auto net = std::make_shared<Network>();
    net->source = source;
    Shape in_shape{-1};
    in_shape.insert(in_shape.end(), sample.begin(), sample.end());
    int cur = net->add_value(value("input", in_shape));
    net->inputs = {cur};
    int64_t features = sample[0] * sample[1] * sample[2];
    if (conv_out > 0) {
        t.conv.kernel_h = t.conv.kernel_w = 3;
        t.conv.pad_top = t.conv.pad_left = t.conv.pad_bottom = t.conv.pad_right = 1;
        t.conv_w = random_tensor({conv_out, sample[0], 3, 3}, seed + 1, 0.5f);
        const Tensor cb = random_tensor({conv_out}, seed + 2, 0.1f);
        t.conv_b.assign(cb.data.begin(), cb.data.end());
        const int conv_y = net->add_value(value("conv_out", {}));
        net->nodes.push_back({"Conv_0", "", std::make_shared<ConvOp>(t.conv, t.conv_w, t.conv_b), {cur}, {conv_y}});
        const int relu_y = net->add_value(value("relu_out", {}));
        net->nodes.push_back({"Relu_1", "", std::make_shared<ActivationOp>(ActivationKind::Relu), {conv_y}, {relu_y}});
        cur = relu_y;
        features = conv_out * sample[1] * sample[2];
    }
    const int flat = net->add_value(value("flat", {}));
    net->nodes.push_back({"Flatten_2", "", std::make_shared<FlattenOp>(1), {cur}, {flat}});
    t.fc_w = random_tensor({classes, features}, seed + 3, 0.5f);
    const Tensor fb = random_tensor({classes}, seed + 4, 0.2f);
    t.fc_b.assign(fb.data.begin(), fb.data.end());
    const int logits = net->add_value(value("logits", {}));
    net->nodes.push_back({"Gemm_3", "", std::make_shared<FcOp>(t.fc_w, t.fc_b), {flat}, {logits}});
    net->outputs = {logits};
    net->assign_aliases();
    net->validate();
    t.net = net;
    return t;
}

// n random uint8 images of shape {c, h, w} with random labels in [0, classes).
inline SampleData random_samples(int64_t n, const Shape& chw, int classes, uint32_t seed) {
    SampleData d;
    d.pixels = SampleData::Pixels::u8;
    d.shape = {n, chw[0], chw[1], chw[2]};
    std::mt19937 rng(seed);
    d.u8.resize(static_cast<size_t>(n * chw[0] * chw[1] * chw[2]));
    for (auto& v : d.u8) v = static_cast<uint8_t>(rng() & 0xFF);
    for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int>(rng() % classes));
    d.num_classes = classes;
    for (int c = 0; c < classes; ++c) d.class_names.push_back("class" + std::to_string(c));
    d.description = "random test samples";
    return d;
}

}  // namespace qcnn::test
