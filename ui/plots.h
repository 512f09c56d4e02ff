// The workbench's result plots (QCustomPlot), each a PlotPanel: a plot with PNG/PDF export
// (buttons and context menu; PNG at a chosen size and DPI with a title) and throttled replots
// (requestReplot() coalesces updates to at most one replot per kReplotIntervalMs, so a sweep
// streaming runs never floods the GUI).
//
// Per-run plots derive from RunPlot and draw from a PlotContext (the runs, the selected one,
// the current (model, data) pair and its float top-1); ui/plot_registry.h lists them, and its
// PlotSet keeps the context up to date by observing the ResultsModel. Runs of other (model,
// data) pairs are drawn grey or hidden (PlotContext::showOtherModels); the Pareto front and the
// float line belong to the current model.
//
//   TradeoffPlot       top-1 (%) against compression or against speed-up, one point per run;
//                      the Pareto front (best top-1 at that compression / speed-up or more)
//                      drawn as a line over highlighted points; the float top-1 as a dashed
//                      line; in speed-up mode the theoretical and the measured speed-up are
//                      series, the measured one with its interval as horizontal error bars and
//                      noisy measurements as hollow triangles (their tooltip: "noisy: spread
//                      X%"). Hover shows the run's settings, a click emits runClicked, for a
//                      run's point and for its measured point alike; the selected run's points
//                      are ringed and, in speed-up mode, joined by a dotted line.
//   MemoryPlot         run-time memory of the shown run as the cost model accounts it (not
//                      measured: the axis and tooltip say so; `qcnn eval` prints the measured
//                      peak RSS), dense against quantized, stacked into weights (+ biases),
//                      activations and LUT buffers; the legend sits below the axes.
//                      "Measure run-time memory" (MainWindow) adds the measured memory of the
//                      saved model: peak RSS of `qcnn eval` minus the process's footprint
//                      before the model loaded, as a marker per bar with its own legend entry.
//   ResponseErrorPlot  relative response error per weight layer of the shown run.
//   FinetunePlot       fine-tuning: while a run fine-tunes, the running mean training loss per
//                      step (setLiveCurve, from the job's progress); afterwards, for the shown
//                      run, the mean training loss per epoch and the held-out top-1 per epoch
//                      (epoch 0: the network as given) on a second axis, the best epoch ringed.
// The shown run of the per-run plots: the selected run, else the newest run of the current model.
#pragma once

#include <QDialog>
#include <QSize>
#include <QWidget>
#include <limits>
#include <string>
#include <vector>

#include "ui/run_job.h"

class QCustomPlot;
class QCPGraph;
class QCPBars;
class QCPErrorBars;
class QCPItemStraightLine;
class QCPItemText;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QTimer;

namespace qcnn::ui {

class PlotPanel : public QWidget {
    Q_OBJECT

public:
    static constexpr int kReplotIntervalMs = 40;

    PlotPanel(const QString& title, QWidget* parent = nullptr);
    QCustomPlot* plot() const { return plot_; }
    QString title() const { return title_; }
    // Replot now (tests, export) / within kReplotIntervalMs.
    void replotNow();
    void requestReplot();
    int replotCount() const { return replots_; }
    QLabel* titleLabel() const { return titleLabel_; }

    // PNG export defaults: 1600 x 1200 pixels at 144 DPI, titled with title().
    static constexpr QSize kPngSize{1600, 1200};
    static constexpr double kPngDpi = 144.0;
    // Writes the plot as a PNG of exactly `size` pixels whose DPI is `dpi` (stored in the file;
    // text and lines are drawn at dpi / 96 times their screen size, so 192 DPI draws them twice
    // as large as 96 DPI on the same pixels), with `title` above the plot (none when empty).
    // False (and the reason in *error) when the file cannot be written or the size / DPI is out
    // of range (16..16384 pixels, 24..1200 DPI).
    bool exportPng(const QString& path, QSize size, double dpi, const QString& title, QString* error = nullptr);
    bool exportPng(const QString& path, QString* error = nullptr);  // the defaults above
    bool exportPdf(const QString& path, QString* error = nullptr);
    // What the export buttons do once a path is chosen: PNG (size, DPI, title of `png`) or PDF
    // by the suffix of `path`; on failure emits exportFailed and returns false.
    struct PngOptions {
        QSize size = kPngSize;
        double dpi = kPngDpi;
        QString title;
    };
    bool exportTo(const QString& path, const PngOptions& png);

signals:
    // A file export failed (path, reason); the main window shows it.
    void exportFailed(const QString& path, const QString& reason);

protected:
    // The legend in a row of its own below the axes (where it covers no data), its entries in as
    // many columns as fit the plot's width.
    void showLegendBelow();
    bool eventFilter(QObject* watched, QEvent* event) override;

