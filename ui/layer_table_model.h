// Table model over a ModelSummary: one row per layer that runs at inference time (the rows
// `qcnn info` prints), columns name, alias, op, attributes, input and output shape (one
// image), parameters and FLOPs. Totals are not a row: see totalsText().
#pragma once

#include <QAbstractTableModel>
#include <QString>

#include "core/eval/model_summary.h"

namespace qcnn::ui {

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column { Name, Alias, Op, Attributes, Input, Output, Params, Flops, ColumnCount };
    // Sort key: the number (qlonglong) for Params and Flops, the row index for Input/Output
    // (network order), the display text otherwise.
    static constexpr int SortRole = Qt::UserRole;

    explicit LayerTableModel(QObject* parent = nullptr);

    void setSummary(ModelSummary summary);
    void clear();
    const ModelSummary& summary() const { return summary_; }
    bool hasModel() const { return loaded_; }

    // "13 layers (2 conv, 2 fc) · 61,706 parameters · 431,080 FLOPs per image"; empty
    // without a model.
    QString totalsText() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    ModelSummary summary_;
    bool loaded_ = false;
};

}  // namespace qcnn::ui
