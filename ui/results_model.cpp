#include "ui/results_model.h"

#include <QColor>
#include <QDir>
#include <QFileInfo>
#include <QFile>
#include <cmath>
#include <fstream>

#include "core/util/error.h"
#include "ui/format.h"
#include "ui/session_file.h"

namespace qcnn::ui {

ResultsModel::ResultsModel(QObject* parent) : QAbstractTableModel(parent) {}

int ResultsModel::addRecord(RunRecord record) {
    const int row = static_cast<int>(records_.size());
    record.row.run_index = row;
    for (LayerRow& l : record.layers) l.run_index = row;
    beginInsertRows({}, row, row);
    records_.push_back(std::move(record));
    endInsertRows();
    return row;
}

void ResultsModel::setMeasuredMemory(int run, std::optional<MeasuredMemory> dense, std::optional<MeasuredMemory> quantized) {
    RunRecord& r = records_.at(run);
    r.measuredDense = dense;
    r.measuredQuantized = quantized;
    emit dataChanged(index(run, MemoryDense), index(run, MemoryQuantized));
}

void ResultsModel::clear() {
    beginResetModel();
    records_.clear();
    endResetModel();
}

void ResultsModel::setCurrent(const std::string& model, const std::string& data) {
    if (model == currentModel_ && data == currentData_) return;
    currentModel_ = model;
    currentData_ = data;
    if (!records_.empty()) emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1), {Qt::ForegroundRole});
    emit currentChanged();
}

bool ResultsModel::isCurrent(int run) const {
    const RunRecord& r = records_.at(run);
    return r.model == currentModel_ && r.data == currentData_;
}

std::vector<std::string> ResultsModel::exportHdf5(const QString& path, const QString& idPrefix) const {
    return writeRunGroups(path, records_, idPrefix.toStdString());
}

void ResultsModel::exportCsv(const QString& path) const {
    std::vector<RunRow> rows;
    for (const RunRecord& r : records_) {
        rows.push_back(r.row);
        rows.back().run_index = fileRunIndex(static_cast<int>(r.row.run_index));
    }
    const std::string p = QFile::encodeName(path).toStdString();
    std::ofstream f(p, std::ios::binary);
    if (!f) fail(p, ": cannot create the file");
    f << runs_csv(rows);
    f.close();
    if (!f) fail(p, ": write failed");
}

int ResultsModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(records_.size());
}

int ResultsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ResultsModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const RunRecord& rec = records_[index.row()];
    const RunRow& r = rec.row;
    const int col = index.column();
    if (role == SortRole) {
        switch (col) {
            case Run: return static_cast<double>(r.run_index);
            case Model: return QString::fromStdString(rec.model);
            case Settings: return QString::fromStdString(r.settings);
            case Ec: return QString::fromStdString(r.ec);
            case Seed: return static_cast<double>(r.seed);
            case Top1: return r.top1;
            case Top5: return r.top5;
            case FloatTop1: return r.top1_float;
            case Drop: return r.top1_float - r.top1;
            case Compression: return r.compression;
            case Speedup: return r.theoretical_speedup;
            case MeasuredSpeedup: return std::isfinite(r.measured_speedup) ? r.measured_speedup : -1.0;
            case MemoryDense: return static_cast<double>(r.memory_bytes_dense);
            case MemoryQuantized: return static_cast<double>(r.memory_bytes_quantized);
            case Finetune: return rec.finetune.ran ? rec.finetune.bestValTop1 : -1.0;
            case QuantizeSeconds: return r.quantize_seconds;
            case EvalSeconds: return r.eval_seconds;
            default: return {};
        }
    }
    if (role == Qt::DisplayRole) {
        switch (col) {
            case Run: return static_cast<qlonglong>(fileRunIndex(index.row()));
            case Model: return QFileInfo(QFile::decodeName(rec.model.c_str())).fileName();
            case Settings: return r.settings.empty() ? tr("(all dense)") : QString::fromStdString(r.settings);
            case Ec: return QString::fromStdString(r.ec);
            case Seed: return QString::number(r.seed);
            case Top1: return formatPercent(r.top1);
            case Top5: return formatPercent(r.top5);
            case FloatTop1: return formatPercent(r.top1_float);
            case Drop: return QStringLiteral("%1 pp").arg((r.top1_float - r.top1) * 100.0, 0, 'f', 2);
            case Compression: return formatRatio(r.compression);
            case Speedup: return formatRatio(r.theoretical_speedup);
            case MeasuredSpeedup: return formatMeasuredSpeedup(r);
            case MemoryDense: return formatBytes(r.memory_bytes_dense);
            case MemoryQuantized: return formatBytes(r.memory_bytes_quantized);
            case Finetune: return rec.finetune.ran ? rec.finetune.summary() : QStringLiteral("-");
            case QuantizeSeconds: return QStringLiteral("%1").arg(r.quantize_seconds, 0, 'f', 2);
            case EvalSeconds: return QStringLiteral("%1").arg(r.eval_seconds, 0, 'f', 2);
            default: return {};
        }
    }
    if (role == Qt::TextAlignmentRole)
        return QVariant::fromValue(col == Settings || col == Ec || col == Model || col == Finetune ? Qt::AlignLeft | Qt::AlignVCenter
                                                                : Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole && col == MeasuredSpeedup && std::isfinite(r.measured_speedup))
        return tr("measured %1 (interval %2 to %3): dense %4 ms, quantized %5 ms; %6")
            .arg(formatRatio(r.measured_speedup), formatRatio(r.measured_speedup_lo), formatRatio(r.measured_speedup_hi))
            .arg(r.dense_ms, 0, 'g', 3)
            .arg(r.quantized_ms, 0, 'g', 3)
            .arg(speedQualityText(r));
    if (role == Qt::ToolTipRole && col == Finetune && rec.finetune.ran) {
        const FinetuneRecord& f = rec.finetune;
        QString t = tr("fine-tuning: %1\nepoch 0 (as given): held-out top-1 %2").arg(f.summary(), formatPercent(f.initialValTop1));
        for (const FinetuneEpoch& e : f.epochs)
            t += tr("\nepoch %1: loss %2, held-out top-1 %3, %4 s")
                     .arg(e.epoch)
                     .arg(e.train_loss, 0, 'g', 4)
                     .arg(formatPercent(e.val_top1))
                     .arg(e.seconds, 0, 'f', 1);
        if (!f.status.empty()) t += QStringLiteral("\n") + QString::fromStdString(f.status);
        return t;
    }
    if (role == Qt::ForegroundRole && col == Finetune && rec.finetune.diverged && isCurrent(index.row())) return QColor(Qt::darkRed);
    if (role == Qt::ForegroundRole && !isCurrent(index.row())) return QColor(Qt::darkGray);  // another model or data
    if (role == Qt::ForegroundRole && col == MeasuredSpeedup && r.speed_noisy) return QColor(Qt::gray);
    if (role == Qt::ToolTipRole && col == Model)
        return tr("%1\ndata %2%3%4")
            .arg(QDir::toNativeSeparators(QFile::decodeName(rec.model.c_str())), QString::fromStdString(rec.data),
                 rec.modelSha256.empty() ? QString() : tr("\nSHA-256 %1").arg(QString::fromStdString(rec.modelSha256)),
                 isCurrent(index.row()) ? QString() : tr("\n(not the current model and data)"));
    if (role == Qt::ToolTipRole)
        return tr("run %1: %2, EC %3, seed %4 on %5")
            .arg(fileRunIndex(index.row()))
            .arg(r.settings.empty() ? tr("all dense") : QString::fromStdString(r.settings), QString::fromStdString(r.ec))
            .arg(r.seed)
            .arg(QString::fromStdString(rec.data));
    return {};
}

QVariant ResultsModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (role != Qt::DisplayRole || orientation != Qt::Horizontal)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
        case Run: return tr("Run");
        case Model: return tr("Model");
        case Settings: return tr("Settings");
        case Ec: return tr("EC");
        case Seed: return tr("Seed");
        case Top1: return tr("Top-1");
        case Top5: return tr("Top-5");
        case FloatTop1: return tr("Float top-1");
        case Drop: return tr("Top-1 drop");
        case Compression: return tr("Compression");
        case Speedup: return tr("Speed-up");
        case MeasuredSpeedup: return tr("Measured");
        case MemoryDense: return tr("Memory (dense)");
        case MemoryQuantized: return tr("Memory (Q-CNN)");
        case Finetune: return tr("Fine-tuning");
        case QuantizeSeconds: return tr("Quantize s");
        case EvalSeconds: return tr("Eval s");
        default: return {};
    }
}

}  // namespace qcnn::ui