    QCustomPlot* plot_;

private:
    void exportDialog(bool pdf);
    void fitLegend(int width);  // columns of a legend below the axes for `width` pixels

    QString title_;
    QLabel* titleLabel_;
    QTimer* replotTimer_;
    int replots_ = 0;
};

// The PNG export dialog's fields: width and height (pixels), DPI, title.
class PngExportDialog : public QDialog {
    Q_OBJECT

public:
    PngExportDialog(const PlotPanel::PngOptions& start, QWidget* parent = nullptr);
    PlotPanel::PngOptions options() const;
    QSpinBox* widthSpin() const { return width_; }
    QSpinBox* heightSpin() const { return height_; }
    QDoubleSpinBox* dpiSpin() const { return dpi_; }
    QLineEdit* titleEdit() const { return title_; }

private:
    QSpinBox* width_;
    QSpinBox* height_;
    QDoubleSpinBox* dpi_;
    QLineEdit* title_;
};

// What a per-run plot draws from.
struct PlotContext {
    const std::vector<RunRecord>* records = nullptr;  // every run (not owned)
    int selectedRun = -1;                             // -1: none
    std::string model, data;  // the current (model, data) pair; model "": every run is current
    double floatTop1 = std::numeric_limits<double>::quiet_NaN();  // the current model's (fraction)
    bool showOtherModels = true;  // other pairs' runs grey (true) or hidden (false)

    int size() const { return records ? static_cast<int>(records->size()) : 0; }
    const RunRecord* record(int run) const;  // nullptr when out of range
    bool isCurrent(const RunRecord& r) const;
    // Drawn at all: current, or another model's run while those are shown.
    bool isDrawn(const RunRecord& r) const { return showOtherModels || isCurrent(r); }
    // The run the per-run plots show: the selected one, else the newest current run (-1: none).
    int shownRun() const;
    // The float line: floatTop1, else the top-1 float of the newest current run (NaN: none).
    double currentFloatTop1() const;
};

// A plot of the runs: redrawn from a PlotContext whenever the runs, the selection or the
// current model change. Registered in ui/plot_registry.cpp.
class RunPlot : public PlotPanel {
    Q_OBJECT

public:
    using PlotPanel::PlotPanel;
    // Redraws from `context` (copied; replot throttled).
    virtual void refresh(const PlotContext& context) = 0;

signals:
    // The user clicked run `run`'s point.
    void runClicked(int run);
};

// Which value of a run goes on the x axis.
enum class TradeoffAxis { Compression, Speedup };

class TradeoffPlot : public RunPlot {
    Q_OBJECT

public:
    TradeoffPlot(TradeoffAxis axis, QWidget* parent = nullptr);
    void refresh(const PlotContext& context) override;

    // Runs on the Pareto front of `points` (x, top-1) in increasing x: a run is on it when no
    // other run has at least its x and a strictly higher top-1 (ties: the larger x wins).
    static std::vector<int> paretoFront(const std::vector<std::pair<double, double>>& points);
    // The drawn run whose point or measured point is under widget position `pos` (within 8
    // pixels), or -1.
    int runAt(const QPoint& pos) const;
    double xOf(const RunRecord& r) const;
    // The hover text of run `run` (model, settings, accuracy, speed-ups; "noisy: spread X%"
    // for a noisy measurement).
    QString tooltipOf(int run) const;
    // The hover text at `pos`: the run's, headed "measured speed-up of run N" over a measured
    // point; "" over no point.
    QString tooltipAt(const QPoint& pos) const;

