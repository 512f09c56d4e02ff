// The per-run plots (ui/plots.h) and their registry (ui/plot_registry.h), offscreen: every
// registered plot is laid out in the plots dock, redraws on a new run and on a selection change,
// exports a PNG and reports export errors (loops over plotRegistry(), so a new plot is covered
// without editing this file); per-model display (issue 18 item 1: other models' runs grey or
// hidden, Pareto front and float line of the current model); the plot polish of issue 18 item 7
// (memory legend clear of the bars, no stray zero-height bar, a single run inside the axes,
// measured points linked to their runs, PNG size / DPI / title, titles not cut at 1600 px).
#include <gtest/gtest.h>

#include <QCheckBox>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <qcustomplot.h>

#include "tests/ui/ui_test_util.h"
#include "ui/plot_registry.h"
#include "ui/plots.h"
#include "ui/results_model.h"

namespace qcnn::ui {
namespace {

// A finished run without running anything: `i` varies every plotted value.
RunRecord makeRun(int i, const std::string& model = "", const std::string& data = "") {
    RunRecord r;
    RunRow& row = r.row;
    row.settings = "conv=8/" + std::to_string(16 << i);
    row.ec = "none";
    row.seed = static_cast<uint64_t>(i);
    row.top1 = 0.80 + 0.02 * i;
    row.top1_float = 0.91;
    row.compression = 4.0 + 3.0 * i;
    row.theoretical_speedup = 2.0 + 1.5 * i;
    row.measured_speedup = row.measured_speedup_lo = row.measured_speedup_hi = std::nan("");
    row.dense_ms_spread = row.quantized_ms_spread = std::nan("");
    for (int l = 0; l < 3; ++l) {
        LayerRow layer;
        layer.alias = "conv" + std::to_string(l + 1);
        layer.response_error = 0.01 * (l + 1) * (i + 1);
        r.layers.push_back(layer);
    }
    r.memoryDense.weight_bytes = 400 * 1024;
    r.memoryDense.bias_bytes = 2 * 1024;
    r.memoryDense.activation_bytes = 120 * 1024;
    r.memoryDense.lut_bytes = 0;  // dense: no lookup tables
    r.memoryQuantized.weight_bytes = (60 - 10 * i) * 1024;
    r.memoryQuantized.bias_bytes = 2 * 1024;
    r.memoryQuantized.activation_bytes = 120 * 1024;
    r.memoryQuantized.lut_bytes = (30 + 20 * i) * 1024;
    r.model = model;
    r.data = data;
    return r;
}

// Marks `r` measured: median speed-up `m` in [lo, hi], the larger relative spread of its dense
// and quantized times `spread`; a noisy one had every round preempted.
void setMeasured(RunRow& r, double m, double lo, double hi, double spread, bool noisy = false) {
    r.measured_speedup = m;
    r.measured_speedup_lo = lo;
    r.measured_speedup_hi = hi;
    r.dense_ms_spread = spread;
    r.quantized_ms_spread = spread / 2;
    r.speed_noisy = noisy ? 1 : 0;
    r.speed_rounds = noisy ? 8 : 19;
    r.speed_preempted_rounds = noisy ? 8 : 0;
}

// The plot as drawn at `size` (its own widget size when empty).
QImage render(PlotPanel* p, QSize size = {400, 300}) {
    p->replotNow();
    return p->plot()->toPixmap(size.width(), size.height()).toImage();
}

// Shows `p` at `size` so that its axes are laid out as on screen.
void layOut(PlotPanel& p, QSize size = {400, 300}) {
    p.resize(size);
    p.show();
    EXPECT_TRUE(QTest::qWaitForWindowExposed(&p));
    p.replotNow();
}

QPoint pixelOf(const PlotPanel* p, double x, double y) {
    return QPoint(qRound(p->plot()->xAxis->coordToPixel(x)), qRound(p->plot()->yAxis->coordToPixel(y)));
}

// Dark pixels (text, lines) in rows [0, rows) of `image`.
int darkPixelsInTop(const QImage& image, int rows) {
    int n = 0;
    for (int y = 0; y < rows; ++y)
        for (int x = 0; x < image.width(); ++x) n += qGray(image.pixel(x, y)) < 128;
    return n;
}

TEST(Plots, ParetoFrontKeepsRunsNoOtherRunBeats) {
    // (compression, top-1): b beats a (more compression, higher top-1); d ties c's top-1 at
    // larger compression, so c is not on the front.
    const std::vector<std::pair<double, double>> pts{{2, 80}, {4, 85}, {8, 70}, {10, 70}, {3, 90}, {12, 60}};
    EXPECT_EQ(TradeoffPlot::paretoFront(pts), (std::vector<int>{4, 1, 3, 5}));
    EXPECT_TRUE(TradeoffPlot::paretoFront({}).empty());
}

// The registry's contract, over every entry: laid out in the plots dock, redrawn on a new run
// and on a selection change, a PNG export, export errors reaching the window's message.
TEST(PlotRegistry, EveryPlotIsLaidOutUpdatesExportsAndReportsErrors) {
    MainWindow w;
    ErrorLog errors;
    w.setErrorHandler(errors.handler());
    w.resize(1600, 1000);
    w.show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(&w));
    auto* dock = w.findChild<QDockWidget*>(QStringLiteral("plotsDock"));
    ASSERT_NE(dock, nullptr);
    ASSERT_FALSE(plotRegistry().empty());
    ASSERT_EQ(w.plots()->plots().size(), plotRegistry().size());

