#include "core/quant/quantize_network.h"

#include <chrono>
#include <cmath>
#include <memory>

#include "core/quant/calibration.h"
#include "core/quant/error_correction.h"
#include "core/quant/weight_layer_factory.h"
#include "core/quant/random.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qcnn {

std::string to_string(EcMode mode) {
    switch (mode) {
        case EcMode::None: return "none";
        case EcMode::Layer: return "layer";
        case EcMode::Network: return "network";
    }
    QCNN_ASSERT(false, "unknown EcMode ", static_cast<int>(mode));
    return {};
}

EcMode parse_ec_mode(const std::string& text) {
    for (EcMode m : {EcMode::None, EcMode::Layer, EcMode::Network})
        if (text == to_string(m)) return m;
    fail("error correction mode '", text, "': expected none, layer or network");
}

namespace {

QuantizedNetwork quantize_impl(const Network& net, const ResolvedSettings& resolved, const QuantizeOptions& opt,
                               const Tensor* calibration, const ProgressFn& progress) {
    if (opt.ec != EcMode::None) {
        if (!calibration)
            fail(net.source, ": error correction (ec ", to_string(opt.ec), ") needs calibration images");
        if (calibration->rank() < 2 || calibration->shape[0] < 1)
            fail(net.source, ": error correction needs a non-empty batch of calibration images {N, ...}, got ",
                 to_string(calibration->shape));
        if (opt.ec_conv_images < 1 || opt.ec_fc_images < 1)
            fail(net.source, ": error correction needs at least 1 calibration image per conv and FC layer, got ",
                 opt.ec_conv_images, " and ", opt.ec_fc_images);
        if (opt.ec_positions < 0) fail(net.source, ": ec positions per image must be >= 0, got ", opt.ec_positions);
        if (opt.ec_iterations < 0) fail(net.source, ": ec iterations must be >= 0, got ", opt.ec_iterations);
    }
    const std::vector<int> weight_layers = net.weight_layers();
    if (resolved.layers.size() != weight_layers.size())
        fail(net.source, ": the resolved settings list ", resolved.layers.size(), " layers, the network has ",
             weight_layers.size(), " weight layers (resolved against another network?)");
    for (size_t i = 0; i < weight_layers.size(); ++i) {
        const ResolvedLayer& r = resolved.layers[i];
        const Node& n = net.nodes[weight_layers[i]];
        if (r.node != weight_layers[i] || r.name != n.name || r.alias != n.alias)
            fail(net.source, ": resolved setting ", i, " is for node '", r.name, "', the network's weight layer ", i,
                 " is '", n.name, "' (resolved against another network?)");
    }

    int64_t to_quantize = 0;
    for (const ResolvedLayer& r : resolved.layers)
        if (!r.setting.dense && !r.already_quantized) ++to_quantize;

    QuantizedNetwork out{net, {}};
    PQTrainOptions po;
    po.max_iter = opt.max_iter;
    po.tol = opt.tol;
    po.max_train = opt.max_train;
    po.threads = resolve_threads(opt.threads);

    // Error correction runs the network forward over the calibration images. Layers that come
    // quantized (a loaded model file; the paper recipe's third step, whose conv layers the first
    // step quantized) run there as their dense twins, a Conv / FC on the decoded weight W_hat:
    // the same function as the lookup-table reference path up to float rounding, on the fast
    // dense kernels (VGG-7's recipe step 3 with 20,000 images spent 124 s in the reference
    // tables, 87% of its time). `target` gives the layers' targets T_n; network EC reads each
    // layer's inputs from `decoded`, which also has the layers quantized so far as twins.
    Network target = net;
    if (opt.ec != EcMode::None)
        for (Node& n : target.nodes)
            if (OpPtr twin = n.op ? dense_twin(*n.op) : nullptr) n.op = std::move(twin);
    Network decoded = opt.ec == EcMode::Network ? target : Network{};

    int64_t done = 0;
    for (size_t i = 0; i < resolved.layers.size(); ++i) {
        const ResolvedLayer& r = resolved.layers[i];
        LayerQuantInfo info;
        info.node = r.node;
        info.name = r.name;
        info.alias = r.alias;
        info.kind = r.kind;
        info.setting = r.setting;
        info.note = r.note;
        if (!r.setting.dense && !r.already_quantized) {
            const std::string label = r.alias.empty() ? r.name : r.alias;
            report(progress, Progress{"quantize", label, done, to_quantize});
            po.seed = derive_seed(opt.seed, static_cast<uint64_t>(i));
            PQTrainStats st;
            Node& node = out.network.nodes[r.node];
            const OpPtr dense = node.op;  // keeps the view's weights alive after node.op is replaced
            const std::optional<WeightLayer> layer = dense->as_weight_layer();
            if (!layer || layer->quantized())
                fail(net.source, ": layer ", label, " (", dense->type(), ") is not a float conv or FC layer");
            const bool conv = layer->kind == LayerKind::Conv;
            PQWeights w = train_pq(*layer->weight, layer->kind, layer->groups, r.setting.pq, po, label, progress, &st);
            std::vector<float> bias(layer->bias.begin(), layer->bias.end());
            if (opt.ec != EcMode::None && r.setting.ec) {
                const auto t0 = std::chrono::steady_clock::now();
                CalibrationOptions co;
                co.images = conv ? opt.ec_conv_images : opt.ec_fc_images;
                co.positions_per_image = opt.ec_positions;
                co.seed = derive_seed(po.seed, kEcPositionStream);
                co.batch = opt.ec_batch;
                co.threads = po.threads;
                // (Until a layer is quantized the two networks compute the same: one pass.)
                const Network& inputs = opt.ec == EcMode::Network && done > 0 ? decoded : target;
                const LayerStats stats = capture_layer_stats(inputs, target, r.node, *calibration, co, label, progress);
                EcOptions eo;
                eo.iterations = opt.ec_iterations;
                eo.tol = opt.ec_tol;
                eo.fit_bias = opt.ec_bias;
                eo.threads = po.threads;
                EcResult ec = error_correct(stats, std::move(w), eo, label, progress);
                w = std::move(ec.weights);
                bias = std::move(ec.bias);
                info.error_corrected = true;
                info.calibration_images = stats.images;
                info.calibration_rows = stats.rows;
                info.response_error_before = ec.error_before;
                info.response_error_after = ec.error_after;
                info.ec_iterations = ec.iterations;
                info.ec_code_changes = ec.code_changes;
                info.ec_objective = std::move(ec.objective);
                info.ec_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            }
            if (opt.ec == EcMode::Network)
                decoded.nodes[r.node].op = make_dense_layer(*layer, w.decode(), bias);
            if (info.error_corrected) {  // the weight error of the corrected weights
                const Tensor& wf = *layer->weight;
                const Tensor wd = w.decode();
                double se = 0;
                for (int64_t k = 0; k < wd.size(); ++k) se += std::pow(double(wf.data[k]) - double(wd.data[k]), 2);
                st.mse = se / double(wd.size());
            }
            node.op = make_quantized_layer(*layer, w, bias);
            info.quantized = true;
            info.weight_mse = st.mse;
            info.weight_mean_square = st.weight_mean_square;
            info.kmeans_iterations = st.iterations;
            info.seconds = st.seconds;
            ++done;
        }
        out.layers.push_back(std::move(info));
    }
    report(progress, Progress{"quantize", "", done, to_quantize});
    return out;
}

}  // namespace

QuantizedNetwork quantize_network(const Network& net, const ResolvedSettings& resolved, const QuantizeOptions& opt,
                                  const ProgressFn& progress) {
    return quantize_impl(net, resolved, opt, nullptr, progress);
}

QuantizedNetwork quantize_network(const Network& net, const ResolvedSettings& resolved, const QuantizeOptions& opt,
                                  const Tensor& calibration, const ProgressFn& progress) {
    return quantize_impl(net, resolved, opt, &calibration, progress);
}

}  // namespace qcnn
