// The workbench's acceptance tests (offscreen): editing the layer table against the cost
// model, presets, the settings file, a run (a point in the plot, a row in the table) while
// the GUI thread keeps a heartbeat, cancel mid-run, plot and results export read back, the
// sweep dialog's grid (products and value lists), the calibration and error-correction options
// down to the run, the teaching views' k-means frames.
#include <gtest/gtest.h>

#include <QDockWidget>
#include <QTabWidget>
#include <algorithm>
#include <QAbstractItemView>
#include <QApplication>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QLineEdit>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QStatusBar>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <cmath>
#include <qcustomplot.h>

#include "core/cost/cost_model.h"
#include "core/ops/conv.h"
#include "core/quant/product_quantizer.h"
#include "core/quant/kmeans.h"
#include "core/quant/random.h"
#include "core/sweep/results_file.h"
#include "tests/ui/ui_test_util.h"
#include "ui/format.h"
#include "ui/layer_table_model.h"
#include "ui/plots.h"
#include "ui/results_model.h"
#include "core/cost/builtin_networks.h"
#include "ui/sweep_dialog.h"
#include "ui/teaching_view.h"
#include "tests/unit/timing.h"

namespace qcnn::ui {
namespace {

// The cost model over `text` resolved on the model at `path`, computed without the GUI.
NetworkCost expectedCost(const QString& path, const std::string& text) {
    const auto net = load_model(path.toStdString());
    std::vector<QuantSetting> s;
    for (const ResolvedLayer& l : resolve_settings(*net, parse_layer_settings(text)).layers) s.push_back(l.setting);
    return network_cost(network_geometry(*net, net->sample_shape()), s);
}

// A window with LeNet loaded and fast run options.
struct Fixture {
    MainWindow w;
    ErrorLog errors;
    bool ok = false;
    Fixture() {
        w.setErrorHandler(errors.handler());
        w.resize(1500, 900);
        w.show();
        w.setRunOptions(fastOptions());
        ok = openAndWait(w, kLenet);
    }
};

int rowOf(const LayerTableModel& m, const QString& alias) {
    for (int r = 0; r < m.rowCount(); ++r)
        if (m.data(m.index(r, LayerTableModel::Alias)).toString() == alias) return r;
    return -1;
}

TEST(Workbench, EditingACellChangesTheTotalsToTheCostModel) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    Fixture f;
    ASSERT_TRUE(f.ok);
    LayerTableModel& m = *f.w.layerModel();
    ASSERT_TRUE(m.hasCost());
    EXPECT_DOUBLE_EQ(m.cost().speedup(), 1.0);  // everything dense at first
    EXPECT_EQ(m.settingsText(), "");

    // Only valid values are offered: conv1 has one input channel, conv2 eight.
    const int conv1 = rowOf(m, "conv1"), conv2 = rowOf(m, "conv2");
    ASSERT_GE(conv1, 0);
    ASSERT_GE(conv2, 0);
    EXPECT_EQ(m.data(m.index(conv1, LayerTableModel::SubspaceDim), LayerTableModel::ChoicesRole).toList(), QVariantList{QVariant(1)});  // not ({1}): clang reads that as a size
    EXPECT_EQ(m.data(m.index(conv2, LayerTableModel::SubspaceDim), LayerTableModel::ChoicesRole).toList(),
              QVariantList({1, 2, 4, 8}));
    EXPECT_EQ(m.data(m.index(conv2, LayerTableModel::Codewords), LayerTableModel::ChoicesRole).toList().size(), 8);
    EXPECT_FALSE(m.flags(m.index(1, LayerTableModel::SubspaceDim)) & Qt::ItemIsEditable);  // Relu

    // Edit conv2's C_s' through the view's combo-box editor: the layer becomes 4/128.
    QTableView* view = f.w.layerView();
    auto* proxy = static_cast<QSortFilterProxyModel*>(view->model());
    const QModelIndex cell = proxy->mapFromSource(m.index(conv2, LayerTableModel::SubspaceDim));
    view->setCurrentIndex(cell);
    view->edit(cell);
    auto* combo = view->findChild<QComboBox*>();
    ASSERT_NE(combo, nullptr);
    combo->setCurrentIndex(combo->findText("4"));
    emit combo->activated(combo->currentIndex());
    QApplication::processEvents();
    EXPECT_EQ(m.settingsText(), "conv2=4/128");
    NetworkCost want = expectedCost(kLenet, "conv2=4/128");
    EXPECT_DOUBLE_EQ(m.cost().speedup(), want.speedup());
    EXPECT_DOUBLE_EQ(m.cost().compression(), want.compression());
    EXPECT_EQ(m.cost().quantized.peak_bytes, want.quantized.peak_bytes);
    EXPECT_TRUE(f.w.costText().contains("speed-up " + formatRatio(want.speedup()))) << f.w.costText().toStdString();
    EXPECT_TRUE(f.w.costText().contains("compression " + formatRatio(want.compression())));
    EXPECT_EQ(m.data(m.index(conv2, LayerTableModel::Speedup)).toString(), formatRatio(want.layers[1].speedup()));

    // K, EC off, fc1 switched on; an invalid C_s' is refused and changes nothing.
    EXPECT_TRUE(m.setData(m.index(conv2, LayerTableModel::Codewords), 16));
    EXPECT_TRUE(m.setData(m.index(conv2, LayerTableModel::ErrorCorrection), Qt::Unchecked, Qt::CheckStateRole));
    const int fc1 = rowOf(m, "fc1");
    EXPECT_TRUE(m.setData(m.index(fc1, LayerTableModel::Dense), Qt::Unchecked, Qt::CheckStateRole));
    EXPECT_FALSE(m.setData(m.index(conv2, LayerTableModel::SubspaceDim), 3));
    EXPECT_EQ(m.settingsText(), "conv2=4/16:noec,fc1=4/32");
    want = expectedCost(kLenet, "conv2=4/16:noec,fc1=4/32");
    EXPECT_DOUBLE_EQ(m.cost().speedup(), want.speedup());
    EXPECT_DOUBLE_EQ(m.cost().compression(), want.compression());
    EXPECT_GT(m.cost().compression(), 1.0);
    EXPECT_TRUE(f.w.costText().contains("compression " + formatRatio(want.compression())));

