// The workbench's application state without widgets (issue 16 section 2): the model (path,
// network, asynchronous load with a generation so a newer request supersedes a pending one), the
// sweep spec being edited, the float model's evaluation cache, the run job (RunJob) or cluster
// sweep (ShardWatcher), the results (ResultsModel, with the current (model, data) pair), the
// session results file (ui/session_file.h), the settings file, recent files, the time estimate
// (core/cost/time_estimate.h) and export. MainWindow owns one and keeps docks, actions, widgets
// and wiring; tests drive one with no window at all (tests/ui/test_workbench_session.cpp).
//
// Run options: the GUI installs an options source (the run-options form's apply(), which throws
// qcnn::Error naming an invalid field); without one the session uses the options given to
// setRunOptions(). Errors reach the user through errorOccurred (MainWindow shows a message box);
// short notes through statusMessage.
//
// Threads: loads, float evaluations and runs execute on worker threads (ui/background.h,
// ui/run_job.h); every signal is emitted on the session's (the GUI) thread. pollProgress() (a
// 50 ms timer while a job runs) emits progressChanged and clocks the stages for the time model.
#pragma once

#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "core/cost/time_estimate.h"
#include "core/eval/model_summary.h"
#include "core/sweep/slurm.h"
#include "core/sweep/sweep.h"

class QTimer;

namespace qcnn::ui {

class BackgroundCall;
class LayerTableModel;
class ResultsModel;
class RunJob;
class SessionFile;
class ShardWatcher;
struct RunRecord;

class WorkbenchSession : public QObject {
    Q_OBJECT

public:
    // Writes the run options into a spec (every other key left alone); throws qcnn::Error naming
    // an invalid field.
    using OptionsSource = std::function<void(SweepSpec&)>;

    explicit WorkbenchSession(QObject* parent = nullptr);
    ~WorkbenchSession() override;  // shutdown()
    // Cancels the job and the float evaluation and waits for them; no signal follows.
    void shutdown();

    // ----- model
    // Starts loading `path`; modelLoaded or loadFailed follows.
    void openModel(const QString& path);
    bool isLoading() const { return pending_ != 0; }
    QString modelPath() const { return modelPath_; }
    std::string modelFile() const;  // modelPath() as core spells it (RunRecord::model)
    std::shared_ptr<const Network> network() const { return network_; }
    const ModelSummary& summary() const { return summary_; }
    LayerTableModel* layerModel() const { return layerModel_; }
    ResultsModel* results() const { return results_; }

    // ----- run options and the edited spec
    void setOptionsSource(OptionsSource source);
    // The run options: SweepSpec{} with the options applied (ec, seeds: the one of a single run).
    // Throws qcnn::Error naming an invalid field.
    SweepSpec runOptions() const;
    // Without an options source: the options runOptions() returns from now on. Either way the
    // float evaluation and the current (model, data) pair follow the data options.
    void setRunOptions(const SweepSpec& options);
    // The run options (data, limit) changed: re-evaluates the float model when needed and
    // updates the current (model, data) pair of the results.
    void dataOptionsChanged();
    // The spec being edited: every key of the loaded settings file (or the start values), and the
    // grid, EC modes and seeds of the last sweep.
    const SweepSpec& editedSpec() const { return spec_; }
    // The spec of the current state: editedSpec() with the run options, the model, the table's
    // settings as `base` (minus the layers `grid` sets), `grid`, EC modes and seeds (empty: the
    // options' single ones). Throws qcnn::Error naming an invalid field.
    SweepSpec currentSpec(const std::vector<SweepGroup>& grid = {}, const std::vector<EcMode>& ec = {},
                          const std::vector<uint64_t>& seeds = {}) const;

    // ----- float baseline
    double floatTop1() const;  // on the current data options; NaN until computed
    const std::optional<EvalResult>& floatEval() const { return floatEval_; }
    bool isEvaluatingFloat() const { return floatPending_ > 0; }
    void evaluateFloat();

    // ----- runs
    bool run();  // the table's settings once (false and errorOccurred when it cannot start)
    bool runSweep(const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec, const std::vector<uint64_t>& seeds);
    void cancelRun();
    bool isRunning() const;
    const RunJob* job() const { return job_.get(); }
    // Where the job is, for the progress display (issue 18 item 7: overall progress).
    struct JobProgress {
        int run = 0, runs = 0;      // 0-based run, runs of the job
        int stage = 0, stages = 0;  // 1-based stage of the run and the stages it goes through
                                    // (float evaluation when not cached, k-means, calibration,
                                    // EC solve with EC, evaluation, speed when measured); 0: starting
        QString stageName, layer;   // core's progress stage ("kmeans") and layer
        qint64 done = 0, total = 0; // within the stage
        double fraction = 0;        // of the whole job, 0..1: runs done plus this run's finished
                                    // stages and stage part, weighted by the time model's estimate
    };
    JobProgress jobProgress() const;
    // A run's stages in the order it goes through them, with their estimated seconds.
    using RunStages = std::vector<std::pair<std::string, double>>;
    // Where progress stage `name` (`done` of `total` within it) is in a run of `stages`: its
    // 1-based stage (0: none of them) and the fraction of the run's estimated time behind it.
    static std::pair<int, double> runPosition(const RunStages& stages, const std::string& name, qint64 done, qint64 total);
    int jobRunsDone() const { return jobRunsDone_; }
    // Watches a sweep submitted to Slurm; its runs arrive like a local job's (with `spec`).
    void watchCluster(const ClusterSweep& sweep, const SweepSpec& spec);
    ShardWatcher* clusterWatcher() const { return clusterWatcher_.get(); }

