// run_auto's callbacks (the workbench's "Find settings..." streams through them): the sensitivity
// table once, before any candidate, and every candidate's rows in run order, exactly the rows
// the outcome and the results file hold.
#include <gtest/gtest.h>

#include "../temp_dir.h"
#include "core/auto/auto_settings.h"
#include "core/sweep/results_file.h"

namespace qcnn {
namespace {

TEST(AutoCallbacks, SensitivityThenEveryCandidateInOrder) {
    test::TempDir dir;
    const std::string path = dir.file("auto.h5");
    AutoRequest q;
    q.sensitivity.options.base.model = QCNN_DATASETS_DIR "/lenet5.onnx";
    q.sensitivity.options.base.data = "fashion-mnist:test";
    q.sensitivity.options.base.limit = 200;
    q.sensitivity.options.base.calib_images = 64;
    q.sensitivity.options.base.kmeans_iters = 3;
    q.sensitivity.options.base.threads = 1;
    q.sensitivity.layers = "fc1,fc2";
    q.sensitivity.grid = {"4/16", "16/16"};
    q.verify_ec = EcMode::None;
    q.max_drop = 0.02;
    q.max_candidates = 3;

    std::vector<std::string> events;
    std::vector<SensitivityEntry> table;
    std::vector<RunRow> rows;
    std::vector<std::vector<LayerRow>> layers;
    q.on_sensitivity = [&](const SensitivityTable& t) {
        events.push_back("sensitivity");
        table = t.entries;
    };
    q.on_candidate = [&](const RunRow& r, const std::vector<LayerRow>& l) {
        events.push_back("candidate");
        rows.push_back(r);
        layers.push_back(l);
    };
    const AutoOutcome o = run_auto(q, path, 1);

    ASSERT_FALSE(o.rows.empty());
    ASSERT_EQ(events.size(), 1 + o.rows.size());
    EXPECT_EQ(events.front(), "sensitivity");
    ASSERT_EQ(table.size(), o.sensitivity.entries.size());
    EXPECT_EQ(table.size(), 4u);  // 2 layers x 2 settings
    for (size_t i = 0; i < table.size(); ++i) {
        EXPECT_EQ(table[i].layer, o.sensitivity.entries[i].layer);
        EXPECT_EQ(table[i].setting, o.sensitivity.entries[i].setting);
        EXPECT_EQ(table[i].top1, o.sensitivity.entries[i].top1);
    }
    const ResultsFile f = ResultsFile::read(path, o.sweep_id);
    const std::vector<RunRow> stored = f.runs();
    ASSERT_EQ(rows.size(), o.rows.size());
    ASSERT_EQ(stored.size(), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(rows[i].run_index, static_cast<int64_t>(i));
        EXPECT_EQ(rows[i].settings, o.rows[i].settings);
        EXPECT_EQ(rows[i].settings, stored[i].settings);
        EXPECT_EQ(rows[i].top1, stored[i].top1);
        EXPECT_EQ(rows[i].compression, o.rows[i].compression);
        ASSERT_FALSE(layers[i].empty());
        for (const LayerRow& l : layers[i]) EXPECT_EQ(l.run_index, static_cast<int64_t>(i));
    }
    EXPECT_EQ(f.layers().size(), [&] {
        size_t n = 0;
        for (const auto& l : layers) n += l.size();
        return n;
    }());
}

// The time budget covers the whole search: a candidate starts only when one as long as the
// longest so far still ends within it; the first always runs; 0 is no budget.
TEST(AutoTimeBudget, ACandidateStartsOnlyWhenItIsExpectedToEndWithinTheBudget) {
    EXPECT_TRUE(another_candidate_fits(0, 1e9, 1e9));        // no budget
    EXPECT_TRUE(another_candidate_fits(1800, 600, 0));       // nothing ran yet
    EXPECT_TRUE(another_candidate_fits(1800, 1100, 700));    // ends at 1800 s: exactly within
    EXPECT_FALSE(another_candidate_fits(1800, 1101, 700));   // would end at 1801 s
    EXPECT_FALSE(another_candidate_fits(1800, 1200, 700));   // the old rule (elapsed < budget) started it
    EXPECT_FALSE(another_candidate_fits(1800, 1900, 0));     // already past the budget
}

}  // namespace
}  // namespace qcnn
