#include "core/auto/sensitivity.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/eval/data_check.h"
#include "core/eval/model_summary.h"
#include "core/quant/settings.h"
#include "core/sweep/results_file.h"
#include "core/util/error.h"
#include "core/util/parallel.h"
#include "core/util/sha256.h"

namespace qcnn {

namespace {

constexpr const char* kRoot = "sensitivity";

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) out.push_back(item);
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

bool is_conv_alias(const std::string& alias) { return alias.rfind("conv", 0) == 0; }

// Lets one worker run alone for a while (the speed timing of a finished run): exclusive() waits
// until every other running worker is paused in checkpoint() (called at each progress report)
// or waiting for the gate itself, runs f, then lets them go on.
class ExclusiveGate {
public:
    explicit ExclusiveGate(int workers) : running_(workers) {}
    void checkpoint() {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!held_) return;
        ++paused_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !held_; });
        --paused_;
    }
    template <class F>
    void exclusive(F&& f) {
        std::unique_lock<std::mutex> lock(mutex_);
        ++paused_;  // waiting for the gate counts as paused, so two timings cannot wait on each other
        cv_.notify_all();
        cv_.wait(lock, [&] { return !held_; });
        --paused_;
        held_ = true;
        cv_.wait(lock, [&] { return paused_ >= running_ - 1; });
        lock.unlock();
        try {
            f();
        } catch (...) {
            release();
            throw;
        }
        release();
    }
    void worker_done() {
        std::lock_guard<std::mutex> lock(mutex_);
        --running_;
        cv_.notify_all();
    }

private:
    void release() {
        std::lock_guard<std::mutex> lock(mutex_);
        held_ = false;
        cv_.notify_all();
    }
    std::mutex mutex_;
    std::condition_variable cv_;
    int running_, paused_ = 0;
    bool held_ = false;
};

