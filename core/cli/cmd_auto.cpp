// qcnn auto: per-layer settings found automatically under an accuracy (or compression) budget
// (core/auto/auto_settings.h, docs/auto.md): sensitivity table, allocation, verification runs.
// Reports the best verified run; -o saves its quantized model. Exit 1 when no verified run
// meets the bound (the closest is reported, every candidate stays in the results file).
#include <cmath>
#include <cstdio>
#include <limits>
#include <ostream>

#include "core/auto/auto_settings.h"
#include "core/cli/command.h"
#include "core/cli/progress_bar.h"
#include "core/eval/model_summary.h"
#include "core/io/model_file.h"
#include "core/quant/settings.h"
#include "core/train/finetune.h"
#include "core/eval/run_steps_json.h"
#include "core/train/finetune_json.h"
#include "core/util/json.h"
#include "core/util/sha256.h"

namespace qcnn::cli {

namespace {

double number(const Args& args, std::string_view flag, double fallback, double min, double max) {
    if (!args.has(flag)) return fallback;
    const std::string text = args.str(flag, "");
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v) || v < min || v > max)
        throw UsageError(cat(flag, " expects a number in [", min, ", ", max, "], got '", text, "'"));
    return v;
}

// "90", "90s", "30m", "1.5h" -> seconds.
double duration_seconds(const Args& args) {
    if (!args.has("--time-budget")) return 0;
    std::string text = args.str("--time-budget", "");
    double unit = 1;
    if (!text.empty() && (text.back() == 's' || text.back() == 'm' || text.back() == 'h')) {
        unit = text.back() == 'h' ? 3600 : text.back() == 'm' ? 60 : 1;
        text.pop_back();
    }
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !(v > 0) || !std::isfinite(v))
        throw UsageError(cat("--time-budget expects a duration such as 90s, 30m or 1.5h, got '",
                             args.str("--time-budget", ""), "'"));
    return v * unit;
}

std::string drop_points(const RunRow& r) { return fixed(100.0 * (r.top1_float - r.top1), 2); }

void print_text(const AutoOutcome& o, const AutoRequest& q, const std::string& results, const std::string& saved,
                std::ostream& out) {
    out << "sensitivity: " << o.sensitivity.entries.size() << " layer settings ("
        << (o.sensitivity.reused ? "reused from " : "stored in ") << results << ", /sensitivity/" << o.sensitivity.id
        << (o.sensitivity.reused ? "" : "; " + o.sensitivity.parallel.reason) << ")\n";
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < o.search.candidates.size() && i < o.rows.size(); ++i) {
        const AutoCandidate& c = o.search.candidates[i];
        const RunRow& r = o.rows[i];
        rows.push_back({std::to_string(i + 1), c.settings.empty() ? "(all dense)" : c.settings,
                        std::isfinite(c.budget) ? fixed(100.0 * c.budget, 2) : "-",
                        fixed(100.0 * c.allocation.estimated_drop, 2), drop_points(r), fixed(r.compression, 2) + "x",
                        fixed(r.theoretical_speedup, 2) + "x", measured_speedup_text(r), c.feasible ? "yes" : "no"});
    }
    out << "candidates (verified with error correction " << to_string(q.verify_ec) << ", " << results << ", /sweeps/"
        << o.sweep_id << "):\n"
        << format_table({"#", "settings", "budget (pts)", "est. drop", "drop (pts)", "compression", "speed-up",
                         "measured", "within"},
                        rows, {true, false, true, true, true, true, true, true, false})
        << "search: " << o.search.stop_reason << ", " << fixed(o.seconds, 1) << " s\n";
    for (size_t i = 0; i < o.finetune.size(); ++i) {
        const CandidateFinetune& f = o.finetune[i];
        if (f.ran)
            out << "  candidate " << i + 1 << " fine-tuned: held-out top-1 " << percent(f.result.initial_val_top1)
                << " -> " << percent(f.result.best_val_top1) << " (best epoch " << f.result.best_epoch << " of "
                << f.result.epochs.size() << ", " << fixed(f.seconds, 1) << " s)"
                << (f.result.status.empty() ? "" : "; " + f.result.status) << "\n";
        if (f.steps.size() > 1) {  // the recipe's steps (with or without the final fine-tune)
            out << "  candidate " << i + 1 << " steps:";
            for (size_t k = 0; k < f.steps.size(); ++k)
                out << (k ? "," : "") << " " << f.steps[k].step << " " << percent(f.steps[k].top1);
            out << "\n";
        }
    }
    out << "\n";
    const RunRow* r = o.reported();
    if (!r) {
        out << "no candidate ran (" << o.search.stop_reason << ")\n";
        return;
    }
    out << (o.met() ? "best verified run" : "NO verified run meets the bound; the closest") << ":\n"
        << "  settings:             " << (r->settings.empty() ? "(all dense)" : r->settings) << "   (use as --layers)\n"
        << "  top-1:                " << percent(r->top1) << " (float " << percent(r->top1_float) << ", drop "
        << drop_points(*r) << " points)\n"
        << "  compression:          " << fixed(r->compression, 2) << "x\n"
        << "  theoretical speed-up: " << fixed(r->theoretical_speedup, 2) << "x\n"
        << "  measured speed-up:    " << measured_speedup_text(*r) << "\n"
        << "  run-time memory:      " << thousands(r->memory_bytes_quantized) << " bytes (dense "
        << thousands(r->memory_bytes_dense) << ")\n";
    if (!saved.empty()) out << "  saved:                " << saved << "\n";
}

