// Issue 19's workbench side (fine-tuning: the live curve, the record and the session file, the
// form, the results column), the results table's column widths, and issue 14's measured memory in
// the workbench (Run > Measure Run-time Memory: qcnn eval in a child process).
#include <gtest/gtest.h>

#include <QCheckBox>
#include <QFile>
#include <QFileInfo>
#include <QHeaderView>
#include <QProgressBar>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <qcustomplot.h>

#include "core/util/error.h"
#include "tests/ui/ui_test_util.h"
#include "ui/finetune_store.h"
#include "ui/format.h"
#include "ui/layer_table_model.h"
#include "ui/memory_probe.h"
#include "ui/plots.h"
#include "ui/results_model.h"
#include "ui/run_options_form.h"
#include "ui/session_file.h"
#include "ui/workbench_session.h"

namespace qcnn::ui {
namespace {

const QString kQcnn = QStringLiteral(QCNN_BINARY_DIR "/app/qcnn");

// A window with LeNet loaded and fast run options (fine-tuning as given).
struct Window {
    MainWindow w;
    ErrorLog errors;
    bool ok = false;
    explicit Window(const SweepSpec& options) {
        w.setErrorHandler(errors.handler());
        w.resize(1500, 900);
        w.show();
        w.setRunOptions(options);
        ok = openAndWait(w, kLenet);
    }
    // Runs `settings` to its end; true when it completed.
    bool runToEnd(const QString& settings) {
        w.layerModel()->setSettingsText(settings);
        QSignalSpy finished(&w, &MainWindow::runFinished);
        return w.run() && finished.wait(kTimeoutMs) && finished[0][0].toString() == "completed";
    }
};

SweepSpec finetuneOptions(int epochs, int64_t images) {
    SweepSpec o = fastOptions();
    o.base.finetune = true;
    o.base.ft_epochs = epochs;
    o.base.ft_images = images;
    o.base.ft_batch = 32;
    return o;
}

FinetuneRecord sampleFinetune(bool diverged) {
    FinetuneRecord f;
    f.ran = true;
    f.plannedEpochs = 3;
    f.initialValTop1 = 0.8125;
    for (int e = 1; e <= (diverged ? 1 : 3); ++e) {
        FinetuneEpoch ep;
        ep.epoch = e;
        ep.train_loss = 0.9 / e;
        ep.val_top1 = 0.82 + 0.01 * e;
        ep.seconds = 1.5 * e;
        f.epochs.push_back(ep);
    }
    f.bestEpoch = static_cast<int>(f.epochs.size());
    f.bestValTop1 = f.epochs.back().val_top1;
    f.diverged = diverged;
    if (diverged) f.status = "fine-tuning stopped: the loss is nan at epoch 2, step 3 of 12";
    return f;
}

RunRecord syntheticRecord(const std::string& ec, const std::string& model = "builtin:lenet") {
    RunRow row;
    row.settings = "conv2=4/16";
    row.ec = ec;
    row.top1 = 0.8;
    row.top1_float = 0.82;
    row.compression = 3;
    row.theoretical_speedup = 2;
    row.measured_speedup = std::nan("");
    RunRecord r;
    r.row = row;
    r.model = model;
    r.data = "fashion-mnist:test";
    return r;
}

// The widest text of column `col` in `view` fits its width (plus the cell margin of 2 x 3 px).
void expectColumnFits(const QTableView& view, int col) {
    const QAbstractItemModel* m = view.model();
    const QString header = m->headerData(col, Qt::Horizontal).toString();
    int widest = view.horizontalHeader()->fontMetrics().horizontalAdvance(header) + 6;
    for (int r = 0; r < m->rowCount(); ++r)
        widest = std::max(widest, view.fontMetrics().horizontalAdvance(m->data(m->index(r, col)).toString()) + 6);
    EXPECT_GE(view.columnWidth(col), widest) << "column " << col << " is " << view.columnWidth(col) << " px";
}

}  // namespace

TEST(Finetune, LiveCurveWhileItTrainsThenTheEpochsInTheRecordTableAndSessionFile) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    Window f(finetuneOptions(3, 400));
    ASSERT_TRUE(f.ok);
    f.w.layerModel()->setSettingsText("conv2=4/16,fc1=4/16,fc2=4/16");
    auto* bar = f.w.findChild<QProgressBar*>(QStringLiteral("stageBar"));
    ASSERT_NE(bar, nullptr);
    FinetunePlot* plot = f.w.finetunePlot();
    ASSERT_NE(plot, nullptr);
    QSignalSpy finished(&f.w, &MainWindow::runFinished);
    ASSERT_TRUE(f.w.run());
    // During the run: the plot is live and its loss curve grows; the bar names the epoch and loss.
    const QRegularExpression barText(QStringLiteral("^fine-tuning epoch [1-3]/3, loss [0-9.]+$"));
    int maxLivePoints = 0, barMatches = 0, growths = 0, last = 0;
    while (finished.isEmpty()) {
        QTest::qWait(5);
        if (plot->isLive()) {
            const int n = plot->liveLossGraph()->data()->size();
            if (n > last) ++growths;
            last = n;
            maxLivePoints = std::max(maxLivePoints, n);
        }
        if (barText.match(bar->text()).hasMatch()) ++barMatches;
    }
    EXPECT_EQ(finished[0][0].toString(), "completed");
    EXPECT_TRUE(f.errors.messages.isEmpty()) << f.errors.messages.join("; ").toStdString();
    // 400 images: 40 held out, 360 trained on at batch 32 = 12 steps per epoch, 36 in all.
    EXPECT_GE(maxLivePoints, 3);
    EXPECT_LE(maxLivePoints, 36);
    EXPECT_GE(growths, 2) << "the curve received points during the run, not only at its end";
    EXPECT_GT(barMatches, 0) << "the progress bar never said \"fine-tuning epoch E/3, loss L\"";

