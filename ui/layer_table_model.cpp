#include "ui/layer_table_model.h"

#include <QFont>

#include "core/cli/command.h"

namespace qcnn::ui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerTableModel::setSummary(ModelSummary summary) {
    beginResetModel();
    summary_ = std::move(summary);
    loaded_ = true;
    endResetModel();
}

void LayerTableModel::clear() {
    beginResetModel();
    summary_ = ModelSummary{};
    loaded_ = false;
    endResetModel();
}

QString LayerTableModel::totalsText() const {
    if (!loaded_) return {};
    const ModelSummary& m = summary_;
    return tr("%1 layers (%2 conv, %3 fc) · %4 parameters (%5 bytes float32) · %6 FLOPs per image")
        .arg(m.layers.size())
        .arg(m.conv_layers)
        .arg(m.fc_layers)
        .arg(qs(cli::thousands(m.total_params)), qs(cli::thousands(m.total_params * 4)),
             qs(cli::thousands(m.total_flops)));
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(summary_.layers.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const LayerSummary& L = summary_.layers[index.row()];
    const int col = index.column();
    const bool numeric = col == Params || col == Flops;
    const bool show_number = L.weight_layer || (col == Params ? L.params : L.flops) != 0;
    switch (role) {
        case Qt::DisplayRole:
            switch (col) {
                case Name: return qs(L.name);
                case Alias: return qs(L.alias);
                case Op: return qs(L.op);
                case Attributes: return qs(L.attributes);
                case Input: return qs(format_dims(L.input_shape));
                case Output: return qs(format_dims(L.output_shape));
                case Params: return show_number ? qs(cli::thousands(L.params)) : QString();
                case Flops: return show_number ? qs(cli::thousands(L.flops)) : QString();
            }
            break;
        case SortRole:
            switch (col) {
                case Params: return QVariant::fromValue<qlonglong>(L.params);
                case Flops: return QVariant::fromValue<qlonglong>(L.flops);
                case Input:
                case Output: return index.row();
                default: return data(index, Qt::DisplayRole);
            }
        case Qt::TextAlignmentRole:
            return QVariant::fromValue(numeric ? Qt::AlignRight | Qt::AlignVCenter : Qt::AlignLeft | Qt::AlignVCenter);
        case Qt::FontRole:
            if (L.weight_layer) {
                QFont f;
                f.setBold(true);
                return f;
            }
            break;
        case Qt::ToolTipRole:
            return tr("node %1 (%2)%3").arg(qs(L.name), qs(L.op), L.alias.empty() ? QString() : tr(", alias %1").arg(qs(L.alias)));
        default: break;
    }
    return {};
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, orientation, role);
    if (orientation == Qt::Vertical) return section + 1;
    switch (section) {
        case Name: return tr("Name");
        case Alias: return tr("Alias");
        case Op: return tr("Op");
        case Attributes: return tr("Attributes");
        case Input: return tr("Input");
        case Output: return tr("Output");
        case Params: return tr("Parameters");
        case Flops: return tr("FLOPs");
        default: return {};
    }
}

}  // namespace qcnn::ui
