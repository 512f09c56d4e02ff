// Sensitivity analysis (issue 15) on the bundled LeNet-5 and Fashion-MNIST: the plan (layers,
// fitting values, errors), the one-at-a-time expansion, and real runs into a results file that
// are reused when asked again and resumed after a cancel.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "../temp_dir.h"
#include "core/auto/auto_settings.h"
#include "core/auto/sensitivity.h"
#include "core/eval/model_summary.h"
#include "core/sweep/results_file.h"
#include "core/util/error.h"
#include "core/util/json.h"

namespace qcnn {
namespace {

const char* kLenet = QCNN_DATASETS_DIR "/lenet5.onnx";

SensitivityRequest small_request() {
    SensitivityRequest r;
    r.options.base.model = kLenet;
    r.options.base.data = "fashion-mnist:test";
    r.options.base.limit = 200;
    r.options.base.calib_images = 64;
    r.options.base.kmeans_iters = 3;
    r.options.base.threads = 1;
    return r;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(Sensitivity, PlanSelectsLayersAndSkipsValuesThatDoNotFit) {
    const auto net = load_model(kLenet);
    SensitivityRequest r = small_request();
    r.grid = {"2/16", "4/16"};
    const SensitivityPlan p = plan_sensitivity(*net, r);
    // LeNet-5: conv1 (1 input channel: nothing fits), conv2 (8 channels), fc1, fc2.
    ASSERT_EQ(p.spec.grid.size(), 3u);
    EXPECT_EQ(p.spec.grid[0].layers, "conv2");
    EXPECT_EQ(p.spec.grid[1].layers, "fc1");
    EXPECT_EQ(p.spec.grid[2].layers, "fc2");
    for (const auto& g : p.spec.grid) EXPECT_EQ(g.settings, (std::vector<std::string>{"2/16", "4/16"}));
    ASSERT_EQ(p.skipped.size(), 2u);
    EXPECT_EQ(p.skipped[0].first, "conv1 2/16");
    EXPECT_TRUE(p.spec.one_at_a_time);
    EXPECT_TRUE(p.spec.measure_speed);
    EXPECT_TRUE(p.spec.base.layers.empty());

    r.layers = "fc";
    EXPECT_EQ(plan_sensitivity(*net, r).spec.grid.size(), 2u);
    r.layers = "conv2,fc2";
    const auto q = plan_sensitivity(*net, r).spec;
    ASSERT_EQ(q.grid.size(), 2u);
    EXPECT_EQ(q.grid[1].layers, "fc2");

    r.layers = "conv7";
    EXPECT_NE(error_of([&] { plan_sensitivity(*net, r); }).find("'conv7' is not a weight layer"), std::string::npos);
    r.layers = "conv1";  // nothing fits its single input channel
    EXPECT_NE(error_of([&] { plan_sensitivity(*net, r); }).find("no grid value fits"), std::string::npos);
    r.layers = "conv,fc";
    r.grid = {"4/300"};
    EXPECT_NE(error_of([&] { plan_sensitivity(*net, r); }), "");
    r.grid = {"dense"};
    EXPECT_NE(error_of([&] { plan_sensitivity(*net, r); }).find("not a C_s'/K setting"), std::string::npos);
    r.grid = {"4/16"};
    r.options.ec = {EcMode::Network};
    EXPECT_NE(error_of([&] { plan_sensitivity(*net, r); }).find("--ec network"), std::string::npos);
}

TEST(Sensitivity, OneAtATimeExpansionIsTheSumOfTheGroups) {
    SweepSpec s;
    s.base.layers = "conv1=dense";
    s.grid = {{"conv2", {"4/16", "8/16"}}, {"fc1", {"4/32"}}};
    s.seeds = {0, 7};
    s.one_at_a_time = true;
    const auto pts = expand(s);
    ASSERT_EQ(pts.size(), 6u);  // (2 + 1) x 2 seeds
    EXPECT_EQ(pts[0].layers, "conv1=dense,conv2=4/16");
    EXPECT_EQ(pts[1].layers, "conv1=dense,conv2=8/16");
    EXPECT_EQ(pts[2].layers, "conv1=dense,fc1=4/32");
    EXPECT_EQ(pts[3].seed, 7u);
    for (size_t i = 0; i < pts.size(); ++i) EXPECT_EQ(pts[i].index, static_cast<int64_t>(i));
    // Round trip through the spec text, which writes "vary" only when one-at-a-time.
    s.base.model = kLenet;
    s.base.data = "fashion-mnist:test";
    const std::string text = to_json(s);
    EXPECT_NE(text.find("\"vary\": \"one-at-a-time\""), std::string::npos) << text;
    EXPECT_EQ(parse_sweep_spec(json::parse(text), "t"), s);
    s.one_at_a_time = false;
    EXPECT_EQ(to_json(s).find("vary"), std::string::npos);
    EXPECT_EQ(expand(s).size(), 4u);  // 2 x 1 x 2 seeds
}

TEST(Sensitivity, RunsAreStoredReusedAndResumed) {
    test::TempDir dir;
    const std::string path = dir.file("sens.h5");
    const auto net = load_model(kLenet);
    SensitivityRequest r = small_request();
    r.layers = "fc1";
    r.grid = {"4/16", "8/16", "16/16"};
    const SensitivityPlan plan = plan_sensitivity(*net, r);

    // Cancel after the first run: the analysis stays in the file, unfinished.
    int finished = 0;
    EXPECT_THROW(run_sensitivity(plan, path, 1,
                                 [&](const Progress& p) {
                                     if (p.stage == "sweep" && p.done > 0) finished = static_cast<int>(p.done);
                                     return finished == 0;
                                 }),
                 Cancelled);
    ASSERT_EQ(finished, 1);
    ASSERT_EQ(list_sweeps(path, "sensitivity").size(), 1u);
    EXPECT_TRUE(list_sweeps(path).empty());  // nothing under /sweeps

    const SensitivityTable t = run_sensitivity(plan, path, 1);
    EXPECT_FALSE(t.reused);
    EXPECT_EQ(t.runs_resumed, 1);
    EXPECT_EQ(t.runs_done, 2);
    ASSERT_EQ(t.entries.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        const SensitivityEntry& e = t.entries[i];
        EXPECT_EQ(e.layer, "fc1");
        EXPECT_EQ(e.setting, r.grid[i]);
        EXPECT_EQ(e.top1_float, t.entries[0].top1_float);
        EXPECT_GT(e.top1_float, 0.8);
        EXPECT_GT(e.response_error, 0.0);
        EXPECT_GT(e.compression, 1.0);
        EXPECT_GT(e.bytes_dense, e.bytes_quantized);
        EXPECT_FALSE(std::isnan(e.quantized_ms));  // measured
        EXPECT_NEAR(e.top1_drop(), e.top1_float - e.top1, 0.0);
    }
    // Coarser sub-vectors at the same K: more compression, more response error.
    EXPECT_LT(t.entries[0].compression, t.entries[2].compression);
    EXPECT_LT(t.entries[0].response_error, t.entries[2].response_error);

    // Asked again: read back, nothing run.
    const SensitivityTable again = run_sensitivity(plan, path, 1, [](const Progress& p) {
        ADD_FAILURE() << "ran " << p.stage;
        return true;
    });
    EXPECT_TRUE(again.reused);
    EXPECT_EQ(again.id, t.id);
    ASSERT_EQ(again.entries.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(again.entries[i].top1, t.entries[i].top1);
        EXPECT_EQ(again.entries[i].response_error, t.entries[i].response_error);
    }
    // Another grid is another analysis.
    r.grid = {"4/16"};
    const SensitivityTable other = run_sensitivity(plan_sensitivity(*net, r), path, 1);
    EXPECT_FALSE(other.reused);
    EXPECT_NE(other.id, t.id);
    // The same run gives the same bits (seeded): the 4/16 entry matches the first analysis'.
    EXPECT_EQ(other.entries.at(0).top1, t.entries[0].top1);
    EXPECT_EQ(other.entries.at(0).response_error, t.entries[0].response_error);
}

}  // namespace
}  // namespace qcnn

namespace qcnn {
namespace {

TEST(Auto, VerifiedBestMeetsTheBudgetAndEveryCandidateIsARow) {
    test::TempDir dir;
    const std::string path = dir.file("auto.h5");
    AutoRequest q;
    q.sensitivity = small_request();
    q.sensitivity.layers = "fc1,fc2";
    q.sensitivity.grid = {"4/16", "8/16", "16/16"};
    q.verify_ec = EcMode::None;
    q.max_drop = 0.02;
    q.max_candidates = 4;
    const AutoOutcome o = run_auto(q, path, 1);
    ASSERT_FALSE(o.search.candidates.empty());
    EXPECT_EQ(o.rows.size(), o.search.candidates.size());
    EXPECT_LE(o.search.candidates.size(), 4u);
    ASSERT_TRUE(o.met());
    const RunRow* best = o.reported();
    ASSERT_NE(best, nullptr);
    EXPECT_LE(best->top1_float - best->top1, 0.02 + 1e-12);
    EXPECT_GT(best->compression, 1.0);
    ASSERT_TRUE(o.best_network);
    // The best is the most compressed of the feasible candidates.
    for (size_t i = 0; i < o.rows.size(); ++i) {
        EXPECT_EQ(o.search.candidates[i].feasible, o.rows[i].top1_float - o.rows[i].top1 <= 0.02 + 1e-12);
        if (o.search.candidates[i].feasible) {
            EXPECT_LE(o.rows[i].compression, best->compression);
        }
    }
    // The file holds the sensitivity table and one sweep with a row per candidate.
    EXPECT_EQ(list_sweeps(path, "sensitivity").size(), 1u);
    {
        const ResultsFile f = ResultsFile::read(path, o.sweep_id);  // closed before the next search writes
        EXPECT_EQ(f.runs().size(), o.rows.size());
        EXPECT_EQ(f.attributes().status, "completed");
    }
    // A second search reuses the sensitivity table.
    const AutoOutcome again = run_auto(q, path, 1);
    EXPECT_TRUE(again.sensitivity.reused);
    EXPECT_EQ(again.reported()->settings, best->settings);
    EXPECT_EQ(again.reported()->top1, best->top1);
}

TEST(Auto, UnreachableBoundReportsTheClosestAndBadRequestsAreNamed) {
    test::TempDir dir;
    const std::string path = dir.file("auto.h5");
    AutoRequest q;
    q.sensitivity = small_request();
    q.sensitivity.layers = "fc1";
    q.sensitivity.grid = {"4/16"};
    q.verify_ec = EcMode::None;
    q.objective = AutoObjective::Accuracy;
    q.max_drop = 0;
    q.min_compression = 100;  // LeNet's fc1 alone cannot give 100x
    const AutoOutcome o = run_auto(q, path, 1);
    EXPECT_FALSE(o.met());
    EXPECT_EQ(o.search.stop_reason, "no allocation fits");
    q.min_compression = 0;  // accuracy without a compression bound
    EXPECT_THROW(run_auto(q, path, 1), Error);
    q.objective = AutoObjective::Compression;
    q.min_compression = 5;  // compression objective with a compression bound
    EXPECT_THROW(run_auto(q, path, 1), Error);
    EXPECT_THROW(parse_auto_objective("fastest"), Error);
}

}  // namespace
}  // namespace qcnn

namespace qcnn {
namespace {

// Sensitivity runs in flight at once (issue 15 section 1) and fine-tuning in `qcnn auto` (issue
// 19): several (layer, setting) runs at once give the same table as one after another, cancel
// and resume still work with runs in flight, the memory estimate bounds the count, and the
// candidates of a fine-tuning search carry their fine-tuning while the sensitivity runs have none.
SensitivityRequest tiny_request(int parallel) {
    SensitivityRequest r = small_request();
    r.options.base.threads = 2;
    r.grid = {"2/16", "4/16"};  // conv2, fc1, fc2 x 2 = 6 runs (nothing fits conv1)
    r.parallel = parallel;
    return r;
}

// Every number of the table that does not come from a clock, bit for bit.
void expect_same_table(const SensitivityTable& a, const SensitivityTable& b) {
    ASSERT_EQ(a.entries.size(), b.entries.size());
    for (size_t i = 0; i < a.entries.size(); ++i) {
        const SensitivityEntry& x = a.entries[i];
        const SensitivityEntry& y = b.entries[i];
        SCOPED_TRACE(x.layer + " " + x.setting);
        EXPECT_EQ(x.layer, y.layer);
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.setting, y.setting);
        EXPECT_EQ(x.top1, y.top1);
        EXPECT_EQ(x.top5, y.top5);
        EXPECT_EQ(x.top1_float, y.top1_float);
        EXPECT_EQ(x.top5_float, y.top5_float);
        EXPECT_EQ(x.response_error, y.response_error);
        EXPECT_EQ(x.compression, y.compression);
        EXPECT_EQ(x.theoretical_speedup, y.theoretical_speedup);
        EXPECT_EQ(x.bytes_quantized, y.bytes_quantized);
        EXPECT_EQ(x.flops_quantized, y.flops_quantized);
        EXPECT_TRUE(std::isfinite(y.quantized_ms) && y.quantized_ms > 0);  // timed in both
        EXPECT_TRUE(std::isfinite(x.quantized_ms) && x.quantized_ms > 0);
    }
}

TEST(SensitivityParallel, TwoAtOnceGiveTheSerialTable) {
    test::TempDir dir;
    const auto net = load_model(kLenet);
    const SensitivityTable serial = run_sensitivity(plan_sensitivity(*net, tiny_request(1)), dir.file("a.h5"), 2);
    EXPECT_EQ(serial.parallel.cells, 1);
    ASSERT_EQ(serial.entries.size(), 6u);

    std::string first_sweep_note;
    std::map<std::string, int> running;  // "run i/n" -> progress reports seen
    const SensitivityTable par = run_sensitivity(
        plan_sensitivity(*net, tiny_request(2)), dir.file("b.h5"), 2, [&](const Progress& p) {
            if (p.stage == "sweep" && first_sweep_note.empty()) first_sweep_note = p.layer;
            if (p.stage != "sweep") ++running[p.layer.substr(0, p.layer.find(':'))];
            return true;
        });
    EXPECT_EQ(par.parallel.cells, 2);
    EXPECT_EQ(par.parallel.threads_per_cell, 1);
    EXPECT_NE(first_sweep_note.find("2 runs at once, 1 thread each (--parallel 2"), std::string::npos) << first_sweep_note;
    EXPECT_EQ(running.size(), 6u);  // every run reported its stages under its own label
    EXPECT_TRUE(running.count("run 1/6") && running.count("run 6/6"));
    EXPECT_EQ(par.runs_done, 6);
    expect_same_table(serial, par);

    // Read back from the file (rows appended in finishing order): the same table, in run order.
    const SensitivityTable again = run_sensitivity(plan_sensitivity(*net, tiny_request(2)), dir.file("b.h5"), 2);
    EXPECT_TRUE(again.reused);
    expect_same_table(serial, again);
    EXPECT_EQ(ResultsFile::read(dir.file("b.h5"), par.id, "sensitivity").attributes().status, "completed");
}

TEST(SensitivityParallel, CancelWithRunsInFlightThenResume) {
    test::TempDir dir;
    const std::string path = dir.file("s.h5");
    const auto net = load_model(kLenet);
    const SensitivityPlan plan = plan_sensitivity(*net, tiny_request(2));
    // Cancel as soon as the first run has finished: the other run in flight stops at its next report.
    int64_t finished = 0, reports_after_cancel = 0;
    bool cancelled = false;
    EXPECT_THROW(run_sensitivity(plan, path, 2,
                                 [&](const Progress& p) {
                                     if (cancelled) ++reports_after_cancel;
                                     if (p.stage == "sweep" && p.done > 0) finished = p.done;
                                     cancelled = finished > 0;
                                     return !cancelled;
                                 }),
                 Cancelled);
    EXPECT_GE(finished, 1);
    EXPECT_EQ(reports_after_cancel, 0);  // nothing reported once cancelled: every run stopped
    const std::vector<std::string> ids = list_sweeps(path, "sensitivity");
    ASSERT_EQ(ids.size(), 1u);
    int64_t kept = 0;
    {
        const ResultsFile f = ResultsFile::read(path, ids[0], "sensitivity");
        EXPECT_EQ(f.attributes().status, "cancelled");
        kept = static_cast<int64_t>(f.runs().size());
    }
    EXPECT_GE(kept, 1);
    EXPECT_LT(kept, 6);

    const SensitivityTable resumed = run_sensitivity(plan, path, 2);
    EXPECT_FALSE(resumed.reused);
    EXPECT_EQ(resumed.id, ids[0]);
    EXPECT_EQ(resumed.runs_resumed, kept);
    EXPECT_EQ(resumed.runs_done, 6 - kept);
    const SensitivityTable serial = run_sensitivity(plan_sensitivity(*net, tiny_request(1)), dir.file("serial.h5"), 2);
    expect_same_table(serial, resumed);
}

TEST(SensitivityParallel, TheCountFollowsThreadsMemoryAndTheRequest) {
    const auto net = load_model(kLenet);
    const SensitivityPlan plan = plan_sensitivity(*net, tiny_request(0));
    const int64_t available = available_memory_bytes();
    ASSERT_GT(available, 0);  // Linux: /proc/meminfo
    const SensitivityParallelism a = sensitivity_parallelism(*net, plan.spec, 2, 0, 6);
    EXPECT_GT(a.cell_bytes, 4 * 200 * 28 * 28);  // at least the evaluation images as floats
    EXPECT_LE(a.cells, 2);
    EXPECT_NE(a.reason.find("automatic"), std::string::npos) << a.reason;
    // More runs than threads are asked for: granted, each on one thread; never more than the runs.
    EXPECT_EQ(sensitivity_parallelism(*net, plan.spec, 2, 4, 6).cells, 4);
    EXPECT_EQ(sensitivity_parallelism(*net, plan.spec, 2, 4, 6).threads_per_cell, 1);
    EXPECT_EQ(sensitivity_parallelism(*net, plan.spec, 8, 0, 3).cells, 3);
    EXPECT_EQ(sensitivity_parallelism(*net, plan.spec, 8, 2, 6).threads_per_cell, 4);
    // A run bigger than the memory: one at a time, and the reason says so.
    SweepSpec huge = plan.spec;
    huge.base.limit = available;  // available / 1 byte images as floats cannot fit twice
    const SensitivityParallelism h = sensitivity_parallelism(*net, huge, 8, 0, 6);
    EXPECT_EQ(h.cells, 1);
    EXPECT_NE(h.reason.find("1 fit"), std::string::npos) << h.reason;
}

TEST(AutoFinetune, CandidatesFinetuneAndTheSensitivityRunsDoNot) {
    test::TempDir dir;
    const std::string path = dir.file("auto.h5");
    const auto net = load_model(kLenet);
    AutoRequest q;
    q.sensitivity = tiny_request(1);
    q.sensitivity.layers = "fc1";
    q.sensitivity.grid = {"4/16", "8/16"};
    q.sensitivity.options.base.finetune = true;
    q.sensitivity.options.base.ft_epochs = 1;
    q.sensitivity.options.base.ft_images = 300;
    q.sensitivity.options.base.ft_params = "codebooks,bias";
    q.sensitivity.options.base.ft_distill = 1.0f;  // candidates distil from the float LeNet-5
    q.verify_ec = EcMode::None;
    q.max_drop = 0.02;
    q.max_candidates = 2;
    int finetune_reports = 0;
    bool in_sensitivity = true;
    const AutoOutcome o = run_auto(q, path, 1, [&](const Progress& p) {
        if (p.stage == "auto") in_sensitivity = false;
        if (p.stage == "finetune") {
            EXPECT_FALSE(in_sensitivity) << "a sensitivity run fine-tuned";
            ++finetune_reports;
        }
        return true;
    });
    ASSERT_FALSE(o.rows.empty());
    ASSERT_EQ(o.finetune.size(), o.rows.size());
    EXPECT_GT(finetune_reports, 0);
    for (const CandidateFinetune& f : o.finetune) {
        EXPECT_TRUE(f.ran);
        ASSERT_EQ(f.result.epochs.size(), 1u);
        EXPECT_GT(f.result.train_images, 0);
        EXPECT_LE(f.result.train_images + f.result.val_images, 300);
        EXPECT_TRUE(std::isfinite(f.result.epochs[0].train_loss));
        EXPECT_GT(f.seconds, 0);
    }
    // The sensitivity table is the one a plain analysis stores: no fine-tuning in its spec, so
    // `qcnn sensitivity` with the same options reuses it.
    const std::string sid = o.sensitivity.id;
    {
        const ResultsFile f = ResultsFile::read(path, sid, "sensitivity");
        EXPECT_EQ(f.attributes().spec_canonical.find("finetune"), std::string::npos) << f.attributes().spec_canonical;
        EXPECT_EQ(f.attributes().spec_canonical.find("ft_"), std::string::npos) << f.attributes().spec_canonical;
        const ResultsFile c = ResultsFile::read(path, o.sweep_id);
        EXPECT_NE(c.attributes().spec_json.find("\"finetune\": true"), std::string::npos) << c.attributes().spec_json;
        EXPECT_NE(c.attributes().spec_json.find("\"ft_distill\": 1"), std::string::npos) << c.attributes().spec_json;
    }
    SensitivityRequest plain = q.sensitivity;
    plain.options.base.finetune = false;
    plain.options.base.ft_epochs = RunSpec{}.ft_epochs;
    plain.options.base.ft_images = RunSpec{}.ft_images;
    plain.options.base.ft_params = RunSpec{}.ft_params;
    plain.options.base.ft_distill = RunSpec{}.ft_distill;
    const SensitivityTable t = run_sensitivity(plan_sensitivity(*net, plain), path, 1);
    EXPECT_TRUE(t.reused);
    EXPECT_EQ(t.id, sid);

    // Asked of `qcnn sensitivity` directly, fine-tuning is refused with the reason.
    try {
        plan_sensitivity(*net, q.sensitivity);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("--finetune does not apply to one layer at a time"), std::string::npos)
            << e.what();
    }
    // So is the paper's recipe (its step 2 trains the dense layers).
    SensitivityRequest recipe = plain;
    recipe.options.base.recipe = "paper";
    EXPECT_NE(error_of([&] { plan_sensitivity(*net, recipe); }).find("--recipe paper does not apply to one layer"),
              std::string::npos);
}

}  // namespace
}  // namespace qcnn
