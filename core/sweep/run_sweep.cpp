// run_sweep: every point of a spec, one run after the other, each appended to the results file
// and flushed before the next starts; --resume completes the newest sweep of the same spec.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "core/eval/data_check.h"
#include "core/eval/model_summary.h"
#include "core/quant/settings.h"
#include "core/sweep/results_file.h"
#include "core/sweep/sweep.h"
#include "core/util/error.h"
#include "core/util/parallel.h"
#include "core/util/sha256.h"

namespace qcnn {

namespace {

std::string seeds_text(const std::vector<uint64_t>& seeds) {
    std::string s;
    for (uint64_t x : seeds) s += cat(s.empty() ? "" : ",", x);
    return s;
}

bool same_point(const RunRow& row, const SweepPoint& p) {
    return row.settings == p.layers && row.ec == to_string(p.ec) && row.seed == p.seed;
}

// The newest sweep in `path` started with this canonical spec and shard ("" when none).
std::string find_sweep(const std::string& path, const std::string& canonical, const Shard& shard,
                       const std::string& root) {
    const std::vector<std::string> ids = list_sweeps(path, root);
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
        const SweepAttributes a = ResultsFile::read(path, *it, root).attributes();
        if (a.spec_canonical == canonical && a.shard == (shard.sharded() ? to_string(shard) : "")) return *it;
    }
    return "";
}

}  // namespace

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string new_sweep_id(const std::string& path, const std::string& root) {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    std::set<std::string> taken;
    if (std::filesystem::exists(path))
        for (const std::string& id : list_sweeps(path, root)) taken.insert(id);
    std::string id = buf;
    for (int n = 2; taken.count(id); ++n) id = cat(buf, "_", n);
    return id;
}

void check_sweep_id(const std::string& id, const std::string& what) {
    const bool ok = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
    if (!ok) fail(what, ": bad sweep id '", id, "' (1 to 64 characters of A-Z, a-z, 0-9, '_' and '-')");
}