    // The record keeps every epoch; the plot shows them for the selected run afterwards.
    ASSERT_EQ(f.w.resultsModel()->rowCount(), 1);
    const FinetuneRecord& ft = f.w.resultsModel()->record(0).finetune;
    ASSERT_TRUE(ft.ran);
    ASSERT_EQ(ft.epochs.size(), 3u);
    EXPECT_EQ(ft.plannedEpochs, 3);
    for (const FinetuneEpoch& e : ft.epochs) {
        EXPECT_TRUE(std::isfinite(e.train_loss) && e.train_loss > 0) << e.train_loss;
        EXPECT_GE(e.val_top1, 0.0);
        EXPECT_LE(e.val_top1, 1.0);
    }
    EXPECT_FALSE(plot->isLive());
    EXPECT_EQ(plot->liveLossGraph()->data()->size(), 0);
    ASSERT_EQ(plot->valGraph()->data()->size(), 4);  // epoch 0 (as given) + one per epoch
    EXPECT_EQ(plot->epochLossGraph()->data()->size(), 3);
    EXPECT_DOUBLE_EQ((plot->valGraph()->data()->end() - 1)->value, ft.epochs.back().val_top1 * 100.0);
    EXPECT_DOUBLE_EQ(plot->valGraph()->data()->begin()->value, ft.initialValTop1 * 100.0);
    ASSERT_EQ(plot->bestGraph()->data()->size(), 1);
    EXPECT_DOUBLE_EQ(plot->bestGraph()->data()->begin()->key, ft.bestEpoch);

    // The results table's column says what happened; its tooltip lists the epochs.
    const ResultsModel& results = *f.w.resultsModel();
    const QString cell = results.data(results.index(0, ResultsModel::Finetune)).toString();
    EXPECT_TRUE(cell.startsWith("3 epochs, best ")) << cell.toStdString();
    const QString tip = results.data(results.index(0, ResultsModel::Finetune), Qt::ToolTipRole).toString();
    EXPECT_TRUE(tip.contains("epoch 3: loss")) << tip.toStdString();

    // The session file keeps the epochs, and reads them back.
    const std::vector<RunRecord> back = SessionFile::readSession(f.w.sessionPath());
    ASSERT_EQ(back.size(), 1u);
    ASSERT_TRUE(back[0].finetune.ran);
    ASSERT_EQ(back[0].finetune.epochs.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_DOUBLE_EQ(back[0].finetune.epochs[i].train_loss, ft.epochs[i].train_loss);
        EXPECT_DOUBLE_EQ(back[0].finetune.epochs[i].val_top1, ft.epochs[i].val_top1);
    }
    EXPECT_EQ(back[0].finetune.bestEpoch, ft.bestEpoch);
    EXPECT_DOUBLE_EQ(back[0].finetune.initialValTop1, ft.initialValTop1);
}