// The analysis with par.cells runs in flight. The file is created (or, with `resume_id`,
// reopened) here with the attributes SweepRunner gives a sweep; every run's rows are appended and
// flushed as it finishes, so kill -9 and resume work as in the serial analysis.
SensitivityTable run_parallel(const SensitivityPlan& plan, const std::string& results_path, const std::string& canonical,
                              const std::string& resume_id, const SensitivityParallelism& par, const ProgressFn& progress,
                              SensitivityTable t) {
    SweepSpec spec = plan.spec;
    spec.base.threads = par.threads_per_cell;
    SweepOptions check_opt;
    check_opt.threads = par.threads;
    SweepRunner(plan.spec, check_opt).validate();  // model, data and every run's settings, before the file is touched
    const auto net = load_model(spec.base.model);
    const std::string sha = sha256_file(spec.base.model);
    const std::vector<SweepPoint> points = expand(spec);
    const int64_t total = static_cast<int64_t>(points.size());

    std::optional<ResultsFile> file;
    std::map<int64_t, RunRow> rows;
    std::map<int64_t, std::vector<LayerRow>> layer_rows_by_run;
    if (!resume_id.empty()) {
        t.id = resume_id;
        file.emplace(ResultsFile::open(results_path, resume_id, kRoot));
        for (RunRow& r : file->runs()) {
            if (r.run_index < 0 || r.run_index >= total || r.settings != points[static_cast<size_t>(r.run_index)].layers)
                fail(results_path, ": sensitivity '", resume_id, "': run ", r.run_index, " ('", r.settings,
                     "') does not match the analysis' run order");
            rows[r.run_index] = std::move(r);
        }
        for (LayerRow& l : file->layers()) layer_rows_by_run[l.run_index].push_back(std::move(l));
        t.runs_resumed = static_cast<int64_t>(rows.size());
        file->set_status("running", "");
    } else {
        SweepAttributes a = environment_attributes();
        a.spec_json = a.spec_canonical = canonical;
        a.spec_sha256 = sha256_hex(canonical);
        a.seeds = std::to_string(spec.seeds.front());
        a.threads = par.threads;
        a.start_utc = utc_now();
        a.status = "running";
        a.model_path = spec.base.model;
        a.model_sha256 = sha;
        a.data_spec = spec.base.data;
        a.samples = check_run_data(*net, run_spec(spec, points.front()));
        t.id = new_sweep_id(results_path, kRoot);
        file.emplace(ResultsFile::create(results_path, t.id, a, kRoot));
    }
    std::vector<SweepPoint> pending;
    for (const SweepPoint& p : points)
        if (!rows.count(p.index)) pending.push_back(p);

    std::mutex state;                  // file, rows, float_eval, done, progress calls
    std::optional<EvalResult> float_eval;
    std::atomic<bool> stop{false};
    std::exception_ptr error;          // the first failure (a cancel only when nothing else failed)
    std::atomic<size_t> next{0};
    int64_t done = static_cast<int64_t>(rows.size());
    ExclusiveGate gate(par.cells);
    // The user's progress, one call at a time; a false return stops every run.
    const auto forward = [&](const Progress& p) {
        if (stop) return false;
        if (progress && !progress(p)) stop = true;
        return !stop.load();
    };
    {
        std::lock_guard<std::mutex> lock(state);
        if (!forward({"sweep", par.reason, done, total})) stop = true;
    }
    const auto worker = [&] {
        set_global_threads(par.threads_per_cell);
        for (;;) {
            const size_t k = next++;
            if (k >= pending.size() || stop) break;
            const SweepPoint& p = pending[k];
            const std::string label = cat("run ", p.index + 1, "/", total);
            const ProgressFn nested = [&](const Progress& q) {
                gate.checkpoint();
                std::lock_guard<std::mutex> lock(state);
                Progress x = q;
                x.layer = q.layer.empty() ? label : label + ": " + q.layer;
                return forward(x);
            };
            try {
                std::optional<EvalResult> fe;
                {
                    std::lock_guard<std::mutex> lock(state);
                    fe = float_eval;
                }
                const RunResult r = run_quantization(run_spec(spec, p), fe ? &*fe : nullptr, nested);
                std::optional<SpeedMeasurement> speed;
                if (spec.measure_speed) {
                    report(nested, {"measure speed", "", 0, 1});
                    gate.exclusive([&] {
                        speed = measure_speed(*net, r.q.network, sha, net->sample_shape(), par.threads,
                                              spec.base.lut_kernel, SweepRunner::speed_options());
                    });
                }
                const SpeedMeasurement* sp = speed ? &*speed : nullptr;
                const RunRow row = run_row(p, r, sp);
                const std::vector<LayerRow> lrows = layer_rows(p, r, sp);
                std::lock_guard<std::mutex> lock(state);
                if (!float_eval) float_eval = r.float_eval;
                file->append(row, lrows);
                rows[p.index] = row;
                layer_rows_by_run[p.index] = lrows;
                ++t.runs_done;
                ++done;
                if (done < total) {
                    forward({"sweep", "", done, total});
                } else if (progress) {
                    progress({"sweep", "", done, total});  // after the last run there is nothing left to cancel
                }
            } catch (const Cancelled&) {
                stop = true;
                std::lock_guard<std::mutex> lock(state);
                if (!error) error = std::current_exception();
            } catch (...) {
                stop = true;
                std::lock_guard<std::mutex> lock(state);
                bool cancelled_before = false;
                if (error) try {
                        std::rethrow_exception(error);
                    } catch (const Cancelled&) {
                        cancelled_before = true;
                    } catch (...) {
                    }
                if (!error || cancelled_before) error = std::current_exception();
            }
        }
        gate.worker_done();
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < par.cells; ++i) threads.emplace_back(worker);
    for (std::thread& th : threads) th.join();
    if (!error && stop) error = std::make_exception_ptr(Cancelled());
    if (error) {
        bool cancelled = false;
        try {
            std::rethrow_exception(error);
        } catch (const Cancelled&) {
            cancelled = true;
        } catch (...) {
        }
        try {
            file->set_status(cancelled ? "cancelled" : "failed", utc_now());
        } catch (const std::exception&) {
        }
        std::rethrow_exception(error);
    }
    file->set_status("completed", utc_now());
    std::vector<RunRow> run_list;
    std::vector<LayerRow> layer_list;
    for (auto& [index, row] : rows) {
        run_list.push_back(std::move(row));
        for (LayerRow& l : layer_rows_by_run[index]) layer_list.push_back(std::move(l));
    }
    t.entries = sensitivity_entries(plan.spec, run_list, layer_list);
    return t;
}

}  // namespace

int64_t available_memory_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    int64_t kib = 0;
    std::string unit;
    while (in >> key >> kib) {
        std::getline(in, unit);
        if (key == "MemAvailable:") return kib * 1024;
    }
    return 0;
}

