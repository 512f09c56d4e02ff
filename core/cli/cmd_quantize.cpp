// qcnn quantize: product-quantize a model per layer (optionally with error correction),
// evaluate it against the float model, and report per layer and in total the cost model's
// figures, the response errors and the accuracies. -o saves the quantized model.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <ostream>

#include "core/cli/command.h"
#include "core/cli/json.h"
#include "core/cli/progress_bar.h"
#include "core/cost/cost_model.h"
#include "core/eval/evaluate.h"
#include "core/eval/model_summary.h"
#include "core/io/model_file.h"
#include "core/quant/calibration.h"
#include "core/quant/quantize_network.h"
#include "core/util/sha256.h"

namespace qcnn::cli {

namespace {

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

std::string fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string bytes_text(int64_t b) {
    if (b >= 10 * 1024 * 1024) return fixed(b / 1048576.0, 1) + " MiB";
    if (b >= 10 * 1024) return fixed(b / 1024.0, 1) + " KiB";
    return thousands(b) + " B";
}

struct QuantizeReport {
    std::string model, data, calib_data, settings, output;
    bool calib_is_eval = false;
    uint64_t seed = 0;
    EcMode ec = EcMode::None;
    int64_t calib_images = 0;
    QuantizedNetwork q;
    NetworkCost cost;
    std::vector<LayerResponseError> response;
    EvalResult float_eval, quant_eval;
    double quantize_seconds = 0;
};

void print_json(const QuantizeReport& r, std::ostream& out) {
    json::Writer w(out);
    w.begin_object();
    w.field("model", r.model).field("data", r.data).field("calib_data", r.calib_data);
    w.field("calibrated_on_eval_set", r.calib_is_eval).field("calib_images", r.calib_images);
    w.field("settings", r.settings).field("seed", static_cast<int64_t>(r.seed)).field("ec", to_string(r.ec));
    w.field("samples", r.quant_eval.samples);
    w.field("top1_float", r.float_eval.top1).field("top5_float", r.float_eval.top5);
    w.field("top1", r.quant_eval.top1).field("top5", r.quant_eval.top5);
    w.field("top1_loss", r.float_eval.top1 - r.quant_eval.top1);
    w.field("compression", r.cost.compression()).field("compression_with_biases", r.cost.compression_with_biases());
    w.field("theoretical_speedup", r.cost.speedup());
    w.field("flops_dense", r.cost.flops_dense).field("flops_quantized", r.cost.flops_qcnn);
    w.field("weight_bits_dense", r.cost.weight_bits_dense).field("weight_bits_quantized", r.cost.weight_bits_qcnn);
    w.field("memory_bytes_dense", r.cost.dense.peak_bytes).field("memory_bytes_quantized", r.cost.quantized.peak_bytes);
    w.field("quantize_seconds", r.quantize_seconds);
    if (!r.output.empty()) w.field("output", r.output);
    w.key("layers").begin_array();
    for (size_t i = 0; i < r.q.layers.size(); ++i) {
        const LayerQuantInfo& l = r.q.layers[i];
        const LayerCost& c = r.cost.layers[i];
        w.begin_object();
        w.field("name", l.name).field("alias", l.alias).field("kind", l.kind == LayerKind::Conv ? "conv" : "fc");
        w.field("setting", l.setting.to_string()).field("note", l.note).field("quantized", l.quantized);
        w.field("flops_dense", c.flops_dense).field("flops_quantized", c.flops_qcnn).field("speedup", c.speedup());
        w.field("weight_bits_dense", c.weight_bits_dense).field("weight_bits_quantized", c.weight_bits_qcnn);
        w.field("compression", c.compression()).field("lut_bytes", c.lut_bytes);
        w.field("weight_relative_mse", l.weight_mean_square > 0 ? l.weight_mse / l.weight_mean_square : 0.0);
        w.field("response_error", r.response[i].layer_error).field("network_response_error", r.response[i].network_error);
        w.field("error_corrected", l.error_corrected);
        if (l.error_corrected)
            w.field("ec_response_error_before", l.response_error_before)
                .field("ec_response_error_after", l.response_error_after);
        w.field("seconds", l.seconds + l.ec_seconds);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    out << '\n';
}

void print_text(const QuantizeReport& r, std::ostream& out) {
    out << "model:    " << r.model << "\n"
        << "settings: " << r.settings << "  (seed " << r.seed << ", error correction " << to_string(r.ec) << ")\n"
        << "calib:    " << r.calib_data << ", " << thousands(r.calib_images) << " images"
        << (r.calib_is_eval ? "  ** calibrated on the evaluation set, as asked **" : "") << "\n\n";
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < r.q.layers.size(); ++i) {
        const LayerQuantInfo& l = r.q.layers[i];
        const LayerCost& c = r.cost.layers[i];
        rows.push_back({l.alias, l.name, l.setting.to_string(), fixed(c.speedup(), 2) + "x",
                        fixed(c.compression(), 2) + "x", bytes_text((c.weight_bits_qcnn + 7) / 8),
                        l.quantized ? percent(r.response[i].layer_error) : "-",
                        l.quantized ? percent(r.response[i].network_error) : "-",
                        l.quantized ? fixed(l.seconds + l.ec_seconds, 2) + " s" : "-", l.note});
    }
    out << format_table({"layer", "node", "C_s'/K", "speed-up", "compr.", "weights", "resp.err", "net.err", "time", "note"},
                        rows, {false, false, false, true, true, true, true, true, true, false});
    out << "\n"
        << "theoretical speed-up: " << fixed(r.cost.speedup(), 3) << "x  (" << thousands(r.cost.flops_dense) << " -> "
        << thousands(r.cost.flops_qcnn) << " FLOPs per image)\n"
        << "compression:          " << fixed(r.cost.compression(), 2) << "x weights ("
        << bytes_text(r.cost.weight_bits_dense / 8) << " -> " << bytes_text((r.cost.weight_bits_qcnn + 7) / 8) << "), "
        << fixed(r.cost.compression_with_biases(), 2) << "x with biases\n"
        << "run-time memory:      " << bytes_text(r.cost.dense.peak_bytes) << " dense -> "
        << bytes_text(r.cost.quantized.peak_bytes) << " quantized (weights + activations + LUTs, batch 1)\n"
        << "quantization time:    " << fixed(r.quantize_seconds, 2) << " s\n"
        << "top-1:                " << percent(r.float_eval.top1) << " float -> " << percent(r.quant_eval.top1)
        << " quantized  (loss " << fixed(100.0 * (r.float_eval.top1 - r.quant_eval.top1), 2) << " points, "
        << thousands(r.quant_eval.samples) << " images of " << r.data << ")\n"
        << "top-5:                " << percent(r.float_eval.top5) << " float -> " << percent(r.quant_eval.top5)
        << " quantized\n";
    if (!r.output.empty()) out << "saved:                " << r.output << "\n";
}

}  // namespace

int run_quantize(const Args& args, CommandContext& ctx) {
    QuantizeReport r;
    r.model = args.str("--model", bundled_model(kDefaultModel));
    r.data = args.str("--data", kDefaultData);
    if (!args.has("--layers")) throw UsageError("quantize needs --layers, e.g. --layers conv=8/128,fc=4/32");
    r.settings = args.str("--layers", "");
    r.seed = static_cast<uint64_t>(args.integer("--seed", 0, 0, INT64_MAX));
    r.ec = parse_ec_mode(args.str("--ec", "none"));
    const int threads = static_cast<int>(args.integer("--threads", 0, 0, 4096));
    const int64_t limit = args.integer("--limit", 0, 0, INT64_MAX);
    const int64_t batch = args.integer("--batch", 64, 1, 1 << 20);
    r.output = args.str("-o", "");

    // Calibration: the training split of the evaluation data unless asked otherwise.
    if (args.has("--calib-data")) {
        r.calib_data = args.str("--calib-data", "");
    } else if (auto split = calibration_split(r.data)) {
        r.calib_data = *split;
    } else {
        throw UsageError(cat("no training split is known for ", r.data,
                             "; give calibration data with --calib-data SPEC (to calibrate on the evaluation set "
                             "itself, pass it explicitly)"));
    }
    r.calib_is_eval = r.calib_data == r.data;
    const int64_t calib_default = r.ec == EcMode::None ? 256 : 5000;
    r.calib_images = args.integer("--calib", calib_default, 1, int64_t(1) << 24);

    const auto net = load_model(r.model);
    const LayerSettings settings = parse_layer_settings(r.settings);
    const ResolvedSettings resolved = resolve_settings(*net, settings);
    const Shape sample = net->sample_shape();

    DataOptions copts;
    copts.mean = args.float_list("--mean");
    copts.std = args.float_list("--std");
    const auto calib = open_dataset(r.calib_data, copts);
    check_compatible(*net, *calib, r.calib_data);
    r.calib_images = std::min(r.calib_images, calib->size());
    const std::vector<int64_t> idx = calibration_indices(calib->size(), r.calib_images, r.seed);
    Tensor calib_images;
    std::vector<int> calib_labels;
    calib->gather(idx, calib_images, calib_labels);

    QuantizeOptions qopt;
    qopt.seed = r.seed;
    qopt.threads = threads;
    qopt.ec = r.ec;
    qopt.max_iter = static_cast<int>(args.integer("--kmeans-iters", 25, 1, 10000));
    qopt.ec_iterations = static_cast<int>(args.integer("--ec-iters", qopt.ec_iterations, 1, 1000));

    ProgressBar qbar(ctx.err, ctx.err_is_terminal, "quantize");
    const auto t0 = std::chrono::steady_clock::now();
    r.q = quantize_network(*net, resolved, qopt, calib_images, [&](const Progress& p) {
        qbar.update(p.done, p.total);
        return true;
    });
    r.quantize_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    qbar.finish();

    std::vector<QuantSetting> per_layer;
    for (const auto& l : r.q.layers) per_layer.push_back(l.setting);
    r.cost = network_cost(network_geometry(*net, sample), per_layer);
    {
        // Response errors on (at most 256 of) the calibration images, for every run, EC or not.
        const int64_t n = std::min<int64_t>(256, calib_images.shape[0]);
        Tensor sub = calib_images;
        Shape s = sub.shape;
        s[0] = n;
        sub.data.resize(numel(s));
        sub.shape = s;
        r.response = response_errors(*net, r.q.network, sub, 64, threads);
    }

    DataOptions dopts = copts;
    dopts.limit = limit;
    const auto data = open_dataset(r.data, dopts);
    EvalOptions eopt;
    eopt.batch = batch;
    eopt.threads = threads;
    eopt.limit = limit;
    ProgressBar fbar(ctx.err, ctx.err_is_terminal, "evaluate float");
    r.float_eval = evaluate(net, *data, r.data, eopt, fbar.callback());
    fbar.finish();
    ProgressBar ebar(ctx.err, ctx.err_is_terminal, "evaluate quantized");
    r.quant_eval = evaluate(std::make_shared<const Network>(r.q.network), *data, r.data, eopt, ebar.callback());
    ebar.finish();

    if (!r.output.empty()) {
        ModelProvenance prov;
        prov.settings = r.settings;
        prov.seed = std::to_string(r.seed);
        prov.ec = to_string(r.ec);
        prov.source_path = r.model;
        prov.source_sha256 = sha256_file(r.model);
        prov.created_utc = utc_now();
        prov.app_version = QCNN_VERSION;
        save_quantized_model(r.output, r.q.network, prov);
    }
    if (args.has("--json"))
        print_json(r, ctx.out);
    else
        print_text(r, ctx.out);
    return 0;
}

}  // namespace qcnn::cli