void print_json(const AutoOutcome& o, const std::string& results, const std::string& saved, std::ostream& out) {
    json::Writer w(out);
    w.begin_object();
    const RunRow* r = o.reported();
    w.field("met", o.met()).field("stop_reason", o.search.stop_reason);
    w.field("settings", r ? r->settings : "");
    w.field("top1", r ? r->top1 : 0.0).field("top1_float", r ? r->top1_float : 0.0);
    w.field("drop", r ? r->top1_float - r->top1 : 0.0);
    w.field("compression", r ? r->compression : 0.0).field("theoretical_speedup", r ? r->theoretical_speedup : 0.0);
    w.field("measured_speedup", r ? r->measured_speedup : 0.0);
    w.field("memory_bytes_quantized", r ? r->memory_bytes_quantized : int64_t{0});
    w.field("results", results).field("sensitivity_id", o.sensitivity.id).field("sweep_id", o.sweep_id);
    if (!saved.empty()) w.field("output", saved);
    w.field("seconds", o.seconds);
    w.key("candidates").begin_array();
    for (size_t i = 0; i < o.search.candidates.size() && i < o.rows.size(); ++i) {
        const AutoCandidate& c = o.search.candidates[i];
        const RunRow& x = o.rows[i];
        w.begin_object();
        w.field("settings", c.settings).field("estimated_drop", c.allocation.estimated_drop);
        w.field("budget", std::isfinite(c.budget) ? c.budget : -1.0).field("feasible", c.feasible);
        w.field("top1", x.top1).field("drop", x.top1_float - x.top1).field("compression", x.compression);
        w.field("theoretical_speedup", x.theoretical_speedup).field("measured_speedup", x.measured_speedup);
        w.field("memory_bytes_quantized", x.memory_bytes_quantized);
        if (i < o.finetune.size() && !o.finetune[i].steps.empty()) {
            w.key("recipe");  // the steps, as `qcnn quantize --json` lists them
            write_run_steps(w, o.finetune[i].steps);
        }
        if (i < o.finetune.size() && o.finetune[i].ran) {
            const CandidateFinetune& f = o.finetune[i];
            w.key("finetune").begin_object();
            w.field("best_epoch", static_cast<int64_t>(f.result.best_epoch));
            w.field("val_top1_before", f.result.initial_val_top1).field("val_top1_best", f.result.best_val_top1);
            w.field("train_images", f.result.train_images).field("val_images", f.result.val_images);
            w.field("status", f.result.status).field("seconds", f.seconds);
            w.key("epochs");
            write_finetune_epochs(w, f.result.epochs);
            w.end_object();
        }
        w.end_object();
    }
    w.end_array();
    w.end_object();
    out << '\n';
}

}  // namespace

