// Issue 16 section 2: the workbench's state without widgets (WorkbenchSession: load, float
// evaluation, a run, settings file, session file), and issue 18 items 1 and 2: results carry
// their model, data and spec, and the export writes one sweep group per (model, data, spec) with
// the true provenance and the run numbers the table shows.
#include <gtest/gtest.h>

#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <cmath>

#include "core/sweep/results_file.h"
#include "core/util/json.h"
#include "core/util/sha256.h"
#include "ui/format.h"
#include "ui/layer_table_model.h"
#include "ui/results_model.h"
#include "ui/session_file.h"
#include "ui/workbench_session.h"
#include "ui_test_util.h"

namespace qcnn::ui {
namespace {

const QString kFashion = QStringLiteral(QCNN_FASHION_MNIST_DIR);

// Waits for the session's job to end; its status ("" on timeout).
QString runAndWait(WorkbenchSession& s) {
    QSignalSpy finished(&s, &WorkbenchSession::runFinished);
    if (!s.run()) return QStringLiteral("not started");
    if (!waitFor([&] { return !finished.isEmpty(); })) return {};
    return finished[0][0].toString();
}

TEST(WorkbenchSession, LoadsEvaluatesRunsSavesSettingsAndKeepsTheRunWithoutAWindow) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    QTemporaryDir dir;
    WorkbenchSession s;
    QSignalSpy errors(&s, &WorkbenchSession::errorOccurred);
    QSignalSpy loaded(&s, &WorkbenchSession::modelLoaded);
    s.setRunOptions(fastOptions());
    EXPECT_EQ(s.runOptions().base.limit, 200);
    EXPECT_EQ(s.runOptions().base.kmeans_iters, 4);
    s.openModel(kLenet);
    EXPECT_TRUE(s.isLoading());
    ASSERT_TRUE(waitFor([&] { return !loaded.isEmpty(); }));
    EXPECT_EQ(s.modelPath(), kLenet);
    EXPECT_EQ(s.layerModel()->geometry().layers.size(), 4u);
    ASSERT_TRUE(waitFor([&] { return !s.isEvaluatingFloat(); }));
    const double floatTop1 = s.floatTop1();
    ASSERT_TRUE(std::isfinite(floatTop1));
    EXPECT_GT(floatTop1, 0.5);
    EXPECT_EQ(s.floatEval()->samples, 200);
    // The results know the current (model, data) pair.
    EXPECT_EQ(s.results()->currentModel(), kLenet.toStdString());
    EXPECT_EQ(s.results()->currentData(), "fashion-mnist:test");

    // One quantization run: a row with the table's settings, the cached float top-1 and provenance.
    s.layerModel()->setSettingsText(QStringLiteral("conv2=4/16,fc1=4/16"));
    QSignalSpy messages(&s, &WorkbenchSession::statusMessage);
    ASSERT_EQ(runAndWait(s), "completed");
    EXPECT_TRUE(errors.isEmpty()) << (errors.isEmpty() ? "" : errors[0][1].toString().toStdString());
    ASSERT_EQ(s.results()->rowCount(), 1);
    const RunRecord& r = s.results()->record(0);
    EXPECT_EQ(r.row.settings, "conv2=4/16,fc1=4/16");
    EXPECT_DOUBLE_EQ(r.row.top1_float, floatTop1);
    EXPECT_GT(r.row.top1, 0.3);
    EXPECT_GT(r.row.compression, 1.0);
    EXPECT_EQ(r.model, kLenet.toStdString());
    EXPECT_EQ(r.data, "fashion-mnist:test");
    EXPECT_EQ(r.modelSha256, sha256_file(kLenet.toStdString()));
    EXPECT_EQ(r.samples, 200);
    ASSERT_TRUE(r.spec);  // a hand run: its one-point spec
    EXPECT_EQ(r.spec->base.layers, "conv2=4/16,fc1=4/16");
    EXPECT_TRUE(r.spec->grid.empty());
    EXPECT_EQ(r.spec->base.kmeans_iters, 4);
    EXPECT_EQ(expand(*r.spec).size(), 1u);
    EXPECT_TRUE(s.results()->isCurrent(0));
    EXPECT_EQ(s.results()->data(s.results()->index(0, ResultsModel::Model)).toString(), QStringLiteral("lenet5.onnx"));
    EXPECT_EQ(s.results()->data(s.results()->index(0, ResultsModel::Run)).toLongLong(), 1);
    EXPECT_TRUE(s.hasUnexportedResults());
    // The end of the run is said, with its number and result.
    ASSERT_FALSE(messages.isEmpty());
    EXPECT_EQ(messages.last()[0].toString(),
              QStringLiteral("Run 1 finished: top-1 %1, compression %2, speed-up %3")
                  .arg(formatPercent(r.row.top1), formatRatio(r.row.compression), formatRatio(r.row.theoretical_speedup)));
    // A run cancelled at once: no row, and the message says how many of how many finished.
    {
        QSignalSpy finished(&s, &WorkbenchSession::runFinished);
        ASSERT_TRUE(s.run());
        s.cancelRun();
        ASSERT_TRUE(waitFor([&] { return !finished.isEmpty(); }));
        EXPECT_EQ(finished[0][0].toString(), "cancelled");
        EXPECT_EQ(messages.last()[0].toString(), QStringLiteral("Cancelled after 0 of 1 run"));
        EXPECT_EQ(s.results()->rowCount(), 1);
    }

