// qcnn sweep: runs every setting of a sweep spec (docs/sweeps.md), appending each finished run
// to an HDF5 results file, with a progress bar and ETA on stderr, one line per finished run,
// and a summary table (or --json) at the end. --resume completes an interrupted sweep.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "core/cli/command.h"
#include "core/cli/progress_bar.h"
#include "core/sweep/sweep.h"
#include "core/util/json.h"

namespace qcnn::cli {

namespace {

std::string fixed(double v, int decimals) {
    if (std::isnan(v)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open the sweep spec");
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The sweep's bar: runs finished in this invocation out of the runs left to do (so the ETA
// is not skewed by resumed runs), labelled with the current run and stage.
class SweepBar {
public:
    explicit SweepBar(CommandContext& ctx) : bar_(ctx.err, ctx.err_is_terminal, "sweep") {}
    ProgressFn callback() {
        return [this](const Progress& p) {
            if (p.stage == "sweep") {
                if (first_ < 0) first_ = p.done;
                done_ = p.done;
                total_ = p.total;
                bar_.set_label(cat("sweep ", done_, "/", total_));
            } else {
                bar_.set_label(cat("sweep ", p.layer, " ", p.stage));
            }
            bar_.update(done_ - first_, total_ - first_);
            return true;
        };
    }
    void finish() { bar_.finish(); }

private:
    ProgressBar bar_;
    int64_t first_ = -1, done_ = 0, total_ = 0;
};

std::string loss_points(const RunRow& r) { return fixed(100.0 * (r.top1_float - r.top1), 2); }

std::vector<std::string> summary_cells(const RunRow& r) {
    return {std::to_string(r.run_index),
            r.settings.empty() ? "(all dense)" : r.settings,
            r.ec,
            std::to_string(r.seed),
            percent(r.top1),
            loss_points(r),
            fixed(r.compression, 2) + "x",
            fixed(r.theoretical_speedup, 2) + "x",
            measured_speedup_text(r),
            fixed(r.quantize_seconds, 1) + " s"};
}

void print_summary(const std::vector<RunRow>& rows, std::ostream& out) {
    std::vector<std::vector<std::string>> cells;
    for (const RunRow& r : rows) cells.push_back(summary_cells(r));
    out << format_table({"run", "settings", "ec", "seed", "top-1", "loss (pts)", "compression", "speed-up (theory)",
                         "speed-up (measured)", "quantize"},
                        cells, {true, false, false, true, true, true, true, true, true, true});
}

void print_json(const SweepOutcome& o, const std::string& results, std::ostream& out) {
    json::Writer w(out);
    w.begin_object();
    w.field("results", results).field("sweep_id", o.sweep_id).field("status", o.status);
    w.field("runs_total", o.runs_total).field("runs_done", o.runs_done).field("runs_skipped", o.runs_skipped);
    w.field("seconds", o.seconds);
    w.key("runs").begin_array();
    for (const RunRow& r : o.rows) {
        w.begin_object();
        w.field("run_index", r.run_index).field("settings", r.settings).field("ec", r.ec).field("seed", r.seed);
        w.field("top1", r.top1).field("top5", r.top5).field("top1_float", r.top1_float).field("top5_float", r.top5_float);
        w.field("compression", r.compression).field("theoretical_speedup", r.theoretical_speedup);
        w.field("measured_speedup", r.measured_speedup).field("dense_ms", r.dense_ms).field("quantized_ms", r.quantized_ms);
        w.field("memory_bytes_dense", r.memory_bytes_dense).field("memory_bytes_quantized", r.memory_bytes_quantized);
        w.field("quantize_seconds", r.quantize_seconds).field("eval_seconds", r.eval_seconds);
        w.field("dense_ms_spread", r.dense_ms_spread).field("quantized_ms_spread", r.quantized_ms_spread);
        w.field("measured_speedup_lo", r.measured_speedup_lo).field("measured_speedup_hi", r.measured_speedup_hi);
        w.field("speed_noisy", r.speed_noisy).field("dense_reused", r.dense_reused).field("speed_rounds", r.speed_rounds);
        w.field("speed_preempted_rounds", r.speed_preempted_rounds);
        w.end_object();
    }
    w.end_array();
    w.key("layers").begin_array();
    for (const LayerRow& l : o.layer_rows) {
        w.begin_object();
        w.field("run_index", l.run_index).field("name", l.name).field("alias", l.alias).field("op", l.op);
        w.field("subspace_dim", l.subspace_dim).field("codewords", l.codewords).field("ec", l.ec);
        w.field("params", l.params).field("bytes_dense", l.bytes_dense).field("bytes_quantized", l.bytes_quantized);
        w.field("flops_dense", l.flops_dense).field("flops_quantized", l.flops_quantized);
        w.field("theoretical_speedup", l.theoretical_speedup).field("dense_ms", l.dense_ms);
        w.field("quantized_ms", l.quantized_ms).field("response_error", l.response_error);
        w.field("dense_ms_spread", l.dense_ms_spread).field("quantized_ms_spread", l.quantized_ms_spread);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    out << '\n';
}

}  // namespace

int run_sweep(const Args& args, CommandContext& ctx) {
    if (!args.has("SPEC")) throw UsageError("sweep needs a spec file: qcnn sweep SPEC.json -o RESULTS.h5");
    if (!args.has("-o"))
        throw UsageError("sweep needs -o RESULTS.h5: the HDF5 file the runs are appended to (created when absent)");
    const std::string spec_path = args.str("SPEC", "");
    const std::string results = args.str("-o", "");
    const std::string text = read_text(spec_path);
    const SweepSpec spec =
        parse_sweep_spec(json::parse(text, spec_path), spec_path, std::filesystem::path(spec_path).parent_path().string());
    SweepOptions opt;
    opt.resume = args.has("--resume");
    opt.threads = args.has("--threads") ? static_cast<int>(args.integer("--threads", 0, 0, 4096)) : -1;
    const ScopedThreads threads(opt.threads >= 0 ? opt.threads : spec.threads);  // also decoding image folders
    const int64_t total = static_cast<int64_t>(expand(spec).size());

    SweepBar bar(ctx);
    std::vector<RunRow> finished;
    const auto on_run = [&](const SweepPoint& p, const RunResult& r, const RunRow& row) {
        bar.finish();
        ctx.err << "run " << p.index + 1 << "/" << total << " done: " << (p.layers.empty() ? "(all dense)" : p.layers)
                << "  ec " << row.ec << "  seed " << row.seed << "  top-1 " << percent(row.top1) << " (float "
                << percent(row.top1_float) << ")  " << fixed(row.compression, 2) << "x compression, "
                << fixed(row.theoretical_speedup, 2) << "x speed-up  " << fixed(r.quantize_seconds, 1)
                << " s quantize\n";
        ctx.err.flush();
        finished.push_back(row);
    };
    SweepOutcome outcome;
    try {
        outcome = ::qcnn::run_sweep(spec, text, results, opt, bar.callback(), on_run);
    } catch (const std::exception&) {
        bar.finish();
        if (!finished.empty()) {
            print_summary(finished, ctx.out);
            ctx.err << "qcnn: the " << finished.size() << " run(s) finished in this invocation are kept in " << results
                    << "; 'qcnn sweep " << spec_path << " -o " << results << " --resume' completes the sweep\n";
        }
        throw;
    }
    bar.finish();
    if (args.has("--json")) {
        print_json(outcome, results, ctx.out);
        return 0;
    }
    print_summary(outcome.rows, ctx.out);
    ctx.out << "\nsweep " << outcome.sweep_id << ": " << outcome.status << ", " << outcome.runs_total << " runs ("
            << outcome.runs_done << " run now, " << outcome.runs_skipped << " resumed) in "
            << format_duration(outcome.seconds) << "\n"
            << "results: " << results << "  (tables /sweeps/" << outcome.sweep_id << "/runs and /sweeps/"
            << outcome.sweep_id << "/layers; pandas.read_hdf(\"" << results << "\", \"/sweeps/" << outcome.sweep_id
            << "/runs\"))\n";
    return 0;
}

}  // namespace qcnn::cli