    std::vector<QImage> empty;
    for (const PlotEntry& e : plotRegistry()) {
        RunPlot* p = w.plots()->plot(e.id);
        ASSERT_NE(p, nullptr) << e.id.toStdString();
        EXPECT_TRUE(dock->isAncestorOf(p)) << e.id.toStdString();
        EXPECT_TRUE(p->isVisible()) << e.id.toStdString();
        EXPECT_GT(p->width(), 100) << e.id.toStdString();
        empty.push_back(render(p));
    }
    auto legendsClearOfTheAxes = [&] {
        for (RunPlot* p : w.plots()->plots()) {
            p->replotNow();
            const QCPLegend* legend = p->plot()->legend;
            if (!legend->visible()) continue;
            EXPECT_FALSE(legend->outerRect().intersects(p->plot()->axisRect()->rect()))
                << p->title().toStdString() << ": the legend covers the axes (and the points or bars there)";
            EXPECT_TRUE(p->plot()->viewport().contains(legend->outerRect())) << p->title().toStdString() << ": legend clipped";
        }
    };
    // A different plot per entry: ids name distinct plots.
    for (size_t i = 0; i < w.plots()->plots().size(); ++i)
        for (size_t j = i + 1; j < w.plots()->plots().size(); ++j) EXPECT_NE(w.plots()->plots()[i], w.plots()->plots()[j]);

    // A new run in the results model: every plot draws it, with nothing fed by hand.
    w.resultsModel()->addRecord(makeRun(0));
    std::vector<QImage> one;
    for (size_t i = 0; i < plotRegistry().size(); ++i) {
        one.push_back(render(w.plots()->plots()[i]));
        EXPECT_NE(one[i], empty[i]) << plotRegistry()[i].id.toStdString() << " did not redraw on a new run";
    }
    // A second run, then the selection moves between them: every plot follows it.
    w.resultsModel()->addRecord(makeRun(1));
    w.selectRun(0);
    std::vector<QImage> first;
    for (RunPlot* p : w.plots()->plots()) first.push_back(render(p));
    w.selectRun(1);
    EXPECT_EQ(w.plots()->context().selectedRun, 1);
    legendsClearOfTheAxes();
    for (size_t i = 0; i < plotRegistry().size(); ++i)
        EXPECT_NE(render(w.plots()->plots()[i]), first[i]) << plotRegistry()[i].id.toStdString() << " ignored the selection";

    QTemporaryDir dir;
    for (const PlotEntry& e : plotRegistry()) {
        RunPlot* p = w.plots()->plot(e.id);
        const QString png = dir.filePath(e.id + ".png");
        ASSERT_TRUE(p->exportTo(png, {})) << e.id.toStdString();
        const QImage img(png);
        EXPECT_EQ(img.size(), PlotPanel::kPngSize) << e.id.toStdString();
        const QString pdf = dir.filePath(e.id + ".pdf");
        ASSERT_TRUE(p->exportTo(pdf, {})) << e.id.toStdString();
        QFile pf(pdf);
        ASSERT_TRUE(pf.open(QIODevice::ReadOnly));
        EXPECT_TRUE(pf.read(5).startsWith("%PDF")) << pdf.toStdString();

        errors.titles.clear();
        errors.messages.clear();
        const QString bad = "/nonexistent-dir/" + e.id + ".png";
        EXPECT_FALSE(p->exportTo(bad, {}));
        ASSERT_EQ(errors.messages.size(), 1) << e.id.toStdString() << ": export error not shown";
        EXPECT_EQ(errors.titles[0], "Export failed");
        EXPECT_TRUE(errors.messages[0].contains(bad)) << errors.messages[0].toStdString();
    }
    // The accessors are lookups into the registry.
    EXPECT_EQ(w.compressionPlot(), w.plots()->plot("compression"));
    EXPECT_EQ(w.memoryPlot(), w.plots()->plot("memory"));