    // Presets resolve like the CLI: conv1 (one input channel) stays dense under conv=8/128, and
    // the shared presets (core/cost/presets.h) keep the 10-output fc2 dense (4/32 would slow it
    // down and enlarge it), saying so in the status bar.
    f.w.applyPreset(MainWindow::presetNames()[0]);
    want = expectedCost(kLenet, "conv=8/128,fc=4/32,fc2=dense");
    EXPECT_DOUBLE_EQ(m.cost().speedup(), want.speedup());
    EXPECT_EQ(m.data(m.index(conv1, LayerTableModel::Dense), Qt::CheckStateRole).toInt(), Qt::Checked);
    EXPECT_EQ(m.settingsText(), "conv2=8/128,fc1=4/32");
    EXPECT_TRUE(f.w.statusBar()->currentMessage().contains("fc2 kept dense: 4/32 would give 0."))
        << f.w.statusBar()->currentMessage().toStdString();
    // ... and in fc2's row (issue 18: "saying so in the row's note"), nowhere else.
    int fc2Layer = -1, fc1Layer = -1;
    for (size_t l = 0; l < m.geometry().layers.size(); ++l) {
        if (m.geometry().layers[l].alias == "fc2") fc2Layer = static_cast<int>(l);
        if (m.geometry().layers[l].alias == "fc1") fc1Layer = static_cast<int>(l);
    }
    ASSERT_GE(fc2Layer, 0);
    ASSERT_GE(fc1Layer, 0);
    const QString fc2Tip = m.data(m.index(m.rowOfLayer(fc2Layer), LayerTableModel::Dense), Qt::ToolTipRole).toString();
    EXPECT_TRUE(fc2Tip.startsWith("fc2: kept dense: 4/32 would give 0.")) << fc2Tip.toStdString();
    EXPECT_TRUE(m.data(m.index(m.rowOfLayer(fc2Layer), LayerTableModel::Alias), Qt::BackgroundRole).isValid());
    EXPECT_TRUE(m.note(fc1Layer).isEmpty());
    EXPECT_FALSE(m.data(m.index(m.rowOfLayer(fc1Layer), LayerTableModel::Alias), Qt::BackgroundRole).isValid());
    f.w.applyPreset(MainWindow::presetNames()[2]);
    EXPECT_EQ(m.settingsText(), "");
    EXPECT_TRUE(m.note(fc2Layer).isEmpty()) << "a later change of the settings clears the preset's notes";
    EXPECT_TRUE(f.errors.messages.isEmpty()) << f.errors.messages.join("; ").toStdString();
}

TEST(Workbench, SettingsFileRoundTripsAndBadFilesShowTheLoaderError) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    Fixture f;
    ASSERT_TRUE(f.ok);
    QTemporaryDir dir;
    LayerTableModel& m = *f.w.layerModel();
    m.setSettingsText("conv2=4/64,fc1=2/16:noec");
    const QString path = dir.filePath("settings.json");
    ASSERT_TRUE(f.w.saveSettings(path));
    const SweepSpec spec = load_sweep_spec(path.toStdString());  // the file the CLI reads
    EXPECT_EQ(spec.base.layers, "conv2=4/64,fc1=2/16:noec");
    EXPECT_EQ(spec.base.limit, 200);
    EXPECT_EQ(spec.base.calib_images, 64);
    EXPECT_EQ(QString::fromStdString(spec.base.model), kLenet);

    f.w.applyPreset(MainWindow::presetNames()[2]);
    EXPECT_EQ(m.settingsText(), "");
    ASSERT_TRUE(f.w.loadSettings(path));
    EXPECT_EQ(m.settingsText(), "conv2=4/64,fc1=2/16:noec");
    EXPECT_EQ(f.w.recentFiles().value(0), QFileInfo(path).absoluteFilePath());

    // A spec with a grid: base keeps the layers the grid does not set; loading shows run 0.
    f.w.layerModel()->setSettingsText("conv2=4/64,fc1=2/16");
    SweepSpec withGrid = f.w.currentSpec({{"fc", {"4/32", "4/16"}}}, {EcMode::None}, {0});
    EXPECT_EQ(withGrid.base.layers, "conv2=4/64");
    EXPECT_EQ(expand(withGrid).size(), 2u);

    const QString bad = dir.filePath("bad.json");
    {
        QFile file(bad);
        ASSERT_TRUE(file.open(QIODevice::WriteOnly));
        file.write("{\"qcnn_sweep\": 1, \"model\": \"x.onnx\", \"data\": \"fashion-mnist:test\", \"grid\": [{\"layers\": \"conv\", "
                   "\"settings\": [\"8/300\"]}]}");
    }
    EXPECT_FALSE(f.w.loadSettings(bad));
    ASSERT_EQ(f.errors.messages.size(), 1);
    std::string cli;
    try {
        load_sweep_spec(bad.toStdString());
    } catch (const std::exception& e) {
        cli = e.what();
    }
    EXPECT_FALSE(cli.empty());
    EXPECT_EQ(f.errors.messages[0].toStdString(), cli);
    EXPECT_EQ(m.settingsText(), "conv2=4/64,fc1=2/16");  // unchanged
}

