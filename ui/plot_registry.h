// The one list of per-run plots and the object that keeps them up to date.
//
// plotRegistry() lists every RunPlot (ui/plots.h) with an id and a factory, in the order of the
// plots dock's grid (two per row). A PlotSet makes one of each, lays them out, observes a
// ResultsModel (runs added, reset, changed) and holds the PlotContext they draw from: the
// selection, the current (model, data) pair and its float top-1, and whether other models' runs
// are shown. Each change refreshes every plot; their runClicked and exportFailed signals are
// forwarded. The main window, the layout, the export-error wiring and the tests all loop over
// this list, so a new per-run plot is one RunPlot class plus one line in plot_registry.cpp
// (docs/architecture.md, "Adding a per-run plot").
#pragma once

#include <QObject>
#include <QPointer>
#include <QString>
#include <vector>

#include "ui/plots.h"

class QCheckBox;
class QWidget;

namespace qcnn::ui {

class ResultsModel;

struct PlotEntry {
    QString id;              // "compression", "speedup", "memory", "response", ...
    RunPlot* (*make)();      // a new plot, without a parent
};

// Every per-run plot, in grid order.
const std::vector<PlotEntry>& plotRegistry();

class PlotSet : public QObject {
    Q_OBJECT

public:
    static constexpr int kColumns = 2;

    // One plot per registry entry, drawing the runs of `results` (not owned; outlives the plots'
    // refreshes: it is observed through its signals).
    explicit PlotSet(const ResultsModel* results, QObject* parent = nullptr);
    ~PlotSet() override;

    // The registered plots, in registry order; the plot of entry `id` (nullptr when none).
    const std::vector<RunPlot*>& plots() const { return plots_; }
    RunPlot* plot(const QString& id) const;
    template <class T>
    T* find(const QString& id) const {
        return qobject_cast<T*>(plot(id));
    }
    // The widget holding every plot in a grid of kColumns (registry order) under the "Show other
    // models" check box; the main window docks it (and then owns it).
    QWidget* widget() const { return widget_; }
    QCheckBox* showOtherModelsCheck() const { return showOthers_; }

    const PlotContext& context() const { return ctx_; }
    void setSelectedRun(int run);  // -1: none
    // The current (model, data) pair (the model's path as RunRecord::model holds it, the data
    // spec) and its float top-1 (fraction; NaN: taken from its runs).
    void setCurrentModel(const std::string& model, const std::string& data, double floatTop1);
    void setShowOtherModels(bool show);  // grey (true) or hidden (false)

signals:
    void runClicked(int run);
    void exportFailed(const QString& path, const QString& reason);

private:
    void refreshAll();

    const ResultsModel* results_;
    std::vector<RunPlot*> plots_;
    std::vector<QString> ids_;
    QPointer<QWidget> widget_;
    QCheckBox* showOthers_;
    PlotContext ctx_;
};

}  // namespace qcnn::ui
