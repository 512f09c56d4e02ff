#include "ui/layer_table_model.h"

#include <QColor>
#include <QFont>
#include <QVariantList>
#include <algorithm>

#include "core/util/error.h"
#include "ui/format.h"

namespace qcnn::ui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

bool isSettingColumn(int col) { return col >= LayerTableModel::Dense && col <= LayerTableModel::ErrorCorrection; }
bool isCostColumn(int col) { return col >= LayerTableModel::Speedup && col <= LayerTableModel::Lut; }

int64_t ceilBytes(int64_t bits) { return (bits + 7) / 8; }

}  // namespace

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerTableModel::setSummary(ModelSummary summary) {
    beginResetModel();
    summary_ = std::move(summary);
    network_.reset();
    geometry_ = {};
    settings_.clear();
    notes_.clear();
    cost_ = {};
    rowLayer_.assign(summary_.layers.size(), -1);
    loaded_ = true;
    endResetModel();
}

void LayerTableModel::setNetwork(std::shared_ptr<const Network> net, ModelSummary summary, NetworkGeometry geometry) {
    beginResetModel();
    summary_ = std::move(summary);
    network_ = std::move(net);
    geometry_ = std::move(geometry);
    settings_.assign(geometry_.layers.size(), QuantSetting::make_dense());
    notes_.assign(geometry_.layers.size(), QString());
    rowLayer_.assign(summary_.layers.size(), -1);
    for (size_t r = 0; r < summary_.layers.size(); ++r)
        for (size_t l = 0; l < geometry_.layers.size(); ++l)
            if (summary_.layers[r].weight_layer && geometry_.layers[l].name == summary_.layers[r].name)
                rowLayer_[r] = static_cast<int>(l);
    loaded_ = true;
    recompute();
    endResetModel();
    emit settingsChanged();
}

void LayerTableModel::clear() {
    beginResetModel();
    summary_ = ModelSummary{};
    network_.reset();
    geometry_ = {};
    settings_.clear();
    notes_.clear();
    cost_ = {};
    rowLayer_.clear();
    loaded_ = false;
    endResetModel();
}

void LayerTableModel::recompute() {
    cost_ = geometry_.layers.empty() ? NetworkCost{} : network_cost(geometry_, settings_);
}

void LayerTableModel::setSettings(const std::vector<QuantSetting>& settings) {
    QCNN_ASSERT(settings.size() == settings_.size(), "one setting per weight layer");
    for (size_t l = 0; l < settings.size(); ++l)
        if (!settings[l].dense)
            layer_cost(geometry_.layers[l], settings[l]);  // throws for a setting that does not fit
    settings_ = settings;
    notes_.assign(settings_.size(), QString());
    recompute();
    if (rowCount() > 0) emit dataChanged(index(0, Name), index(rowCount() - 1, ColumnCount - 1));
    emit settingsChanged();
}

void LayerTableModel::setSettingsText(const QString& text) {
    if (!network_) fail("no model is loaded");
    const ResolvedSettings resolved = resolve_settings(*network_, parse_layer_settings(text.toStdString()));
    std::vector<QuantSetting> s;
    for (const ResolvedLayer& l : resolved.layers) s.push_back(l.setting);
    if (s.size() != settings_.size()) fail("settings resolve to ", s.size(), " layers, the model has ", settings_.size());
    setSettings(s);
}

void LayerTableModel::setNotes(const std::vector<std::pair<std::string, std::string>>& byAlias) {
    notes_.assign(settings_.size(), QString());
    for (const auto& [alias, text] : byAlias)
        for (size_t l = 0; l < geometry_.layers.size(); ++l)
            if (geometry_.layers[l].alias == alias) notes_[l] = qs(text);
    if (rowCount() > 0) emit dataChanged(index(0, Name), index(rowCount() - 1, ColumnCount - 1));
}

QString LayerTableModel::note(int layer) const {
    return layer >= 0 && layer < static_cast<int>(notes_.size()) ? notes_[layer] : QString();
}

QString LayerTableModel::settingsText(const QStringList& exclude) const {
    LayerSettings s;
    for (size_t l = 0; l < settings_.size(); ++l) {
        if (settings_[l].dense || exclude.contains(qs(geometry_.layers[l].alias))) continue;
        const LayerGeometry& g = geometry_.layers[l];
        s.layers.emplace_back(g.alias.empty() ? g.name : g.alias, settings_[l]);
    }
    return qs(to_string(s));
}