TEST(Workbench, RunAddsAPointAndARowWithoutBlockingAndExportsReadBack) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    Fixture f;
    ASSERT_TRUE(f.ok);
    ASSERT_TRUE(waitFor([&] { return !f.w.isEvaluatingFloat(); }));
    const double floatTop1 = f.w.floatTop1();
    ASSERT_TRUE(std::isfinite(floatTop1));
    EXPECT_TRUE(f.w.statusText().contains(formatPercent(floatTop1))) << f.w.statusText().toStdString();
    EXPECT_TRUE(f.w.statusText().contains("fashion-mnist:test"));

    f.w.layerModel()->setSettingsText("conv2=4/16,fc1=4/16,fc2=4/16");
    const NetworkCost cost = f.w.layerModel()->cost();
    QSignalSpy finished(&f.w, &MainWindow::runFinished);
    Heartbeat heartbeat;
    ASSERT_TRUE(f.w.run());
    EXPECT_TRUE(f.w.isRunning());
    EXPECT_FALSE(f.w.run());  // one job at a time
    ASSERT_TRUE(finished.wait(kTimeoutMs));
    EXPECT_LT(heartbeat.maxGapMs(), 100);
    EXPECT_EQ(finished[0][0].toString(), "completed");
    EXPECT_FALSE(f.w.isRunning());
    EXPECT_TRUE(f.errors.messages.isEmpty()) << f.errors.messages.join("; ").toStdString();

    // A row in the results table, a point in both trade-off plots.
    ResultsModel& results = *f.w.resultsModel();
    ASSERT_EQ(results.rowCount(), 1);
    const RunRow& row = results.record(0).row;
    EXPECT_EQ(row.settings, "conv2=4/16,fc1=4/16,fc2=4/16");
    EXPECT_DOUBLE_EQ(row.compression, cost.compression());
    EXPECT_DOUBLE_EQ(row.theoretical_speedup, cost.speedup());
    EXPECT_DOUBLE_EQ(row.top1_float, floatTop1);  // the background evaluation was reused
    EXPECT_GT(row.top1, 0.5);
    EXPECT_EQ(results.data(results.index(0, ResultsModel::Top1)).toString(), formatPercent(row.top1));
    EXPECT_EQ(f.w.resultsView()->model()->rowCount(), 1);
    const QCPGraph* points = f.w.compressionPlot()->runsGraph();
    ASSERT_EQ(points->data()->size(), 1);
    EXPECT_DOUBLE_EQ(points->data()->begin()->key, row.compression);
    EXPECT_DOUBLE_EQ(points->data()->begin()->value, row.top1 * 100.0);
    EXPECT_EQ(f.w.compressionPlot()->frontGraph()->data()->size(), 1);
    EXPECT_EQ(f.w.speedupPlot()->runsGraph()->data()->begin()->key, row.theoretical_speedup);
    EXPECT_EQ(f.w.selectedRun(), 0);
    EXPECT_EQ(f.w.responsePlot()->bars()->data()->size(), 4);  // one bar per weight layer
    EXPECT_EQ(f.w.memoryPlot()->weightsBars()->data()->size(), 2);

    // Clicking the point loads its settings into the table.
    f.w.applyPreset(MainWindow::presetNames()[2]);
    TradeoffPlot* plot = f.w.compressionPlot();
    plot->replotNow();
    const QPoint at(qRound(plot->plot()->xAxis->coordToPixel(row.compression)),
                    qRound(plot->plot()->yAxis->coordToPixel(row.top1 * 100.0)));
    EXPECT_EQ(plot->runAt(at), 0);
    QTest::mouseClick(plot->plot(), Qt::LeftButton, Qt::NoModifier, at);
    EXPECT_EQ(f.w.layerModel()->settingsText(), "conv2=4/16,fc1=4/16,fc2=4/16");

    // Exports read back: HDF5 (the sweeps layout), CSV, and each plot as PNG and PDF.
    QTemporaryDir dir;
    const QString h5 = dir.filePath("results.h5");
    ASSERT_TRUE(f.w.exportResultsHdf5(h5));
    const std::vector<std::string> ids = list_sweeps(h5.toStdString());
    ASSERT_EQ(ids.size(), 1u);
    const ResultsFile file = ResultsFile::read(h5.toStdString(), ids[0]);
    const std::vector<RunRow> back = file.runs();
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].settings, row.settings);
    EXPECT_DOUBLE_EQ(back[0].top1, row.top1);
    EXPECT_DOUBLE_EQ(back[0].compression, row.compression);
    EXPECT_EQ(file.layers().size(), 4u);
    EXPECT_EQ(file.attributes().status, "completed");
    EXPECT_EQ(file.attributes().qt_version, qVersion());

    const QString csv = dir.filePath("runs.csv");
    ASSERT_TRUE(f.w.exportResultsCsv(csv));
    QFile c(csv);
    ASSERT_TRUE(c.open(QIODevice::ReadOnly));
    const QString text = QString::fromUtf8(c.readAll());
    EXPECT_EQ(text.trimmed().split('\n').size(), 2);
    EXPECT_TRUE(text.contains(QString::fromStdString(row.settings)));

    for (PlotPanel* p : std::initializer_list<PlotPanel*>{f.w.compressionPlot(), f.w.speedupPlot(), f.w.memoryPlot(), f.w.responsePlot()}) {
        const QString png = dir.filePath(p->title() + ".png"), pdf = dir.filePath(p->title() + ".pdf");
        ASSERT_TRUE(p->exportPng(png));
        const QImage img(png);
        EXPECT_GT(img.width(), 100) << png.toStdString();
        ASSERT_TRUE(p->exportPdf(pdf));
        QFile pf(pdf);
        ASSERT_TRUE(pf.open(QIODevice::ReadOnly));
        EXPECT_TRUE(pf.read(5).startsWith("%PDF")) << pdf.toStdString();
    }
    QString error;
    EXPECT_FALSE(f.w.compressionPlot()->exportPng("/nonexistent-dir/x.png", &error));
    EXPECT_TRUE(error.contains("/nonexistent-dir/x.png"));
    EXPECT_FALSE(f.w.exportResultsCsv("/nonexistent-dir/runs.csv"));
    EXPECT_TRUE(f.errors.messages.last().contains("/nonexistent-dir/runs.csv"));
}

TEST(Workbench, CancelMidRunStopsQuicklyAndKeepsTheStateConsistent) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    Fixture f;
    ASSERT_TRUE(f.ok);
    SweepSpec o = fastOptions();
    o.base.kmeans_iters = 25;
    f.w.setRunOptions(o);
    f.w.layerModel()->setSettingsText("conv2=2/256,fc1=2/256,fc2=2/256");
    const QString settings = f.w.layerModel()->settingsText();
    QSignalSpy finished(&f.w, &MainWindow::runFinished);
    // A sweep of 8 runs; cancel as soon as k-means is under way.
    ASSERT_TRUE(f.w.runSweep({{"fc", {"1/256", "2/256", "4/256", "8/256"}}, {"conv", {"1/256", "2/256"}}}, {EcMode::None}, {0}));
    ASSERT_TRUE(waitFor([&] { return f.w.progressText().contains("kmeans") || !f.w.isRunning(); }));
    ASSERT_TRUE(f.w.isRunning()) << "the sweep ended before it could be cancelled";
    EXPECT_TRUE(f.w.progressText().startsWith("run 1/8")) << f.w.progressText().toStdString();
    QElapsedTimer t;
    t.start();
    QTest::keyClick(&f.w, Qt::Key_Escape);  // the Cancel action's shortcut
    ASSERT_TRUE(finished.wait(5000));
    EXPECT_LT(t.elapsed(), 500);
    EXPECT_EQ(finished[0][0].toString(), "cancelled");
    EXPECT_FALSE(f.w.isRunning());
    const int done = f.w.resultsModel()->rowCount();
    EXPECT_LT(done, 8);
    EXPECT_EQ(f.w.compressionPlot()->runsGraph()->data()->size(), done);
    EXPECT_EQ(f.w.layerModel()->settingsText(), settings);
    EXPECT_TRUE(f.errors.messages.isEmpty()) << f.errors.messages.join("; ").toStdString();
    // Runs again afterwards.
    o.base.kmeans_iters = 2;
    f.w.setRunOptions(o);
    finished.clear();
    ASSERT_TRUE(f.w.run());
    ASSERT_TRUE(finished.wait(kTimeoutMs));
    EXPECT_EQ(finished[0][0].toString(), "completed");
    EXPECT_EQ(f.w.resultsModel()->rowCount(), done + 1);
}

