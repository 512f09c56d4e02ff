// The workbench's main window.
//
// Layout: the central tab widget holds the editable layer table ("Layers", with the run
// options and the cost model's totals) and the teaching views ("Teaching"); the result plots
// (top-1 vs compression, top-1 vs speed-up, run-time memory accounted and measured, per-layer
// response error, fine-tuning: live while a run fine-tunes) share
// the right dock; the results table and the cost-per-layer chart are tabbed docks at the
// bottom. The status bar shows the model, the dataset, the float top-1 and the progress of a
// run (stage and layer, and runs done for a sweep).
//
// The application state (model, run options' spec, float cache, jobs, results, session file,
// settings file, recent files, time estimate, export) lives in a widget-free WorkbenchSession
// (ui/workbench_session.h, session()); the window keeps docks, actions, widgets and the wiring,
// shows the session's errors in message boxes and forwards the public API below to it.
//
// Threads: models load, the float model is evaluated, and runs and sweeps execute on worker
// threads (BackgroundCall, RunJob); the GUI thread only receives finished results and polls
// progress on a timer, so it never blocks. Esc / Cancel stops a run at core's next progress
// report. A newer model request supersedes a pending one.
//
// Files: the settings file is the sweep spec of core/sweep/sweep.h (File > Save Settings /
// Load Settings; the CLI's `qcnn sweep` reads it): `base` is the layer table's settings (minus
// the layers the sweep grid sets) and `grid` the sweep dialog's grid; loading shows its first
// run in the table. Results export to HDF5 (the sweeps layout of core/sweep/results_file.h, one
// sweep group per model, data and spec with its provenance) and CSV. Recent files and the window state are kept in QSettings ("qcnn", "workbench"). Every
// finished run also goes to the session file (ui/session_file.h); closing with a run in progress
// or unexported runs asks first (main_window_session.cpp).
#pragma once

#include <QPointer>
#include <QIcon>
#include <QMainWindow>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "core/cost/time_estimate.h"
#include "core/eval/model_summary.h"
#include "core/sweep/sweep.h"
#include "ui/run_job.h"

class QAction;
class QCheckBox;
class QComboBox;
class QDockWidget;
class QLabel;
class QLineEdit;
class QMenu;
class QProgressBar;
class QSpinBox;
class QTabWidget;
class QTableView;
class QTimer;
class QToolButton;