std::vector<int> LayerTableModel::layersOfGroup(const QString& group) const {
    std::vector<int> out;
    const std::string g = group.trimmed().toStdString();
    for (size_t l = 0; l < geometry_.layers.size(); ++l) {
        const LayerGeometry& L = geometry_.layers[l];
        const bool match = (g == "conv" && L.kind == LayerKind::Conv) || (g == "fc" && L.kind == LayerKind::Fc) ||
                           g == L.alias || g == L.name;
        if (match) out.push_back(static_cast<int>(l));
    }
    return out;
}

int LayerTableModel::rowOfLayer(int layer) const {
    for (size_t r = 0; r < rowLayer_.size(); ++r)
        if (rowLayer_[r] == layer) return static_cast<int>(r);
    return -1;
}

int LayerTableModel::layerOfRow(int row) const {
    return row >= 0 && row < static_cast<int>(rowLayer_.size()) ? rowLayer_[row] : -1;
}

std::vector<int64_t> LayerTableModel::validSubspaceDims(int layer) const {
    const LayerGeometry& g = geometry_.layers.at(layer);
    return valid_dsub(g.c_s / g.group);
}

std::vector<int64_t> LayerTableModel::offeredCodewords() {
    std::vector<int64_t> k;
    for (int64_t v = kMinCodewords; v <= kMaxCodewords; v *= 2) k.push_back(v);
    return k;
}

QuantSetting LayerTableModel::defaultQuantized(int layer) const {
    const bool conv = geometry_.layers.at(layer).kind == LayerKind::Conv;
    const int64_t want = conv ? 8 : 4;
    int64_t dsub = 1;
    for (int64_t d : validSubspaceDims(layer))
        if (d <= want) dsub = std::max(dsub, d);
    return QuantSetting::make_pq(dsub, conv ? 128 : 32);
}

bool LayerTableModel::fits(int layer, const QuantSetting& s) const {
    const auto valid = validSubspaceDims(layer);
    return std::find(valid.begin(), valid.end(), s.pq.dsub) != valid.end() && s.pq.K >= kMinCodewords &&
           s.pq.K <= kMaxCodewords;
}

bool LayerTableModel::setLayerSetting(int layer, const QuantSetting& s) {
    if (!s.dense && !fits(layer, s)) return false;
    if (settings_[layer] == s) return true;
    settings_[layer] = s;
    notes_[layer].clear();
    recompute();
    const int row = rowOfLayer(layer);
    emit dataChanged(index(row, Name), index(row, ColumnCount - 1));
    emit settingsChanged();
    return true;
}

QString LayerTableModel::totalsText() const {
    if (!loaded_) return {};
    const ModelSummary& m = summary_;
    return tr("%1 layers (%2 conv, %3 fc) · %4 parameters (%5 bytes float32) · %6 FLOPs per image")
        .arg(m.layers.size())
        .arg(m.conv_layers)
        .arg(m.fc_layers)
        .arg(formatThousands(m.total_params), formatThousands(m.total_params * 4), formatThousands(m.total_flops));
}