TEST(Workbench, ClosingDuringARunCancelsItAndTheWindowStateIsRemembered) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    auto w = std::make_unique<MainWindow>();
    ErrorLog errors;
    w->setErrorHandler(errors.handler());
    w->show();
    w->resize(1234, 777);
    const QSize size = w->size();
    // A run that lasts seconds on any machine: network error correction on 2,000 calibration
    // images (k-means alone can finish before the test looks).
    SweepSpec o = fastOptions();
    o.ec = {EcMode::Network};
    o.base.calib_images = 2000;
    w->setRunOptions(o);
    ASSERT_TRUE(openAndWait(*w, kLenet));
    w->layerModel()->setSettingsText("conv2=4/16,fc1=4/16");
    ASSERT_TRUE(w->run());
    ASSERT_TRUE(waitFor([&] { return !w->progressText().isEmpty() || !w->isRunning(); }));
    ASSERT_TRUE(w->isRunning()) << "the run ended before the window could be closed";
    w->setQuestionHandler([](const QString&, const QString&, const QStringList&) { return 0; });  // "Cancel run and quit"
    w->close();  // saves the window state and asks the run to stop
    QElapsedTimer t;
    t.start();
    w.reset();   // waits for the worker
    EXPECT_LT(t.elapsed(), 1000 * test::budget(0.5));
    EXPECT_TRUE(errors.messages.isEmpty()) << errors.messages.join("; ").toStdString();
    MainWindow again;
    EXPECT_EQ(again.size(), size);
}

TEST(Workbench, SweepDialogCountsRunsAndRefusesSettingsThatDoNotFit) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    Fixture f;
    ASSERT_TRUE(f.ok);
    SweepDialog d(f.w.layerModel(), [](EcMode ec) { return ec == EcMode::None ? 2.0 : 8.0; });
    d.removeGroups();
    d.addGroup("conv2", "2, 4", "16, 64", true);
    d.addGroup("fc", "4", "32", false);
    d.setGrid(d.grid(), {EcMode::None, EcMode::Network}, {0, 1});
    EXPECT_EQ(d.runCount(), (2 * 2 + 1) * 1 * 2 * 2);
    EXPECT_DOUBLE_EQ(d.estimatedSeconds(), 20 * 5.0);
    EXPECT_TRUE(d.problem().isEmpty()) << d.problem().toStdString();
    EXPECT_TRUE(d.summaryText().contains("20 run"));
    const std::vector<SweepGroup> g = d.grid();
    ASSERT_EQ(g.size(), 2u);
    // The sweep spec's product form: "dense" first, then C_s' outer x K inner.
    EXPECT_EQ(g[0].settings, (std::vector<std::string>{"dense", "2/16", "2/64", "4/16", "4/64"}));
    d.addGroup("conv2", "8", "16", false);
    EXPECT_TRUE(d.problem().contains("appears twice")) << d.problem().toStdString();
    d.removeGroups();
    d.addGroup("conv2", "3", "16", false);
    EXPECT_TRUE(d.problem().contains("valid C_s' values: 1, 2, 4, 8")) << d.problem().toStdString();
    d.removeGroups();
    d.addGroup("conv9", "2", "16", false);
    EXPECT_TRUE(d.problem().contains("conv9"));
}

// Grids the dialog's C_s' x K rows cannot show (":noec" values, another order) come back from
// setGrid() unchanged as lists of values; product grids stay products.
TEST(Workbench, SweepDialogKeepsValueListsAndNoecValues) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    Fixture f;
    ASSERT_TRUE(f.ok);
    SweepDialog d(f.w.layerModel(), [](EcMode) { return 1.0; });
    const std::vector<SweepGroup> grid = {
        {"conv2", {"4/16:noec", "2/16", "dense"}},           // :noec
        {"fc1", {"4/32", "2/16"}},                          // not a product of {4, 2} x {32, 16}
        {"fc2", {"dense", "2/16", "2/64", "4/16", "4/64"}},  // a product, dense first
    };
    d.setGrid(grid, {EcMode::None, EcMode::Network}, {0, 3});
    EXPECT_TRUE(d.problem().isEmpty()) << d.problem().toStdString();
    EXPECT_EQ(d.grid(), grid);
    EXPECT_EQ(d.ecModes(), (std::vector<EcMode>{EcMode::None, EcMode::Network}));
    EXPECT_EQ(d.seeds(), (std::vector<uint64_t>{0, 3}));
    EXPECT_EQ(d.runCount(), 3 * 2 * 5 * 2 * 2);
    // Which rows show as products: the product row's C_s' / K cells are enabled, the others not.
    auto* table = d.findChild<QTableWidget*>();
    ASSERT_NE(table, nullptr);
    ASSERT_EQ(table->rowCount(), 3);
    EXPECT_FALSE(table->cellWidget(0, 1)->isEnabled());
    EXPECT_FALSE(table->cellWidget(1, 1)->isEnabled());
    EXPECT_TRUE(table->cellWidget(2, 1)->isEnabled());
    EXPECT_EQ(qobject_cast<QLineEdit*>(table->cellWidget(2, 1))->text(), "2, 4");
    EXPECT_EQ(qobject_cast<QLineEdit*>(table->cellWidget(2, 2))->text(), "16, 64");

    // Typed lists: canonical values, duplicates and bad values refused with the group named.
    d.removeGroups();
    d.addValuesGroup("conv2", " 4/16:noec ,  8 / 64 , dense");
    ASSERT_TRUE(d.problem().isEmpty()) << d.problem().toStdString();
    EXPECT_EQ(d.grid().at(0).settings, (std::vector<std::string>{"4/16:noec", "8/64", "dense"}));
    d.removeGroups();
    d.addValuesGroup("conv2", "4/16, 4/16");
    EXPECT_TRUE(d.problem().contains("Group 1 (conv2): the value 4/16 is listed twice")) << d.problem().toStdString();
    d.removeGroups();
    d.addValuesGroup("conv2", "4/16, 3/16");
    EXPECT_TRUE(d.problem().contains("valid C_s' values: 1, 2, 4, 8")) << d.problem().toStdString();
    d.removeGroups();
    d.addValuesGroup("fc", "4/16, 4/x");
    EXPECT_TRUE(d.problem().contains("fc=4/x")) << d.problem().toStdString();
}

