// qcnn sweep: runs every setting of a sweep spec (docs/sweeps.md), appending each finished run
// to an HDF5 results file, with a progress bar and ETA on stderr, one line per finished run,
// and a summary table (or --json) at the end. --resume completes an interrupted sweep. --shard I/N
// runs one shard; --slurm hands the sweep to Slurm as a job array plus a merge job
// (core/sweep/slurm.h, docs/cluster.md).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <thread>

#include "core/cli/command.h"
#include "core/cli/progress_bar.h"
#include "core/sweep/slurm.h"
#include "core/sweep/sweep.h"
#include "core/util/json.h"

namespace qcnn::cli {

namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open the sweep spec");
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

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
        w.field("host", r.host).field("shard", r.shard).field("shards", r.shards).field("finished_utc", r.finished_utc);
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


// The absolute path of this qcnn binary (what the Slurm tasks run).
std::string self_path() {
    std::error_code ec;
    const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) fail("cannot find the qcnn binary (/proc/self/exe: ", ec.message(), ")");
    return p.string();
}

// "41_0 RUNNING, 41_[2-3] PENDING, 42 PENDING" (the first 6 entries).
std::string queue_text(const std::vector<std::string>& queue) {
    if (queue.empty()) return "nothing queued";
    std::string s;
    for (size_t i = 0; i < queue.size() && i < 6; ++i) s += (i ? ", " : "") + queue[i];
    if (queue.size() > 6) s += cat(", ... (", queue.size(), " entries)");
    return s;
}

// Polls squeue and the shard files until the sweep's jobs left the queue; then 0 when OUT holds
// the completed sweep, 1 naming the failed tasks and their logs otherwise.
int wait_for_cluster(const ClusterSweep& c, const std::string& spec_path, const std::string& results,
                     CommandContext& ctx) {
    std::string last;
    int squeue_failures = 0;
    for (;;) {
        // A controller restarting or busy fails a few polls: give up after 5 in a row (~10 s).
        std::vector<std::string> queue;
        try {
            queue = queued_jobs(c);
            squeue_failures = 0;
        } catch (const Error&) {
            if (++squeue_failures >= 5) throw;
            std::this_thread::sleep_for(std::chrono::seconds(2));
            continue;
        }
        int64_t done = 0, finished = 0;
        for (const ShardState& s : shard_states(c)) {
            done += s.runs_done;
            finished += s.finished();
        }
        const std::string line = cat("cluster: ", done, "/", c.runs, " runs, ", finished, "/", c.options.shards,
                                     " shards finished; queue: ", queue_text(queue));
        if (line != last) {
            ctx.err << line << "\n";
            ctx.err.flush();
            last = line;
        }
        if (queue.empty()) break;
        std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    if (cluster_results_complete(c)) {
        ctx.out << "sweep " << c.sweep_id << ": completed, " << c.runs << " runs in " << results << "  (pandas.read_hdf(\""
                << results << "\", \"/sweeps/" << c.sweep_id << "/runs\"))\n";
        return 0;
    }
    int64_t failed = 0;
    for (const ShardState& s : shard_states(c)) {
        if (s.finished()) continue;
        ++failed;
        ctx.err << "qcnn: shard " << s.index << "/" << c.options.shards << " failed ("
                << (s.status.empty() ? "no results" : s.status) << ", " << s.runs_done << " of " << s.runs_expected
                << " runs" << (s.error.empty() ? "" : "; " + s.error) << "); log: " << c.shard_log(s.index) << "\n";
    }
    if (failed == 0) ctx.err << "qcnn: the merge job failed; log: " << c.merge_log() << "\n";
    ctx.err << "qcnn: 'qcnn sweep " << spec_path << " -o " << results
            << " --slurm --resume' resubmits what is unfinished (finished runs are kept)\n";
    fail("sweep ", c.sweep_id, " on Slurm did not complete: ", failed, " of ", c.options.shards, " shard(s) failed",
         failed == 0 ? ", then the merge" : "");
}

int run_sweep_slurm(const Args& args, CommandContext& ctx, const std::string& spec_path, const std::string& results) {
    for (const char* o : {"--threads", "--shard", "--sweep-id", "--json"})
        if (args.has(o)) throw UsageError(cat(o, " does not apply with --slurm (each task uses its --cpus-per-task CPUs)"));
    const bool resume = args.has("--resume");
    ClusterSweep c;
    std::vector<int64_t> tasks;
    const auto apply_options = [&](SlurmOptions& o) {
        if (args.has("--partition")) o.partition = args.str("--partition", "");
        if (args.has("--time")) o.time = args.str("--time", "");
        if (args.has("--mem")) o.mem = args.str("--mem", "");
        if (args.has("--cpus-per-task")) o.cpus_per_task = args.integer("--cpus-per-task", 1, 1, 4096);
        if (args.has("--sbatch-arg")) o.sbatch_args = args.all("--sbatch-arg");
    };
    const bool have_squeue = on_path("squeue");
    if (resume) {
        c = load_cluster_sweep(results);
        if (c.spec != spec_path)
            fail(c.state_file(), ": sweep ", c.sweep_id, " was submitted with the spec ", c.spec, ", not ", spec_path);
        if (args.has("--shards") && args.integer("--shards", 1, 1, 100000) != c.options.shards)
            throw UsageError(cat("--shards: sweep ", c.sweep_id, " was submitted with ", c.options.shards,
                                 " shards; --resume keeps them (omit --shards)"));
        apply_options(c.options);
        if (have_squeue) {
            const std::vector<std::string> queue = queued_jobs(c);
            if (!queue.empty())
                fail("sweep ", c.sweep_id, " still has jobs in the queue (", queue_text(queue),
                     "): wait for them or scancel them before --resume");
        }
        for (const ShardState& s : shard_states(c))
            if (!s.finished()) tasks.push_back(s.index);
        if (tasks.empty() && cluster_results_complete(c)) {
            ctx.out << "sweep " << c.sweep_id << ": already completed in " << results << "; nothing to resubmit\n";
            return 0;
        }
    } else {
        if (!args.has("--shards")) throw UsageError("--slurm needs --shards N: the number of array tasks");
        SlurmOptions o;
        o.shards = args.integer("--shards", 1, 1, 100000);
        apply_options(o);
        if (have_squeue && !args.has("--dry-run") && cluster_sweep_exists(results)) {
            const ClusterSweep previous = load_cluster_sweep(results);
            const std::vector<std::string> queue = queued_jobs(previous);
            if (!queue.empty())
                fail("sweep ", previous.sweep_id, " for ", results, " still has jobs in the queue (", queue_text(queue),
                     "): wait for them or scancel them first");
        }
        c = plan_cluster_sweep(spec_path, results, o, self_path());
        for (int64_t i = 0; i < o.shards; ++i) tasks.push_back(i);
    }
    if (args.has("--dry-run") || !on_path("sbatch")) {
        write_cluster_scripts(c, tasks);
        ctx.out << "sweep " << c.sweep_id << ": " << c.runs << " runs in " << c.options.shards << " shards; wrote\n  "
                << c.array_script() << "\n  " << c.merge_script() << "\n  " << c.submit_script() << "\n";
        if (args.has("--dry-run")) {
            ctx.out << "submit with: sh " << c.submit_script() << "\n";
            return 0;
        }
        fail("sbatch is not on PATH: the scripts are written; submit them where Slurm is with 'sh ",
             c.submit_script(), "'");
    }
    submit_cluster_sweep(c, tasks);
    ctx.out << "sweep " << c.sweep_id << ": " << c.runs << " runs in " << c.options.shards << " shards; submitted ";
    if (!c.array_job.empty()) ctx.out << "array job " << c.array_job << " (" << tasks.size() << " task(s)), ";
    ctx.out << "merge job " << c.merge_job << " -> " << results << "\n  scripts and logs: " << c.dir() << "\n";
    ctx.out.flush();
    if (!args.has("--wait")) return 0;
    return wait_for_cluster(c, spec_path, results, ctx);
}

}  // namespace