TEST(Finetune, CancelMidEpochStopsQuickly) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    Window f(finetuneOptions(50, 3000));
    ASSERT_TRUE(f.ok);
    f.w.layerModel()->setSettingsText("conv2=4/16,fc1=4/16,fc2=4/16");
    QSignalSpy finished(&f.w, &MainWindow::runFinished);
    ASSERT_TRUE(f.w.run());
    ASSERT_TRUE(waitFor([&] { return (f.w.finetunePlot()->isLive() && f.w.finetunePlot()->liveLossGraph()->data()->size() >= 2) ||
                                      !finished.isEmpty(); }));
    ASSERT_TRUE(finished.isEmpty()) << "the run ended before it could be cancelled";
    QElapsedTimer t;
    t.start();
    QTest::keyClick(&f.w, Qt::Key_Escape);
    ASSERT_TRUE(finished.wait(5000));
    EXPECT_LT(t.elapsed(), 2000);
    EXPECT_EQ(finished[0][0].toString(), "cancelled");
    EXPECT_EQ(f.w.resultsModel()->rowCount(), 0);
    EXPECT_FALSE(f.w.finetunePlot()->isLive());
}

TEST(Finetune, OptionsAreGreyedWhileFinetuningIsOff) {
    MainWindow w;
    RunOptionsForm* form = w.runOptionsForm();
    auto* check = qobject_cast<QCheckBox*>(form->widget("finetune"));
    ASSERT_NE(check, nullptr);
    const std::vector<std::string> keys = {"ft_epochs", "ft_lr", "ft_optimizer", "ft_batch", "ft_params", "ft_images", "ft_distill"};
    const auto enabled = [&](bool want) {
        for (const std::string& k : keys) {
            ASSERT_NE(form->widget(k), nullptr) << k;
            EXPECT_EQ(form->widget(k)->isEnabled(), want) << k;
        }
    };
    EXPECT_FALSE(check->isChecked());
    enabled(false);
    check->setChecked(true);  // as a click does
    enabled(true);
    check->setChecked(false);
    enabled(false);
    SweepSpec o = fastOptions();
    o.base.finetune = true;
    w.setRunOptions(o);  // a loaded settings file
    enabled(true);
    o.base.finetune = false;
    w.setRunOptions(o);
    enabled(false);
}

TEST(Finetune, ResultsColumnSaysDivergedAndTheStoreRoundTripsAndReadsOldFiles) {
    ResultsModel results;
    RunRecord plain = syntheticRecord("none");
    RunRecord tuned = syntheticRecord("layer");
    tuned.finetune = sampleFinetune(false);
    RunRecord diverged = syntheticRecord("network");
    diverged.finetune = sampleFinetune(true);
    results.addRecord(plain);
    results.addRecord(tuned);
    results.addRecord(diverged);
    const auto cell = [&](int row) { return results.data(results.index(row, ResultsModel::Finetune)).toString(); };
    EXPECT_EQ(cell(0), "-");
    EXPECT_EQ(cell(1), "3 epochs, best epoch 3, val 85.00%");
    EXPECT_EQ(cell(2), "diverged at epoch 2 (best epoch 1, val 83.00%)");
    EXPECT_TRUE(results.data(results.index(2, ResultsModel::Finetune), Qt::ToolTipRole).toString().contains("loss is nan at epoch 2"));

    // JSON round trip, a NaN loss included (JSON null).
    FinetuneRecord nanLoss = sampleFinetune(false);
    nanLoss.epochs[1].train_loss = std::nan("");
    const FinetuneRecord back = finetuneFromJson(finetuneToJson(nanLoss), "test");
    ASSERT_EQ(back.epochs.size(), 3u);
    EXPECT_TRUE(std::isnan(back.epochs[1].train_loss));
    EXPECT_DOUBLE_EQ(back.epochs[2].val_top1, nanLoss.epochs[2].val_top1);
    EXPECT_EQ(back.bestEpoch, nanLoss.bestEpoch);
    EXPECT_THROW(finetuneFromJson("{\"best_epoch\": 1}", "test"), Error);

    // Session file: the fine-tuned runs keep their epochs, the others read back as not fine-tuned
    // (as every run of a file written before the attribute existed does).
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    QString path;
    {
        SessionFile file(dir.path());
        for (int i = 0; i < results.rowCount(); ++i) file.append(results.record(i));
        path = file.path();
    }
    const std::vector<RunRecord> read = SessionFile::readSession(path);
    ASSERT_EQ(read.size(), 3u);
    EXPECT_FALSE(read[0].finetune.ran);
    ASSERT_TRUE(read[1].finetune.ran);
    EXPECT_EQ(read[1].finetune.epochs.size(), 3u);
    EXPECT_TRUE(read[2].finetune.diverged);
    EXPECT_EQ(read[2].finetune.status, diverged.finetune.status);
    // The HDF5 export writes the same attribute.
    const QString exported = dir.filePath("export.h5");
    const std::vector<std::string> ids = writeRunGroups(exported, results.records(), "t");
    ASSERT_FALSE(ids.empty());
    const std::vector<RunRecord> fromExport = SessionFile::readSession(exported);
    ASSERT_EQ(fromExport.size(), 3u);
    EXPECT_EQ(fromExport[1].finetune.epochs.size(), 3u);
    EXPECT_FALSE(fromExport[0].finetune.ran);
}