template <class W>
W* child(const MainWindow& w, const char* name) {
    W* c = w.findChild<W*>(QString::fromLatin1(name));
    EXPECT_NE(c, nullptr) << name;
    return c;
}

// The calibration and error-correction options: widgets -> sweep spec -> the RunSpec of the
// run, the run itself (its response errors are the engine's with exactly these options), and
// the settings file.
TEST(Workbench, CalibrationAndEcOptionsReachTheRunSpec) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    Fixture f;
    ASSERT_TRUE(f.ok);
    auto* calibData = child<QLineEdit>(f.w, "calibDataEdit");
    auto* calibImages = child<QSpinBox>(f.w, "calibSpin");
    auto* ec = child<QComboBox>(f.w, "ecCombo");
    auto* ecIters = child<QSpinBox>(f.w, "ecItersSpin");
    auto* ecConv = child<QSpinBox>(f.w, "ecConvImagesSpin");
    auto* ecPositions = child<QSpinBox>(f.w, "ecPositionsSpin");
    ASSERT_TRUE(calibData && calibImages && ec && ecIters && ecConv && ecPositions);

    // Defaults of `qcnn quantize`; the EC options are disabled while EC is off.
    const QuantizeOptions q;
    EXPECT_EQ(calibData->text(), "");
    EXPECT_EQ(ecIters->value(), q.ec_iterations);
    EXPECT_EQ(ecConv->value(), q.ec_conv_images);
    EXPECT_EQ(ecPositions->value(), q.ec_positions);
    EXPECT_EQ(ecPositions->minimum(), 0);  // 0 = every position
    EXPECT_EQ(ecConv->minimum(), 1);
    EXPECT_EQ(ecIters->minimum(), 1);
    for (QSpinBox* s : {ecIters, ecConv, ecPositions}) EXPECT_FALSE(s->isEnabled());
    EXPECT_TRUE(ecIters->toolTip().contains(QString::number(q.ec_iterations)));
    EXPECT_TRUE(ecPositions->toolTip().contains("seeded"));
    ec->setCurrentIndex(ec->findText("network"));
    for (QSpinBox* s : {ecIters, ecConv, ecPositions}) EXPECT_TRUE(s->isEnabled());

    calibData->setText(" fashion-mnist:test ");  // calibrate on the evaluation set, named explicitly
    calibImages->setValue(48);
    ecIters->setValue(2);
    ecConv->setValue(8);
    ecPositions->setValue(3);
    f.w.layerModel()->setSettingsText("conv2=4/16,fc1=4/16");
    const SweepSpec spec = f.w.currentSpec();
    const RunSpec r = run_spec(spec, expand(spec).at(0));
    EXPECT_EQ(r.calib_data, "fashion-mnist:test");
    EXPECT_EQ(r.calib_images, 48);
    EXPECT_EQ(r.ec, EcMode::Network);
    EXPECT_EQ(r.ec_iters, 2);
    EXPECT_EQ(r.ec_conv_images, 8);
    EXPECT_EQ(r.ec_positions, 3);
    EXPECT_EQ(r.threads, 1);

    QSignalSpy finished(&f.w, &MainWindow::runFinished);
    ASSERT_TRUE(f.w.run());
    ASSERT_TRUE(finished.wait(kTimeoutMs));
    ASSERT_EQ(finished[0][0].toString(), "completed") << f.errors.messages.join("; ").toStdString();
    ASSERT_EQ(f.w.resultsModel()->rowCount(), 1);
    const std::vector<LayerRow>& layers = f.w.resultsModel()->record(0).layers;
    const RunResult engine = run_quantization(r);
    ASSERT_EQ(layers.size(), engine.response.size());
    for (size_t i = 0; i < layers.size(); ++i)
        EXPECT_DOUBLE_EQ(layers[i].response_error, engine.response[i].layer_error) << layers[i].alias;
    // The options matter: with the engine's defaults conv2's response error is another.
    RunSpec defaults = r;
    defaults.calib_data.clear();
    defaults.ec_iters = q.ec_iterations;
    defaults.ec_conv_images = q.ec_conv_images;
    defaults.ec_positions = q.ec_positions;
    const RunResult other = run_quantization(defaults);
    ASSERT_EQ(layers.at(1).alias, "conv2");
    EXPECT_GT(layers.at(1).response_error, 0.0);
    EXPECT_NE(layers.at(1).response_error, other.response.at(1).layer_error);

    // The settings file carries them, and loading it restores every run option.
    QTemporaryDir dir;
    const QString path = dir.filePath("ec.json");
    const SweepSpec saved = f.w.runOptions();
    ASSERT_TRUE(f.w.saveSettings(path));
    const SweepSpec file = load_sweep_spec(path.toStdString());
    EXPECT_EQ(file.base.calib_data, "fashion-mnist:test");
    EXPECT_EQ(file.base.calib_images, 48);
    EXPECT_EQ(file.base.ec_iters, 2);
    EXPECT_EQ(file.base.ec_conv_images, 8);
    EXPECT_EQ(file.base.ec_positions, 3);
    f.w.setRunOptions(fastOptions());
    EXPECT_FALSE(ecIters->isEnabled());
    ASSERT_TRUE(f.w.loadSettings(path));
    EXPECT_TRUE(f.w.runOptions() == saved);
    EXPECT_EQ(ecPositions->value(), 3);

    // A spec whose sweep uses EC enables the options even when its first run does not.
    SweepSpec sweep = f.w.currentSpec({{"fc", {"4/32", "4/16"}}}, {EcMode::None, EcMode::Layer}, {0});
    save_sweep_spec(path.toStdString(), sweep);
    ASSERT_TRUE(f.w.loadSettings(path));
    EXPECT_EQ(ec->currentText(), "none");
    for (QSpinBox* s : {ecIters, ecConv, ecPositions}) EXPECT_TRUE(s->isEnabled());
    EXPECT_TRUE(f.errors.messages.isEmpty()) << f.errors.messages.join("; ").toStdString();
}

