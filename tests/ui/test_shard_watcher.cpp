// Issue 17: the workbench's watcher of a sweep on Slurm streams the runs of the shard files as
// they appear, each once and in run order, and ends when every run of the spec arrived. No Slurm
// here: the shard files are written by the test (as the tasks would), squeue is absent or fails.
#include <gtest/gtest.h>

#include <QSignalSpy>
#include <QTemporaryDir>

#include "core/sweep/results_file.h"
#include "tests/unit/temp_dir.h"
#include "ui/layer_table_model.h"
#include "ui/shard_watcher.h"
#include "ui/sweep_dialog.h"

namespace qcnn::ui {
namespace {

RunRow runOf(int64_t i) {
    RunRow r;
    r.run_index = i;
    r.settings = "fc=4/16";
    r.ec = "none";
    r.top1 = 0.5 + 0.1 * static_cast<double>(i);
    r.shard = i % 2;
    r.shards = 2;
    return r;
}

TEST(ShardWatcher, StreamsEachRunOnceAsTheShardFilesGrowThenCompletes) {
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    ClusterSweep c;
    c.workdir = dir.path().toStdString();
    c.results = "out.h5";
    c.sweep_id = "w1";
    c.options.shards = 2;
    c.runs = 4;
    std::filesystem::create_directories(c.dir() + "/shards");
    SweepAttributes a = environment_attributes();
    a.status = "running";
    {
        ResultsFile s0 = ResultsFile::create(c.shard_file(0), "w1", a);
        s0.append(runOf(0), {});
        s0.append(runOf(2), {});
        s0.set_status("completed", "2026-12-05T10:00:00Z");
    }
    {
        ResultsFile s1 = ResultsFile::create(c.shard_file(1), "w1", a);
        s1.append(runOf(1), {});
    }
    ShardWatcher w(c, "m.onnx", "fashion-mnist:test");
    QSignalSpy runs(&w, &ShardWatcher::runFinished);
    QSignalSpy finished(&w, &ShardWatcher::finished);
    w.start(50);
    for (int waited = 0; runs.count() < 3 && waited < 20000; waited += 50) runs.wait(50);
    ASSERT_EQ(runs.count(), 3);
    for (int i = 0; i < 3; ++i) {
        const auto rec = runs.at(i).at(0).value<RunRecord>();
        EXPECT_EQ(rec.row.run_index, i);  // sorted by run index across the shards
        EXPECT_EQ(rec.row.top1, runOf(i).top1);
        EXPECT_EQ(rec.model, "m.onnx");
    }
    // Several more polls: nothing is handed over twice, and it keeps watching.
    QSignalSpy progress(&w, &ShardWatcher::progress);
    for (int waited = 0; progress.count() < 3 && waited < 20000; waited += 50) progress.wait(50);
    EXPECT_EQ(runs.count(), 3);
    EXPECT_TRUE(finished.isEmpty());
    EXPECT_TRUE(w.isWatching());
    EXPECT_EQ(progress.last().at(0).toInt(), 3);
    EXPECT_EQ(progress.last().at(1).toInt(), 4);

    {
        // Shard 1 finishes (written aside and renamed in: this process reads the file meanwhile).
        const std::string aside = c.shard_file(1) + ".new";
        {
            ResultsFile s1 = ResultsFile::create(aside, "w1", a);
            s1.append(runOf(1), {});
            s1.append(runOf(3), {});
            s1.set_status("completed", "2026-12-05T10:01:00Z");
        }
        std::filesystem::rename(aside, c.shard_file(1));
    }
    for (int waited = 0; finished.isEmpty() && waited < 20000; waited += 50) finished.wait(50);
    ASSERT_EQ(finished.count(), 1);
    EXPECT_EQ(finished.at(0).at(0).toString(), QStringLiteral("completed"));
    ASSERT_EQ(runs.count(), 4);
    EXPECT_EQ(runs.at(3).at(0).value<RunRecord>().row.run_index, 3);
    EXPECT_FALSE(w.isWatching());
}

// "Run on cluster..." without sbatch on PATH: the spec is saved next to the results file and the
// scripts are written (to copy to a login node); the dialog says what to watch.
TEST(SweepDialog, RunOnClusterWithoutSbatchWritesTheSpecAndTheScripts) {
    test::TempDir dir;
    LayerTableModel layers;
    SweepDialog d(&layers, [](EcMode) { return 1.0; });
    d.removeGroups();
    d.addValuesGroup(QStringLiteral("fc"), QStringLiteral("4/16, 8/32, 2/16"));
    d.setGrid(d.grid(), {EcMode::None}, {7});
    d.enableCluster(
        [](const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec, const std::vector<uint64_t>& seeds) {
            SweepSpec s;
            s.base.model = QCNN_DATASETS_DIR "/lenet5.onnx";
            s.base.data = "fashion-mnist:test";
            s.grid = grid;
            s.ec = ec;
            s.seeds = seeds;
            return s;
        },
        QStringLiteral("/opt/qcnn/bin/qcnn"));
    const QByteArray path = qgetenv("PATH");
    qputenv("PATH", "/nonexistent");
    SlurmOptions o;
    o.shards = 2;
    QString error;
    const bool ok = d.runOnCluster(QString::fromStdString(dir.file("c.h5")), o, &error);
    qputenv("PATH", path);
    ASSERT_TRUE(ok) << error.toStdString();
    EXPECT_FALSE(d.submitted());
    ASSERT_TRUE(d.clusterSweep().has_value());
    const ClusterSweep& c = *d.clusterSweep();
    EXPECT_EQ(c.runs, 3);
    EXPECT_EQ(c.options.shards, 2);
    EXPECT_EQ(c.spec, dir.file("c.h5") + ".spec.json");
    const SweepSpec saved = load_sweep_spec(c.spec);
    EXPECT_EQ(saved.seeds, std::vector<uint64_t>{7});
    EXPECT_EQ(saved.grid.at(0).settings, (std::vector<std::string>{"4/16", "8/32", "2/16"}));
    EXPECT_TRUE(std::filesystem::exists(c.array_script()));
    EXPECT_TRUE(std::filesystem::exists(c.submit_script()));
    EXPECT_EQ(c.qcnn, "/opt/qcnn/bin/qcnn");
    EXPECT_EQ(c.dir(), dir.file("c.h5") + ".slurm");

    o.shards = 0;  // refused with the option's name
    EXPECT_FALSE(d.runOnCluster(QString::fromStdString(dir.file("d.h5")), o, &error));
    EXPECT_EQ(error.toStdString(), "--shards: N = 0 is out of range (1..100000)");
}

}  // namespace
}  // namespace qcnn::ui