    // ----- results and the session file
    QString sessionPath() const;
    SessionFile* sessionFile() const { return session_.get(); }
    // Adds one run made outside the session's own jobs (a Find Settings candidate) as a job's run
    // is added: to the results, flushed to the session file, then runAdded. Returns its run number.
    int addRecord(RunRecord record);
    // Adds runs read back from a file (a previous session) to the results and this session's file.
    void restoreRecords(std::vector<RunRecord> records);
    int unexportedRuns() const;
    bool hasUnexportedResults() const { return unexportedRuns() > 0; }
    // Ends the session file cleanly (the window's close).
    void closeSessionFile();

    // ----- files (errors: errorOccurred)
    bool saveSettings(const QString& path);
    // Loading a spec for another model opens it first and applies the settings once it loaded.
    bool loadSettings(const QString& path);
    bool exportResultsHdf5(const QString& path);
    bool exportResultsCsv(const QString& path);
    QStringList recentFiles() const;
    void addRecentFile(const QString& path);

    // ----- time estimate
    TimeEstimate estimateRunTime(EcMode ec) const;
    const TimeModel& timeModel() const { return timeModel_; }
    void pollProgress();  // the job's progress timer (public for tests)

signals:
    void loadStarted(const QString& path);
    void modelLoaded(const QString& path);
    void loadFailed(const QString& path, const QString& message);
    // A loaded settings file's spec: the GUI shows its run options (before its layer settings apply).
    void runOptionsLoaded(const qcnn::SweepSpec& spec);
    void floatEvaluationStarted();
    void floatEvaluated(double top1);
    void floatEvaluationFailed();  // also when cancelled (errorOccurred when it failed)
    void runStarted(int runs);
    void progressChanged();
    void runAdded(int run);
    // The job ended: "completed" | "cancelled" | "failed" (errorOccurred told why); a completed or
    // cancelled job's statusMessage ("Run 3 finished: top-1 ...", "Cancelled after 2 of 8 runs")
    // comes just before.
    void runFinished(const QString& status, int runsDone, int runs);
    void estimateChanged();
    void recentFilesChanged();
    void errorOccurred(const QString& title, const QString& message);
    void statusMessage(const QString& text, int timeoutMs);

private:
    struct LoadResult;
    static LoadResult loadJob(const QString& path);
    void finishLoad(const QString& path, const LoadResult& result);
    void applySpec(const SweepSpec& spec);
    bool startJob(const SweepSpec& spec);
    void onRunFinished(const RunRecord& record);
    void onJobFinished(const QString& status, const QString& message);
    // The status message at a job's end: "Run 3 finished: top-1 91.2 %, ..." / "Cancelled after 2 of 8 runs".
    QString jobEndText(const QString& status, int runsDone, int runs) const;
    // Writes the run options into `s` (the source, or the stored options' on-form keys).
    void applyOptions(SweepSpec& s) const;
    QString floatKey() const;
    // runOptions(), or the last valid ones while a field is invalid.
    SweepSpec lenientOptions() const;
    void appendToSessionFile(const RunRecord& record);
    int keep(RunRecord record);  // to the results and the session file; its run number
    // Runs `write` (an export to `path`); its error goes to errorOccurred.
    bool exportResults(const QString& path, const std::function<void()>& write);
    void learnTime(const RunRecord& received, int run);
    StageValues runWork(const std::string& settings, EcMode ec, bool evaluateFloat) const;
    void error(const QString& title, const QString& message) { emit errorOccurred(title, message); }

    LayerTableModel* layerModel_;
    ResultsModel* results_;
    QTimer* progressTimer_;
    OptionsSource source_;
    SweepSpec options_;                  // the run options without a source
    mutable SweepSpec lastGoodOptions_;  // lenientOptions()

    std::shared_ptr<const Network> network_;
    ModelSummary summary_;
    QString modelPath_;
    quint64 loadGeneration_ = 0;
    int pending_ = 0;
    std::optional<SweepSpec> pendingSpec_;  // applied when the model it names has loaded
    SweepSpec spec_;

    std::unique_ptr<RunJob> job_;
    std::unique_ptr<ShardWatcher> clusterWatcher_;
    std::shared_ptr<const SweepSpec> clusterSpec_;
    std::string clusterSha256_;
    int jobRunsDone_ = 0;

    std::optional<EvalResult> floatEval_;
    QString floatEvalKey_;
    quint64 floatGeneration_ = 0;
    int floatPending_ = 0;
    std::shared_ptr<std::atomic<bool>> floatCancel_;
    QPointer<BackgroundCall> floatCall_;

    std::unique_ptr<SessionFile> session_;
    bool sessionWarned_ = false;
    int exportedRuns_ = 0;

    TimeModel timeModel_;
    std::map<int, StageClock> stageClocks_;  // seconds per stage of the job's runs (by run index)
    const RunJob* clockedJob_ = nullptr;
    int clockedRun_ = -1;
    bool jobFloatCached_ = false;
};

}  // namespace qcnn::ui