TEST(Workbench, TeachingViewFramesAreTheKMeansIterations) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    const auto net = load_model(kLenet.toStdString());
    const TeachingData d = TeachingView::compute(net, "conv2", 2, 16, 1, 0, 10);
    ASSERT_TRUE(d.error.isEmpty()) << d.error.toStdString();
    EXPECT_EQ(d.M, 4);  // 8 input channels / C_s' 2
    // Usage counts every code: C_t x kernel positions x subspaces.
    double codes = 0;
    for (double u : d.usage) codes += u;
    EXPECT_EQ(codes, 16 * 25 * 4);
    EXPECT_EQ(d.original.size(), d.decoded.size());
    EXPECT_NE(d.original, d.decoded);
    // C_s' = 2: the sub-vectors are plotted as they are (subspace 1 = channels 2 and 3).
    const RowMatrixXf x = [&] {
        const int node = net->find_node("conv2");
        const auto* op = dynamic_cast<const ConvOp*>(net->nodes[node].op.get());
        PQGeometry geo = pq_geometry(LayerKind::Conv, op->weight().shape, 1, {2, 16}, "conv2");
        return pq_training_set(op->weight(), geo, 1);
    }();
    ASSERT_EQ(d.px.size(), x.rows());
    EXPECT_FLOAT_EQ(d.px[7], x(7, 0));
    EXPECT_FLOAT_EQ(d.py[7], x(7, 1));
    // Frames: the initialisation then one per iteration; the objective never rises and the
    // last frame is kmeans() itself.
    ASSERT_GE(d.frames.size(), 3u);
    for (size_t i = 1; i < d.frames.size(); ++i) EXPECT_LE(d.frames[i].objective, d.frames[i - 1].objective * (1 + 1e-9));
    KMeansOptions ko;
    ko.k = 16;
    ko.max_iter = static_cast<int>(d.frames.size()) - 1;
    ko.seed = derive_seed(0, 1);
    const KMeansResult km = kmeans(x, ko);
    EXPECT_NEAR(d.frames.back().objective, km.inertia, 1e-9 * km.inertia);
    EXPECT_FLOAT_EQ(d.frames.back().cx[3], km.centroids(3, 0));

    // PCA for C_s' > 2 and an error for a layer that does not exist.
    EXPECT_TRUE(TeachingView::compute(net, "conv2", 4, 16, 0, 0, 3).xLabel.contains("principal"));
    EXPECT_FALSE(TeachingView::compute(net, "conv7", 2, 16, 0, 0, 3).error.isEmpty());

    // The widget: selecting a layer computes in the background; step and play move frames.
    TeachingView view;
    QSignalSpy updated(&view, &TeachingView::updated);
    view.setNetwork(net);
    view.showLayer("conv2", 2, 16);
    ASSERT_TRUE(waitFor([&] { return !view.isBusy() && !updated.isEmpty(); }, kTimeoutMs));
    EXPECT_EQ(view.data().layer, "conv2");
    EXPECT_EQ(view.usageBars()->data()->size(), 16);
    view.setFrame(0);
    view.step();
    EXPECT_EQ(view.frame(), 1);
    EXPECT_EQ(view.codewordGraph()->data()->size(), 16);
}

// Issue 18, teaching tab: the decoded filters come from the k-means run the frames replay, the
// sub-vectors are coloured by their codeword, a filter can be zoomed, play runs at one iteration
// per second, a new layer clears the old pictures at once, a setting that differs from the
// layer table is said so, and the story walks to a sweep.
TEST(Workbench, TeachingTabIsReadyForAClass) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    const auto net = load_model(kLenet.toStdString());
    const TeachingData d = TeachingView::compute(net, "conv2", 2, 16, 1, 0, 25);
    ASSERT_TRUE(d.error.isEmpty()) << d.error.toStdString();
    // The last frame is the codebook the decoded filters use (one run, not best-of restarts).
    ASSERT_EQ(d.codebookX.size(), 16);
    for (int k = 0; k < 16; ++k) {
        EXPECT_FLOAT_EQ(d.frames.back().cx[k], d.codebookX[k]) << k;
        EXPECT_FLOAT_EQ(d.frames.back().cy[k], d.codebookY[k]) << k;
    }
    // Every frame assigns each sub-vector to its nearest codeword (in the plane: C_s' = 2).
    for (const TeachingData::Frame& f : {d.frames.front(), d.frames.back()}) {
        ASSERT_EQ(f.assign.size(), d.px.size());
        for (int i = 0; i < d.px.size(); i += 7) {
            const auto dist = [&](int k) { return std::pow(d.px[i] - f.cx[k], 2) + std::pow(d.py[i] - f.cy[k], 2); };
            for (int k = 0; k < 16; ++k) EXPECT_LE(dist(f.assign[i]), dist(k) * (1 + 1e-5) + 1e-12) << i << " " << k;
        }
    }
    EXPECT_GT(d.scale, 0);
    EXPECT_EQ(d.tileH, 6);  // 5x5 kernels + a 1-pixel gap
    EXPECT_EQ(d.filtersShown, 16);

    TeachingView view;
    view.resize(1200, 800);
    view.show();
    QSignalSpy updated(&view, &TeachingView::updated);
    view.setNetwork(net);
    view.showLayer("conv2", 2, 16);
    ASSERT_TRUE(waitFor([&] { return !view.isBusy() && !updated.isEmpty(); }, kTimeoutMs));
    EXPECT_EQ(view.playIntervalMs(), 1000);  // one iteration per second by default
    view.setSpeed(2.0);
    EXPECT_EQ(view.playIntervalMs(), 500);
    // Coloured by assignment: every sub-vector is in the graph of its codeword.
    view.setFrame(static_cast<int>(view.data().frames.size()) - 1);
    int drawn = 0, used = 0;
    for (int k = 0; k < 16; ++k) {
        drawn += view.pointsOfCodeword(k);
        used += view.pointsOfCodeword(k) > 0;
        EXPECT_EQ(view.pointsOfCodeword(k), std::count(view.data().frames.back().assign.begin(),
                                                       view.data().frames.back().assign.end(), k));
    }
    EXPECT_EQ(drawn, view.data().px.size());
    EXPECT_GT(used, 1);
    EXPECT_EQ(view.codewordGraph()->data()->size(), 16);
    // Zoom: filter 3's 8 channel tiles (5x5), rearranged 3 x 3, original beside decoded.
    view.zoomFilter(3);
    const QImage& o = view.data().original;
    const int tw = view.data().tileW, th = view.data().tileH;
    ASSERT_EQ(view.zoomOriginal().size(), QSize(3 * tw + 1, 3 * th + 1));
    for (int c : {0, 4, 7})
        EXPECT_EQ(view.zoomOriginal().copy((c % 3) * tw + 1, (c / 3) * th + 1, tw - 1, th - 1),
                  o.copy(c * tw + 1, 3 * th + 1, tw - 1, th - 1))
            << "channel " << c;
    EXPECT_EQ(view.zoomDecoded().size(), view.zoomOriginal().size());
    EXPECT_NE(view.zoomDecoded(), view.zoomOriginal());
    // Settings: the same as the table says nothing; another one says it differs.
    view.setTableSetting("conv2", 2, 16);
    EXPECT_FALSE(view.differsFromTable());
    view.setTableSetting("conv2", 4, 16);
    EXPECT_TRUE(view.differsFromTable());
    EXPECT_TRUE(view.infoText().contains("differs from the layer table: 4/16")) << view.infoText().toStdString();
    // Another layer: the old pictures are gone at once, not seconds later.
    view.showLayer("conv1", 1, 4);
    EXPECT_TRUE(view.isBusy());
    EXPECT_TRUE(view.data().original.isNull());
    EXPECT_TRUE(view.zoomOriginal().isNull());
    ASSERT_TRUE(waitFor([&] { return !view.isBusy(); }, kTimeoutMs));
    EXPECT_EQ(view.data().layer, "conv1");
    // The story: four captioned steps; the codebook step plays, the last asks for a sweep.
    QSignalSpy tradeoff(&view, &TeachingView::storyTradeoff);
    view.setStoryStep(1);
    EXPECT_TRUE(view.storyCaption().startsWith("1/4")) << view.storyCaption().toStdString();
    view.setStoryStep(2);
    EXPECT_TRUE(view.storyCaption().startsWith("2/4"));
    EXPECT_EQ(view.frame(), 0);
    view.setStoryStep(3);
    EXPECT_TRUE(view.storyCaption().startsWith("3/4"));
    EXPECT_EQ(view.frame(), static_cast<int>(view.data().frames.size()) - 1);
    view.setStoryStep(4);
    ASSERT_EQ(tradeoff.size(), 1);
    EXPECT_EQ(tradeoff[0][0].toString(), "conv1");
    EXPECT_EQ(tradeoff[0][1].toLongLong(), 1);
    view.setStoryStep(0);
    EXPECT_TRUE(view.storyCaption().isEmpty());
}