QString LayerTableModel::costText() const {
    if (!hasCost()) return {};
    const NetworkCost& c = cost_;
    return tr("Cost model: speed-up %1 · compression %2 · weights %3 → %4 · run-time memory %5 → %6 "
              "(activations %7, LUTs %8)")
        .arg(formatRatio(c.speedup()), formatRatio(c.compression()), formatBytes(c.dense.weight_bytes),
             formatBytes(c.quantized.weight_bytes), formatBytes(c.dense.peak_bytes), formatBytes(c.quantized.peak_bytes),
             formatBytes(c.quantized.activation_bytes), formatBytes(c.quantized.lut_bytes));
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(summary_.layers.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const LayerSummary& L = summary_.layers[index.row()];
    const int col = index.column();
    const int layer = rowLayer_[index.row()];
    const bool hasLayer = layer >= 0;
    const QuantSetting* s = hasLayer ? &settings_[layer] : nullptr;
    const LayerCost* c = hasLayer && layer < static_cast<int>(cost_.layers.size()) ? &cost_.layers[layer] : nullptr;
    const bool numeric = col == Params || col == Flops || col >= SubspaceDim;
    const bool show_number = L.weight_layer || (col == Params ? L.params : L.flops) != 0;
    switch (role) {
        case Qt::DisplayRole:
        case Qt::EditRole:
            switch (col) {
                case Name: return qs(L.name);
                case Alias: return qs(L.alias);
                case Op: return qs(L.op);
                case Attributes: return qs(L.attributes);
                case Input: return qs(format_dims(L.input_shape));
                case Output: return qs(format_dims(L.output_shape));
                case Params: return show_number ? formatThousands(L.params) : QString();
                case Flops: return show_number ? formatThousands(L.flops) : QString();
                case SubspaceDim:
                    if (!s || s->dense) return role == Qt::EditRole && s ? QVariant(int(defaultQuantized(layer).pq.dsub)) : QVariant();
                    return role == Qt::EditRole ? QVariant(int(s->pq.dsub)) : QVariant(QString::number(s->pq.dsub));
                case Codewords:
                    if (!s || s->dense) return role == Qt::EditRole && s ? QVariant(int(defaultQuantized(layer).pq.K)) : QVariant();
                    return role == Qt::EditRole ? QVariant(int(s->pq.K)) : QVariant(QString::number(s->pq.K));
                case Speedup: return c ? formatRatio(c->speedup()) : QVariant();
                case Compression: return c ? formatRatio(c->compression()) : QVariant();
                case Weights: return c ? formatBytes(ceilBytes(c->weight_bits_qcnn)) : QVariant();
                case Lut: return c && c->lut_bytes > 0 ? formatBytes(c->lut_bytes) : (c ? QStringLiteral("-") : QVariant());
                default: break;
            }
            break;
        case Qt::CheckStateRole:
            if (!s) break;
            if (col == Dense) return s->dense ? Qt::Checked : Qt::Unchecked;
            if (col == ErrorCorrection && !s->dense) return s->ec ? Qt::Checked : Qt::Unchecked;
            break;
        case SortRole:
            switch (col) {
                case Params: return QVariant::fromValue<qlonglong>(L.params);
                case Flops: return QVariant::fromValue<qlonglong>(L.flops);
                case Input:
                case Output: return index.row();
                case Dense: return s ? int(s->dense) : -1;
                case ErrorCorrection: return s && !s->dense ? int(s->ec) : -1;
                case SubspaceDim: return s && !s->dense ? QVariant::fromValue<qlonglong>(s->pq.dsub) : QVariant(0);
                case Codewords: return s && !s->dense ? QVariant::fromValue<qlonglong>(s->pq.K) : QVariant(0);
                case Speedup: return c ? c->speedup() : 0.0;
                case Compression: return c ? c->compression() : 0.0;
                case Weights: return c ? QVariant::fromValue<qlonglong>(ceilBytes(c->weight_bits_qcnn)) : QVariant(0);
                case Lut: return c ? QVariant::fromValue<qlonglong>(c->lut_bytes) : QVariant(0);
                default: return data(index, Qt::DisplayRole);
            }
        case ChoicesRole: {
            if (!hasLayer) break;
            QVariantList out;
            if (col == SubspaceDim)
                for (int64_t d : validSubspaceDims(layer)) out << QVariant(int(d));
            else if (col == Codewords)
                for (int64_t k : offeredCodewords()) out << QVariant(int(k));
            else
                break;
            return out;
        }
        case Qt::TextAlignmentRole:
            return QVariant::fromValue(numeric ? Qt::AlignRight | Qt::AlignVCenter : Qt::AlignLeft | Qt::AlignVCenter);
        case Qt::FontRole:
            if (L.weight_layer) {
                QFont f;
                f.setBold(col == Name || col == Alias);
                return f;
            }
            break;
        case Qt::BackgroundRole:
            if (hasLayer && (col == Alias || col == Dense) && !note(layer).isEmpty()) return QColor(0xff, 0xf3, 0xc4);
            break;
        case Qt::ToolTipRole:
            if (hasLayer && (col == Alias || col == Dense) && !note(layer).isEmpty())
                return tr("%1: %2").arg(qs(L.alias), note(layer));
            if (c && isCostColumn(col))
                return tr("%1: %2 -> %3 FLOPs (LUT build %4, lookup-adds %5); weights %6 -> %7 (codebooks %8, "
                          "indices %9); LUT buffer %10")
                    .arg(qs(L.alias), formatThousands(c->flops_dense), formatThousands(c->flops_qcnn),
                         formatThousands(c->flops_table), formatThousands(c->flops_lookup),
                         formatBytes(ceilBytes(c->weight_bits_dense)), formatBytes(ceilBytes(c->weight_bits_qcnn)),
                         formatBytes(ceilBytes(c->codebook_bits)), formatBytes(ceilBytes(c->index_bits)))
                    .arg(formatBytes(c->lut_bytes));
            if (s && isSettingColumn(col)) {
                const LayerGeometry& g = geometry_.layers[layer];
                return tr("%1: %2 input channels per group; valid C_s': %3; K: powers of two 2..256; error correction "
                          "applies when the run uses it")
                    .arg(qs(L.alias))
                    .arg(g.c_s / g.group)
                    .arg(qs(valid_dsub_list(g.c_s / g.group)));
            }
            return tr("node %1 (%2)%3").arg(qs(L.name), qs(L.op), L.alias.empty() ? QString() : tr(", alias %1").arg(qs(L.alias)));
        default: break;
    }
    return {};
}

bool LayerTableModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!index.isValid() || !(flags(index) & (Qt::ItemIsEditable | Qt::ItemIsUserCheckable))) return false;
    const int layer = rowLayer_[index.row()];
    QuantSetting s = settings_[layer];
    switch (index.column()) {
        case Dense:
            if (role != Qt::CheckStateRole) return false;
            if (value.toInt() == Qt::Checked) return setLayerSetting(layer, QuantSetting::make_dense());
            return s.dense ? setLayerSetting(layer, defaultQuantized(layer)) : true;
        case ErrorCorrection:
            if (role != Qt::CheckStateRole || s.dense) return false;
            s.ec = value.toInt() == Qt::Checked;
            return setLayerSetting(layer, s);
        case SubspaceDim:
        case Codewords: {
            if (role != Qt::EditRole) return false;
            bool ok = false;
            const qlonglong v = value.toLongLong(&ok);
            if (!ok) return false;
            if (s.dense) s = defaultQuantized(layer);
            (index.column() == SubspaceDim ? s.pq.dsub : s.pq.K) = v;
            return setLayerSetting(layer, s);  // refuses a value that does not fit
        }
        default: return false;
    }
}