SensitivityParallelism sensitivity_parallelism(const Network& net, const SweepSpec& spec, int threads, int requested,
                                               int64_t runs) {
    SensitivityParallelism p;
    p.threads = resolve_threads(threads >= 0 ? threads : spec.base.threads);
    // One run's peak: the float network and the quantized copy (weights twice), the activation
    // buffers of one batch for each (the engine's per-image bytes x batch), every evaluation and
    // calibration image as float, and the calibration images' activations (response error, EC).
    const ModelSummary sum = summarize(net);
    int64_t sample_values = 1;
    for (int64_t d : net.sample_shape()) sample_values *= d;
    const int64_t eval_images = spec.base.limit > 0 ? spec.base.limit : 10000;
    const int64_t calib_images = spec.base.calib_images > 0 ? spec.base.calib_images : 1000;
    p.cell_bytes = 2 * 4 * sum.total_params + 2 * spec.base.batch * sum.activation_bytes +
                   4 * sample_values * (eval_images + calib_images) + calib_images * sum.activation_bytes;
    p.available_bytes = available_memory_bytes();
    const int64_t fit = p.available_bytes > 0 ? std::max<int64_t>(1, p.available_bytes / 2 / std::max<int64_t>(1, p.cell_bytes))
                                              : 1;
    const auto mib = [](int64_t b) { return cat(b / (1024 * 1024), " MiB"); };
    const std::string memory = p.available_bytes > 0
                                   ? cat("about ", mib(p.cell_bytes), " per run, ", mib(p.available_bytes), " available: ",
                                         fit, " fit in half of it")
                                   : "free memory unknown (no /proc/meminfo): one at a time";
    std::string why;
    if (requested > 0) {
        p.cells = requested;
        why = cat("--parallel ", requested);
        if (requested > fit) why += cat(" (more than the memory estimate allows: ", memory, ")");
    } else {
        p.cells = static_cast<int>(std::min<int64_t>(p.threads, fit));
        why = cat("automatic: ", p.threads, " threads; ", memory);
    }
    p.cells = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(p.cells, std::max<int64_t>(1, runs))));
    p.threads_per_cell = std::max(1, p.threads / p.cells);
    p.reason = cat(p.cells, p.cells == 1 ? " run" : " runs", " at once, ", p.threads_per_cell,
                   p.threads_per_cell == 1 ? " thread" : " threads", " each (", why, ")");
    return p;
}

std::vector<std::string> default_sensitivity_grid() {
    return {"2/16", "4/16", "4/32", "4/64", "8/16", "8/32", "8/64", "8/128", "16/64", "16/256"};
}

SensitivityPlan plan_sensitivity(const Network& net, const SensitivityRequest& request) {
    const SweepSpec& o = request.options;
    for (EcMode ec : o.ec)
        if (ec == EcMode::Network)
            fail("sensitivity: --ec network does not apply to one layer at a time (use none or layer; `qcnn auto "
                 "--ec network` verifies its candidates with network EC)");
    if (o.base.finetune)
        fail("sensitivity: --finetune does not apply to one layer at a time (the table is each layer's drop as "
             "quantized; `qcnn auto --finetune` fine-tunes its verification candidates)");
    if (o.base.recipe != RunSpec{}.recipe)
        fail("sensitivity: --recipe ", o.base.recipe, " does not apply to one layer at a time (its second step "
             "fine-tunes; `qcnn auto --recipe paper` runs it on its verification candidates)");
    if (request.grid.empty()) fail("sensitivity: the grid is empty (give --grid C_s'/K,...)");
    for (const std::string& g : request.grid) {
        const LayerSettings parsed = parse_layer_settings("conv=" + g);
        if (!parsed.conv || parsed.conv->dense)
            fail("sensitivity: grid value '", g, "' is not a C_s'/K setting (\"dense\" is every layer's baseline)");
    }

    // The selected weight layers, in network order.
    const std::vector<int> weight = net.weight_layers();
    std::set<int> chosen;
    for (const std::string& item : split_commas(request.layers)) {
        if (item == "conv" || item == "fc") {
            for (int n : weight)
                if (is_conv_alias(net.nodes[n].alias) == (item == "conv")) chosen.insert(n);
            continue;
        }
        const int n = net.find_node(item);
        if (n < 0 || std::find(weight.begin(), weight.end(), n) == weight.end()) {
            std::string names;
            for (int w : weight) names += (names.empty() ? "" : ", ") + net.nodes[w].alias;
            fail("sensitivity: --layers: '", item, "' is not a weight layer of ", net.source, " (", names, ")");
        }
        chosen.insert(n);
    }
    if (chosen.empty()) fail("sensitivity: --layers '", request.layers, "' selects no weight layer of ", net.source);

    SensitivityPlan plan;
    plan.spec = o;
    plan.spec.base.layers.clear();
    plan.spec.grid.clear();
    plan.spec.one_at_a_time = true;
    plan.spec.measure_speed = true;  // the measured layer time is part of the table
    plan.spec.ec.resize(1);
    plan.spec.seeds.resize(1);
    plan.parallel = request.parallel;
    for (int n : chosen) {
        const std::string& alias = net.nodes[n].alias;
        SweepGroup group;
        group.layers = alias;
        for (const std::string& g : request.grid) {
            try {
                resolve_settings(net, parse_layer_settings(alias + "=" + g));
                group.settings.push_back(g);
            } catch (const Error& e) {
                plan.skipped.emplace_back(alias + " " + g, e.what());
            }
        }
        if (!group.settings.empty()) plan.spec.grid.push_back(std::move(group));
    }
    if (plan.spec.grid.empty())
        fail("sensitivity: no grid value fits any selected layer (", plan.skipped.front().second, ")");
    return plan;
}