TEST(ResultsTable, ColumnsGrowToLongerValuesOfLaterRows) {
    MainWindow w;
    w.resize(1500, 900);
    w.show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(&w));
    w.session()->addRecord(syntheticRecord("none"));
    QTest::qWait(50);
    // Later rows with longer values: "network" under "none" was drawn "net...".
    w.session()->addRecord(syntheticRecord("network", "/a/much/longer/path/to/a/model/file/named/lenet5-finetuned-variant.onnx"));
    RunRecord tuned = syntheticRecord("network");
    tuned.finetune = sampleFinetune(true);
    w.session()->addRecord(tuned);
    QTest::qWait(50);
    const QTableView& view = *w.resultsView();
    for (int col : {int(ResultsModel::Ec), int(ResultsModel::Model), int(ResultsModel::Finetune)}) expectColumnFits(view, col);
    EXPECT_GE(view.columnWidth(ResultsModel::Ec), view.fontMetrics().horizontalAdvance("network"));
}

// ----- measured memory (issue 14 section 1) -----------------------------------------------

TEST(MeasuredMemory, QcnnEvalOnTheSavedRunAndTheFloatModelReachesTheMemoryPlot) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    ASSERT_TRUE(QFileInfo(kQcnn).isExecutable()) << kQcnn.toStdString() << " missing: build the qcnn target";
    Window f(fastOptions());
    ASSERT_TRUE(f.ok);
    ASSERT_TRUE(f.runToEnd("conv2=4/16,fc1=4/16,fc2=4/16"));

    // Without the binary (the test runner's own folder has none): a clear error, nothing runs.
    f.w.memoryProbe()->setQcnnPath(QStringLiteral(QCNN_BINARY_DIR "/no-such-dir/qcnn"));
    EXPECT_FALSE(f.w.measureMemory(0));
    ASSERT_EQ(f.errors.messages.size(), 1);
    EXPECT_TRUE(f.errors.messages[0].contains("no-such-dir/qcnn")) << f.errors.messages[0].toStdString();
    EXPECT_FALSE(f.w.memoryProbe()->isRunning());
    f.errors.messages.clear();

    f.w.memoryProbe()->setQcnnPath(kQcnn);
    QSignalSpy measured(&f.w, &MainWindow::memoryMeasured);
    Heartbeat heartbeat;
    ASSERT_TRUE(f.w.measureMemory(0));
    EXPECT_TRUE(f.w.memoryProbe()->isRunning());
    ASSERT_TRUE(measured.wait(kTimeoutMs));
    EXPECT_LT(heartbeat.maxGapMs(), 200) << "the GUI thread blocked";
    EXPECT_TRUE(measured[0][1].toBool()) << f.errors.messages.join("; ").toStdString();
    const RunRecord& r = f.w.resultsModel()->record(0);
    ASSERT_TRUE(r.measuredQuantized && r.measuredDense);
    for (const MeasuredMemory* m : {&*r.measuredQuantized, &*r.measuredDense}) {
        EXPECT_GT(m->fixedFootprint, 1 << 20);
        EXPECT_GT(m->peakRss, m->fixedFootprint);
        EXPECT_GT(m->accounted, 0);
    }
    // The plot: one measured marker per bar (dense, Q-CNN) at peak RSS minus the footprint, in KB.
    const QCPGraph* g = f.w.memoryPlot()->measuredGraph();
    ASSERT_EQ(g->data()->size(), 2);
    EXPECT_DOUBLE_EQ(g->data()->begin()->key, 1.0);
    EXPECT_DOUBLE_EQ(g->data()->begin()->value, r.measuredDense->modelBytes() / 1024.0);
    EXPECT_DOUBLE_EQ((g->data()->begin() + 1)->value, r.measuredQuantized->modelBytes() / 1024.0);
    EXPECT_FALSE(g->name().isEmpty());

    // A second measurement of the same model reuses the float one (only the quantized child runs).
    measured.clear();
    const int64_t densePeak = r.measuredDense->peakRss;
    ASSERT_TRUE(f.w.measureMemory(0));
    ASSERT_TRUE(measured.wait(kTimeoutMs));
    EXPECT_EQ(f.w.resultsModel()->record(0).measuredDense->peakRss, densePeak);
}

