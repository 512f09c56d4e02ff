#include "core/auto/auto_settings.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include "core/cost/cost_model.h"
#include "core/eval/model_summary.h"
#include "core/sweep/results_file.h"
#include "core/util/error.h"
#include "core/util/json.h"
#include "core/util/parallel.h"
#include "core/util/sha256.h"

namespace qcnn {

namespace {

const std::vector<std::pair<AutoObjective, std::string>>& objective_names() {
    static const std::vector<std::pair<AutoObjective, std::string>> names = {
        {AutoObjective::Compression, "compression"},
        {AutoObjective::Speedup, "speedup"},
        {AutoObjective::MeasuredSpeedup, "measured-speedup"},
        {AutoObjective::Memory, "memory"},
        {AutoObjective::Accuracy, "accuracy"}};
    return names;
}

// A layer option's cost in the objective's unit (integers that add up over layers): weight
// bits, FLOPs, measured nanoseconds, weight bytes. `quantized` false: the dense layer's.
int64_t option_cost(AutoObjective objective, const SensitivityEntry& e, bool quantized) {
    switch (objective) {
        case AutoObjective::Speedup: return quantized ? e.flops_quantized : e.flops_dense;
        case AutoObjective::MeasuredSpeedup: {
            const double ms = quantized ? e.quantized_ms : e.dense_ms;
            if (!std::isfinite(ms))
                fail("auto: layer ", e.layer, " ", e.setting, " has no measured time (the objective measured-speedup "
                     "needs the sensitivity table's timings)");
            return static_cast<int64_t>(std::llround(ms * 1e6));
        }
        case AutoObjective::Memory: return quantized ? e.bytes_quantized : e.bytes_dense;
        case AutoObjective::Compression:
        case AutoObjective::Accuracy: return 8 * (quantized ? e.bytes_quantized : e.bytes_dense);
    }
    return 0;
}

double objective_value(AutoObjective objective, const RunRow& r) {
    switch (objective) {
        case AutoObjective::Compression: return r.compression;
        case AutoObjective::Speedup: return r.theoretical_speedup;
        case AutoObjective::MeasuredSpeedup: return std::isfinite(r.measured_speedup) ? r.measured_speedup : 0.0;
        case AutoObjective::Memory:
            return r.memory_bytes_quantized > 0 ? 1.0 / static_cast<double>(r.memory_bytes_quantized) : 0.0;
        case AutoObjective::Accuracy: return r.top1;
    }
    return 0;
}

std::string request_json(const AutoRequest& q) {
    std::ostringstream os;
    json::Writer w(os);
    w.begin_object();
    w.field("qcnn_auto", int64_t{1});
    w.field("objective", to_string(q.objective)).field("verify_ec", to_string(q.verify_ec));
    w.field("max_drop", std::isfinite(q.max_drop) ? q.max_drop : -1.0).field("min_compression", q.min_compression);
    w.field("max_candidates", int64_t{q.max_candidates}).field("time_budget_seconds", q.time_budget_seconds);
    w.field("layers", q.sensitivity.layers);
    w.key("grid").array(q.sensitivity.grid);
    w.key("options").raw_value(to_json(q.sensitivity.options));
    w.end_object();
    return os.str();
}

// Collects one run's rows and network from the SweepRunner.
struct CandidateSink : RunSink {
    RunRow row;
    std::vector<LayerRow> layers;
    std::shared_ptr<const Network> network;
    std::optional<EvalResult> float_eval;
    CandidateFinetune finetune;
    void add(const SweepPoint&, const RunResult& r, const RunRow& rr, const std::vector<LayerRow>& lr) override {
        row = rr;
        layers = lr;
        network = std::make_shared<const Network>(r.q.network);
        float_eval = r.float_eval;
        finetune.ran = r.spec.finetune;
        finetune.steps = r.steps;
        if (finetune.ran) {
            finetune.result = r.finetune;
            finetune.result.network = Network{};  // the candidate's network is `network`
            finetune.seconds = r.finetune_seconds;
        }
    }
};

// The sensitivity runs' options: the request's without fine-tuning and without the recipe (its
// options back at their defaults, so the table is the one `qcnn sensitivity` with the same
// options stores and reuses; the recipe's step 2 trains too).
SensitivityRequest without_finetune(SensitivityRequest r) {
    const RunSpec d;
    RunSpec& b = r.options.base;
    std::tie(b.finetune, b.ft_epochs, b.ft_lr, b.ft_optimizer, b.ft_batch, b.ft_params, b.ft_images, b.ft_distill,
             b.ft_codes_lr, b.recipe) = std::tie(d.finetune, d.ft_epochs, d.ft_lr, d.ft_optimizer, d.ft_batch, d.ft_params,
                                                 d.ft_images, d.ft_distill, d.ft_codes_lr, d.recipe);
    return r;
}

}  // namespace

AutoObjective parse_auto_objective(const std::string& text) {
    std::string list;
    for (const auto& [o, name] : objective_names()) {
        if (name == text) return o;
        list += (list.empty() ? "" : ", ") + name;
    }
    fail("unknown objective '", text, "' (one of ", list, ")");
}

std::string to_string(AutoObjective o) {
    for (const auto& [x, name] : objective_names())
        if (x == o) return name;
    return "?";
}

bool another_candidate_fits(double budget_seconds, double elapsed_seconds, double longest_candidate_seconds) {
    return budget_seconds <= 0 || elapsed_seconds + std::max(0.0, longest_candidate_seconds) <= budget_seconds;
}

const RunRow* AutoOutcome::reported() const {
    const int i = search.best >= 0 ? search.best : search.closest;
    return i >= 0 && i < static_cast<int>(rows.size()) ? &rows[static_cast<size_t>(i)] : nullptr;
}

AutoOutcome run_auto(const AutoRequest& q, const std::string& results_path, int threads, const ProgressFn& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    const bool converse = q.min_compression > 0;
    if (converse && q.objective != AutoObjective::Accuracy)
        fail("auto: --min-compression goes with --objective accuracy (the most accurate run at that compression)");
    if (!converse && q.objective == AutoObjective::Accuracy)
        fail("auto: --objective accuracy needs --min-compression X (otherwise the answer is the float network)");
    if (!(q.max_drop >= 0)) fail("auto: --max-drop must be >= 0 (got ", q.max_drop, ")");
    if (q.max_candidates < 1) fail("auto: --max-candidates must be >= 1");

    AutoOutcome out;
    const auto net = load_model(q.sensitivity.options.base.model);
    const SensitivityPlan plan = plan_sensitivity(*net, without_finetune(q.sensitivity));
    out.sensitivity = run_sensitivity(plan, results_path, threads, progress);
    if (q.on_sensitivity) q.on_sensitivity(out.sensitivity);

    // One layer's options: dense (no drop) and every analysed setting.
    std::map<std::string, size_t> index;
    for (const SensitivityEntry& e : out.sensitivity.entries) {
        auto [it, added] = index.emplace(e.layer, out.choices.size());
        if (added) out.choices.push_back({e.layer, {{"dense", 0.0, option_cost(q.objective, e, false)}}});
        out.choices[it->second].options.push_back(
            {e.setting, std::max(0.0, e.top1_drop()), option_cost(q.objective, e, true)});
    }

    AutoSearchOptions so;
    so.max_drop = converse ? std::numeric_limits<double>::infinity() : q.max_drop;
    so.max_candidates = q.max_candidates;
    if (converse) {
        // Bits of the whole network at the asked compression, less the layers not analysed (dense).
        const NetworkGeometry geom = network_geometry(*net, net->sample_shape());
        const NetworkCost dense = network_cost(geom, std::vector<QuantSetting>(geom.layers.size()));
        int64_t analysed = 0;
        for (const LayerChoices& c : out.choices) analysed += c.options.front().cost;
        so.max_cost = static_cast<int64_t>(std::floor(static_cast<double>(dense.weight_bits_dense) / q.min_compression)) -
                      (dense.weight_bits_dense - analysed);
        if (so.max_cost < 0) so.max_cost = 0;  // unreachable: "no allocation fits"
        so.max_drop = q.max_drop;              // still marks what is feasible
    }

    // The candidates' sweep: one group, a row per verification run, flushed as it goes.
    std::optional<ResultsFile> file;
    std::optional<EvalResult> float_eval;
    const std::string model_sha = sha256_file(q.sensitivity.options.base.model);
    const auto open_file = [&] {
        SweepAttributes a = environment_attributes();
        a.spec_json = request_json(q);
        a.spec_canonical = a.spec_json;
        a.spec_sha256 = sha256_hex(a.spec_json);
        a.seeds = std::to_string(q.sensitivity.options.seeds.front());
        a.threads = resolve_threads(threads >= 0 ? threads : q.sensitivity.options.base.threads);
        a.start_utc = utc_now();
        a.status = "running";
        a.model_path = q.sensitivity.options.base.model;
        a.model_sha256 = model_sha;
        a.data_spec = q.sensitivity.options.base.data;
        out.sweep_id = new_sweep_id(results_path);
        file.emplace(ResultsFile::create(results_path, out.sweep_id, a));
    };
    const auto mark = [&](const char* status) {
        try {
            if (file) file->set_status(status, utc_now());
        } catch (const std::exception&) {
        }
    };

    double best_objective = -std::numeric_limits<double>::infinity(), best_drop = 0;
    double longest_candidate = 0;  // seconds, for the time budget
    std::shared_ptr<const Network> latest;
    const VerifyFn verify = [&](const std::string& settings) {
        SweepSpec s = q.sensitivity.options;
        s.base.layers = settings;
        s.grid.clear();
        s.one_at_a_time = false;
        s.ec = {q.verify_ec};
        s.seeds.resize(1);
        s.measure_speed = true;
        SweepOptions opt;
        opt.threads = threads;
        SweepRunner runner(s, opt);
        if (float_eval) runner.set_float_eval(*float_eval);
        const int64_t i = static_cast<int64_t>(out.rows.size());
        ProgressFn nested;
        if (progress)
            nested = [&progress, i, total = static_cast<int64_t>(q.max_candidates)](const Progress& p) {
                Progress x = p;
                if (x.stage == "sweep") x = Progress{"auto", "", i, total};
                x.layer = cat("candidate ", i + 1, x.layer.empty() ? "" : ": ", x.layer);
                return progress(x);
            };
        CandidateSink sink;
        const double started = elapsed();
        runner.run("", "", &sink, nested);
        longest_candidate = std::max(longest_candidate, elapsed() - started);
        if (!float_eval) float_eval = sink.float_eval;
        sink.row.run_index = i;
        for (LayerRow& l : sink.layers) l.run_index = i;
        if (!file) open_file();
        file->append(sink.row, sink.layers);
        out.rows.push_back(sink.row);
        out.finetune.push_back(std::move(sink.finetune));
        if (q.on_candidate) q.on_candidate(sink.row, sink.layers);
        latest = sink.network;
        VerifiedRun v;
        v.top1 = sink.row.top1;
        v.top1_float = sink.row.top1_float;
        v.objective = objective_value(q.objective, sink.row);
        return v;
    };
    const CandidateFn on_candidate = [&](const AutoCandidate& c) {
        // The same rule as auto_search's best: keep that candidate's network for -o.
        if (c.feasible && (!out.best_network || c.run.objective > best_objective ||
                           (c.run.objective == best_objective && c.run.drop() < best_drop))) {
            out.best_network = latest;
            best_objective = c.run.objective;
            best_drop = c.run.drop();
        }
        latest.reset();
        if (progress) report(progress, {"auto", "", static_cast<int64_t>(out.rows.size()),
                                        static_cast<int64_t>(q.max_candidates)});
        return another_candidate_fits(q.time_budget_seconds, elapsed(), longest_candidate);
    };
    try {
        out.search = auto_search(out.choices, so, verify, on_candidate);
        mark("completed");
    } catch (const Cancelled&) {
        mark("cancelled");
        throw;
    } catch (...) {
        mark("failed");
        throw;
    }
    if (out.search.stop_reason == "stopped" && q.time_budget_seconds > 0) out.search.stop_reason = "time budget";
    out.seconds = elapsed();
    return out;
}

}  // namespace qcnn