    // Issue 18 item 7: no plot's title is cut at 1600 px window width (the memory plot's was).
    for (RunPlot* p : w.plots()->plots()) {
        QLabel* label = p->titleLabel();
        QFont bold = label->font();
        bold.setBold(true);
        const QFontMetrics fm(bold);
        const QRect needed = fm.boundingRect(QRect(0, 0, label->contentsRect().width(), 10000), Qt::TextWordWrap, p->title());
        EXPECT_LE(needed.width(), label->contentsRect().width()) << p->title().toStdString();
        EXPECT_LE(needed.height(), label->contentsRect().height()) << p->title().toStdString();
        EXPECT_LE(fm.horizontalAdvance(p->title()), label->contentsRect().width())
            << p->title().toStdString() << " wraps at 1600 px";
    }
}

// Issue 18 item 1: runs of the current (model, data) are drawn normally, other models' grey
// or hidden; the Pareto front and the float line belong to the current model.
TEST(Plots, OtherModelsAreGreyOrHiddenAndFrontAndFloatArePerModel) {
    ResultsModel results;
    PlotSet set(&results);
    set.setCurrentModel("lenet.onnx", "fashion-mnist:test", std::nan(""));
    results.addRecord(makeRun(0, "lenet.onnx", "fashion-mnist:test"));
    results.addRecord(makeRun(1, "lenet.onnx", "fashion-mnist:test"));
    RunRecord vgg = makeRun(3, "vgg.onnx", "cifar10:test");  // dominates both LeNet runs
    vgg.row.top1_float = 0.70;
    results.addRecord(vgg);
    RunRecord otherData = makeRun(2, "lenet.onnx", "mnist:test");  // same model, other data
    results.addRecord(otherData);
    auto* tradeoff = set.find<TradeoffPlot>("compression");
    ASSERT_NE(tradeoff, nullptr);

    ASSERT_EQ(tradeoff->runsGraph()->data()->size(), 2);
    ASSERT_EQ(tradeoff->otherModelsGraph()->data()->size(), 2);
    EXPECT_EQ(tradeoff->otherModelsGraph()->scatterStyle().pen().color().saturation(), 0);  // grey
    // The front is LeNet's own: both LeNet runs (run 1 beats run 0 on both axes: only run 1).
    ASSERT_EQ(tradeoff->frontGraph()->data()->size(), 1);
    EXPECT_DOUBLE_EQ(tradeoff->frontGraph()->data()->begin()->key, results.record(1).row.compression);
    // The float line: LeNet's runs' float top-1 until the float evaluation gives it.
    ASSERT_TRUE(tradeoff->floatLine()->visible());
    EXPECT_NEAR(tradeoff->floatLine()->point1->coords().y(), 91.0, 1e-9);
    set.setCurrentModel("lenet.onnx", "fashion-mnist:test", 0.9123);
    EXPECT_NEAR(tradeoff->floatLine()->point1->coords().y(), 91.23, 1e-9);
    // The per-run plots show the newest current run while none is selected (not VGG's, newer).
    auto* memory = set.find<MemoryPlot>("memory");
    ASSERT_NE(memory, nullptr);
    EXPECT_DOUBLE_EQ(memory->lutBars()->data()->at(memory->lutBars()->data()->size() - 1)->value, 50.0);

    // Hovering a grey run names its model.
    set.widget()->resize(800, 600);  // the plots as docked
    set.widget()->show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(set.widget()));
    tradeoff->replotNow();
    const QPoint grey = pixelOf(tradeoff, vgg.row.compression, vgg.row.top1 * 100);
    EXPECT_EQ(tradeoff->runAt(grey), 2);
    EXPECT_TRUE(tradeoff->tooltipAt(grey).contains("vgg.onnx")) << tradeoff->tooltipAt(grey).toStdString();