    // The session file got the run, numbered as the table shows it, with its provenance.
    const QString session = s.sessionPath();
    ASSERT_FALSE(session.isEmpty());
    const std::vector<std::string> ids = list_sweeps(session.toStdString());
    ASSERT_EQ(ids.size(), 1u);
    const ResultsFile f = ResultsFile::read(session.toStdString(), ids[0]);
    ASSERT_EQ(f.runs().size(), 1u);
    EXPECT_EQ(f.runs()[0].settings, r.row.settings);
    EXPECT_EQ(f.runs()[0].run_index, 1);
    EXPECT_EQ(f.attributes().model_sha256, r.modelSha256);
    EXPECT_EQ(f.attributes().spec_json, to_json(*r.spec));
    const std::vector<RunRecord> back = SessionFile::readSession(session);
    ASSERT_EQ(back.size(), 1u);
    ASSERT_TRUE(back[0].spec);
    EXPECT_EQ(to_json(*back[0].spec), to_json(*r.spec));

    // Settings file: saved, then the table changed, then loaded back.
    const QString json = dir.filePath("settings.json");
    ASSERT_TRUE(s.saveSettings(json));
    const SweepSpec saved = load_sweep_spec(json.toStdString());
    EXPECT_EQ(saved.base.layers, "conv2=4/16,fc1=4/16");
    EXPECT_EQ(saved.base.limit, 200);
    EXPECT_EQ(saved.base.kmeans_iters, 4);
    s.layerModel()->setSettingsText(QString());
    SweepSpec other = fastOptions();
    other.base.kmeans_iters = 7;
    s.setRunOptions(other);
    EXPECT_EQ(s.runOptions().base.kmeans_iters, 7);
    QSignalSpy optionsLoaded(&s, &WorkbenchSession::runOptionsLoaded);
    ASSERT_TRUE(s.loadSettings(json));
    EXPECT_EQ(optionsLoaded.size(), 1);
    EXPECT_EQ(s.layerModel()->settingsText(), QStringLiteral("conv2=4/16,fc1=4/16"));
    EXPECT_EQ(s.runOptions().base.kmeans_iters, 4);
    EXPECT_TRUE(s.recentFiles().contains(QFileInfo(json).absoluteFilePath()));