Shard parse_shard(const std::string& text, const std::string& what) {
    const size_t slash = text.find('/');
    const auto number = [&](const std::string& t, int64_t& out) {
        if (t.empty() || t.size() > 6 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return false;
        out = std::stoll(t);
        return true;
    };
    Shard s;
    if (slash == std::string::npos || !number(text.substr(0, slash), s.index) || !number(text.substr(slash + 1), s.count))
        fail(what, ": '", text, "' is not a shard I/N (e.g. 0/4: the first of 4 shards)");
    if (s.count < 1 || s.count > 100000) fail(what, ": '", text, "': N = ", s.count, " is out of range (1..100000)");
    if (s.index >= s.count) fail(what, ": '", text, "': shard I = ", s.index, " must be below N = ", s.count, " (I counts from 0)");
    return s;
}

std::string to_string(const Shard& s) { return cat(s.index, "/", s.count); }

std::vector<SweepPoint> shard_points(const std::vector<SweepPoint>& points, const Shard& shard) {
    std::vector<SweepPoint> out;
    for (const SweepPoint& p : points)
        if (shard.contains(p.index)) out.push_back(p);
    return out;
}

SweepRunner::SweepRunner(const SweepSpec& spec, const SweepOptions& opt)
    : spec_in_(spec), spec_(spec), opt_(opt) {
    if (opt_.threads >= 0) spec_.base.threads = opt_.threads;
    all_points_ = expand(spec_);
    points_ = shard_points(all_points_, opt_.shard);
}

void SweepRunner::validate() {
    if (validated_) return;
    // Everything that can be checked before a run starts is checked before the first run (and
    // before a results file is touched): the model, the evaluation and calibration data against
    // its input (with the runs' own data options), and every run's settings against its layers.
    net_ = load_model(spec_.base.model);
    samples_ = check_run_data(*net_, run_spec(spec_, all_points_.front()));
    std::set<std::string> checked;
    for (const SweepPoint& p : all_points_) {
        if (!checked.insert(p.layers).second) continue;
        try {
            resolve_settings(*net_, parse_layer_settings(p.layers));
        } catch (const Error& e) {
            fail("sweep run ", p.index, " ('", p.layers, "'): ", e.what());
        }
    }
    model_sha_ = sha256_file(spec_.base.model);
    validated_ = true;
}

SweepOutcome SweepRunner::run(const std::string& results_path, const std::string& spec_text, RunSink* sink,
                              const ProgressFn& progress) {
    const auto t_start = std::chrono::steady_clock::now();
    const bool to_file = !results_path.empty();
    QCNN_ASSERT(to_file || (!opt_.resume && opt_.sweep_id.empty()), "resume and sweep ids need a results file");
    const int64_t total = static_cast<int64_t>(points_.size());
    if (!opt_.sweep_id.empty()) check_sweep_id(opt_.sweep_id, results_path);
    validate();
    const std::string canonical = to_json(spec_in_);

    SweepOutcome out;
    out.runs_total = total;
    std::optional<ResultsFile> file;
    std::map<int64_t, RunRow> rows;          // by run index
    std::map<int64_t, std::vector<LayerRow>> layer_rows_by_run;
    const std::string shard_text = opt_.shard.sharded() ? to_string(opt_.shard) : "";
    if (opt_.resume && !opt_.sweep_id.empty() && std::filesystem::exists(results_path)) {
        const std::vector<std::string> ids = list_sweeps(results_path, opt_.root);
        if (std::find(ids.begin(), ids.end(), opt_.sweep_id) != ids.end()) out.sweep_id = opt_.sweep_id;
    }
    const bool resume = opt_.resume && (opt_.sweep_id.empty() || !out.sweep_id.empty());
    if (resume) {
        if (!std::filesystem::exists(results_path))
            fail(results_path, ": --resume: no such file (run without --resume to start the sweep)");
        if (out.sweep_id.empty()) out.sweep_id = find_sweep(results_path, canonical, opt_.shard, opt_.root);
        if (out.sweep_id.empty()) {
            std::string list;
            for (const std::string& id : list_sweeps(results_path, opt_.root)) list += (list.empty() ? "" : ", ") + id;
            fail(results_path, ": --resume: no sweep in this file was started with this spec",
                 shard_text.empty() ? "" : " and shard " + shard_text, " (sweeps: ", list.empty() ? "none" : list,
                 "); run without --resume to start a new sweep");
        }
        file.emplace(ResultsFile::open(results_path, out.sweep_id, opt_.root));
        const SweepAttributes attrs = file->attributes();
        if (attrs.spec_canonical != canonical || attrs.shard != shard_text)
            fail(results_path, ": --resume: sweep '", out.sweep_id, "' was started with ",
                 attrs.spec_canonical != canonical ? "another spec" : "shard '" + attrs.shard + "'",
                 ", not this one", shard_text.empty() ? "" : " (shard " + shard_text + ")");
        if (attrs.model_sha256 != model_sha_)
            fail(results_path, ": --resume: sweep '", out.sweep_id, "': the model ", spec_.base.model,
                 " changed since the sweep started (SHA-256 ", attrs.model_sha256, ", now ", model_sha_, ")");
        for (RunRow& r : file->runs()) {
            if (r.run_index < 0 || r.run_index >= static_cast<int64_t>(all_points_.size()) ||
                !opt_.shard.contains(r.run_index) || !same_point(r, all_points_[static_cast<size_t>(r.run_index)]))
                fail(results_path, ": sweep '", out.sweep_id, "': run ", r.run_index, " ('", r.settings,
                     "') does not match the spec's run order");
            rows[r.run_index] = std::move(r);
        }
        for (LayerRow& l : file->layers()) layer_rows_by_run[l.run_index].push_back(std::move(l));
        out.runs_skipped = static_cast<int64_t>(rows.size());
        file->set_status("running", "");
    } else if (to_file) {
        SweepAttributes attrs = environment_attributes();
        attrs.spec_json = spec_text.empty() ? canonical : spec_text;
        attrs.spec_canonical = canonical;
        attrs.spec_sha256 = sha256_hex(canonical);
        attrs.shard = shard_text;
        attrs.seeds = seeds_text(spec_.seeds);
        attrs.threads = resolve_threads(spec_.base.threads);
        attrs.start_utc = utc_now();
        attrs.status = "running";
        attrs.model_path = spec_.base.model;
        attrs.model_sha256 = model_sha_;
        attrs.data_spec = spec_.base.data;
        attrs.samples = samples_;
        out.sweep_id = opt_.sweep_id.empty() ? new_sweep_id(results_path, opt_.root) : opt_.sweep_id;
        file.emplace(ResultsFile::create(results_path, out.sweep_id, attrs, opt_.root));
    }

    // Marks the sweep in the file, keeping the original exception when that fails too.
    const auto mark = [&](const char* status) {
        try {
            if (file) file->set_status(status, utc_now());
        } catch (const std::exception&) {
        }
    };
    try {
        int64_t done = static_cast<int64_t>(rows.size());
        report(progress, {"sweep", "", done, total});
        for (const SweepPoint& p : points_) {
            if (rows.count(p.index)) continue;
            const std::string label = cat("run ", p.index + 1, "/", total);
            ProgressFn nested;
            if (progress)
                nested = [&progress, &label](const Progress& q) {
                    Progress x = q;
                    x.layer = q.layer.empty() ? label : label + ": " + q.layer;
                    return progress(x);
                };
            // The float network is evaluated once (same data, batch and threads for every run).
            const RunResult r = run_quantization(run_spec(spec_, p), float_eval_ ? &*float_eval_ : nullptr, nested);
            if (!float_eval_) float_eval_ = r.float_eval;
            std::optional<SpeedMeasurement> speed;
            if (spec_.measure_speed) {
                report(nested, {"measure speed", "", 0, 1});
                speed = measure_speed(*net_, r.q.network, model_sha_, net_->sample_shape(), spec_.base.threads, spec_.base.lut_kernel,
                                      speed_options());
                report(nested, {"measure speed", "", 1, 1});
            }
            const SpeedMeasurement* sp = speed ? &*speed : nullptr;
            RunRow row = run_row(p, r, sp);
            row.shard = opt_.shard.index;
            row.shards = opt_.shard.count;
            std::vector<LayerRow> lrows = layer_rows(p, r, sp);
            if (file) file->append(row, lrows);
            ++out.runs_done;
            rows[p.index] = row;
            layer_rows_by_run[p.index] = lrows;
            if (sink) sink->add(p, r, row, lrows);
            ++done;
            // After the last run there is nothing left to cancel.
            if (done < total)
                report(progress, {"sweep", "", done, total});
            else if (progress)
                progress({"sweep", "", done, total});
        }
        if (file) file->set_status("completed", utc_now());
    } catch (const Cancelled&) {
        mark("cancelled");
        throw;
    } catch (...) {
        mark("failed");
        throw;
    }
    out.status = "completed";
    for (auto& [index, row] : rows) {
        out.rows.push_back(std::move(row));
        for (LayerRow& l : layer_rows_by_run[index]) out.layer_rows.push_back(std::move(l));
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    return out;
}

SweepOutcome run_sweep(const SweepSpec& spec, const std::string& spec_text, const std::string& results_path,
                       const SweepOptions& opt, const ProgressFn& progress, const RunFinished& on_run) {
    struct CallbackSink : RunSink {
        const RunFinished& f;
        explicit CallbackSink(const RunFinished& fn) : f(fn) {}
        void add(const SweepPoint& p, const RunResult& r, const RunRow& row, const std::vector<LayerRow>&) override {
            if (f) f(p, r, row);
        }
    } sink(on_run);
    return SweepRunner(spec, opt).run(results_path, spec_text, &sink, progress);
}

}  // namespace qcnn
