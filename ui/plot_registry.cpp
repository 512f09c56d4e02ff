#include "ui/plot_registry.h"

#include <QCheckBox>
#include <QGridLayout>
#include <QVBoxLayout>
#include <cmath>

#include "ui/results_model.h"

namespace qcnn::ui {

const std::vector<PlotEntry>& plotRegistry() {
    static const std::vector<PlotEntry> entries{
        {QStringLiteral("compression"), []() -> RunPlot* { return new TradeoffPlot(TradeoffAxis::Compression); }},
        {QStringLiteral("speedup"), []() -> RunPlot* { return new TradeoffPlot(TradeoffAxis::Speedup); }},
        {QStringLiteral("memory"), []() -> RunPlot* { return new MemoryPlot; }},
        {QStringLiteral("response"), []() -> RunPlot* { return new ResponseErrorPlot; }},
        {QStringLiteral("finetune"), []() -> RunPlot* { return new FinetunePlot; }},
    };
    return entries;
}

PlotSet::PlotSet(const ResultsModel* results, QObject* parent)
    : QObject(parent), results_(results), widget_(new QWidget), showOthers_(new QCheckBox(tr("Show other models"))) {
    ctx_.records = &results_->records();
    showOthers_->setObjectName(QStringLiteral("showOtherModelsCheck"));
    showOthers_->setChecked(ctx_.showOtherModels);
    showOthers_->setToolTip(tr("Draw the runs of other models or data sets in grey (unchecked: hide them). The Pareto "
                               "front and the float line are the current model's."));
    connect(showOthers_, &QCheckBox::toggled, this, &PlotSet::setShowOtherModels);

    auto* box = new QVBoxLayout(widget_);
    box->setContentsMargins(2, 2, 2, 2);
    box->setSpacing(2);
    box->addWidget(showOthers_);
    auto* grid = new QGridLayout;
    grid->setContentsMargins(0, 0, 0, 0);
    box->addLayout(grid, 1);
    for (const PlotEntry& e : plotRegistry()) {
        RunPlot* p = e.make();
        p->setObjectName(e.id + QStringLiteral("Plot"));
        const int i = static_cast<int>(plots_.size());
        grid->addWidget(p, i / kColumns, i % kColumns);
        connect(p, &RunPlot::runClicked, this, &PlotSet::runClicked);
        connect(p, &PlotPanel::exportFailed, this, &PlotSet::exportFailed);
        plots_.push_back(p);
        ids_.push_back(e.id);
    }

    connect(results_, &QAbstractItemModel::rowsInserted, this, &PlotSet::refreshAll);
    connect(results_, &QAbstractItemModel::rowsRemoved, this, &PlotSet::refreshAll);
    connect(results_, &QAbstractItemModel::dataChanged, this, &PlotSet::refreshAll);
    connect(results_, &QAbstractItemModel::modelReset, this, &PlotSet::refreshAll);
    refreshAll();
}

PlotSet::~PlotSet() {
    if (widget_ && !widget_->parent()) delete widget_;  // never docked
}

RunPlot* PlotSet::plot(const QString& id) const {
    for (size_t i = 0; i < ids_.size(); ++i)
        if (ids_[i] == id) return plots_[i];
    return nullptr;
}

void PlotSet::setSelectedRun(int run) {
    ctx_.selectedRun = run;
    refreshAll();
}

void PlotSet::setCurrentModel(const std::string& model, const std::string& data, double floatTop1) {
    const bool same = model == ctx_.model && data == ctx_.data &&
                      (floatTop1 == ctx_.floatTop1 || (std::isnan(floatTop1) && std::isnan(ctx_.floatTop1)));
    if (same) return;
    ctx_.model = model;
    ctx_.data = data;
    ctx_.floatTop1 = floatTop1;
    refreshAll();
}

void PlotSet::setShowOtherModels(bool show) {
    if (show == ctx_.showOtherModels) return;
    ctx_.showOtherModels = show;
    if (showOthers_->isChecked() != show) showOthers_->setChecked(show);
    refreshAll();
}

void PlotSet::refreshAll() {
    if (!ctx_.record(ctx_.selectedRun)) ctx_.selectedRun = -1;  // the runs were cleared
    for (RunPlot* p : plots_) p->refresh(ctx_);
}

}  // namespace qcnn::ui