    // Narrow plots wrap their legends: every entry stays inside the plot, clear of the axes.
    for (QSize size : {QSize(800, 600), QSize(480, 400)}) {
        set.widget()->resize(size);
        QTest::qWait(20);
        for (RunPlot* p : set.plots()) {
            p->replotNow();
            const QCPLegend* legend = p->plot()->legend;
            if (!legend->visible()) continue;
            EXPECT_FALSE(legend->outerRect().intersects(p->plot()->axisRect()->rect())) << p->title().toStdString();
            for (int i = 0; i < legend->elementCount(); ++i)
                if (legend->item(i)) {
                    EXPECT_TRUE(p->plot()->viewport().contains(legend->item(i)->outerRect()))
                        << p->title().toStdString() << " at " << size.width() << " px: legend entry " << i << " cut";
                }
        }
    }

    // Hidden: the check box (what the user clicks) and the setter agree.
    set.showOtherModelsCheck()->setChecked(false);
    EXPECT_FALSE(set.context().showOtherModels);
    EXPECT_TRUE(tradeoff->otherModelsGraph()->data()->isEmpty());
    EXPECT_EQ(tradeoff->runsGraph()->data()->size(), 2);
    tradeoff->replotNow();
    EXPECT_EQ(tradeoff->runAt(pixelOf(tradeoff, vgg.row.compression, vgg.row.top1 * 100)), -1);
    set.setShowOtherModels(true);
    EXPECT_TRUE(set.showOtherModelsCheck()->isChecked());
    EXPECT_EQ(tradeoff->otherModelsGraph()->data()->size(), 2);

    // Switching to VGG: its run is the current one, its float line.
    set.setCurrentModel("vgg.onnx", "cifar10:test", std::nan(""));
    EXPECT_EQ(tradeoff->runsGraph()->data()->size(), 1);
    EXPECT_EQ(tradeoff->otherModelsGraph()->data()->size(), 3);
    EXPECT_NEAR(tradeoff->floatLine()->point1->coords().y(), 70.0, 1e-9);
    // A cleared results model clears the selection and the per-run plots.
    set.setSelectedRun(1);
    results.clear();
    EXPECT_EQ(set.context().selectedRun, -1);
    EXPECT_TRUE(memory->weightsBars()->data()->isEmpty());
    EXPECT_TRUE(tradeoff->otherModelsGraph()->data()->isEmpty());
}

// Issue 14's plot side (moved from test_workbench.cpp): measured speed-ups with intervals as
// horizontal error bars, noisy ones hollow with "noisy: spread X%" in the tooltip.
TEST(Plots, MeasuredSpeedupHasIntervalsAndNoisyMarkers) {
    std::vector<RunRecord> records{makeRun(0), makeRun(0), makeRun(0)};
    for (int i = 0; i < 3; ++i) {
        records[i].row.run_index = i;
        records[i].row.top1 = 0.80 + 0.01 * i;
        records[i].row.theoretical_speedup = 3.66;
    }
    setMeasured(records[0].row, 1.9, 1.7, 2.1, 0.05);         // the seed-0 run, measured cleanly
    setMeasured(records[1].row, 2.58, 0.06, 49.0, 0.35, true);  // every round preempted
    // records[2]: speed not measured.

    TradeoffPlot plot(TradeoffAxis::Speedup);
    PlotContext ctx;
    ctx.records = &records;
    plot.refresh(ctx);
    ASSERT_EQ(plot.measuredGraph()->data()->size(), 1);
    EXPECT_DOUBLE_EQ(plot.measuredGraph()->data()->begin()->key, 1.9);
    ASSERT_EQ(plot.measuredErrorBars()->data()->size(), 1);
    EXPECT_NEAR(plot.measuredErrorBars()->data()->at(0).errorMinus, 0.2, 1e-12);
    EXPECT_NEAR(plot.measuredErrorBars()->data()->at(0).errorPlus, 0.2, 1e-12);
    EXPECT_EQ(plot.measuredErrorBars()->errorType(), QCPErrorBars::etKeyError);
    ASSERT_EQ(plot.noisyGraph()->data()->size(), 1);
    EXPECT_DOUBLE_EQ(plot.noisyGraph()->data()->begin()->key, 2.58);
    EXPECT_EQ(plot.noisyGraph()->scatterStyle().brush().style(), Qt::NoBrush);  // hollow
    EXPECT_NE(plot.measuredGraph()->scatterStyle().brush().style(), Qt::NoBrush);
    EXPECT_DOUBLE_EQ(plot.noisyErrorBars()->data()->at(0).errorPlus, 49.0 - 2.58);
    EXPECT_LT(plot.plot()->xAxis->range().upper, 10.0);  // a noisy interval does not stretch the axis
    EXPECT_TRUE(plot.tooltipOf(1).contains("noisy: spread 35%")) << plot.tooltipOf(1).toStdString();
    EXPECT_FALSE(plot.tooltipOf(0).contains("noisy")) << plot.tooltipOf(0).toStdString();
    EXPECT_TRUE(plot.tooltipOf(0).contains("spread 5%")) << plot.tooltipOf(0).toStdString();
    layOut(plot);
    EXPECT_EQ(plot.runAt(pixelOf(&plot, 2.58, 81.0)), 1);  // the hollow marker is hoverable like the others

    // Points out of key order keep their own intervals (QCPErrorBars pairs by index, the graph
    // sorts by key).
    std::vector<RunRecord> unsorted = {records[0], records[0]};
    unsorted[1].row.measured_speedup = 1.5;
    unsorted[1].row.measured_speedup_lo = 1.4;
    unsorted[1].row.measured_speedup_hi = 1.65;
    ctx.records = &unsorted;
    plot.refresh(ctx);
    ASSERT_EQ(plot.measuredErrorBars()->data()->size(), 2);
    EXPECT_DOUBLE_EQ(plot.measuredGraph()->data()->at(0)->key, 1.5);
    EXPECT_NEAR(plot.measuredErrorBars()->data()->at(0).errorMinus, 0.1, 1e-12);
    EXPECT_NEAR(plot.measuredErrorBars()->data()->at(0).errorPlus, 0.15, 1e-12);
    EXPECT_NEAR(plot.measuredErrorBars()->data()->at(1).errorPlus, 0.2, 1e-12);
}

