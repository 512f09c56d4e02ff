// "Find settings..." (Run menu, issue 15): the workbench side of `qcnn auto` (core/auto/
// auto_settings.h, docs/auto.md). The user sets the budget (max top-1 drop in points, or a
// minimum compression with the accuracy objective), the objective, the verification runs' error
// correction, a time budget, the candidate limit, which layers and which C_s'/K grid to choose
// from (core's default_sensitivity_grid()) and the results file (the sensitivity table is reused
// from it when the same model, data and grid come again, as in the CLI).
//
// run_auto runs on a worker thread (BackgroundCall). Its progress goes to a mutex-guarded
// snapshot and its callbacks (sensitivity table, each verified candidate) to a mutex-guarded
// queue, both drained by a timer on the GUI thread; Cancel sets the flag the ProgressFn returns.
// The heat map (ui/sensitivity_heatmap.h) appears after the sensitivity stage; each candidate is
// added to the ResultsModel as a run as soon as it is verified (so the plots show it); at the end
// the best verified settings load into the layer table and the outcome is shown, or "budget not
// reachable" with the best run found.
#pragma once

#include <QDialog>
#include <QPointer>
#include <QString>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/auto/auto_settings.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTimer;

namespace qcnn::ui {

class BackgroundCall;
class LayerTableModel;
class MainWindow;
class ResultsModel;
class SensitivityHeatmap;
struct RunRecord;

class AutoDialog : public QDialog {
    Q_OBJECT

public:
    struct Context {
        std::shared_ptr<const Network> network;
        QString modelPath;
        SweepSpec options;    // the run options (data, calibration, limit, k-means, seeds, threads, ...)
        QString resultsPath;  // the default results file
    };
    using ErrorHandler = std::function<void(const QString& title, const QString& message)>;

    AutoDialog(Context context, ResultsModel* results, LayerTableModel* layers, QWidget* parent = nullptr);
    ~AutoDialog() override;  // cancels a running search and waits for it; verified candidates are kept

    // The form (tests and the main window fill it like a user would).
    void setMaxDrop(double points);  // < 0: no accuracy bound
    void setMinCompression(double x);  // <= 0: none (the budget is the max drop); > 0 selects the accuracy objective
    void setObjective(AutoObjective o);
    void setVerifyEc(EcMode ec);
    void setTimeBudgetMinutes(double minutes);  // 0: none
    void setMaxCandidates(int n);
    void setLayersFilter(const QString& layers);
    void setGrid(const QString& grid);  // "4/16, 8/32": comma-separated C_s'/K
    void setResultsPath(const QString& path);
    QString resultsPath() const;
    // The request the form describes; throws qcnn::Error naming the field that is wrong.
    AutoRequest request() const;

    // Starts the search (false, with the error shown, when the form or the plan is wrong).
    bool start();
    void cancel();
    bool isRunning() const;
    // "completed", "cancelled", "failed" once finished; "" before.
    const QString& status() const { return status_; }
    QString progressText() const;
    QString outcomeText() const;
    const std::optional<AutoOutcome>& outcome() const { return outcome_; }
    // The results model's run numbers of the candidates this search added, in order.
    const std::vector<int>& addedRuns() const { return added_; }
    SensitivityHeatmap* heatmap() const { return heatmap_; }
    void setErrorHandler(ErrorHandler handler) { onError_ = std::move(handler); }
    // How a candidate joins the results (default: ResultsModel::addRecord); the window passes its
    // session's, which also appends it to the session file. Returns the run number.
    void setRecordAdder(std::function<int(RunRecord)> adder) { addRecord_ = std::move(adder); }

signals:
    void sensitivityReady();
    void candidateAdded(int run);
    void searchFinished(const QString& status, const QString& message);

protected:
    void reject() override;

private:
    struct Snapshot {
        std::string top;         // "sensitivity" | "candidates" | ""
        int64_t topDone = 0, topTotal = 0;
        std::string inner;       // the current run's stage and layer
        int64_t innerDone = 0, innerTotal = 0;
    };
    struct Result {
        std::optional<AutoOutcome> outcome;
        QString status, message;
    };
    bool onProgress(const Progress& p);
    void post(std::function<void()> event);  // from the worker: runs on the GUI thread at the next poll
    void poll();
    void finish(Result result);
    void showError(const QString& title, const QString& message);
    void updateControls();
    QString unreachableText(const AutoOutcome& o) const;

    Context context_;
    ResultsModel* results_;
    std::function<int(RunRecord)> addRecord_;
    LayerTableModel* layers_;
    ErrorHandler onError_;

    QCheckBox* maxDropCheck_;
    QDoubleSpinBox* maxDrop_;
    QCheckBox* minCompressionCheck_;
    QDoubleSpinBox* minCompression_;
    QComboBox* objective_;
    QComboBox* ec_;
    QDoubleSpinBox* timeBudget_;
    QSpinBox* maxCandidates_;
    QLineEdit* layersEdit_;
    QLineEdit* gridEdit_;
    QLineEdit* resultsEdit_;
    QProgressBar* bar_;
    QLabel* progressLabel_;
    QLabel* outcomeLabel_;
    SensitivityHeatmap* heatmap_;
    QPushButton* startButton_;
    QPushButton* cancelButton_;
    QTimer* timer_;

    SensitivityPlan plan_;
    QPointer<BackgroundCall> call_;
    std::atomic<bool> cancel_{false};
    mutable std::mutex mutex_;
    Snapshot snapshot_;                          // guarded by mutex_
    std::vector<std::function<void()>> outbox_;  // guarded by mutex_
    std::string shownTop_;
    std::chrono::steady_clock::time_point topStart_;
    QString status_, outcomeText_;
    std::optional<AutoOutcome> outcome_;
    std::vector<int> added_;
};

// The default results file: qcnn-auto.h5 next to the session file, or in the workbench's data
// directory when there is no session file.
QString defaultAutoResultsPath(const QString& sessionPath);
// Run > Find Settings...: opens the dialog over `window`'s model, run options, results and
// layer table (a message when no model is loaded).
AutoDialog* openAutoDialog(MainWindow* window);

}  // namespace qcnn::ui
