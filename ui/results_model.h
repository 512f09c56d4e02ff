// Table model of every finished run of the session (RunRecord, the `runs` table of the results
// file): run number, model (file name; tooltip: full path and data spec), settings, EC mode, seed, top-1/top-5 (quantized and float), the top-1
// drop, compression, theoretical and measured speed-up, run-time memory, the fine-tuning outcome
// (epochs run, best epoch and its held-out top-1, "diverged at epoch 2"; tooltip: every epoch), times. Sortable
// through SortRole (numbers as doubles). Exports the HDF5 layout of core/sweep/results_file.h
// (one sweep group per model, data and spec: ui/session_file.h's writeRunGroups) and the CSV of
// runs_csv().
//
// Runs belong to a (model, data) pair: the model knows the workbench's current pair
// (setCurrent(), currentChanged()); runs of other pairs are drawn grey in the table, and the
// plots ask isCurrent(run) to grey or hide them. The Run column shows row + 1, the run_index the
// results files get (fileRunIndex()); row.run_index in memory is the 0-based row.
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
        Run, Model, Settings, Ec, Seed, Top1, Top5, FloatTop1, Drop, Compression, Speedup, MeasuredSpeedup,
        MemoryDense, MemoryQuantized, Finetune, QuantizeSeconds, EvalSeconds, ColumnCount
    };
    static constexpr int SortRole = Qt::UserRole;

    explicit ResultsModel(QObject* parent = nullptr);

    // Appends a run; its row.run_index becomes its row number. Returns that index.
    int addRecord(RunRecord record);
    void clear();
    const std::vector<RunRecord>& records() const { return records_; }
    const RunRecord& record(int run) const { return records_.at(run); }
    // Stores a run's measured memory (Measure run-time memory); the plots redraw.
    void setMeasuredMemory(int run, std::optional<MeasuredMemory> dense, std::optional<MeasuredMemory> quantized);

    // The workbench's current (model, data) pair (RunRecord::model / ::data spelling).
    void setCurrent(const std::string& model, const std::string& data);
    const std::string& currentModel() const { return currentModel_; }
    const std::string& currentData() const { return currentData_; }
    // Run `run` was made with the current model and data.
    bool isCurrent(int run) const;

    // Writes every run and its layers to an HDF5 results file (created, or appended to when it
    // exists) as one new sweep group per (model, data, spec), ids "<prefix>-1", ... with each
    // group's true provenance. Returns the ids. Throws qcnn::Error naming the path.
    std::vector<std::string> exportHdf5(const QString& path, const QString& idPrefix) const;
    // Writes runs_csv() of every run. Throws qcnn::Error naming the path.
    void exportCsv(const QString& path) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

signals:
    // setCurrent() changed the pair.
    void currentChanged();

private:
    std::vector<RunRecord> records_;
    std::string currentModel_, currentData_;
};

}  // namespace qcnn::ui