Qt::ItemFlags LayerTableModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) return Qt::NoItemFlags;
    Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
    if (rowLayer_[index.row()] < 0) return f;
    const bool dense = settings_[rowLayer_[index.row()]].dense;
    switch (index.column()) {
        case Dense: return f | Qt::ItemIsUserCheckable;
        case ErrorCorrection: return dense ? f : f | Qt::ItemIsUserCheckable;
        case SubspaceDim:
        case Codewords: return f | Qt::ItemIsEditable;
        default: return f;
    }
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation == Qt::Horizontal && role == Qt::ToolTipRole) {
        switch (section) {
            case Dense: return tr("Keep the layer's float weights");
            case SubspaceDim: return tr("C_s': input channels per subspace (a divisor of the input channels per group)");
            case Codewords: return tr("K: codewords per subspace");
            case ErrorCorrection: return tr("Error-correct this layer when the run uses error correction");
            case Speedup: return tr("Theoretical speed-up of the layer (cost model, paper Table 1)");
            case Compression: return tr("Weight compression of the layer (cost model)");
            case Weights: return tr("Stored weights with this setting (codebooks + packed indices)");
            case Lut: return tr("Lookup-table buffer at batch 1");
            default: break;
        }
    }
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
        case Dense: return tr("Dense");
        case SubspaceDim: return tr("C_s'");
        case Codewords: return tr("K");
        case ErrorCorrection: return tr("EC");
        case Speedup: return tr("Speed-up");
        case Compression: return tr("Compression");
        case Weights: return tr("Weights");
        case Lut: return tr("LUT");
        default: return {};
    }
}

}  // namespace qcnn::ui