// The teaching tab follows the layer table; the story's last step runs a sweep over K; presenter
// mode scales every font (plots too) and goes full screen, and back.
TEST(Workbench, TeachingFollowsTheTableAndPresenterModeScalesFonts) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    Fixture f;
    ASSERT_TRUE(f.ok);
    TeachingView* t = f.w.teachingView();
    ASSERT_TRUE(waitFor([&] { return !t->isBusy(); }, kTimeoutMs));
    LayerTableModel& m = *f.w.layerModel();
    QTableView* view = f.w.layerView();
    auto* proxy = static_cast<QSortFilterProxyModel*>(view->model());
    m.setSettingsText("conv2=2/16");
    view->setCurrentIndex(proxy->mapFromSource(m.index(rowOf(m, "conv2"), LayerTableModel::Alias)));
    ASSERT_TRUE(waitFor([&] { return !t->isBusy() && t->data().layer == "conv2"; }, kTimeoutMs));
    EXPECT_EQ(t->data().dsub, 2);
    m.setSettingsText("conv2=4/32");  // an edit in the table moves the teaching view along
    ASSERT_TRUE(waitFor([&] { return !t->isBusy() && t->data().K == 32; }, kTimeoutMs));
    EXPECT_EQ(t->data().dsub, 4);
    EXPECT_FALSE(t->differsFromTable());

    t->setStoryStep(4);
    EXPECT_TRUE(f.w.isRunning());
    ASSERT_EQ(f.w.sweepGrid().grid.size(), 1u);
    EXPECT_EQ(f.w.sweepGrid().grid[0].layers, "conv");
    EXPECT_EQ(f.w.sweepGrid().grid[0].settings, (std::vector<std::string>{"4/4", "4/16", "4/64"}));
    f.w.cancelRun();
    ASSERT_TRUE(waitFor([&] { return !f.w.isRunning(); }, kTimeoutMs));

    const double base = f.w.font().pointSizeF();
    auto* plot = f.w.findChild<QCustomPlot*>();
    ASSERT_NE(plot, nullptr);
    const double axisBase = plot->xAxis->labelFont().pointSizeF();
    auto* tabs = f.w.findChild<QTabWidget*>();
    ASSERT_NE(tabs, nullptr);
    tabs->setCurrentWidget(t);
    const QList<QDockWidget*> docks = f.w.findChildren<QDockWidget*>();
    ASSERT_GE(docks.size(), 3);
    auto visibleDocks = [&] { return std::count_if(docks.begin(), docks.end(), [](QDockWidget* d) { return d->isVisible(); }); };
    const auto docksBefore = visibleDocks();
    ASSERT_GT(docksBefore, 0);
    f.w.setPresenterMode(true);
    EXPECT_TRUE(f.w.isFullScreen());
    EXPECT_NEAR(f.w.font().pointSizeF(), 1.6 * base, 1e-6);
    EXPECT_NEAR(plot->xAxis->labelFont().pointSizeF(), 1.6 * axisBase, 1e-6);
    EXPECT_EQ(visibleDocks(), 0) << "presenter mode gives the Teaching tab the whole screen";
    tabs->setCurrentIndex(0);
    EXPECT_EQ(visibleDocks(), docksBefore) << "the Layers tab gets its docks back";
    tabs->setCurrentWidget(t);
    EXPECT_EQ(visibleDocks(), 0);
    f.w.setPresenterMode(false);
    EXPECT_EQ(visibleDocks(), docksBefore) << "leaving presenter mode restores the docks";
    EXPECT_FALSE(f.w.isFullScreen());
    EXPECT_NEAR(f.w.font().pointSizeF(), base, 1e-6);
    EXPECT_NEAR(plot->xAxis->labelFont().pointSizeF(), axisBase, 1e-6);
}

