#include "ui/layer_cost_plot.h"

#include <QVBoxLayout>
#include <algorithm>
#include <qcustomplot.h>

namespace qcnn::ui {

LayerCostPlot::LayerCostPlot(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
    setMinimumSize(320, 220);

    plot_->yAxis->setLabel(tr("FLOPs per image (millions)"));
    plot_->yAxis2->setLabel(tr("parameters (thousands)"));
    plot_->yAxis2->setVisible(true);
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    plot_->xAxis->grid()->setVisible(false);

    flops_ = new QCPBars(plot_->xAxis, plot_->yAxis);
    flops_->setName(tr("FLOPs (M)"));
    flops_->setPen(QPen(QColor(0x24, 0x49, 0x6b)));
    flops_->setBrush(QColor(0x4f, 0xb3, 0xbf));
    params_ = new QCPBars(plot_->xAxis, plot_->yAxis2);
    params_->setName(tr("parameters (K)"));
    params_->setPen(QPen(QColor(0x8a, 0x5a, 0x12)));
    params_->setBrush(QColor(0xf2, 0xa5, 0x41));
    auto* group = new QCPBarsGroup(plot_);
    flops_->setWidth(0.35);
    params_->setWidth(0.35);
    flops_->setBarsGroup(group);
    params_->setBarsGroup(group);

    plot_->legend->setVisible(true);
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    clear();
}

void LayerCostPlot::clear() {
    flops_->data()->clear();
    params_->data()->clear();
    plot_->xAxis->setRange(0, 1);
    plot_->yAxis->setRange(0, 1);
    plot_->yAxis2->setRange(0, 1);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void LayerCostPlot::setSummary(const ModelSummary& summary) {
    QVector<double> keys, flops, params;
    QVector<QString> labels;
    for (const LayerSummary& L : summary.layers) {
        if (!L.weight_layer) continue;
        keys.push_back(keys.size() + 1);
        flops.push_back(static_cast<double>(L.flops) / 1e6);
        params.push_back(static_cast<double>(L.params) / 1e3);
        labels.push_back(QString::fromStdString(L.alias.empty() ? L.name : L.alias));
    }
    flops_->setData(keys, flops, true);
    params_->setData(keys, params, true);
    auto ticker = qSharedPointerCast<QCPAxisTickerText>(plot_->xAxis->ticker());
    ticker->setTicks(keys, labels);
    plot_->xAxis->setRange(0.3, keys.size() + 0.7);
    const double fmax = flops.isEmpty() ? 1.0 : *std::max_element(flops.begin(), flops.end());
    const double pmax = params.isEmpty() ? 1.0 : *std::max_element(params.begin(), params.end());
    plot_->yAxis->setRange(0, fmax > 0 ? fmax * 1.15 : 1.0);
    plot_->yAxis2->setRange(0, pmax > 0 ? pmax * 1.15 : 1.0);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace qcnn::ui
