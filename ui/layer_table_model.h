// Table model over a ModelSummary: one row per layer that runs at inference time (the rows
// `qcnn info` prints): name, alias, op, attributes, input and output shape (one image),
// parameters and FLOPs; then, for the weight layers, the editable quantization setting (dense,
// C_s', K, error correction on/off) and what the cost model (core/cost) says about it: the
// layer's theoretical speed-up, compression, quantized weight bytes and LUT buffer. Totals are
// not a row: see totalsText() and cost().
//
// The settings are one QuantSetting per weight layer (NetworkGeometry::layers order). Their
// text (settingsText()) names every quantized layer explicitly ("conv2=8/128,fc1=4/32:noec"),
// in the syntax of core/quant/settings.h, so the CLI and sweep files read it unchanged.
#pragma once

#include <QAbstractTableModel>
#include <QString>
#include <memory>
#include <vector>

#include "core/cost/cost_model.h"
#include "core/eval/model_summary.h"
#include "core/quant/settings.h"

namespace qcnn::ui {

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        Name, Alias, Op, Attributes, Input, Output, Params, Flops,
        Dense, SubspaceDim, Codewords, ErrorCorrection,  // editable (weight layers)
        Speedup, Compression, Weights, Lut,              // cost model, per layer
        ColumnCount
    };
    // Sort key: the number for numeric columns, the row index for Input/Output (network
    // order), the display text otherwise.
    static constexpr int SortRole = Qt::UserRole;
    // SubspaceDim / Codewords: the values the editor offers (QVariantList of int).
    static constexpr int ChoicesRole = Qt::UserRole + 1;

    explicit LayerTableModel(QObject* parent = nullptr);

    // A summary without a network: the descriptive columns only, nothing editable.
    void setSummary(ModelSummary summary);
    // A loaded network: every weight layer starts dense.
    void setNetwork(std::shared_ptr<const Network> net, ModelSummary summary, NetworkGeometry geometry);
    void clear();
    const ModelSummary& summary() const { return summary_; }
    bool hasModel() const { return loaded_; }
    bool hasCost() const { return !geometry_.layers.empty(); }

    // Per weight layer (geometry order).
    const std::vector<QuantSetting>& settings() const { return settings_; }
    const NetworkGeometry& geometry() const { return geometry_; }
    // The cost model over the current settings (valid when hasCost()).
    const NetworkCost& cost() const { return cost_; }
    // Replaces every setting; sizes must match the weight layers.
    void setSettings(const std::vector<QuantSetting>& settings);
    // Parses and resolves settings text against the network (core/quant/settings.h); throws
    // qcnn::Error with the parser's / resolver's message. Layers it does not name become dense.
    void setSettingsText(const QString& text);
    // Notes on layers (by alias) that the last preset set, e.g. "kept dense: 4/32 would give
    // 0.29x speed-up, 0.31x compression": shown as the row's tooltip on Alias and Dense, those
    // cells highlighted. Any later change of the settings clears them (of that layer, or all).
    void setNotes(const std::vector<std::pair<std::string, std::string>>& byAlias);
    QString note(int layer) const;  // "" when none

    // Every quantized layer by alias, e.g. "conv2=8/128,fc1=4/32:noec"; "" when all dense.
    // Layers in `exclude` (aliases) are left out (a sweep's grid sets them).
    QString settingsText(const QStringList& exclude = {}) const;
    // The weight layers (geometry indices) a sweep group ("conv", "fc", an alias or a node
    // name) covers; empty when it names no weight layer.
    std::vector<int> layersOfGroup(const QString& group) const;

    // Row of a weight layer (geometry index) and back; -1 when none.
    int rowOfLayer(int layer) const;
    int layerOfRow(int row) const;

    // "10 layers (2 conv, 2 fc) · 61,706 parameters (246,824 bytes float32) · 431,080 FLOPs
    // per image"; empty without a model.
    QString totalsText() const;
    // "Cost model: speed-up 3.21x · compression 12.3x · weights 240 KB -> 19.5 KB · run-time
    // memory 310 KB -> 95 KB"; empty without a network.
    QString costText() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Valid C_s' values of weight layer `layer` (divisors of its input channels per group)
    // and the K values offered (powers of two 2..256).
    std::vector<int64_t> validSubspaceDims(int layer) const;
    static std::vector<int64_t> offeredCodewords();
    // The setting a dense layer gets when switched to quantized: the paper's 8/128 (conv) or
    // 4/32 (FC), C_s' lowered to the largest valid value.
    QuantSetting defaultQuantized(int layer) const;

signals:
    // Any setting changed (edit, preset, load); cost() is up to date.
    void settingsChanged();

private:
    void recompute();
    bool fits(int layer, const QuantSetting& s) const;
    bool setLayerSetting(int layer, const QuantSetting& s);

    ModelSummary summary_;
    std::shared_ptr<const Network> network_;
    NetworkGeometry geometry_;
    std::vector<int> rowLayer_;  // per row: geometry layer index or -1
    std::vector<QuantSetting> settings_;
    std::vector<QString> notes_;  // per weight layer (geometry order)
    NetworkCost cost_;
    bool loaded_ = false;
};

}  // namespace qcnn::ui