TEST(MeasuredMemory, AFailingOrHangingChildGetsAMessageAndCancelKillsIt) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const auto script = [&](const QString& name, const QByteArray& body) {
        QFile s(dir.filePath(name));
        EXPECT_TRUE(s.open(QIODevice::WriteOnly));
        s.write("#!/bin/sh\n" + body);
        s.close();
        s.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        return s.fileName();
    };
    Window f(fastOptions());
    ASSERT_TRUE(f.ok);
    ASSERT_TRUE(f.runToEnd("fc1=4/16"));
    QSignalSpy measured(&f.w, &MainWindow::memoryMeasured);

    f.w.memoryProbe()->setQcnnPath(script("fails", "echo 'qcnn: error: boom' >&2\nexit 3\n"));
    ASSERT_TRUE(f.w.measureMemory(0));
    ASSERT_TRUE(measured.wait(kTimeoutMs));
    EXPECT_FALSE(measured[0][1].toBool());
    ASSERT_EQ(f.errors.messages.size(), 1);
    EXPECT_TRUE(f.errors.messages[0].contains("exit code 3") && f.errors.messages[0].contains("boom"))
        << f.errors.messages[0].toStdString();

    f.w.memoryProbe()->setQcnnPath(script("garbage", "echo 'not json'\n"));
    ASSERT_TRUE(f.w.measureMemory(0));
    ASSERT_TRUE(measured.wait(kTimeoutMs));
    ASSERT_EQ(f.errors.messages.size(), 2);
    EXPECT_TRUE(f.errors.messages[1].contains("qcnn eval --json")) << f.errors.messages[1].toStdString();

    f.w.memoryProbe()->setQcnnPath(script("hangs", "exec sleep 60\n"));
    ASSERT_TRUE(f.w.measureMemory(0));
    ASSERT_TRUE(waitFor([&] { return f.w.memoryProbe()->stageText().contains("qcnn eval"); }));
    QElapsedTimer t;
    t.start();
    f.w.cancelRun();  // Esc / Cancel
    ASSERT_TRUE(measured.size() == 3 || measured.wait(5000));
    EXPECT_LT(t.elapsed(), 3000);
    EXPECT_FALSE(f.w.memoryProbe()->isRunning());
    ASSERT_EQ(f.errors.messages.size(), 3);
    EXPECT_TRUE(f.errors.messages[2].contains("cancelled")) << f.errors.messages[2].toStdString();
    EXPECT_FALSE(f.w.resultsModel()->record(0).measuredQuantized.has_value());

    // A run read back from a file has no network to save: said, not attempted.
    RunRecord old = f.w.resultsModel()->record(0);
    old.network.reset();
    const int oldRun = f.w.session()->addRecord(old);
    EXPECT_FALSE(f.w.measureMemory(oldRun));
    ASSERT_EQ(f.errors.messages.size(), 4);
    EXPECT_TRUE(f.errors.messages[3].contains("read back from a file")) << f.errors.messages[3].toStdString();
}

}  // namespace qcnn::ui