    QCPGraph* runsGraph() const { return runs_; }            // runs of the current model
    QCPGraph* otherModelsGraph() const { return others_; }  // other models' runs (grey)
    QCPGraph* selectedGraph() const { return selectedGraph_; }  // the selected run's points
    QCPGraph* measuredGraph() const { return measured_; }            // measured, not noisy
    QCPGraph* noisyGraph() const { return noisy_; }                  // measured, noisy (hollow)
    QCPErrorBars* measuredErrorBars() const { return measuredBars_; }  // intervals of measuredGraph
    QCPErrorBars* noisyErrorBars() const { return noisyBars_; }        // intervals of noisyGraph
    QCPGraph* frontGraph() const { return front_; }
    QCPItemStraightLine* floatLine() const { return floatLine_; }
    QCPGraph* selectedLink() const { return selectedLink_; }  // theoretical -> measured point

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    // The drawn run nearest `pos` within 8 pixels (-1: none); *measured: on its measured point.
    int pointAt(const QPoint& pos, bool* measured) const;

    TradeoffAxis axis_;
    PlotContext ctx_;
    QCPGraph* runs_;
    QCPGraph* others_;
    QCPGraph* selectedLink_ = nullptr;
    QCPGraph* measured_ = nullptr;
    QCPGraph* noisy_ = nullptr;
    QCPErrorBars* measuredBars_ = nullptr;
    QCPErrorBars* noisyBars_ = nullptr;
    QCPGraph* front_;
    QCPGraph* selectedGraph_;
    QCPItemStraightLine* floatLine_;
    QCPItemText* floatLabel_;
};

class MemoryPlot : public RunPlot {
    Q_OBJECT

public:
    explicit MemoryPlot(QWidget* parent = nullptr);
    void refresh(const PlotContext& context) override;  // the shown run
    void setRecord(const RunRecord* record);  // nullptr clears
    // Bars: weights (+ biases), activations, LUTs; key 1 = dense, key 2 = quantized; KB. A part
    // of zero bytes has no bar (a zero-height bar would draw its outline as a stray line).
    QCPBars* weightsBars() const { return weights_; }
    QCPBars* activationBars() const { return activations_; }
    QCPBars* lutBars() const { return luts_; }
    // Measured: peak RSS minus the footprint before the model loaded (KB), key 1 = dense (the
    // float model), key 2 = quantized; empty until "Measure run-time memory" ran for the run.
    QCPGraph* measuredGraph() const { return measured_; }

private:
    QCPGraph* measured_;
    QCPBars* weights_;
    QCPBars* activations_;
    QCPBars* luts_;
};

class FinetunePlot : public RunPlot {
    Q_OBJECT
public:
    explicit FinetunePlot(QWidget* parent = nullptr);
    void refresh(const PlotContext& context) override;  // the shown run (unless live)
    void setRecord(const RunRecord* record);  // nullptr clears
    // While a run fine-tunes: its curve so far (replaces the shown run's epochs until clearLive()).
    void setLiveCurve(const RunJob::FinetuneCurve& curve);
    void clearLive();  // back to the shown run
    bool isLive() const { return live_; }
    QCPGraph* liveLossGraph() const { return liveLoss_; }    // x: epochs done, y: running mean loss
    QCPGraph* epochLossGraph() const { return epochLoss_; }  // x: epoch, y: mean loss of the epoch
    QCPGraph* valGraph() const { return val_; }              // x: epoch (0: as given), y: top-1 %
    QCPGraph* bestGraph() const { return best_; }            // the best epoch's validation point
    QString note() const;                                    // "not fine-tuned", the status, ...
private:
    PlotContext ctx_;
    bool live_ = false;
    QCPGraph* liveLoss_;
    QCPGraph* epochLoss_;
    QCPGraph* val_;
    QCPGraph* best_;
    QCPItemText* note_;
};

class ResponseErrorPlot : public RunPlot {
    Q_OBJECT

public:
    explicit ResponseErrorPlot(QWidget* parent = nullptr);
    void refresh(const PlotContext& context) override;  // the shown run
    void setRecord(const RunRecord* record);  // nullptr clears
    QCPBars* bars() const { return bars_; }

private:
    QCPBars* bars_;
};

}  // namespace qcnn::ui
