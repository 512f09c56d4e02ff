// Bar chart of the cost of each weight layer (FLOPs per image on the left axis, parameters
// on the right), x labels are the layer aliases. A QCustomPlot inside a plain QWidget.
#pragma once

#include <QWidget>

#include "core/eval/model_summary.h"

class QCustomPlot;
class QCPBars;

namespace qcnn::ui {

class LayerCostPlot : public QWidget {
    Q_OBJECT

public:
    explicit LayerCostPlot(QWidget* parent = nullptr);

    // Shows the weight layers of `summary` (replot queued).
    void setSummary(const ModelSummary& summary);
    void clear();

    QCustomPlot* plot() const { return plot_; }
    QCPBars* flopsBars() const { return flops_; }
    QCPBars* paramsBars() const { return params_; }

private:
    QCustomPlot* plot_;
    QCPBars* flops_;
    QCPBars* params_;
};

}  // namespace qcnn::ui