int run_sweep(const Args& args, CommandContext& ctx) {
    if (!args.has("SPEC")) throw UsageError("sweep needs a spec file: qcnn sweep SPEC.json -o RESULTS.h5");
    if (!args.has("-o"))
        throw UsageError("sweep needs -o RESULTS.h5: the HDF5 file the runs are appended to (created when absent)");
    const std::string spec_path = args.str("SPEC", "");
    const std::string results = args.str("-o", "");
    if (args.has("--slurm")) return run_sweep_slurm(args, ctx, spec_path, results);
    for (const char* o : {"--shards", "--partition", "--time", "--cpus-per-task", "--mem", "--sbatch-arg", "--wait", "--dry-run"})
        if (args.has(o)) throw UsageError(cat(o, " applies only with --slurm"));
    const std::string text = read_text(spec_path);
    const SweepSpec spec =
        parse_sweep_spec(json::parse(text, spec_path), spec_path, std::filesystem::path(spec_path).parent_path().string());
    SweepOptions opt;
    opt.resume = args.has("--resume");
    if (args.has("--threads")) {
        SweepSpec threads;
        apply_run_options(args, threads);  // only --threads is a run option of `qcnn sweep`
        opt.threads = threads.base.threads;
    }
    try {
        if (args.has("--shard")) opt.shard = parse_shard(args.str("--shard", ""), "--shard");
        if (args.has("--sweep-id")) {
            opt.sweep_id = args.str("--sweep-id", "");
            check_sweep_id(opt.sweep_id, "--sweep-id");
        }
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
    const ScopedThreads threads(opt.threads >= 0 ? opt.threads : spec.base.threads);  // also decoding image folders
    const int64_t total = static_cast<int64_t>(expand(spec).size());

    SweepBar bar(ctx.err, ctx.err_is_terminal);
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
    ctx.out << "\nsweep " << outcome.sweep_id << (opt.shard.sharded() ? " (shard " + to_string(opt.shard) + ")" : "")
            << ": " << outcome.status << ", " << outcome.runs_total << " runs ("
            << outcome.runs_done << " run now, " << outcome.runs_skipped << " resumed) in "
            << format_duration(outcome.seconds) << "\n"
            << "results: " << results << "  (tables /sweeps/" << outcome.sweep_id << "/runs and /sweeps/"
            << outcome.sweep_id << "/layers; pandas.read_hdf(\"" << results << "\", \"/sweeps/" << outcome.sweep_id
            << "/runs\"))\n";
    return 0;
}

}  // namespace qcnn::cli
