// Table model of every finished run of the session (RunRecord, the `runs` table of the results
// file): run number, settings, EC mode, seed, top-1/top-5 (quantized and float), the top-1
// drop, compression, theoretical and measured speed-up, run-time memory, times. Sortable
// through SortRole (numbers as doubles). Exports the HDF5 layout of core/sweep/results_file.h
// and the CSV of runs_csv().
#pragma once

#include <QAbstractTableModel>
#include <vector>

#include "core/sweep/results_file.h"
#include "ui/run_job.h"

namespace qcnn::ui {

class ResultsModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        Run, Settings, Ec, Seed, Top1, Top5, FloatTop1, Drop, Compression, Speedup, MeasuredSpeedup,
        MemoryDense, MemoryQuantized, QuantizeSeconds, EvalSeconds, ColumnCount
    };
    static constexpr int SortRole = Qt::UserRole;

    explicit ResultsModel(QObject* parent = nullptr);

    // Appends a run; its row.run_index becomes its row number. Returns that index.
    int addRecord(RunRecord record);
    void clear();
    const std::vector<RunRecord>& records() const { return records_; }
    const RunRecord& record(int run) const { return records_.at(run); }

    // Writes every run and its layers as one new sweep group `sweep_id` of an HDF5 results
    // file (created, or appended to when it exists). Throws qcnn::Error naming the path.
    void exportHdf5(const QString& path, const QString& sweepId, const SweepAttributes& attrs) const;
    // Writes runs_csv() of every run. Throws qcnn::Error naming the path.
    void exportCsv(const QString& path) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::vector<RunRecord> records_;
};

}  // namespace qcnn::ui
