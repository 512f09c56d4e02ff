// "Find settings..." (issue 15, ui/auto_dialog.h) on the bundled LeNet-5 with 500 Fashion-MNIST
// images and a 2-setting grid on 2 layers: the search runs to the end on the worker thread, every
// verified candidate lands in the results model (and the results file), the chosen settings are
// in the layer table and meet the budget by their verified row; the heat map has one cell per
// (layer, setting) run with the table's numbers; a cancel mid-run keeps every verified
// candidate; an unreachable budget ends with the clear message. Also the form's errors and the
// heat map's colour scale, blank cells and hover text.
#include <gtest/gtest.h>

#include <QAction>
#include <QApplication>
#include <QMenuBar>
#include <QMouseEvent>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTimer>
#include <algorithm>
#include <cmath>

#include "core/sweep/results_file.h"
#include "tests/ui/ui_test_util.h"
#include "ui/auto_dialog.h"
#include "ui/format.h"
#include "ui/layer_table_model.h"
#include "ui/results_model.h"
#include "ui/sensitivity_heatmap.h"

namespace qcnn::ui {
namespace {

constexpr int kAutoTimeoutMs = 600000;

SweepSpec autoOptions() {
    SweepSpec o = fastOptions();
    o.base.limit = 500;
    return o;
}

QAction* findAction(QWidget* w, const QString& text) {
    for (QAction* a : w->findChildren<QAction*>())
        if (a->text() == text) return a;
    return nullptr;
}

// Runs the dialog's search to its end; the status.
QString runToEnd(AutoDialog& d) {
    QSignalSpy done(&d, &AutoDialog::searchFinished);
    EXPECT_TRUE(d.start());
    EXPECT_TRUE(waitFor([&] { return !done.isEmpty(); }, kAutoTimeoutMs));
    EXPECT_FALSE(d.isRunning());
    return d.status();
}

TEST(AutoDialog, FindsSettingsStreamsCandidatesAndKeepsThemOnCancel) {
    MainWindow w;
    ErrorLog mainErrors;
    w.setErrorHandler(mainErrors.handler());
    ASSERT_TRUE(openAndWait(w, kLenet));
    w.setRunOptions(autoOptions());
    ASSERT_NE(findAction(&w, QStringLiteral("&Find Settings...")), nullptr);
    ASSERT_NE(findAction(&w, QStringLiteral("Open Sensi&tivity Results...")), nullptr);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("auto.h5"));

    // The main window's hook: the dialog over its model, run options, results and layer table.
    AutoDialog* d = openAutoDialog(&w);
    ASSERT_NE(d, nullptr);
    ErrorLog errors;
    d->setErrorHandler(errors.handler());
    EXPECT_TRUE(d->resultsPath().endsWith(QStringLiteral("qcnn-auto.h5")));
    d->setResultsPath(path);
    d->setLayersFilter(QStringLiteral("conv2, fc1"));
    d->setGrid(QStringLiteral("4/16, 8/16"));
    d->setVerifyEc(EcMode::None);
    d->setMaxDrop(2.0);
    d->setMaxCandidates(4);
    QSignalSpy sensitivity(d, &AutoDialog::sensitivityReady);
    QSignalSpy added(d, &AutoDialog::candidateAdded);
    QStringList progressSeen;  // the progress line as the user sees it
    QTimer watch;
    QObject::connect(&watch, &QTimer::timeout, [&] {
        if (progressSeen.isEmpty() || progressSeen.back() != d->progressText()) progressSeen << d->progressText();
    });
    watch.start(20);
    ASSERT_EQ(runToEnd(*d), QStringLiteral("completed")) << d->outcomeText().toStdString();
    watch.stop();
    const auto sawProgress = [&](const QString& part) {
        return std::any_of(progressSeen.begin(), progressSeen.end(), [&](const QString& t) { return t.contains(part); });
    };
    EXPECT_TRUE(sawProgress(QStringLiteral("Sensitivity: run 1 of 4"))) << progressSeen.join(" | ").toStdString();
    EXPECT_TRUE(sawProgress(QStringLiteral("of 4 · ETA "))) << progressSeen.join(" | ").toStdString();
    EXPECT_TRUE(sawProgress(QStringLiteral("Verifying: candidate 1 of at most 4"))) << progressSeen.join(" | ").toStdString();
    EXPECT_TRUE(errors.messages.isEmpty()) << errors.messages.join('\n').toStdString();
    ASSERT_TRUE(d->outcome().has_value());
    const AutoOutcome o = *d->outcome();  // a copy: the next searches replace the dialog's
    EXPECT_FALSE(o.sensitivity.reused);
    EXPECT_EQ(sensitivity.count(), 1);

