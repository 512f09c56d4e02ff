// The workbench's result plots (QCustomPlot), each a PlotPanel: a plot with PNG/PDF export
// (buttons and context menu) and throttled replots (requestReplot() coalesces updates to at
// most one replot per kReplotIntervalMs, so a sweep streaming runs never floods the GUI).
//
//   TradeoffPlot       top-1 (%) against compression or against speed-up, one point per run;
//                      the Pareto front (best top-1 at that compression / speed-up or more)
//                      drawn as a line over highlighted points; the float top-1 as a dashed
//                      line; in speed-up mode the theoretical and the measured speed-up are
//                      series, the measured one with its interval as horizontal error bars and
//                      noisy measurements as hollow triangles (their tooltip: "noisy: spread
//                      X%"). Hover shows the run's settings, a click emits runClicked.
//   MemoryPlot         run-time memory of one run as the cost model accounts it (not measured:
//                      title and tooltip say so; `qcnn eval` prints the measured peak RSS),
//                      dense against quantized, stacked into weights (+ biases), activations
//                      and LUT buffers.
//   ResponseErrorPlot  relative response error per weight layer of one run.
#pragma once

#include <QWidget>
#include <vector>

#include "ui/run_job.h"

class QCustomPlot;
class QCPGraph;
class QCPBars;
class QCPErrorBars;
class QCPItemStraightLine;
class QCPItemText;
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
    // Writes the plot; false (and the reason in *error) when the file cannot be written.
    bool exportPng(const QString& path, QString* error = nullptr);
    bool exportPdf(const QString& path, QString* error = nullptr);

signals:
    // A file export failed (path, reason); the main window shows it.
    void exportFailed(const QString& path, const QString& reason);

protected:
    QCustomPlot* plot_;

private:
    void exportDialog(bool pdf);

    QString title_;
    QTimer* replotTimer_;
    int replots_ = 0;
};

// Which value of a run goes on the x axis.
enum class TradeoffAxis { Compression, Speedup };

class TradeoffPlot : public PlotPanel {
    Q_OBJECT

public:
    TradeoffPlot(TradeoffAxis axis, QWidget* parent = nullptr);

    void setRecords(const std::vector<RunRecord>* records);  // not owned; call recordsChanged() after edits
    void recordsChanged();
    void setFloatTop1(double top1);  // fraction; NaN hides the line
    void setSelectedRun(int run);    // -1: none

    // Runs on the Pareto front of `points` (x, top-1) in increasing x: a run is on it when no
    // other run has at least its x and a strictly higher top-1 (ties: the larger x wins).
    static std::vector<int> paretoFront(const std::vector<std::pair<double, double>>& points);
    // The run under widget position `pos` (within 8 pixels), or -1.
    int runAt(const QPoint& pos) const;
    double xOf(const RunRecord& r) const;
    // The hover text of run `run` (settings, accuracy, speed-ups; "noisy: spread X%" for a
    // noisy measurement).
    QString tooltipOf(int run) const;

    QCPGraph* runsGraph() const { return runs_; }
    QCPGraph* measuredGraph() const { return measured_; }            // measured, not noisy
    QCPGraph* noisyGraph() const { return noisy_; }                  // measured, noisy (hollow)
    QCPErrorBars* measuredErrorBars() const { return measuredBars_; }  // intervals of measuredGraph
    QCPErrorBars* noisyErrorBars() const { return noisyBars_; }        // intervals of noisyGraph
    QCPGraph* frontGraph() const { return front_; }
    QCPItemStraightLine* floatLine() const { return floatLine_; }

signals:
    void runClicked(int run);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void rebuild();

    TradeoffAxis axis_;
    const std::vector<RunRecord>* records_ = nullptr;
    double floatTop1_;
    int selected_ = -1;
    QCPGraph* runs_;
    QCPGraph* measured_ = nullptr;
    QCPGraph* noisy_ = nullptr;
    QCPErrorBars* measuredBars_ = nullptr;
    QCPErrorBars* noisyBars_ = nullptr;
    QCPGraph* front_;
    QCPGraph* selectedGraph_;
    QCPItemStraightLine* floatLine_;
    QCPItemText* floatLabel_;
};

class MemoryPlot : public PlotPanel {
    Q_OBJECT

public:
    explicit MemoryPlot(QWidget* parent = nullptr);
    void setRecord(const RunRecord* record);  // nullptr clears
    // Bars: weights (+ biases), activations, LUTs; key 1 = dense, key 2 = quantized; KB.
    QCPBars* weightsBars() const { return weights_; }
    QCPBars* activationBars() const { return activations_; }
    QCPBars* lutBars() const { return luts_; }

private:
    QCPBars* weights_;
    QCPBars* activations_;
    QCPBars* luts_;
};

class ResponseErrorPlot : public PlotPanel {
    Q_OBJECT

public:
    explicit ResponseErrorPlot(QWidget* parent = nullptr);
    void setRecord(const RunRecord* record);  // nullptr clears
    QCPBars* bars() const { return bars_; }

private:
    QCPBars* bars_;
};

}  // namespace qcnn::ui
