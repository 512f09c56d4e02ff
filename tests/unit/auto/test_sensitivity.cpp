// Sensitivity analysis (issue 15) on the bundled LeNet-5 and Fashion-MNIST: the plan (layers,
// fitting values, errors), the one-at-a-time expansion, and real runs into a results file that
// are reused when asked again and resumed after a cancel.
#include <gtest/gtest.h>

#include <cmath>

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