    // Every verified candidate is a run of the results model, in order, with the file's numbers.
    ASSERT_FALSE(o.rows.empty());
    ASSERT_EQ(d->addedRuns().size(), o.rows.size());
    EXPECT_EQ(added.count(), static_cast<int>(o.rows.size()));
    EXPECT_EQ(w.resultsModel()->rowCount(), static_cast<int>(o.rows.size()));
    {
        const ResultsFile f = ResultsFile::read(path.toStdString(), o.sweep_id);
        const std::vector<RunRow> stored = f.runs();
        ASSERT_EQ(stored.size(), o.rows.size());
        for (size_t i = 0; i < o.rows.size(); ++i) {
            const RunRecord& rec = w.resultsModel()->record(d->addedRuns()[i]);
            EXPECT_EQ(rec.row.settings, stored[i].settings);
            EXPECT_EQ(rec.row.top1, stored[i].top1);
            EXPECT_EQ(rec.row.compression, stored[i].compression);
            EXPECT_FALSE(rec.layers.empty());
        }
    }

    // The chosen settings are in the layer table and meet the budget by their verified row.
    ASSERT_TRUE(o.met()) << d->outcomeText().toStdString();
    const RunRow best = *o.reported();
    EXPECT_LE(best.top1_float - best.top1, 0.02 + 1e-12);
    EXPECT_FALSE(best.settings.empty()) << "a 2 pt budget on LeNet should quantize at least one layer";
    EXPECT_EQ(w.layerModel()->settingsText().toStdString(), best.settings);
    const RunRecord& bestRecord = w.resultsModel()->record(d->addedRuns()[static_cast<size_t>(o.search.best)]);
    EXPECT_EQ(bestRecord.row.settings, best.settings);
    EXPECT_LE(bestRecord.row.top1_float - bestRecord.row.top1, 0.02 + 1e-12);
    EXPECT_TRUE(d->outcomeText().contains(QString::fromStdString(best.settings)));
    EXPECT_TRUE(d->outcomeText().contains(QStringLiteral("loaded into the layer table")));