// Issue 18 item 7: a measured point is linked to its run: hovering it names the run, clicking it
// emits the run, and the selected run's two points are ringed and joined.
TEST(Plots, MeasuredPointsAreLinkedToTheirRuns) {
    std::vector<RunRecord> records{makeRun(0), makeRun(1)};
    records[1].row.run_index = 1;
    setMeasured(records[1].row, 1.9, 1.8, 2.0, 0.02);
    TradeoffPlot plot(TradeoffAxis::Speedup);
    PlotContext ctx;
    ctx.records = &records;
    plot.refresh(ctx);
    layOut(plot);
    const QPoint measured = pixelOf(&plot, 1.9, records[1].row.top1 * 100);
    EXPECT_EQ(plot.runAt(measured), 1);
    EXPECT_TRUE(plot.tooltipAt(measured).contains("measured speed-up of run 2")) << plot.tooltipAt(measured).toStdString();
    EXPECT_TRUE(plot.tooltipAt(measured).contains(QString::fromStdString(records[1].row.settings)));
    EXPECT_FALSE(plot.tooltipAt(pixelOf(&plot, records[1].row.theoretical_speedup, records[1].row.top1 * 100)).contains("measured speed-up of"));
    QSignalSpy clicked(&plot, &RunPlot::runClicked);
    QTest::mouseClick(plot.plot(), Qt::LeftButton, Qt::NoModifier, measured);
    ASSERT_EQ(clicked.size(), 1);
    EXPECT_EQ(clicked[0][0].toInt(), 1);

    ctx.selectedRun = 1;
    plot.refresh(ctx);
    ASSERT_EQ(plot.selectedGraph()->data()->size(), 2);
    EXPECT_DOUBLE_EQ(plot.selectedGraph()->data()->at(0)->key, 1.9);
    EXPECT_DOUBLE_EQ(plot.selectedGraph()->data()->at(1)->key, records[1].row.theoretical_speedup);
    ASSERT_NE(plot.selectedLink(), nullptr);
    EXPECT_EQ(plot.selectedLink()->data()->size(), 2);
    ctx.selectedRun = 0;  // not measured: one ring, no link
    plot.refresh(ctx);
    EXPECT_EQ(plot.selectedGraph()->data()->size(), 1);
    EXPECT_TRUE(plot.selectedLink()->data()->isEmpty());
}