std::vector<SensitivityEntry> sensitivity_entries(const SweepSpec& spec, const std::vector<RunRow>& runs,
                                                  const std::vector<LayerRow>& layers) {
    const std::vector<SweepPoint> points = expand(spec);
    std::vector<SensitivityEntry> out;
    // Run order, whatever order the rows were appended in (runs in flight at once finish in any order).
    std::vector<const RunRow*> ordered;
    for (const RunRow& r : runs) ordered.push_back(&r);
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const RunRow* a, const RunRow* b) { return a->run_index < b->run_index; });
    for (const RunRow* rp : ordered) {
        const RunRow& r = *rp;
        if (r.run_index < 0 || r.run_index >= static_cast<int64_t>(points.size())) continue;
        // The point's settings are "alias=value" (one-at-a-time, no base).
        const std::string& text = points[static_cast<size_t>(r.run_index)].layers;
        const size_t eq = text.find('=');
        SensitivityEntry e;
        e.layer = text.substr(0, eq);
        e.setting = text.substr(eq + 1);
        e.top1 = r.top1;
        e.top5 = r.top5;
        e.top1_float = r.top1_float;
        e.top5_float = r.top5_float;
        const auto l = std::find_if(layers.begin(), layers.end(),
                                    [&](const LayerRow& x) { return x.run_index == r.run_index && x.alias == e.layer; });
        if (l == layers.end()) fail("sensitivity table: run ", r.run_index, " has no layer row for ", e.layer);
        e.name = l->name;
        e.response_error = l->response_error;
        e.bytes_dense = l->bytes_dense;
        e.bytes_quantized = l->bytes_quantized;
        e.flops_dense = l->flops_dense;
        e.flops_quantized = l->flops_quantized;
        e.compression = l->bytes_quantized > 0 ? double(l->bytes_dense) / double(l->bytes_quantized) : 0.0;
        e.theoretical_speedup = l->theoretical_speedup;
        e.dense_ms = l->dense_ms;
        e.quantized_ms = l->quantized_ms;
        out.push_back(std::move(e));
    }
    return out;
}

SensitivityTable run_sensitivity(const SensitivityPlan& plan, const std::string& results_path, int threads,
                                 const ProgressFn& progress) {
    SensitivityTable t;
    t.path = results_path;
    const std::string canonical = to_json(plan.spec);
    SweepOptions opt;
    opt.root = kRoot;
    opt.threads = threads;
    t.parallel.threads = resolve_threads(threads >= 0 ? threads : plan.spec.base.threads);
    t.parallel.threads_per_cell = t.parallel.threads;
    t.parallel.reason = cat("1 run at once, ", t.parallel.threads, " threads (--parallel 1)");
    if (std::filesystem::exists(results_path)) {
        // The newest analysis of this spec and model: reused when complete, resumed otherwise.
        const std::string sha = sha256_file(plan.spec.base.model);
        const std::vector<std::string> ids = list_sweeps(results_path, kRoot);
        for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
            const ResultsFile f = ResultsFile::read(results_path, *it, kRoot);
            const SweepAttributes a = f.attributes();
            if (a.spec_canonical != canonical || a.model_sha256 != sha) continue;
            t.id = *it;
            if (a.status == "completed") {
                t.reused = true;
                t.entries = sensitivity_entries(plan.spec, f.runs(), f.layers());
                return t;
            }
            opt.resume = true;
            opt.sweep_id = *it;
            break;
        }
    }
    if (plan.parallel != 1) {
        const auto net = load_model(plan.spec.base.model);
        const SensitivityParallelism par = sensitivity_parallelism(*net, plan.spec, threads, plan.parallel,
                                                                   static_cast<int64_t>(expand(plan.spec).size()));
        t.parallel = par;
        if (par.cells > 1) return run_parallel(plan, results_path, canonical, opt.sweep_id, par, progress, std::move(t));
    }
    SweepRunner runner(plan.spec, opt);
    const SweepOutcome out = runner.run(results_path, canonical, nullptr, progress);
    t.id = out.sweep_id;
    t.runs_done = out.runs_done;
    t.runs_resumed = out.runs_skipped;
    t.entries = sensitivity_entries(plan.spec, out.rows, out.layer_rows);
    return t;
}

}  // namespace qcnn