int run_auto(const Args& args, CommandContext& ctx) {
    AutoRequest q;
    // --layers selects layers and --ec is the candidates' mode here: the run options without them.
    q.sensitivity.options = run_options_from_args(args, {"base", "ec"});
    q.sensitivity.layers = args.str("--layers", "conv,fc");
    q.sensitivity.parallel = static_cast<int>(args.integer("--parallel", 0, 0, 1024));
    if (args.has("--grid")) {
        q.sensitivity.grid.clear();
        const std::string text = args.str("--grid", "");
        for (size_t start = 0; start <= text.size();) {
            const size_t comma = std::min(text.find(',', start), text.size());
            if (comma > start) q.sensitivity.grid.push_back(text.substr(start, comma - start));
            start = comma + 1;
        }
    }
    try {
        q.sensitivity.options.ec = {parse_ec_mode(args.str("--sensitivity-ec", "none"))};
        q.verify_ec = parse_ec_mode(args.str("--ec", "network"));
        q.objective = parse_auto_objective(args.str("--objective", args.has("--min-compression") ? "accuracy" : "compression"));
    } catch (const UsageError&) {
        throw;
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
    q.max_drop = number(args, "--max-drop", 1.0, 0, 100) / 100.0;
    if (args.has("--min-compression") && !args.has("--max-drop")) q.max_drop = std::numeric_limits<double>::infinity();
    q.min_compression = number(args, "--min-compression", 0, 1, 1e6);
    q.time_budget_seconds = duration_seconds(args);
    q.max_candidates = static_cast<int>(args.integer("--max-candidates", 8, 1, 1000));
    const std::string results = args.str("--results", "qcnn-auto.h5");
    const std::string output = args.str("-o", "");
    const int threads = q.sensitivity.options.base.threads;
    q.sensitivity.options.base.threads = 0;  // not part of the analysis' identity
    const ScopedThreads scoped(threads);
    SweepBar bar(ctx.err, ctx.err_is_terminal, "auto");
    AutoOutcome o;
    try {
        o = qcnn::run_auto(q, results, threads, bar.callback());
    } catch (const Cancelled&) {
        throw;
    } catch (const Error& e) {
        const std::string m = e.what();
        // Bad --layers / --grid / --objective combinations are usage errors; file and data errors stay 1.
        if (m.rfind("auto: ", 0) == 0 || m.rfind("sensitivity: ", 0) == 0) throw UsageError(m);
        throw;
    }
    bar.finish();
    std::string saved;
    if (!output.empty() && o.best_network) {
        ModelProvenance prov;
        prov.settings = o.reported()->settings;
        prov.seed = std::to_string(q.sensitivity.options.seeds.front());
        prov.ec = to_string(q.verify_ec);
        prov.source_path = q.sensitivity.options.base.model;
        prov.source_sha256 = sha256_file(q.sensitivity.options.base.model);
        prov.created_utc = utc_now();
        prov.app_version = QCNN_VERSION;
        save_quantized_model(output, *o.best_network, prov);
        saved = output;
    }
    if (args.has("--json"))
        print_json(o, results, saved, ctx.out);
    else
        print_text(o, q, results, saved, ctx.out);
    if (!o.met()) {
        ctx.err << "qcnn: error: no verified run meets the bound (" << o.search.stop_reason << "); the closest is "
                << "reported above, every candidate is in " << results << (output.empty() ? "" : "; nothing saved to " + output)
                << "\n";
        return 1;
    }
    return 0;
}

}  // namespace qcnn::cli