// Issue 18 item 7: a single run's point sits inside the axes, away from every edge (it sat on
// the x axis), in both trade-off plots, with and without a float line.
TEST(Plots, ASingleRunSitsInsideTheAxes) {
    for (TradeoffAxis axis : {TradeoffAxis::Compression, TradeoffAxis::Speedup})
      for (double top1 : {0.80, 0.995})
        for (double floatTop1 : {std::nan(""), 0.85, 0.999}) {
            std::vector<RunRecord> records{makeRun(0)};
            records[0].row.top1 = top1;
            records[0].row.top1_float = std::nan("");
            TradeoffPlot plot(axis);
            PlotContext ctx;
            ctx.records = &records;
            ctx.floatTop1 = floatTop1;
            plot.refresh(ctx);
            layOut(plot);
            const QRect rect = plot.plot()->axisRect()->rect();
            ASSERT_GT(rect.height(), 100);
            const QPoint at = pixelOf(&plot, plot.xOf(records[0]), records[0].row.top1 * 100);
            const int mx = rect.width() * 8 / 100, my = rect.height() * 8 / 100;  // 8% of the axes
            EXPECT_GT(at.x(), rect.left() + mx);
            EXPECT_LT(at.x(), rect.right() - mx);
            EXPECT_GT(at.y(), rect.top() + my) << "float " << floatTop1;
            EXPECT_LT(at.y(), rect.bottom() - my) << "float " << floatTop1 << ": the point sits on the x axis";
            const QCPRange yr = plot.plot()->yAxis->range();
            EXPECT_LE(yr.upper - 100.0, std::max(1.0, 0.11 * yr.size())) << "top-1 axis far past 100%: " << yr.upper;
        }
}

// Issue 18 item 7: the memory legend covers no bar (it covered the Q-CNN bar), and a part of
// zero bytes draws no zero-height bar (the dense bar's stray line).
TEST(Plots, MemoryLegendCoversNoBarAndZeroPartsHaveNoBar) {
    for (int i : {0, 1, 2, 3})
      for (QSize size : {QSize(330, 260), QSize(240, 190)}) {  // a quarter of the plots dock; the minimum
        MemoryPlot plot;
        RunRecord r = makeRun(i % 3);
        if (i == 3) r.memoryQuantized.lut_bytes = 900 * 1024;  // the Q-CNN stack the taller one
        plot.setRecord(&r);
        layOut(plot, size);
        ASSERT_GT(plot.plot()->axisRect()->rect().height(), size.height() / 5);
        const QRect legend = plot.plot()->legend->outerRect();
        ASSERT_TRUE(plot.plot()->legend->visible());
        EXPECT_TRUE(plot.plot()->viewport().contains(legend)) << "legend clipped";
        std::map<double, double> tops;
        for (QCPBars* b : {plot.weightsBars(), plot.activationBars(), plot.lutBars()})
            for (auto it = b->data()->constBegin(); it != b->data()->constEnd(); ++it) {
                EXPECT_GT(it->value, 0.0) << b->name().toStdString() << " has a zero-height bar at " << it->key;
                tops[it->key] += it->value;
            }
        ASSERT_EQ(tops.size(), 2u);
        for (auto [key, top] : tops) {
            const double halfWidth = plot.weightsBars()->width() / 2;
            const QRect bar = QRect(pixelOf(&plot, key - halfWidth, top), pixelOf(&plot, key + halfWidth, 0)).normalized();
            EXPECT_FALSE(legend.intersects(bar)) << "the legend covers the bar at " << key;
            EXPECT_GE(plot.plot()->yAxis->range().upper, top);  // not cut at the top
        }
        // The dense stack has no LUT bar; the quantized one has.
        EXPECT_EQ(plot.lutBars()->data()->size(), 1);
        EXPECT_DOUBLE_EQ(plot.lutBars()->data()->begin()->key, 2.0);
    }
}