    // The heat map: one cell per (layer, setting) run, with the sensitivity table's numbers.
    SensitivityHeatmap* map = d->heatmap();
    EXPECT_TRUE(map->isVisible());
    EXPECT_EQ(map->layers(), (QStringList{"conv2", "fc1"}));
    EXPECT_EQ(map->settings(), (QStringList{"4/16", "8/16"}));
    ASSERT_EQ(o.sensitivity.entries.size(), 4u);
    EXPECT_EQ(map->filledCells(), 4);
    for (const SensitivityEntry& e : o.sensitivity.entries) {
        const auto cell = map->entry(static_cast<int>(map->layers().indexOf(QString::fromStdString(e.layer))),
                                     static_cast<int>(map->settings().indexOf(QString::fromStdString(e.setting))));
        ASSERT_TRUE(cell.has_value()) << e.layer << " " << e.setting;
        EXPECT_EQ(cell->top1, e.top1);
        EXPECT_EQ(cell->compression, e.compression);
        EXPECT_EQ(cell->response_error, e.response_error);
    }
    // Hover shows the cell's numbers.
    map->resize(900, 500);
    const auto e0 = *map->entry(1, 0);
    const QPoint at = map->cellRect(1, 0).center();
    EXPECT_EQ(map->cellAt(at), std::make_pair(1, 0));
    QMouseEvent move(QEvent::MouseMove, QPointF(at), QPointF(map->mapToGlobal(at)), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
    QApplication::sendEvent(map, &move);
    EXPECT_TRUE(map->hoverText().contains(QStringLiteral("fc1"))) << map->hoverText().toStdString();
    EXPECT_TRUE(map->hoverText().contains(QString::number(100.0 * e0.top1_drop(), 'f', 2) + QStringLiteral(" pt")));
    EXPECT_TRUE(map->hoverText().contains(QStringLiteral("compression: ") + formatRatio(e0.compression)));
    EXPECT_TRUE(map->hoverText().contains(QStringLiteral("response error: ") + QString::number(e0.response_error, 'g', 3)));

    // The file's table reads back into the same heat map (File > Open Sensitivity Results...).
    const SensitivityResults read = readSensitivityResults(path);
    EXPECT_EQ(read.status, "completed");
    SensitivityHeatmap* shown = showSensitivityResults(&w, path, read);
    EXPECT_EQ(shown->filledCells(), 4);
    EXPECT_EQ(shown->entry(1, 0)->top1, e0.top1);

    // Cancel mid-run: the sensitivity table is reused, the search stops at the first candidate's
    // arrival, and every candidate verified by then is in the results model and in the file.
    const int before = w.resultsModel()->rowCount();
    d->setMaxDrop(0.5);
    d->setVerifyEc(EcMode::Layer);
    d->setMaxCandidates(8);
    QObject::connect(d, &AutoDialog::candidateAdded, d, [d] { d->cancel(); });
    ASSERT_EQ(runToEnd(*d), QStringLiteral("cancelled")) << d->outcomeText().toStdString();
    EXPECT_FALSE(d->outcome().has_value());
    ASSERT_GE(d->addedRuns().size(), 1u);
    EXPECT_EQ(w.resultsModel()->rowCount(), before + static_cast<int>(d->addedRuns().size()));
    const std::vector<std::string> sweeps = list_sweeps(path.toStdString());
    ASSERT_EQ(sweeps.size(), 2u);
    {
        const ResultsFile f = ResultsFile::read(path.toStdString(), sweeps.back());
        EXPECT_EQ(f.attributes().status, "cancelled");
        const std::vector<RunRow> stored = f.runs();
        ASSERT_EQ(stored.size(), d->addedRuns().size());
        for (size_t i = 0; i < stored.size(); ++i)
            EXPECT_EQ(w.resultsModel()->record(d->addedRuns()[i]).row.top1, stored[i].top1);
    }
    EXPECT_TRUE(d->outcomeText().startsWith(QStringLiteral("Cancelled")));
    EXPECT_EQ(w.layerModel()->settingsText().toStdString(), best.settings);  // unchanged

    // An unreachable budget: max drop 0 with 100x compression ends with the clear message.
    QObject::disconnect(d, &AutoDialog::candidateAdded, d, nullptr);
    d->setMaxDrop(0);
    d->setMinCompression(100);
    ASSERT_EQ(runToEnd(*d), QStringLiteral("completed"));
    ASSERT_TRUE(d->outcome().has_value());
    EXPECT_FALSE(d->outcome()->met());
    EXPECT_TRUE(d->outcome()->sensitivity.reused);
    ASSERT_FALSE(errors.titles.isEmpty());
    EXPECT_EQ(errors.titles.back(), QStringLiteral("Budget not reachable"));
    EXPECT_TRUE(errors.messages.back().contains(QStringLiteral("Budget not reachable (no allocation fits)")))
        << errors.messages.back().toStdString();
    EXPECT_TRUE(errors.messages.back().contains(QStringLiteral("less than the 100.00x asked")))
        << errors.messages.back().toStdString();
    EXPECT_EQ(d->outcomeText(), errors.messages.back());
    EXPECT_EQ(w.layerModel()->settingsText().toStdString(), best.settings);  // unchanged
    delete d;
    EXPECT_TRUE(mainErrors.messages.isEmpty());
}

// A dialog over the bundled LeNet with its own results file; message boxes recorded.
class AutoDialogOnLenet : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(openAndWait(w, kLenet));
        w.setRunOptions(autoOptions());
        dialog = openAutoDialog(&w);  // the main window's hook; the window owns it
        ASSERT_NE(dialog, nullptr);
        dialog->setResultsPath(dir.filePath(QStringLiteral("auto.h5")));
        dialog->setErrorHandler(errors.handler());
    }
    bool exportEnabled() { return findAction(&w, QStringLiteral("Export Results (&HDF5)..."))->isEnabled(); }
    MainWindow w;
    QTemporaryDir dir;
    ErrorLog errors;
    AutoDialog* dialog = nullptr;
};

TEST_F(AutoDialogOnLenet, UnreachableBudgetReportsTheBestRunFound) {
    AutoDialog& d = *dialog;
    d.setLayersFilter(QStringLiteral("fc1"));
    d.setGrid(QStringLiteral("16/16"));
    d.setVerifyEc(EcMode::None);
    // 16/16 on fc1 is coarse; a drop of at most 0 with at least 2x compression fails on 500 images.
    d.setMaxDrop(0);
    d.setMinCompression(2);
    d.setMaxCandidates(2);
    ASSERT_EQ(runToEnd(d), QStringLiteral("completed"));
    ASSERT_TRUE(d.outcome().has_value());
    const AutoOutcome& o = *d.outcome();
    ASSERT_FALSE(o.met());
    ASSERT_NE(o.reported(), nullptr);
    ASSERT_FALSE(errors.messages.isEmpty());
    EXPECT_TRUE(errors.messages.back().contains(QStringLiteral("Best found: settings ") + QString::fromStdString(o.reported()->settings)))
        << errors.messages.back().toStdString();
    EXPECT_EQ(w.resultsModel()->rowCount(), static_cast<int>(o.rows.size()));
    EXPECT_EQ(w.layerModel()->settingsText(), QString());  // not loaded: it does not meet the budget
    EXPECT_TRUE(exportEnabled());  // the candidates can be exported
}