    // A bad settings file is an error signal naming the file, and changes nothing.
    const QString bad = dir.filePath("bad.json");
    QFile b(bad);
    ASSERT_TRUE(b.open(QIODevice::WriteOnly));
    b.write("{\"model\": ");
    b.close();
    EXPECT_FALSE(s.loadSettings(bad));
    ASSERT_EQ(errors.size(), 1);
    EXPECT_TRUE(errors[0][1].toString().contains(bad)) << errors[0][1].toString().toStdString();
    EXPECT_EQ(s.layerModel()->settingsText(), QStringLiteral("conv2=4/16,fc1=4/16"));
}

// Issue 18 item 7: overall progress. A 2-run sweep on LeNet (float cached, EC none, speed not
// measured): k-means is stage 1, the quantized evaluation the last stage, and the fraction of the
// whole sweep stays in the run's half.
TEST(WorkbenchSession, OverallProgressCountsStagesAndRuns) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    WorkbenchSession s;
    SweepSpec o = fastOptions();
    o.base.limit = 5000;  // an evaluation stage long enough for the 50 ms progress polls to see it
    s.setRunOptions(o);
    QSignalSpy loaded(&s, &WorkbenchSession::modelLoaded);
    s.openModel(kLenet);
    ASSERT_TRUE(waitFor([&] { return !loaded.isEmpty(); }));
    ASSERT_TRUE(waitFor([&] { return !s.isEvaluatingFloat(); }));
    EXPECT_EQ(s.jobProgress().runs, 0);  // no job
    SweepGroup g;
    g.layers = "conv2";
    g.settings = {"4/16", "2/16"};
    QSignalSpy finished(&s, &WorkbenchSession::runFinished);
    std::vector<WorkbenchSession::JobProgress> seen;
    QObject::connect(&s, &WorkbenchSession::progressChanged, [&] { seen.push_back(s.jobProgress()); });
    ASSERT_TRUE(s.runSweep({g}, {EcMode::None}, {0}));
    ASSERT_TRUE(waitFor([&] { return !finished.isEmpty(); }));
    ASSERT_EQ(finished[0][0].toString(), "completed");
    ASSERT_FALSE(seen.empty());
    int staged = 0;
    for (const auto& p : seen) {
        EXPECT_EQ(p.runs, 2);
        EXPECT_GE(p.fraction, 0.5 * p.run);
        EXPECT_LE(p.fraction, 0.5 * (p.run + 1) + 1e-9);
        if (p.stage == 0) continue;  // between stages
        ++staged;
        EXPECT_GE(p.stages, 3);  // k-means, calibration, evaluation at least
        EXPECT_LE(p.stage, p.stages);
        if (p.stageName == "kmeans") {
            EXPECT_EQ(p.stage, 1);  // the float evaluation was cached
        }
        if (p.stageName == "evaluate quantized") {
            EXPECT_EQ(p.stage, p.stages);
        }
    }
    EXPECT_GT(staged, 0);
}

// The position within a run, deterministically: stages in order, weighted by their estimates.
TEST(WorkbenchSession, RunPositionWeighsStagesByTheirEstimates) {
    const WorkbenchSession::RunStages stages{{"evaluate float", 1.0}, {"k-means", 2.0}, {"calibration", 3.0}, {"evaluation", 4.0}};
    using P = std::pair<int, double>;
    EXPECT_EQ(WorkbenchSession::runPosition(stages, "evaluate float", 5, 10), P(1, 0.05));
    EXPECT_EQ(WorkbenchSession::runPosition(stages, "kmeans", 0, 10), P(2, 0.1));
    EXPECT_EQ(WorkbenchSession::runPosition(stages, "quantize", 10, 10), P(2, 0.3));
    EXPECT_EQ(WorkbenchSession::runPosition(stages, "response-error", 1, 2), P(3, 0.45));
    EXPECT_EQ(WorkbenchSession::runPosition(stages, "evaluate quantized", 20, 10), P(4, 1.0));  // clamped
    EXPECT_EQ(WorkbenchSession::runPosition(stages, "error-correction", 1, 2), P(0, 0.0));     // not in this run
    EXPECT_EQ(WorkbenchSession::runPosition(stages, "sweep", 1, 2), P(0, 0.0));
    // Without the float evaluation, "evaluate float" is no stage of the run.
    const WorkbenchSession::RunStages cached(stages.begin() + 1, stages.end());
    EXPECT_EQ(WorkbenchSession::runPosition(cached, "evaluate float", 1, 2), P(0, 0.0));
    EXPECT_EQ(WorkbenchSession::runPosition(cached, "evaluate quantized", 0, 10), P(3, 5.0 / 9.0));
}

