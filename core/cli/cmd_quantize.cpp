// qcnn quantize: product-quantize a model per layer (optionally with error correction),
// evaluate it against the float model, and report per layer and in total the cost model's
// figures, the response errors and the accuracies. -o saves the quantized model.
#include <chrono>
#include <memory>
#include <cstdio>
#include <ctime>
#include <ostream>

#include "core/cli/command.h"
#include "core/cost/presets.h"
#include "core/util/json.h"
#include "core/cli/progress_bar.h"
#include "core/cost/cost_model.h"
#include "core/eval/data_check.h"
#include "core/eval/evaluate.h"
#include "core/eval/run.h"
#include "core/eval/model_summary.h"
#include "core/io/model_file.h"
#include "core/quant/calibration.h"
#include "core/quant/quantize_network.h"
#include "core/sweep/sweep.h"
#include "core/eval/run_steps_json.h"
#include "core/train/finetune_json.h"
#include "core/util/sha256.h"

namespace qcnn::cli {

namespace {

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

std::string bytes_text(int64_t b) {
    if (b >= 10 * 1024 * 1024) return fixed(b / 1048576.0, 1) + " MiB";
    if (b >= 10 * 1024) return fixed(b / 1024.0, 1) + " KiB";
    return thousands(b) + " B";
}

// The parameters of the last fine-tuning: recipe paper's step 2 trains float,bias.
std::string last_ft_params(const RunSpec& s) { return s.finetune ? s.ft_params : std::string("float,bias"); }

void print_json(const RunResult& r, const std::string& output, std::ostream& out) {
    json::Writer w(out);
    w.begin_object();
    const RunSpec& s = r.spec;
    w.field("model", s.model).field("data", s.data).field("calib_data", s.calib_data);
    w.field("calibrated_on_eval_set", r.calib_is_eval).field("calib_images", s.calib_images);
    w.field("settings", s.layers).field("seed", static_cast<int64_t>(s.seed)).field("ec", to_string(s.ec));
    w.field("samples", r.quant_eval.samples);
    w.field("top1_float", r.float_eval.top1).field("top5_float", r.float_eval.top5);
    w.field("top1", r.quant_eval.top1).field("top5", r.quant_eval.top5);
    w.field("top1_loss", r.float_eval.top1 - r.quant_eval.top1);
    w.field("compression", r.cost.compression()).field("compression_with_biases", r.cost.compression_with_biases());
    w.field("theoretical_speedup", r.cost.speedup());
    w.field("flops_dense", r.cost.flops_dense).field("flops_quantized", r.cost.flops_qcnn);
    w.field("weight_bits_dense", r.cost.weight_bits_dense).field("weight_bits_quantized", r.cost.weight_bits_qcnn);
    w.field("memory_bytes_dense", r.cost.dense.peak_bytes).field("memory_bytes_quantized", r.cost.quantized.peak_bytes);
    // Stored sizes: float weights vs packed codes + codebooks (dense layers as floats), biases.
    w.field("weight_bytes_dense", r.cost.dense.weight_bytes).field("weight_bytes_quantized", r.cost.quantized.weight_bytes);
    w.field("bias_bytes", r.cost.bias_bytes);
    w.field("quantize_seconds", r.quantize_seconds);
    if (!r.steps.empty()) {
        w.field("recipe_name", s.recipe);
        w.key("recipe");
        write_run_steps(w, r.steps);
    }
    if (s.finetune || !r.steps.empty()) {
        const FinetuneResult& f = r.finetune;
        w.field("finetune_params", last_ft_params(s)).field("finetune_train_images", f.train_images);
        w.field("finetune_val_images", f.val_images).field("finetune_val_top1_before", f.initial_val_top1);
        w.field("finetune_best_epoch", static_cast<int64_t>(f.best_epoch)).field("finetune_status", f.status);
        w.field("finetune_seconds", r.finetune_seconds).field("finetune_distill", static_cast<double>(s.ft_distill));
        w.field("finetune_optimizer", s.ft_optimizer);
        if (s.finetune && parse_finetune_params(s.ft_params).codes)
            w.field("finetune_codes_lr", static_cast<double>(s.ft_codes_lr));
        w.key("finetune");
        write_finetune_epochs(w, f.epochs);
    }
    if (!output.empty()) w.field("output", output);
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

void print_text(const RunResult& r, const std::string& output, std::ostream& out) {
    const RunSpec& s = r.spec;
    out << "model:    " << s.model << "\n"
        << "settings: " << s.layers << "  (seed " << s.seed << ", error correction " << to_string(s.ec) << ")\n"
        << "calib:    " << s.calib_data << ", " << thousands(s.calib_images) << " images"
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
        << "quantization time:    " << fixed(r.quantize_seconds, 2) << " s\n";
    if (!r.steps.empty()) {
        out << "steps:               ";
        for (size_t i = 0; i < r.steps.size(); ++i)
            out << (i ? " ->" : "") << " " << r.steps[i].step
                << (r.steps[i].params.empty() ? std::string() : " [" + r.steps[i].params + "]") << " "
                << percent(r.steps[i].top1) << " ("
                << fixed(r.steps[i].seconds, 1) << " s)";
        out << (s.recipe == "paper" ? "  [recipe paper]" : "") << "\n";
    }
    if (s.finetune || !r.steps.empty()) {
        const FinetuneResult& f = r.finetune;
        out << "fine-tuning:          " << last_ft_params(s) << (s.ft_optimizer == "adam" ? " with Adam" : "")
            << (s.ft_distill > 0 ? cat(" distilled from the float network (T = ", s.ft_distill, ")") : std::string())
            << " on " << thousands(f.train_images) << " images, held-out "
            << thousands(f.val_images) << ": top-1 " << percent(f.initial_val_top1);
        for (const FinetuneEpoch& e : f.epochs)
            out << " -> " << percent(e.val_top1) << " (epoch " << e.epoch << ", loss " << fixed(e.train_loss, 4)
                << (e.codes_changed >= 0 ? cat(", ", percent(e.codes_changed), " of the codes re-assigned") : std::string()) << ")";
        out << "; kept " << (f.best_epoch ? cat("epoch ", f.best_epoch) : std::string("the network as quantized"))
            << ", " << fixed(r.finetune_seconds, 2) << " s\n";
    }
    out
        << "top-1:                " << percent(r.float_eval.top1) << " float -> " << percent(r.quant_eval.top1)
        << " quantized  (loss " << fixed(100.0 * (r.float_eval.top1 - r.quant_eval.top1), 2) << " points, "
        << thousands(r.quant_eval.samples) << " images of " << s.data << ")\n"
        << "top-5:                " << percent(r.float_eval.top5) << " float -> " << percent(r.quant_eval.top5)
        << " quantized\n";
    if (!output.empty()) out << "saved:                " << output << "\n";
}


// Progress of a run as one bar per stage.
class StageBars {
public:
    explicit StageBars(CommandContext& ctx) : ctx_(ctx) {}
    ProgressFn callback() {
        return [this](const Progress& p) {
            // The k-means and error-correction stages nest inside "quantize": show the layer.
            const std::string label = p.layer.empty() ? p.stage : p.stage + " " + p.layer;
            // Fine-tuning's text (epoch, loss) changes every step: one bar, its label updated.
            const std::string key = p.stage == "finetune" ? p.stage : label;
            if (!bar_ || key != label_) {
                if (bar_) bar_->finish();
                bar_ = std::make_unique<ProgressBar>(ctx_.err, ctx_.err_is_terminal, label);
                label_ = key;
            }
            if (key != label) bar_->set_label(label);
            bar_->update(p.done, p.total);
            return true;
        };
    }
    void finish() {
        if (bar_) bar_->finish();
        bar_.reset();
    }

private:
    CommandContext& ctx_;
    std::unique_ptr<ProgressBar> bar_;
    std::string label_;
};

// The run the flags describe: the run options of the table (core/sweep/run_options.h) in a
// one-point sweep spec, whose RunSpec is what `qcnn sweep` and the workbench would run.
RunSpec run_spec_from(const Args& args) {
    if (!args.has("--layers")) throw UsageError("quantize needs --layers, e.g. --layers conv=8/128,fc=4/32");
    const SweepSpec s = run_options_from_args(args);
    const RunSpec spec = run_spec(s, expand(s).front());
    if (spec.calib_data.empty() && !calibration_split(spec.data))
        throw UsageError(no_training_split_message(spec.data, "with --calib-data SPEC"));
    return spec;
}

}  // namespace

int run_quantize(const Args& args, CommandContext& ctx) {
    const RunSpec spec = run_spec_from(args);
    const std::string output = args.str("-o", "");
    const ScopedThreads threads(spec.threads);  // also the decoding threads of image folders
    const auto net = load_model(spec.model);
    check_run_data(*net, spec);  // a data set that does not fit fails before k-means
    StageBars bars(ctx);
    const RunResult r = run_quantization(spec, bars.callback());
    bars.finish();
    if (!r.finetune.status.empty()) ctx.err << "warning: " << r.finetune.status << "\n";
    if (!output.empty()) {
        ModelProvenance prov;
        prov.settings = spec.layers;
        prov.seed = std::to_string(spec.seed);
        prov.ec = to_string(spec.ec);
        prov.source_path = spec.model;
        prov.source_sha256 = sha256_file(spec.model);
        prov.created_utc = utc_now();
        prov.app_version = QCNN_VERSION;
        save_quantized_model(output, r.q.network, prov);
    }
    if (args.has("--json"))
        print_json(r, output, ctx.out);
    else
        print_text(r, output, ctx.out);
    return 0;
}

int run_demo(const Args& args, CommandContext& ctx) {
    const SweepSpec options = run_options_from_args(args);
    const std::string& model = options.base.model;
    const int64_t limit = options.base.limit;
    const int threads = options.base.threads;
    // The shared presets (core/cost/presets.h, the workbench's Settings > Preset) but all-dense,
    // fitted to the model: a layer a preset would enlarge or slow down stays dense, with a note.
    const auto net = load_model(model);
    std::vector<std::pair<std::string, std::string>> settings;
    for (const Preset& p : presets()) {
        if (p.settings.empty()) continue;
        const AppliedPreset a = apply_preset(*net, p);
        settings.emplace_back(a.settings, p.what);
        for (const PresetLayerNote& n : a.notes) ctx.out << p.name << ": " << n.alias << " " << n.note << "\n";
    }
    ctx.out << "QCNN Workbench headless demo: product quantization (Wu et al., CVPR 2016) of\n"
            << model << " on Fashion-MNIST, calibrated on the training split, evaluated on the\n"
            << (limit ? thousands(limit) + " first" : std::string("10,000")) << " test images.\n\n";
    std::vector<std::vector<std::string>> rows;
    EvalResult float_eval;
    bool have_float = false;
    for (const auto& [layers, what] : settings) {
        RunSpec spec;
        spec.model = model;
        spec.data = kDefaultData;
        spec.layers = layers;
        spec.limit = limit;
        spec.threads = threads;
        StageBars bars(ctx);
        const RunResult r = run_quantization(spec, have_float ? &float_eval : nullptr, bars.callback());
        bars.finish();
        if (!have_float) {
            float_eval = r.float_eval;
            have_float = true;
            rows.push_back({"float", "the trained network", percent(float_eval.top1), "-", "1.00x", "1.00x", "-"});
        }
        rows.push_back({layers, what, percent(r.quant_eval.top1),
                        fixed(100.0 * (r.float_eval.top1 - r.quant_eval.top1), 2), fixed(r.cost.compression(), 2) + "x",
                        fixed(r.cost.speedup(), 2) + "x", fixed(r.quantize_seconds, 1) + " s"});
        ctx.out << "  done: " << layers << "\n";
    }
    ctx.out << "\n"
            << format_table({"setting", "what", "top-1", "loss (pts)", "compression", "speed-up (theory)", "quantize"},
                            rows, {false, false, true, true, true, true, true})
            << "\nNext: qcnn quantize --layers conv=8/128,fc=4/32 --ec network  (error correction),\n"
            << "      qcnn info --layers ...  (cost model only), qcnn-workbench (the GUI).\n";
    return 0;
}

}  // namespace qcnn::cli