TEST_F(AutoDialogOnLenet, FormErrorsAreNamedAndNothingStarts) {
    AutoDialog& d = *dialog;
    const auto refused = [&](const QString& part) {
        const qsizetype n = errors.messages.size();
        EXPECT_FALSE(d.start());
        EXPECT_FALSE(d.isRunning());
        EXPECT_EQ(errors.messages.size(), n + 1);
        if (errors.messages.size() > n) {
            EXPECT_TRUE(errors.messages.back().contains(part)) << errors.messages.back().toStdString();
        }
    };
    d.setLayersFilter(QStringLiteral("conv9"));
    refused(QStringLiteral("'conv9' is not a weight layer"));
    d.setLayersFilter(QStringLiteral(" , "));
    refused(QStringLiteral("Layers is empty"));
    d.setLayersFilter(QStringLiteral("fc1"));
    d.setGrid(QString());
    refused(QStringLiteral("Grid is empty"));
    d.setGrid(QStringLiteral("dense"));
    refused(QStringLiteral("not a C_s'/K setting"));
    d.setGrid(QStringLiteral("4/16"));
    d.setMaxDrop(-1);
    refused(QStringLiteral("give a budget"));
    d.setMaxDrop(1);
    d.setObjective(AutoObjective::Accuracy);
    refused(QStringLiteral("needs Min compression"));
    d.setMinCompression(5);
    d.setObjective(AutoObjective::Speedup);
    refused(QStringLiteral("goes with the objective accuracy"));
    EXPECT_FALSE(exists(d.resultsPath()));
    EXPECT_EQ(w.resultsModel()->rowCount(), 0);
    EXPECT_FALSE(exportEnabled());
}

TEST(SensitivityHeatmap, BlankCellsColourScaleAndUnreadableFiles) {
    SensitivityHeatmap map;
    map.resize(800, 400);
    SensitivityEntry a;
    a.layer = "conv2";
    a.setting = "4/16";
    a.top1_float = 0.9;
    a.top1 = 0.87;  // 3 pt
    SensitivityEntry b = a;
    b.layer = "fc1";
    b.setting = "8/32";
    b.top1 = 0.9;  // 0 pt
    SensitivityEntry stray = a;
    stray.layer = "fc9";  // not a row: ignored
    map.setTable(QStringList{"conv2", "fc1"}, QStringList{"4/16", "8/32"}, {a, b, stray});
    EXPECT_EQ(map.filledCells(), 2);
    EXPECT_FALSE(map.entry(0, 1).has_value());  // conv2 8/32 not run: blank
    EXPECT_TRUE(map.cellToolTip(0, 1).isEmpty());
    EXPECT_FALSE(map.entry(5, 0).has_value());
    EXPECT_DOUBLE_EQ(map.maxDropPoints(), 3.0);
    EXPECT_EQ(map.colorForDrop(0), QColor(0xff, 0xff, 0xcc));
    EXPECT_EQ(map.colorForDrop(3), QColor(0x80, 0x00, 0x26));
    EXPECT_EQ(map.colorForDrop(-1), map.colorForDrop(0));   // a gain shows as no drop
    EXPECT_LT(map.colorForDrop(2).lightnessF(), map.colorForDrop(1).lightnessF());
    EXPECT_EQ(map.cellAt(map.cellRect(0, 1).center()), std::make_pair(0, 1));
    EXPECT_EQ(map.cellAt(QPoint(1, 1)), std::make_pair(-1, -1));
    EXPECT_TRUE(map.cellToolTip(0, 0).contains(QStringLiteral("top-1 drop: 3.00 pt")));
    const QImage image = map.grab().toImage();
    EXPECT_EQ(image.pixelColor(map.cellRect(0, 1).center()), map.palette().base().color());  // blank
    EXPECT_EQ(image.pixelColor(map.cellRect(0, 0).topLeft() + QPoint(3, 3)), map.colorForDrop(3));

    QTemporaryDir dir;
    const QString none = dir.filePath(QStringLiteral("none.h5"));
    try {
        readSensitivityResults(none);
        ADD_FAILURE() << "no error for a missing file";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("none.h5"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace qcnn::ui
