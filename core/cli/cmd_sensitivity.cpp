// qcnn sensitivity: quantize one layer at a time over a grid of settings (core/auto/
// sensitivity.h) and print, per layer and setting, the accuracy drop, the response error, the
// compression and the speed-up; the table is kept in the results file (/sensitivity/<id>),
// reused when the same analysis is asked again and resumed after an interruption.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "core/auto/sensitivity.h"
#include "core/cli/command.h"
#include "core/cli/progress_bar.h"
#include "core/eval/data_check.h"
#include "core/eval/model_summary.h"
#include "core/util/json.h"

namespace qcnn::cli {

namespace {

void print_text(const SensitivityTable& t, const SensitivityPlan& plan, std::ostream& out) {
    out << "sensitivity " << t.id << " in " << t.path
        << (t.reused ? "  (reused: this model and spec were analysed before)" : "") << "\n";
    if (!t.entries.empty())
        out << "float top-1 " << percent(t.entries.front().top1_float) << ", top-5 "
            << percent(t.entries.front().top5_float) << "; one layer quantized at a time, the others float\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const SensitivityEntry& e : t.entries)
        rows.push_back({e.layer, e.setting, percent(e.top1), fixed(100.0 * e.top1_drop(), 2),
                        fixed(100.0 * e.top5_drop(), 2), percent(e.response_error), fixed(e.compression, 2) + "x",
                        fixed(e.theoretical_speedup, 2) + "x", fixed(e.dense_ms, 3), fixed(e.quantized_ms, 3),
                        thousands(e.bytes_quantized)});
    out << format_table({"layer", "C_s'/K", "top-1", "drop (pts)", "top-5 drop", "resp.err", "compr.", "speed-up",
                         "dense ms", "Q ms", "bytes"},
                        rows, {false, false, true, true, true, true, true, true, true, true, true});
    if (!t.reused) out << "\nruns: " << t.parallel.reason << "\n";
    if (!plan.skipped.empty()) {
        out << "\nnot run (the setting does not fit the layer):\n";
        for (const auto& [what, why] : plan.skipped) out << "  " << what << ": " << why << "\n";
    }
    out << "\nread it with pandas.read_hdf(\"" << t.path << "\", \"/sensitivity/" << t.id << "/runs\") and \"/layers\"\n";
}

void print_json(const SensitivityTable& t, std::ostream& out) {
    json::Writer w(out);
    w.begin_object();
    w.field("results", t.path).field("id", t.id).field("reused", t.reused);
    w.field("runs_done", t.runs_done).field("runs_resumed", t.runs_resumed);
    w.field("parallel", static_cast<int64_t>(t.parallel.cells)).field("parallel_reason", t.parallel.reason);
    w.key("entries").begin_array();
    for (const SensitivityEntry& e : t.entries) {
        w.begin_object();
        w.field("layer", e.layer).field("name", e.name).field("setting", e.setting);
        w.field("top1", e.top1).field("top5", e.top5).field("top1_float", e.top1_float).field("top5_float", e.top5_float);
        w.field("top1_drop", e.top1_drop()).field("top5_drop", e.top5_drop());
        w.field("response_error", e.response_error).field("compression", e.compression);
        w.field("theoretical_speedup", e.theoretical_speedup);
        w.field("dense_ms", e.dense_ms).field("quantized_ms", e.quantized_ms);
        w.field("bytes_dense", e.bytes_dense).field("bytes_quantized", e.bytes_quantized);
        w.field("flops_dense", e.flops_dense).field("flops_quantized", e.flops_quantized);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    out << '\n';
}

}  // namespace

int run_sensitivity(const Args& args, CommandContext& ctx) {
    SensitivityRequest req;
    // --layers selects layers here (it is the settings text in quantize): the run options
    // without "base".
    req.options = run_options_from_args(args, {"base"});
    req.layers = args.str("--layers", "conv,fc");
    req.parallel = static_cast<int>(args.integer("--parallel", 0, 0, 1024));
    if (args.has("--grid")) {
        req.grid.clear();
        const std::string text = args.str("--grid", "");
        for (size_t start = 0; start <= text.size();) {
            const size_t comma = std::min(text.find(',', start), text.size());
            if (comma > start) req.grid.push_back(text.substr(start, comma - start));
            start = comma + 1;
        }
    }
    const std::string results = args.str("-o", "sensitivity.h5");
    const int threads = req.options.base.threads;
    req.options.base.threads = 0;  // not part of the analysis' identity (run_sensitivity applies it)
    const ScopedThreads scoped(threads);
    const auto net = load_model(req.options.base.model);  // a bad file: exit 1
    SensitivityPlan plan;
    try {
        plan = plan_sensitivity(*net, req);  // a bad --layers / --grid / --ec: exit 2
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
    SweepBar bar(ctx.err, ctx.err_is_terminal, "sensitivity");
    const SensitivityTable t = qcnn::run_sensitivity(plan, results, threads, bar.callback());
    bar.finish();
    if (args.has("--json"))
        print_json(t, ctx.out);
    else
        print_text(t, plan, ctx.out);
    return 0;
}

}  // namespace qcnn::cli