// Issue 18 polish: presets wait for a model; the README's builtin:alexnet opens from File.
TEST(Workbench, PresetsNeedAModelAndBuiltinNetworksOpenFromTheMenu) {
    MainWindow w;
    ErrorLog errors;
    w.setErrorHandler(errors.handler());
    QList<QAction*> presets, builtins;
    for (QAction* a : w.findChildren<QAction*>()) {
        if (a->text().startsWith("Preset: ")) presets << a;
        if (a->text().startsWith("builtin:")) builtins << a;
    }
    ASSERT_FALSE(presets.isEmpty());
    for (QAction* a : presets) EXPECT_FALSE(a->isEnabled()) << a->text().toStdString();
    ASSERT_EQ(builtins.size(), static_cast<int>(builtin_names().size()));
    QAction* alexnet = nullptr;
    for (QAction* a : builtins)
        if (a->text() == "builtin:alexnet") alexnet = a;
    ASSERT_NE(alexnet, nullptr);
    QSignalSpy loaded(&w, &MainWindow::modelLoaded);
    alexnet->trigger();
    ASSERT_TRUE(waitFor([&] { return !loaded.isEmpty() || !errors.messages.isEmpty(); }, kTimeoutMs));
    EXPECT_TRUE(errors.messages.isEmpty()) << errors.messages.join("; ").toStdString();
    EXPECT_EQ(w.layerModel()->geometry().layers.size(), 8u);  // AlexNet: 5 conv + 3 FC
    for (QAction* a : presets) EXPECT_TRUE(a->isEnabled()) << a->text().toStdString();
}

// Issue 14: a measured speed-up is shown with its interval, and a noisy measurement is marked
// instead of looking precise: "1.90x ±0.20" in the table (the plot: tests/ui/test_plots.cpp).
TEST(Workbench, MeasuredSpeedupShowsItsIntervalAndMarksNoisyRuns) {
    std::vector<RunRecord> records(3);
    for (int i = 0; i < 3; ++i) {
        RunRow& r = records[i].row;
        r.run_index = i;
        r.settings = "conv=8/64,fc=4/32";
        r.ec = "none";
        r.top1 = 0.80 + 0.01 * i;
        r.top1_float = 0.9;
        r.compression = 6;
        r.theoretical_speedup = 3.66;
        r.measured_speedup = std::nan("");
        r.measured_speedup_lo = r.measured_speedup_hi = r.dense_ms_spread = r.quantized_ms_spread = std::nan("");
    }
    RunRow& clean = records[0].row;  // the seed-0 run, measured cleanly
    clean.measured_speedup = 1.9;
    clean.measured_speedup_lo = 1.7;
    clean.measured_speedup_hi = 2.1;
    clean.dense_ms_spread = 0.05;
    clean.quantized_ms_spread = 0.04;
    clean.dense_ms = 0.72;
    clean.quantized_ms = 0.38;
    clean.speed_rounds = 19;
    RunRow& noisy = records[1].row;  // every round preempted
    noisy.measured_speedup = 2.58;
    noisy.measured_speedup_lo = 0.06;
    noisy.measured_speedup_hi = 49.0;
    noisy.dense_ms_spread = 0.35;
    noisy.quantized_ms_spread = 0.12;
    noisy.dense_ms = 92.0;
    noisy.quantized_ms = 36.0;
    noisy.speed_noisy = 1;
    noisy.speed_rounds = 8;
    noisy.speed_preempted_rounds = 8;
    // records[2]: speed not measured.

    ResultsModel model;
    for (const RunRecord& r : records) model.addRecord(r);
    const auto shown = [&](int row) { return model.data(model.index(row, ResultsModel::MeasuredSpeedup)).toString(); };
    EXPECT_EQ(shown(0), QString::fromUtf8("1.90x \u00b10.20"));
    EXPECT_EQ(shown(1), QString::fromUtf8("2.58x \u00b124.47 noisy"));
    EXPECT_EQ(shown(2), "-");
    const QString tip = model.data(model.index(1, ResultsModel::MeasuredSpeedup), Qt::ToolTipRole).toString();
    EXPECT_TRUE(tip.contains("noisy: spread 35%, 8 of 8 rounds preempted")) << tip.toStdString();
    EXPECT_TRUE(tip.contains("interval 0.06x to 49.00x")) << tip.toStdString();
    EXPECT_EQ(model.data(model.index(0, ResultsModel::MeasuredSpeedup), ResultsModel::SortRole).toDouble(), 1.9);

    // The plot's side: tests/ui/test_plots.cpp (MeasuredSpeedupHasIntervalsAndNoisyMarkers).
}

// Issue 14 through the workbench's job: the dense time of one model is measured once per
// session; a second run with speed measurement reuses it (the same dense_ms) unless its own
// dense passes disagreed (machine state changed) or the first was noisy (never kept).
TEST(Workbench, DenseSpeedIsMeasuredOncePerSession) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    DenseTimingCache::process().clear();
    Fixture f;
    ASSERT_TRUE(f.ok);
    SweepSpec o = fastOptions();
    o.measure_speed = true;
    f.w.setRunOptions(o);
    for (const char* settings : {"fc1=4/16", "fc1=8/16"}) {
        f.w.layerModel()->setSettingsText(settings);
        QSignalSpy finished(&f.w, &MainWindow::runFinished);
        ASSERT_TRUE(f.w.run());
        ASSERT_TRUE(finished.wait(kTimeoutMs));
        ASSERT_EQ(finished[0][0].toString(), "completed");
    }
    ResultsModel& results = *f.w.resultsModel();
    ASSERT_EQ(results.rowCount(), 2);
    const RunRow& a = results.record(0).row;
    const RunRow& b = results.record(1).row;
    ASSERT_TRUE(std::isfinite(a.dense_ms) && std::isfinite(b.dense_ms));
    EXPECT_EQ(a.dense_reused, 0);
    EXPECT_GT(a.speed_rounds, 0);
    if (b.dense_reused) {
        EXPECT_EQ(b.dense_ms, a.dense_ms);
        EXPECT_EQ(b.dense_ms_spread, a.dense_ms_spread);
        EXPECT_LE(a.dense_ms_spread, SpeedOptions{}.noisy_spread);  // only clean ones are kept
    } else {
        EXPECT_TRUE(a.speed_noisy || std::abs(b.dense_ms - a.dense_ms) > SpeedOptions{}.reuse_tolerance * a.dense_ms)
            << a.dense_ms << " ms, then " << b.dense_ms << " ms";
    }
    EXPECT_TRUE(results.data(results.index(1, ResultsModel::MeasuredSpeedup)).toString().contains(QString::fromUtf8("\u00b1")));
}

}  // namespace
}  // namespace qcnn::ui