namespace qcnn::ui {

class BackgroundCall;

class LayerCostPlot;
class LayerTableModel;
class MemoryPlot;
class PlotSet;
class ResponseErrorPlot;
class FinetunePlot;
class MemoryProbe;
class ResultsModel;
class RunJob;
class RunOptionsForm;
class SessionFile;
class ShardWatcher;
class TeachingView;
class TradeoffPlot;
class WorkbenchSession;
struct RunRecord;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    // Shows an error to the user. The default opens a modal QMessageBox; tests install a
    // handler that records the message instead.
    using ErrorHandler = std::function<void(const QString& title, const QString& message)>;
    // Asks the user to pick one of `buttons` (returns its index, -1 when dismissed). The default
    // opens a modal QMessageBox; tests inject the choice (the close prompt, the reopen offer).
    using QuestionHandler = std::function<int(const QString& title, const QString& text, const QStringList& buttons)>;
    // The file to export to from the close prompt ("" to give up). The default: a file dialog.
    using SavePathHandler = std::function<QString(const QString& title, const QString& suggested)>;

    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Starts loading `path`; modelLoaded or loadFailed follows (a newer request supersedes a
    // pending one, whose result is dropped).
    void openModel(const QString& path);
    // Opens the bundled network (demoModelPath()) with the Fashion-MNIST test set.
    void openDemo();
    static QString demoModelPath();
    static QIcon appIcon();

    void setErrorHandler(ErrorHandler handler);
    void setQuestionHandler(QuestionHandler handler);
    void setSavePathHandler(SavePathHandler handler);

    // Session file (ui/session_file.h): every finished run is appended to it. Its path ("" before
    // the first run of the session).
    QString sessionPath() const;
    // At startup (queued from the constructor; tests may call it first): when a previous session
    // ended uncleanly (kill -9, crash), asks whether to reopen it; its runs then come back into
    // the results table. Runs once per window; returns how many runs it brought back.
    int offerSessionReopen();
    // Runs finished since the last export (HDF5 or CSV), or since the start.
    bool hasUnexportedResults() const;

    // Opens a data set for evaluation (File > Open Dataset...: what the three menu entries
    // call), in the background: when it opens, Data becomes `spec` (a folder with train/ and
    // val/: its val/) and Calib. data its training split when one is known
    // (core/data/training_split.h), else the status bar says at once that Calib. data must be
    // set. When it does not open, the error is shown and Data, Calib. data and the status bar
    // stay as they were. datasetOpened follows either way.
    void openDataset(const QString& spec);

    // The application state without widgets.
    WorkbenchSession* session() const { return workbench_; }
    bool isLoading() const;
    QString modelPath() const;
    std::shared_ptr<const Network> network() const;
    LayerTableModel* layerModel() const { return layerModel_; }
    QTableView* layerView() const { return layerView_; }
    LayerCostPlot* costPlot() const { return costPlot_; }
    ResultsModel* resultsModel() const { return results_; }
    QTableView* resultsView() const { return resultsView_; }
    // The per-run plots (ui/plot_registry.h); the accessors below look up its entries.
    PlotSet* plots() const { return plots_; }
    TradeoffPlot* compressionPlot() const;
    TradeoffPlot* speedupPlot() const;
    MemoryPlot* memoryPlot() const;
    ResponseErrorPlot* responsePlot() const;
    FinetunePlot* finetunePlot() const;
    TeachingView* teachingView() const { return teaching_; }
    QString totalsText() const;
    QString costText() const;
    QString statusText() const;  // model · dataset · float top-1 (the status bar's labels)
    QString progressText() const;  // "run 2/8: kmeans conv2" while a job runs
    // The run-option widgets (generated from core/sweep/run_options.h; object names "dataEdit",
    // "calibDataEdit", "calibSpin", "ecCombo", "seedEdit", "ecItersSpin", ...) are found with
    // findChild or runOptionsForm()->widget(key).
    RunOptionsForm* runOptionsForm() const { return runForm_; }

    // Presets of the layer table.
    // The dataset spec for a file or folder picked in a dialog: a directory -> folder:DIR,
    // CIFAR *.bin -> cifar10:FILE, an IDX image file -> idx:IMAGES[,LABELS] (the labels file
    // found beside it by the usual names), HDF5 -> hdf5:FILE:images:labels (data set names to
    // edit). Empty when the file type is not a dataset format.
    static QString datasetSpecForPath(const QString& path);
    static QStringList presetNames();
    static QString presetSettings(const QString& name);
    void applyPreset(const QString& name);

    // The run options the form shows: SweepSpec{} with every form field applied (ec and seeds:
    // the single values of one run). Throws qcnn::Error naming the field when one is invalid.
    SweepSpec runOptions() const;
    // Shows the run options of `o` in the form (every key of the run-option table on the form).
    void setRunOptions(const SweepSpec& o);
    // The sweep spec of the current state: the loaded spec (every key it had) with the form's run
    // options, the model, the table's settings as `base` (minus the layers `grid` sets), `grid`,
    // EC modes and seeds (empty: the form's single ones). Throws qcnn::Error naming an invalid field.
    SweepSpec currentSpec(const std::vector<SweepGroup>& grid = {}, const std::vector<EcMode>& ec = {},
                          const std::vector<uint64_t>& seeds = {}) const;
    // The spec being edited (loaded from a settings file, or the workbench's start values): its
    // grid, ec and seeds are what the settings file saves and the sweep dialog starts from.
    const SweepSpec& sweepGrid() const;

    // Runs the table's settings once / a sweep (false, and an error shown, when it cannot start).
    bool run();
    bool runSweep(const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec, const std::vector<uint64_t>& seeds);
    void cancelRun();  // also cancels a memory measurement
    bool isRunning() const;
    // Run > Measure Run-time Memory (ui/memory_probe.h): run `run`'s saved quantized model and its
    // float model (once per model and data) measured by `qcnn eval` in a child process; the memory
    // plot then shows the measured bytes beside the accounted ones. False (and an error shown) when
    // it cannot start; memoryMeasured or an error follows otherwise.
    bool measureMemory(int run);
    MemoryProbe* memoryProbe() const { return memoryProbe_; }

    // Presenter mode (View > Presenter Mode, F11): full screen and every font 1.6x, plots too,
    // for a projector. Off restores the window and the fonts.
    void setPresenterMode(bool on);
    bool presenterMode() const { return presenter_; }
    // Estimated time of one run of the table's settings with error-correction mode `ec`
    // (core/cost/time_estimate.h: the cost model's work per stage at the rates of the runs done
    // on this machine), as a range; the sweep dialog's and the status bar's estimate.
    TimeEstimate estimateRunTime(EcMode ec) const;
    double estimateRunSeconds(EcMode ec) const { return estimateRunTime(ec).typical; }
    const TimeModel& timeModel() const;
    QString estimateText() const;  // the status bar's "next run ~12 s (8-20 s)"

    // Settings file (sweep spec JSON); errors go to the error handler. Loading a spec for
    // another model opens it first and applies the settings when it has loaded.
    bool saveSettings(const QString& path);
    bool loadSettings(const QString& path);
    // Results export; errors go to the error handler.
    bool exportResultsHdf5(const QString& path);
    bool exportResultsCsv(const QString& path);

    // Loads run `run`'s settings (and EC mode) into the layer table and selects it.
    void loadRunSettings(int run);
    void selectRun(int run);
    int selectedRun() const { return selectedRun_; }

    // The float model's top-1 on the run options' data (NaN until computed).
    double floatTop1() const;
    bool isEvaluatingFloat() const;

    QStringList recentFiles() const;

signals:
    void modelLoaded(const QString& path);
    // `message` is the error text (the same the CLI prints after "qcnn: error: ").
    void loadFailed(const QString& path, const QString& message);
    void floatEvaluated(double top1);
    void runStarted(int runs);
    // One run of the current job finished and was added to the results (its index).
    void runAdded(int run);
    // The job ended: "completed" | "cancelled" | "failed".
    void runFinished(const QString& status);
    // openDataset() ended: `ok` when the data set opened and became the Data.
    void datasetOpened(const QString& spec, bool ok);
    // A memory measurement ended (ok: the run's record has it; otherwise the error was shown).
    void memoryMeasured(int run, bool ok);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    // The teaching view follows the layer table's setting of the layer it shows.
    void syncTeachingWithTable();
    // Story step 4: a small sweep over K for the story layer's kind at its C_s'.
    void runStoryTradeoff(const QString& layer, int64_t dsub);
    void applyPresenterLayout();  // presenter mode on the Teaching tab: docks hidden
    bool presenter_ = false;
    QByteArray presenterState_;   // saveState() from before presenter mode
    QList<QAction*> presetActions_;  // Settings > Preset: ..., enabled with a model
    QAction* presenterAction_ = nullptr;
    void onModelLoaded(const QString& path);
    void connectSession();
    void openModelDialog();
    void openDatasetDialog();
    void openDatasetFileDialog(bool folder);
    void saveSettingsDialog();
    void loadSettingsDialog();
    void exportDialog(bool hdf5);
    void sweepDialog();
    void createActions();
    QWidget* createLayersTab();
    QWidget* createRunOptions();
    void createDocks();
    void showError(const QString& title, const QString& message);
    void addRecentFile(const QString& path);
    void updateRecentMenu();
    void openRecent(const QString& path);
    void onRunStarted(int runs);
    void onRunAdded(int run);
    void onJobFinished(const QString& status);
    void pollProgress();
    void updateActions();
    void updateStatus();
    void updateCostText();
    void dataOptionsChanged();
    // The error-correction options are enabled while a run or the sweep grid uses EC, the
    // fine-tuning options (ft_*) while "fine-tune" is on.
    void updateDependentOptions();
    // The form's image limit (0 = all; -1 while the field is not a valid number).
    qint64 formLimit() const;
    // Session file, time estimate and close prompt (issues 16 and 18).
    void setupSession();
    void updateEstimate();
    bool confirmClose();
    int ask(const QString& title, const QString& text, const QStringList& buttons);

    WorkbenchSession* workbench_;
    LayerTableModel* layerModel_;  // the session's
    LayerCostPlot* costPlot_;
    ResultsModel* results_;  // the session's
    PlotSet* plots_;
    TeachingView* teaching_;
    QTabWidget* tabs_;
    QTableView* layerView_;
    QTableView* resultsView_;
    QLabel* totalsLabel_;
    QLabel* costLabel_;
    QLabel* statusModel_;
    QLabel* statusData_;
    QLabel* statusFloat_;
    QLabel* progressLabel_;
    QProgressBar* stageBar_;
    QProgressBar* runsBar_;
    QToolButton* cancelButton_;
    QComboBox* presetCombo_;
    // Run options: the generated form and the widgets the window reads itself.
    RunOptionsForm* runForm_;
    QLineEdit* dataEdit_;
    QLineEdit* calibDataEdit_;
    QLineEdit* limitEdit_;
    QComboBox* ecCombo_;
    QLineEdit* seedEdit_;
    QSpinBox* itersSpin_;
    QSpinBox* ecItersSpin_;
    QSpinBox* ecConvImagesSpin_;
    QSpinBox* ecPositionsSpin_;
    QSpinBox* threadsSpin_;
    QCheckBox* speedCheck_;
    QCheckBox* finetuneCheck_;
    // Actions.
    QAction* runAction_ = nullptr;
    QAction* sweepAction_ = nullptr;
    QAction* cancelAction_ = nullptr;
    QAction* measureMemoryAction_ = nullptr;
    MemoryProbe* memoryProbe_ = nullptr;
    std::map<std::string, MeasuredMemory> denseMemory_;  // float model + "\n" + data -> its measurement
    QAction* saveSettingsAction_ = nullptr;
    QAction* exportHdf5Action_ = nullptr;
    QAction* exportCsvAction_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QDockWidget* plotsDock_ = nullptr;
    QDockWidget* resultsDock_ = nullptr;
    QDockWidget* costDock_ = nullptr;

    ErrorHandler errorHandler_;
    int selectedRun_ = -1;
    QuestionHandler questionHandler_;
    SavePathHandler savePathHandler_;
    bool sessionOffered_ = false;
    quint64 datasetGeneration_ = 0;
    QLabel* statusEstimate_ = nullptr;
};

}  // namespace qcnn::ui