// Issue 18 item 7: PNG export at a chosen size and DPI with a title; bad values are refused
// with the reason; the dialog's fields are what the export uses.
TEST(Plots, PngExportHasTheChosenSizeDpiAndTitle) {
    std::vector<RunRecord> records{makeRun(0), makeRun(1)};
    TradeoffPlot plot(TradeoffAxis::Compression);
    PlotContext ctx;
    ctx.records = &records;
    plot.refresh(ctx);
    layOut(plot);
    QTemporaryDir dir;
    const int rows = plot.plot()->plotLayout()->rowCount();  // axes and legend
    const QString titled = dir.filePath("titled.png"), plain = dir.filePath("plain.png");
    ASSERT_TRUE(plot.exportPng(titled, QSize(1000, 700), 192, "Run 7: LeNet"));
    ASSERT_TRUE(plot.exportPng(plain, QSize(1000, 700), 192, ""));
    const QImage a(titled), b(plain);
    EXPECT_EQ(a.size(), QSize(1000, 700));
    EXPECT_EQ(b.size(), QSize(1000, 700));
    EXPECT_NEAR(a.dotsPerMeterX() * 0.0254, 192.0, 0.5);
    EXPECT_NEAR(a.dotsPerMeterY() * 0.0254, 192.0, 0.5);
    // The title's text is in the top band of the titled image only.
    EXPECT_GT(darkPixelsInTop(a, 45), darkPixelsInTop(b, 45) + 200);
    // The on-screen plot keeps its layout (the title row is gone again).
    EXPECT_EQ(plot.plot()->plotLayout()->rowCount(), rows);
    // DPI scales the drawing: at 96 DPI the same pixels hold more of the plot's text smaller.
    const QString low = dir.filePath("low.png");
    ASSERT_TRUE(plot.exportPng(low, QSize(1000, 700), 96, "Run 7: LeNet"));
    EXPECT_NE(QImage(low), a);
    EXPECT_NEAR(QImage(low).dotsPerMeterX() * 0.0254, 96.0, 0.5);

    QString error;
    EXPECT_FALSE(plot.exportPng(dir.filePath("x.png"), QSize(0, 700), 96, "", &error));
    EXPECT_TRUE(error.contains("image size")) << error.toStdString();
    EXPECT_FALSE(plot.exportPng(dir.filePath("x.png"), QSize(800, 600), 5000, "", &error));
    EXPECT_TRUE(error.contains("DPI")) << error.toStdString();
    EXPECT_FALSE(plot.exportPng("/nonexistent-dir/x.png", QSize(800, 600), 96, "", &error));
    EXPECT_TRUE(error.contains("/nonexistent-dir/x.png")) << error.toStdString();
    QSignalSpy failed(&plot, &PlotPanel::exportFailed);
    EXPECT_FALSE(plot.exportTo("/nonexistent-dir/x.png", {}));
    ASSERT_EQ(failed.size(), 1);
    EXPECT_EQ(failed[0][0].toString(), "/nonexistent-dir/x.png");

    PlotPanel::PngOptions start;
    start.title = plot.title();
    PngExportDialog dialog(start);
    EXPECT_EQ(dialog.widthSpin()->value(), PlotPanel::kPngSize.width());
    EXPECT_EQ(dialog.heightSpin()->value(), PlotPanel::kPngSize.height());
    EXPECT_EQ(dialog.dpiSpin()->value(), PlotPanel::kPngDpi);
    EXPECT_EQ(dialog.titleEdit()->text(), plot.title());
    dialog.widthSpin()->setValue(1200);
    dialog.heightSpin()->setValue(800);
    dialog.dpiSpin()->setValue(300);
    dialog.titleEdit()->setText("  Figure 3  ");
    const PlotPanel::PngOptions o = dialog.options();
    EXPECT_EQ(o.size, QSize(1200, 800));
    EXPECT_EQ(o.dpi, 300.0);
    EXPECT_EQ(o.title, "Figure 3");
    const QString chosen = dir.filePath("chosen.png");
    ASSERT_TRUE(plot.exportTo(chosen, o));
    EXPECT_EQ(QImage(chosen).size(), QSize(1200, 800));
}

// The window tells the plots its (model, data): what its runs record, so they are current.
TEST(PlotRegistry, TheWindowsModelAndDataAreThePlotsCurrentPair) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    MainWindow w;
    ErrorLog errors;
    w.setErrorHandler(errors.handler());
    w.setRunOptions(fastOptions());
    ASSERT_TRUE(openAndWait(w, kLenet));
    EXPECT_EQ(w.plots()->context().model, QFile::encodeName(w.modelPath()).toStdString());
    EXPECT_EQ(w.plots()->context().data, fastOptions().base.data);
    ASSERT_TRUE(waitFor([&] { return !w.isEvaluatingFloat(); }));
    EXPECT_DOUBLE_EQ(w.plots()->context().floatTop1, w.floatTop1());
    EXPECT_TRUE(errors.messages.isEmpty()) << errors.messages.join("; ").toStdString();
}

}  // namespace
}  // namespace qcnn::ui
