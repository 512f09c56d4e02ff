// The sweep dialog: builds a sweep grid (core/sweep/sweep.h SweepGroup) per layer group
// ("conv", "fc" or one layer): C_s' values x K values (+ dense), or an explicit list of values
// ("8/128, 4/16:noec, dense"), times the error-correction modes and seeds; shows the number of
// runs and an estimated time before it starts, and refuses a C_s' that does not fit a layer the
// group names (the resolver's message). "Run on cluster..." (enableCluster) hands the same sweep
// to Slurm instead (core/sweep/slurm.h, docs/cluster.md): it saves the spec next to the chosen
// results file, writes the job array and merge scripts and submits them, or shows them to copy
// when sbatch is not on PATH; clusterSweep() then says what to watch (ui/shard_watcher.h).
#pragma once

#include <QDialog>
#include <functional>
#include <optional>
#include <vector>

#include "core/cost/time_estimate.h"
#include "core/sweep/slurm.h"
#include "core/sweep/sweep.h"

class QCheckBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QTableWidget;

namespace qcnn::ui {

class LayerTableModel;

class SweepDialog : public QDialog {
    Q_OBJECT

public:
    // Estimated time (a range) of one run with error-correction mode `ec`.
    using Estimator = std::function<TimeEstimate(EcMode ec)>;

    SweepDialog(const LayerTableModel* layers, Estimator estimator, QWidget* parent = nullptr);

    // The full spec of a grid (model, data and run options from the main window).
    using SpecMaker = std::function<SweepSpec(const std::vector<SweepGroup>&, const std::vector<EcMode>&,
                                              const std::vector<uint64_t>&)>;
    // Shows "Run on cluster..."; `qcnnBinary` is the `qcnn` the Slurm tasks run.
    void enableCluster(SpecMaker makeSpec, QString qcnnBinary);
    // Saves the spec as RESULTS.spec.json, writes the scripts under RESULTS.slurm/ and submits
    // them when sbatch is on PATH (submitted() then true). Sets clusterSweep(); false with
    // `error` set when something fails.
    bool runOnCluster(const QString& results, const SlurmOptions& options, QString* error);
    const std::optional<ClusterSweep>& clusterSweep() const { return cluster_; }
    bool submitted() const { return submitted_; }

    // Fills the dialog; grid() returns `grid` unchanged. A group whose values are exactly
    // ["dense"?] + C_s' values x K values (C_s' outer, the sweep spec's product form) shows as
    // a product, any other group (another order, ":noec" values) as its list of values.
    void setGrid(const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec, const std::vector<uint64_t>& seeds);
    // One row per group: layers, C_s' list, K list, dense (the values: "dense" first when
    // checked, then every C_s' x every K) ...
    void addGroup(const QString& layers, const QString& dsubs, const QString& ks, bool dense);
    // ... or layers and a comma-separated list of values in settings.h syntax, in run order.
    void addValuesGroup(const QString& layers, const QString& values);
    void removeGroups();

    std::vector<SweepGroup> grid() const;
    std::vector<EcMode> ecModes() const;
    std::vector<uint64_t> seeds() const;
    int64_t runCount() const;
    double estimatedSeconds() const { return estimatedTime().typical; }
    TimeEstimate estimatedTime() const;  // of the whole sweep
    // Why the grid cannot run ("" when it can).
    QString problem() const;
    QString summaryText() const;

private:
    void addRow(const QString& layers, const QString& dsubs, const QString& ks, bool dense, const QString& values);
    QString valuesText(int row) const;  // the row's values list, trimmed ("" for a product row)
    void refresh();
    // Parses "4, 8 16" into numbers; false with a message on anything else.
    static bool parseList(const QString& text, std::vector<int64_t>& out, QString* error);

    void askCluster();

    const LayerTableModel* layers_;
    SpecMaker makeSpec_;
    QString qcnnBinary_;
    std::optional<ClusterSweep> cluster_;
    bool submitted_ = false;
    Estimator estimator_;
    QTableWidget* table_;
    QCheckBox* ecNone_;
    QCheckBox* ecLayer_;
    QCheckBox* ecNetwork_;
    QLineEdit* seeds_;
    QLabel* summary_;
    QDialogButtonBox* buttons_;
};

}  // namespace qcnn::ui