// Export after a model switch: two groups, each with its own runs' model, SHA-256, spec and data,
// and the table's run numbers.
TEST(WorkbenchSession, ExportAfterAModelSwitchWritesTheTrueProvenancePerGroup) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    QTemporaryDir dir;
    const QString copy = dir.filePath("lenet-copy.onnx");
    ASSERT_TRUE(QFile::copy(kLenet, copy));
    MainWindow w;
    ErrorLog errors;
    w.setErrorHandler(errors.handler());
    w.setRunOptions(fastOptions());
    ASSERT_TRUE(openAndWait(w, kLenet));
    ASSERT_TRUE(waitFor([&] { return !w.isEvaluatingFloat(); }));
    w.layerModel()->setSettingsText(QStringLiteral("conv2=4/16,fc1=4/16"));
    QSignalSpy finished(&w, &MainWindow::runFinished);
    ASSERT_TRUE(w.run());
    ASSERT_TRUE(waitFor([&] { return finished.size() == 1; }));

    // Another model (the same network under another name), other settings and seed.
    QSignalSpy current(w.resultsModel(), &ResultsModel::currentChanged);
    ASSERT_TRUE(openAndWait(w, copy));
    EXPECT_GE(current.size(), 1);
    EXPECT_FALSE(w.resultsModel()->isCurrent(0));  // the first run is now another model's
    ASSERT_TRUE(waitFor([&] { return !w.isEvaluatingFloat(); }));
    w.layerModel()->setSettingsText(QStringLiteral("conv2=2/16"));
    SweepSpec o = fastOptions();
    o.seeds = {7};
    w.setRunOptions(o);
    ASSERT_TRUE(w.run());
    ASSERT_TRUE(waitFor([&] { return finished.size() == 2; }));
    EXPECT_TRUE(errors.messages.isEmpty()) << errors.messages.join("; ").toStdString();

    ResultsModel& results = *w.resultsModel();
    ASSERT_EQ(results.rowCount(), 2);
    EXPECT_FALSE(results.isCurrent(0));
    EXPECT_TRUE(results.isCurrent(1));
    EXPECT_EQ(results.data(results.index(0, ResultsModel::Model)).toString(), QStringLiteral("lenet5.onnx"));
    EXPECT_EQ(results.data(results.index(1, ResultsModel::Model)).toString(), QStringLiteral("lenet-copy.onnx"));
    EXPECT_TRUE(results.data(results.index(1, ResultsModel::Model), Qt::ToolTipRole).toString().contains(copy));
    EXPECT_TRUE(results.data(results.index(1, ResultsModel::Model), Qt::ToolTipRole).toString().contains("fashion-mnist:test"));

    const QString h5 = dir.filePath("results.h5");
    ASSERT_TRUE(w.exportResultsHdf5(h5));
    const std::vector<std::string> ids = list_sweeps(h5.toStdString());
    ASSERT_EQ(ids.size(), 2u);
    for (int g = 0; g < 2; ++g) {
        const RunRecord& rec = results.record(g);
        const ResultsFile f = ResultsFile::read(h5.toStdString(), ids[g]);
        const SweepAttributes a = f.attributes();
        EXPECT_EQ(a.model_path, rec.model) << g;
        EXPECT_FALSE(a.model_sha256.empty()) << g;
        EXPECT_EQ(a.model_sha256, sha256_file(rec.model)) << g;
        EXPECT_EQ(a.data_spec, "fashion-mnist:test");
        EXPECT_EQ(a.samples, 200);
        const SweepSpec spec = parse_sweep_spec(json::parse(a.spec_json), "spec");
        EXPECT_EQ(spec.base.model, rec.model) << g;
        EXPECT_EQ(spec.base.layers, rec.row.settings) << g;
        EXPECT_EQ(spec.base.data, "fashion-mnist:test");
        ASSERT_EQ(spec.seeds.size(), 1u);
        EXPECT_EQ(spec.seeds[0], g == 0 ? 0u : 7u);
        EXPECT_EQ(a.seeds, g == 0 ? "0" : "7");
        const std::vector<RunRow> runs = f.runs();
        ASSERT_EQ(runs.size(), 1u) << g;
        EXPECT_EQ(runs[0].settings, rec.row.settings);
        EXPECT_EQ(runs[0].seed, rec.row.seed);
        // run_index is the table's Run number.
        EXPECT_EQ(runs[0].run_index, results.data(results.index(g, ResultsModel::Run)).toLongLong()) << g;
        for (const LayerRow& l : f.layers()) EXPECT_EQ(l.run_index, runs[0].run_index);
    }
    EXPECT_FALSE(w.hasUnexportedResults());
}

}  // namespace
}  // namespace qcnn::ui
