#include "ui/main_window.h"

#include <QAction>
#include <QCheckBox>
#include <QCoreApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <exception>
#include <qcustomplot.h>
#include <limits>

#include "core/cost/builtin_networks.h"
#include "core/cost/presets.h"
#include "core/data/dataset.h"
#include "core/eval/evaluate.h"
#include "core/sweep/results_file.h"
#include "core/sweep/run_options.h"
#include "core/util/paths.h"
#include "ui/auto_dialog.h"
#include "ui/background.h"
#include "ui/choice_delegate.h"
#include "ui/format.h"
#include "ui/layer_cost_plot.h"
#include "ui/layer_table_model.h"
#include "ui/memory_probe.h"
#include "ui/plot_registry.h"
#include "ui/results_model.h"
#include "ui/run_job.h"
#include "ui/run_options_form.h"
#include "ui/sensitivity_heatmap.h"
#include "ui/session_file.h"
#include "ui/shard_watcher.h"
#include "ui/sweep_dialog.h"
#include "ui/teaching_view.h"
#include "ui/workbench_session.h"

// Resources of the static qcnn_ui library must be registered explicitly (outside any namespace).
static void initWorkbenchResources() { Q_INIT_RESOURCE(resources); }

namespace qcnn::ui {

namespace {

QSettings appSettings() { return QSettings(QStringLiteral("qcnn"), QStringLiteral("workbench")); }

// A status-bar label that shows as much of its text as fits, "…" in the middle, so a long model
// path never runs into the next label (issue 18 item 7); the tooltip has the whole text.
class ElidingLabel : public QLabel {
public:
    void setFullText(const QString& text) {
        full_ = text;
        setToolTip(text);
        refit();
    }
    const QString& fullText() const { return full_; }
    QSize minimumSizeHint() const override { return {0, QLabel::minimumSizeHint().height()}; }
    QSize sizeHint() const override { return {fontMetrics().horizontalAdvance(full_) + 8, QLabel::sizeHint().height()}; }

protected:
    void resizeEvent(QResizeEvent* event) override {
        QLabel::resizeEvent(event);
        refit();
    }

private:
    void refit() { setText(fontMetrics().elidedText(full_, Qt::ElideMiddle, std::max(contentsRect().width(), 0))); }
    QString full_;
};

bool isSettingsFile(const QString& path) { return path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive); }

// The local .onnx / .h5 (quantized model) / .json files among dropped URLs.
QStringList droppableFiles(const QMimeData* mime) {
    QStringList files;
    if (!mime || !mime->hasUrls()) return files;
    for (const QUrl& url : mime->urls()) {
        if (!url.isLocalFile()) continue;
        const QString f = url.toLocalFile();
        if (f.endsWith(QLatin1String(".onnx"), Qt::CaseInsensitive) || f.endsWith(QLatin1String(".h5"), Qt::CaseInsensitive) ||
            isSettingsFile(f))
            files << f;
    }
    return files;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      workbench_(new WorkbenchSession(this)),
      layerModel_(workbench_->layerModel()),
      costPlot_(new LayerCostPlot),
      results_(workbench_->results()),
      plots_(new PlotSet(results_, this)),
      teaching_(new TeachingView),
      tabs_(new QTabWidget),
      layerView_(new QTableView),
      resultsView_(new QTableView),
      totalsLabel_(new QLabel),
      costLabel_(new QLabel),
      statusModel_(new ElidingLabel),
      statusData_(new QLabel),
      statusFloat_(new QLabel),
      progressLabel_(new QLabel),
      stageBar_(new QProgressBar),
      runsBar_(new QProgressBar),
      cancelButton_(new QToolButton),
      presetCombo_(new QComboBox) {
    initWorkbenchResources();
    setWindowTitle(tr("QCNN Workbench"));
    setWindowIcon(appIcon());
    setAcceptDrops(true);
    setDockNestingEnabled(true);
    resize(1500, 920);

    tabs_->addTab(createLayersTab(), tr("Layers"));
    tabs_->addTab(teaching_, tr("Teaching"));
    setCentralWidget(tabs_);
    connect(tabs_, &QTabWidget::currentChanged, this, [this] { applyPresenterLayout(); });
    createDocks();

    statusModel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    statusModel_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // long paths never widen the window
    statusModel_->setObjectName(QStringLiteral("statusModel"));
    statusData_->setObjectName(QStringLiteral("statusData"));
    statusFloat_->setObjectName(QStringLiteral("statusFloat"));
    statusBar()->addPermanentWidget(statusModel_, 2);
    statusBar()->addPermanentWidget(statusData_);
    statusBar()->addPermanentWidget(statusFloat_);
    for (QLabel* l : {statusData_, statusFloat_}) l->setContentsMargins(8, 0, 8, 0);  // apart from their neighbours
    progressLabel_->setMinimumWidth(400);  // "run 2/8 · stage 3 of 4: kmeans conv2 · 41 % of the sweep"
    stageBar_->setMaximumWidth(160);
    stageBar_->setObjectName(QStringLiteral("stageBar"));
    runsBar_->setFixedWidth(120);
    runsBar_->setFormat(tr("%v/%m runs done"));
    stageBar_->setTextVisible(true);
    for (QWidget* w : {static_cast<QWidget*>(progressLabel_), static_cast<QWidget*>(stageBar_),
                       static_cast<QWidget*>(runsBar_), static_cast<QWidget*>(cancelButton_)}) {
        statusBar()->addPermanentWidget(w);
        w->setVisible(false);
    }
    memoryProbe_ = new MemoryProbe(MemoryProbe::defaultQcnnPath(), this);
    connect(memoryProbe_, &MemoryProbe::stageChanged, this, [this](const QString& text) {
        if (!text.isEmpty()) statusBar()->showMessage(tr("Measuring run-time memory: %1 ...").arg(text));
        cancelButton_->setVisible(!text.isEmpty() || isRunning());
        updateActions();
    });
    connect(memoryProbe_, &MemoryProbe::finished, this, [this](int run, const MeasuredMemory& dense, const MeasuredMemory& quantized) {
        const RunRecord& r = results_->record(run);
        denseMemory_[r.model + "\n" + r.data] = dense;
        results_->setMeasuredMemory(run, dense, quantized);
        statusBar()->showMessage(tr("Run %1 measured (qcnn eval, batch 1, 1 thread): the quantized model added %2 to the "
                                    "process (peak RSS %3), the float model %4 (peak RSS %5)")
                                     .arg(fileRunIndex(run))
                                     .arg(formatBytes(quantized.modelBytes()), formatBytes(quantized.peakRss),
                                          formatBytes(dense.modelBytes()), formatBytes(dense.peakRss)),
                                 15000);
        updateActions();
        emit memoryMeasured(run, true);
    });
    connect(memoryProbe_, &MemoryProbe::failed, this, [this](int run, const QString& message) {
        statusBar()->clearMessage();
        showError(tr("Measuring run-time memory failed"), message);
        updateActions();
        emit memoryMeasured(run, false);
    });
    createActions();

    connectSession();
    connect(layerModel_, &LayerTableModel::settingsChanged, this, &MainWindow::updateCostText);
    connect(plots_, &PlotSet::runClicked, this, &MainWindow::loadRunSettings);
    connect(plots_, &PlotSet::exportFailed, this, [this](const QString&, const QString& reason) { showError(tr("Export failed"), reason); });
    connect(results_, &ResultsModel::currentChanged, this, &MainWindow::updateStatus);  // the plots follow the (model, data) pair
    connect(teaching_, &TeachingView::failed, this, [this](const QString& m) { statusBar()->showMessage(m, 8000); });
    connect(teaching_, &TeachingView::storyTradeoff, this, &MainWindow::runStoryTradeoff);
    connect(layerModel_, &LayerTableModel::settingsChanged, this, &MainWindow::syncTeachingWithTable);

    QSettings s = appSettings();
    restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(s.value(QStringLiteral("window/state")).toByteArray());
    updateRecentMenu();
    updateActions();
    updateStatus();
    setupSession();
}

MainWindow::~MainWindow() {
    workbench_->disconnect(this);
    workbench_->shutdown();  // cancels the run and the float evaluation and waits
}

void MainWindow::connectSession() {
    WorkbenchSession* w = workbench_;
    connect(w, &WorkbenchSession::errorOccurred, this, &MainWindow::showError);
    connect(w, &WorkbenchSession::statusMessage, this, [this](const QString& text, int ms) { statusBar()->showMessage(text, ms); });
    connect(w, &WorkbenchSession::loadStarted, this, [this](const QString& path) { statusBar()->showMessage(tr("Loading %1 ...").arg(path)); });
    connect(w, &WorkbenchSession::loadFailed, this, [this](const QString& path, const QString& message) {
        statusBar()->clearMessage();
        emit loadFailed(path, message);
    });
    connect(w, &WorkbenchSession::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(w, &WorkbenchSession::runOptionsLoaded, this, [this](const SweepSpec& spec) {
        runForm_->setSpec(spec);
        updateDependentOptions();
        updateStatus();
    });
    connect(w, &WorkbenchSession::floatEvaluationStarted, this, [this] { statusFloat_->setText(tr("float top-1: evaluating ...")); });
    connect(w, &WorkbenchSession::floatEvaluationFailed, this, [this] { statusFloat_->setText(tr("float top-1: -")); });
    connect(w, &WorkbenchSession::floatEvaluated, this, [this](double top1) {
        updateStatus();
        emit floatEvaluated(top1);
    });
    connect(w, &WorkbenchSession::runStarted, this, &MainWindow::onRunStarted);
    connect(w, &WorkbenchSession::progressChanged, this, &MainWindow::pollProgress);
    connect(w, &WorkbenchSession::runAdded, this, &MainWindow::onRunAdded);
    connect(w, &WorkbenchSession::runFinished, this, &MainWindow::onJobFinished);
    connect(w, &WorkbenchSession::recentFilesChanged, this, &MainWindow::updateRecentMenu);
}

bool MainWindow::isLoading() const { return workbench_->isLoading(); }
QString MainWindow::modelPath() const { return workbench_->modelPath(); }
std::shared_ptr<const Network> MainWindow::network() const { return workbench_->network(); }
const SweepSpec& MainWindow::sweepGrid() const { return workbench_->editedSpec(); }
const TimeModel& MainWindow::timeModel() const { return workbench_->timeModel(); }
bool MainWindow::isEvaluatingFloat() const { return workbench_->isEvaluatingFloat(); }
double MainWindow::floatTop1() const { return workbench_->floatTop1(); }
bool MainWindow::isRunning() const { return workbench_->isRunning(); }
QString MainWindow::sessionPath() const { return workbench_->sessionPath(); }
bool MainWindow::hasUnexportedResults() const { return workbench_->hasUnexportedResults(); }
TimeEstimate MainWindow::estimateRunTime(EcMode ec) const { return workbench_->estimateRunTime(ec); }
bool MainWindow::saveSettings(const QString& path) { return workbench_->saveSettings(path); }
bool MainWindow::loadSettings(const QString& path) { return workbench_->loadSettings(path); }
bool MainWindow::exportResultsHdf5(const QString& path) { return workbench_->exportResultsHdf5(path); }
bool MainWindow::exportResultsCsv(const QString& path) { return workbench_->exportResultsCsv(path); }
QStringList MainWindow::recentFiles() const { return workbench_->recentFiles(); }
void MainWindow::addRecentFile(const QString& path) { workbench_->addRecentFile(path); }
bool MainWindow::run() { return workbench_->run(); }
SweepSpec MainWindow::currentSpec(const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec,
                                  const std::vector<uint64_t>& seeds) const {
    return workbench_->currentSpec(grid, ec, seeds);
}

QWidget* MainWindow::createLayersTab() {
    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(layerModel_);
    proxy->setSortRole(LayerTableModel::SortRole);
    layerView_->setModel(proxy);
    layerView_->setItemDelegate(new ChoiceDelegate(layerView_));
    layerView_->setSortingEnabled(true);
    layerView_->sortByColumn(-1, Qt::AscendingOrder);  // network order until a header is clicked
    layerView_->setSelectionBehavior(QAbstractItemView::SelectRows);
    layerView_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::SelectedClicked |
                                QAbstractItemView::EditKeyPressed | QAbstractItemView::AnyKeyPressed);
    layerView_->setAlternatingRowColors(true);
    layerView_->horizontalHeader()->setStretchLastSection(false);
    layerView_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    layerView_->setColumnHidden(LayerTableModel::Name, true);  // the alias and the op name the node; tooltip has it
    layerView_->verticalHeader()->setVisible(false);
    layerView_->verticalHeader()->setDefaultSectionSize(layerView_->fontMetrics().height() + 10);
    connect(layerView_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this, proxy](const QModelIndex& current) {
        const int layer = layerModel_->layerOfRow(proxy->mapToSource(current).row());
        if (layer < 0) return;
        const QuantSetting& s = layerModel_->settings()[layer];
        if (layerModel_->geometry().layers[layer].alias.empty()) return;
        teaching_->setTableSetting(QString::fromStdString(layerModel_->geometry().layers[layer].alias),
                                   s.dense ? 0 : s.pq.dsub, s.dense ? 0 : s.pq.K);
        teaching_->showLayer(QString::fromStdString(layerModel_->geometry().layers[layer].alias), s.dense ? 0 : s.pq.dsub,
                             s.dense ? 0 : s.pq.K);
    });

    totalsLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    totalsLabel_->setText(tr("No model. Open an ONNX file (File > Open Model..., or drop it here) or the demo network."));
    costLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    costLabel_->setWordWrap(true);

    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    layout->addWidget(layerView_, 1);
    layout->addWidget(totalsLabel_);
    layout->addWidget(costLabel_);
    layout->addWidget(createRunOptions());
    return tab;
}

QWidget* MainWindow::createRunOptions() {
    runForm_ = new RunOptionsForm;
    const auto find = [this]<class W>(W*& out, const char* key) { out = qobject_cast<W*>(runForm_->widget(key)); };
    find(dataEdit_, "data");
    find(calibDataEdit_, "calib_data");
    find(limitEdit_, "limit");
    find(ecCombo_, "ec");
    find(seedEdit_, "seeds");
    find(itersSpin_, "kmeans_iters");
    find(ecItersSpin_, "ec_iters");
    find(ecConvImagesSpin_, "ec_conv_images");
    find(ecPositionsSpin_, "ec_positions");
    find(threadsSpin_, "threads");
    find(speedCheck_, "measure_speed");
    find(finetuneCheck_, "finetune");
    runForm_->setSpec(workbench_->editedSpec());
    workbench_->setOptionsSource([form = runForm_](SweepSpec& s) { form->apply(s); });
    updateDependentOptions();
    connect(runForm_, &RunOptionsForm::edited, this, [this](const QString& key) {
        if (key == QLatin1String("data") || key == QLatin1String("limit")) dataOptionsChanged();
        if (key == QLatin1String("ec") || key == QLatin1String("finetune")) updateDependentOptions();
    });
    return runForm_;
}

void MainWindow::createDocks() {
    plotsDock_ = new QDockWidget(tr("Plots"), this);
    plotsDock_->setObjectName(QStringLiteral("plotsDock"));
    plotsDock_->setWidget(plots_->widget());
    addDockWidget(Qt::RightDockWidgetArea, plotsDock_);

    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(results_);
    proxy->setSortRole(ResultsModel::SortRole);
    resultsView_->setModel(proxy);
    resultsView_->setSortingEnabled(true);
    resultsView_->sortByColumn(ResultsModel::Run, Qt::AscendingOrder);
    resultsView_->setSelectionBehavior(QAbstractItemView::SelectRows);
    resultsView_->setSelectionMode(QAbstractItemView::SingleSelection);
    resultsView_->setAlternatingRowColors(true);
    resultsView_->verticalHeader()->setVisible(false);
    resultsView_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    resultsView_->horizontalHeader()->setSectionResizeMode(ResultsModel::Settings, QHeaderView::Stretch);
    // ResizeToContents sizes a column from the rows it has seen when it last laid out: a later row
    // with a longer value ("network" under "none") was elided ("net..."). Every new or changed
    // row resizes the columns again.
    const auto fitColumns = [this] { resultsView_->resizeColumnsToContents(); };
    connect(proxy, &QAbstractItemModel::rowsInserted, this, fitColumns, Qt::QueuedConnection);
    connect(proxy, &QAbstractItemModel::dataChanged, this, fitColumns, Qt::QueuedConnection);
    connect(proxy, &QAbstractItemModel::modelReset, this, fitColumns, Qt::QueuedConnection);
    resultsView_->verticalHeader()->setDefaultSectionSize(resultsView_->fontMetrics().height() + 8);
    connect(resultsView_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this, proxy](const QModelIndex& current) {
        if (current.isValid()) selectRun(proxy->mapToSource(current).row());
    });
    connect(resultsView_, &QTableView::doubleClicked, this,
            [this, proxy](const QModelIndex& index) { loadRunSettings(proxy->mapToSource(index).row()); });
    resultsView_->setToolTip(tr("Double-click a run to load its settings into the layer table"));
    resultsDock_ = new QDockWidget(tr("Results"), this);
    resultsDock_->setObjectName(QStringLiteral("resultsDock"));
    resultsDock_->setWidget(resultsView_);
    addDockWidget(Qt::BottomDockWidgetArea, resultsDock_);

    costDock_ = new QDockWidget(tr("Cost per layer"), this);
    costDock_->setObjectName(QStringLiteral("costDock"));
    costDock_->setWidget(costPlot_);
    addDockWidget(Qt::BottomDockWidgetArea, costDock_);
    tabifyDockWidget(resultsDock_, costDock_);
    resultsDock_->raise();
    resizeDocks({plotsDock_}, {660}, Qt::Horizontal);
    resizeDocks({resultsDock_}, {210}, Qt::Vertical);
}

void MainWindow::createActions() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open Model..."), this, &MainWindow::openModelDialog);
    open->setShortcut(QKeySequence::Open);
    QAction* demo = file->addAction(tr("Open &Demo"), this, &MainWindow::openDemo);
    demo->setStatusTip(tr("Open the bundled network %1 with the Fashion-MNIST test set").arg(demoModelPath()));
    file->addAction(tr("Open D&ataset..."), this, &MainWindow::openDatasetDialog);
    file->addAction(tr("Open Dataset &File..."), this, [this] { openDatasetFileDialog(false); });
    file->addAction(tr("Open Dataset F&older..."), this, [this] { openDatasetFileDialog(true); });
    QMenu* builtins = file->addMenu(tr("Open &Built-in Network"));
    builtins->setToolTipsVisible(true);
    for (const std::string& name : builtin_names()) {
        const QString spec = QStringLiteral("builtin:") + QString::fromStdString(name);
        QAction* a = builtins->addAction(spec, this, [this, spec] { openModel(spec); });
        a->setToolTip(tr("The paper's %1 architecture with seeded random weights: its cost model and speed, not its accuracy")
                          .arg(QString::fromStdString(name)));
    }
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    file->addSeparator();
    file->addAction(tr("&Load Settings..."), this, &MainWindow::loadSettingsDialog);
    saveSettingsAction_ = file->addAction(tr("&Save Settings..."), this, &MainWindow::saveSettingsDialog);
    saveSettingsAction_->setShortcut(QKeySequence::Save);
    file->addSeparator();
    exportHdf5Action_ = file->addAction(tr("Export Results (&HDF5)..."), this, [this] { exportDialog(true); });
    exportCsvAction_ = file->addAction(tr("Export Results (&CSV)..."), this, [this] { exportDialog(false); });
    file->addAction(tr("Open Sensi&tivity Results..."), this, [this] { openSensitivityResultsDialog(this); });
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* settings = menuBar()->addMenu(tr("&Settings"));
    for (const QString& name : presetNames())
        presetActions_ << settings->addAction(tr("Preset: %1").arg(name), this, [this, name] { applyPreset(name); });

    QMenu* runMenu = menuBar()->addMenu(tr("&Run"));
    runAction_ = runMenu->addAction(tr("&Run"), this, [this] { run(); });
    runAction_->setShortcut(Qt::Key_F5);
    runAction_->setToolTip(tr("Quantize and evaluate the table's settings (F5)"));
    sweepAction_ = runMenu->addAction(tr("&Sweep..."), this, &MainWindow::sweepDialog);
    sweepAction_->setShortcut(Qt::CTRL | Qt::Key_R);
    runMenu->addAction(tr("&Find Settings..."), this, [this] { openAutoDialog(this); })
        ->setToolTip(tr("Per-layer settings found automatically under an accuracy or compression budget (docs/auto.md)"));
    measureMemoryAction_ = runMenu->addAction(tr("Measure Run-time &Memory"), this, [this] { measureMemory(selectedRun_); });
    measureMemoryAction_->setToolTip(
        tr("Saves the selected run's quantized model and runs `qcnn eval --batch 1 --threads 1 --limit 1` on it and on "
           "the float model in a child process; the memory plot shows the measured peak RSS (minus the process "
           "without a model) beside the accounted bytes"));
    cancelAction_ = runMenu->addAction(tr("&Cancel"), this, &MainWindow::cancelRun);
    cancelAction_->setShortcut(Qt::Key_Escape);
    cancelAction_->setShortcutContext(Qt::ApplicationShortcut);
    cancelButton_->setDefaultAction(cancelAction_);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(plotsDock_->toggleViewAction());
    view->addAction(resultsDock_->toggleViewAction());
    view->addAction(costDock_->toggleViewAction());
    view->addSeparator();
    presenterAction_ = view->addAction(tr("&Presenter Mode"), this, [this](bool on) { setPresenterMode(on); });
    presenterAction_->setCheckable(true);
    presenterAction_->setShortcut(Qt::Key_F11);
    presenterAction_->setStatusTip(tr("Full screen with large fonts, for a projector (F11 again to leave)"));

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About"), this, [this] {
        QMessageBox::about(this, tr("About QCNN Workbench"),
                           tr("<b>QCNN Workbench %1</b><p>Quantized convolutional neural networks (Wu et al., "
                              "CVPR 2016): product quantization of conv and FC weights, error correction "
                              "and lookup-table inference.</p>").arg(QStringLiteral(QCNN_VERSION)));
    });

    QToolBar* bar = addToolBar(tr("Main"));
    bar->setObjectName(QStringLiteral("mainToolBar"));
    bar->addAction(open);
    bar->addAction(demo);
    bar->addSeparator();
    bar->addWidget(new QLabel(tr(" Preset: ")));
    presetCombo_->addItem(tr("(choose)"));
    presetCombo_->addItems(presetNames());
    connect(presetCombo_, &QComboBox::activated, this, [this](int index) {
        if (index > 0) applyPreset(presetCombo_->itemText(index));
        presetCombo_->setCurrentIndex(0);
    });
    bar->addWidget(presetCombo_);
    bar->addSeparator();
    bar->addAction(runAction_);
    bar->addAction(sweepAction_);
    bar->addAction(cancelAction_);
}

// ----- models, datasets, presets ----------------------------------------------------------

QString MainWindow::demoModelPath() { return QString::fromStdString(bundled_model("vgg7")); }

QIcon MainWindow::appIcon() {
    initWorkbenchResources();
    QIcon icon;
    icon.addFile(QStringLiteral(":/icons/qcnn-256.png"));  // PNG needs no image plugin
    icon.addFile(QStringLiteral(":/icons/qcnn.svg"));      // used where Qt's SVG plugin is installed
    return icon;
}

void MainWindow::setErrorHandler(ErrorHandler handler) { errorHandler_ = std::move(handler); }

void MainWindow::showError(const QString& title, const QString& message) {
    if (errorHandler_)
        errorHandler_(title, message);
    else
        QMessageBox::critical(this, title, message);
}

QString MainWindow::totalsText() const { return layerModel_->totalsText(); }
QString MainWindow::costText() const { return layerModel_->costText(); }

QString MainWindow::statusText() const {
    return QStringList{static_cast<ElidingLabel*>(statusModel_)->fullText(), statusData_->text(), statusFloat_->text()}.join(QStringLiteral(" | "));
}

QString MainWindow::progressText() const { return isRunning() ? progressLabel_->text() : QString(); }

QStringList MainWindow::presetNames() {
    QStringList names;
    for (const Preset& p : presets()) names << QString::fromStdString(p.name);  // core/cost/presets.h, as `qcnn demo`
    return names;
}

QString MainWindow::presetSettings(const QString& name) { return QString::fromStdString(preset(name.toStdString()).settings); }

void MainWindow::applyPreset(const QString& name) {
    const std::shared_ptr<const Network> net = network();
    if (!layerModel_->hasCost() || !net) return;
    try {
        // Fitted to the model: layers the preset would enlarge or slow down stay dense, said here.
        const AppliedPreset a = apply_preset(*net, preset(name.toStdString()));
        layerModel_->setSettingsText(QString::fromStdString(a.settings));
        QStringList notes;
        std::vector<std::pair<std::string, std::string>> rowNotes;
        for (const PresetLayerNote& n : a.notes) {
            notes << QString::fromStdString(n.alias + " " + n.note);
            rowNotes.emplace_back(n.alias, n.note);
        }
        layerModel_->setNotes(rowNotes);  // the row says why the preset left it dense
        statusBar()->showMessage(notes.isEmpty() ? tr("Preset %1").arg(name)
                                                 : tr("Preset %1; %2").arg(name, notes.join(QStringLiteral("; "))),
                                 notes.isEmpty() ? 4000 : 15000);
    } catch (const std::exception& e) {
        showError(tr("Cannot apply the preset"), QString::fromStdString(e.what()));
    }
}

void MainWindow::openModelDialog() {
    const QString start = modelPath().isEmpty() ? QFileInfo(demoModelPath()).absolutePath() : QFileInfo(modelPath()).absolutePath();
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Model"), start,
                                                      tr("Models (*.onnx *.h5);;ONNX models (*.onnx);;Quantized models (*.h5);;All files (*)"));
    if (!path.isEmpty()) openModel(path);
}

void MainWindow::openDatasetDialog() {
    QStringList items{dataEdit_->text(), QStringLiteral("fashion-mnist:test"), QStringLiteral("fashion-mnist:train")};
    items.removeDuplicates();
    QString forms;
    for (const std::string& f : dataset_spec_forms()) forms += QString::fromStdString(f) + "\n";
    bool ok = false;
    const QString spec = QInputDialog::getItem(this, tr("Open Dataset"), tr("Dataset spec, one of:\n%1").arg(forms), items, 0,
                                               true, &ok);
    if (!ok || spec.trimmed().isEmpty()) return;
    openDataset(spec.trimmed());
}

QString MainWindow::datasetSpecForPath(const QString& path) {
    const QFileInfo info(path);
    if (info.isDir()) return QStringLiteral("folder:") + path;
    const QString name = info.fileName().toLower();
    if (name.endsWith(QLatin1String(".bin"))) return QStringLiteral("cifar10:") + path;
    if (name.endsWith(QLatin1String(".h5")) || name.endsWith(QLatin1String(".hdf5")))
        return QStringLiteral("hdf5:") + path + QStringLiteral(":images:labels");
    if (name.contains(QLatin1String("idx3"))) {
        // Fashion-MNIST / MNIST naming: X-images-idx3-ubyte[.gz] beside X-labels-idx1-ubyte[.gz].
        QString labels = info.fileName();
        labels.replace(QLatin1String("images"), QLatin1String("labels")).replace(QLatin1String("idx3"), QLatin1String("idx1"));
        const QString labels_path = info.dir().filePath(labels);
        return QStringLiteral("idx:") + path + (QFileInfo::exists(labels_path) ? QStringLiteral(",") + labels_path : QString());
    }
    return {};
}

void MainWindow::openDatasetFileDialog(bool folder) {
    const QString path =
        folder ? QFileDialog::getExistingDirectory(this, tr("Open Dataset Folder (one sub-folder per class)"))
               : QFileDialog::getOpenFileName(this, tr("Open Dataset File"), QString(),
                                              tr("Datasets (*idx3* *.bin *.h5 *.hdf5);;All files (*)"));
    if (path.isEmpty()) return;
    QString spec = datasetSpecForPath(path);
    if (spec.isEmpty()) {
        showError(tr("Open Dataset"), tr("%1: not a dataset file this workbench reads (IDX, CIFAR .bin, HDF5, or a folder)")
                                       .arg(path));
        return;
    }
    if (spec.startsWith(QLatin1String("hdf5:"))) {  // the data set names inside the file are the user's to give
        bool ok = false;
        spec = QInputDialog::getText(this, tr("Open Dataset"), tr("HDF5 dataset spec (hdf5:FILE:IMAGES:LABELS):"),
                                     QLineEdit::Normal, spec, &ok);
        if (!ok || spec.trimmed().isEmpty()) return;
    }
    openDataset(spec.trimmed());
}

void MainWindow::openDemo() {
    dataEdit_->setText(QStringLiteral("fashion-mnist:test"));
    openModel(demoModelPath());
}

void MainWindow::openModel(const QString& path) { workbench_->openModel(path); }

void MainWindow::onModelLoaded(const QString& path) {
    statusBar()->clearMessage();
    costPlot_->setSummary(workbench_->summary());
    teaching_->setNetwork(network());
    totalsLabel_->setText(layerModel_->totalsText());
    updateStatus();
    updateActions();
    emit modelLoaded(path);
}

void MainWindow::updateCostText() {
    costLabel_->setText(layerModel_->costText());
    updateActions();
}

// ----- run options and the float baseline -------------------------------------------------

SweepSpec MainWindow::runOptions() const {
    SweepSpec o;
    runForm_->apply(o);
    return o;
}

void MainWindow::setRunOptions(const SweepSpec& o) {
    runForm_->setSpec(o);
    updateDependentOptions();
    workbench_->setRunOptions(o);
    updateStatus();
}

void MainWindow::updateDependentOptions() {
    bool used = ecCombo_->currentData().toString() != QString::fromStdString(to_string(EcMode::None));
    if (!sweepGrid().grid.empty())
        for (EcMode m : sweepGrid().ec) used = used || m != EcMode::None;
    for (QSpinBox* s : {ecItersSpin_, ecConvImagesSpin_, ecPositionsSpin_}) s->setEnabled(used);
    for (const RunOption& o : run_options())  // ft_epochs, ft_lr, ... greyed while fine-tuning is off
        if (o.key.rfind("ft_", 0) == 0)
            if (QWidget* w = runForm_->widget(o.key)) w->setEnabled(finetuneCheck_->isChecked());
}

qint64 MainWindow::formLimit() const {
    try {
        return std::stoll(check_option_value(run_option("limit"), limitEdit_->text().trimmed().toStdString()));
    } catch (const std::exception&) {
        return -1;
    }
}

void MainWindow::dataOptionsChanged() {
    updateStatus();
    workbench_->dataOptionsChanged();
}

void MainWindow::updateStatus() {
    const QString model = modelPath();
    static_cast<ElidingLabel*>(statusModel_)->setFullText(
        model.isEmpty() ? tr("no model") : tr("%1  —  %2").arg(QDir::toNativeSeparators(model), layerModel_->totalsText()));
    const qint64 limit = formLimit();
    statusData_->setText(tr("data %1 (%2)").arg(dataEdit_->text().trimmed(),
                                                limit > 0 ? tr("%1 images").arg(formatThousands(limit)) : tr("all images")));
    const double f = floatTop1();
    if (std::isfinite(f)) statusFloat_->setText(tr("float top-1 %1").arg(formatPercent(f)));
    else if (!isEvaluatingFloat()) statusFloat_->setText(tr("float top-1 -"));
    plots_->setCurrentModel(results_->currentModel(), results_->currentData(), f);
}

// ----- runs -------------------------------------------------------------------------------

bool MainWindow::runSweep(const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec,
                          const std::vector<uint64_t>& seeds) {
    const bool started = workbench_->runSweep(grid, ec, seeds);
    updateDependentOptions();
    return started;
}

void MainWindow::onRunStarted(int runs) {
    runsBar_->setRange(0, runs);
    runsBar_->setValue(0);
    stageBar_->setRange(0, 1);
    stageBar_->setValue(0);
    progressLabel_->setText(tr("starting ..."));
    for (QWidget* w : {static_cast<QWidget*>(progressLabel_), static_cast<QWidget*>(stageBar_), static_cast<QWidget*>(cancelButton_)})
        w->setVisible(true);
    runsBar_->setVisible(runs > 1);
    updateActions();
    emit runStarted(runs);
}

void MainWindow::cancelRun() {
    if (memoryProbe_->isRunning()) memoryProbe_->cancel();
    if (!isRunning()) return;
    workbench_->cancelRun();
    progressLabel_->setText(tr("cancelling ..."));
}

void MainWindow::pollProgress() {
    const RunJob* job = workbench_->job();
    if (!job || job->isCancelRequested()) return;
    const WorkbenchSession::JobProgress p = workbench_->jobProgress();
    QString text = p.stageName.isEmpty() ? tr("starting") : p.stageName;
    if (!p.layer.isEmpty()) text += QStringLiteral(" ") + p.layer;
    if (p.stage > 0) text = tr("stage %1 of %2: %3").arg(p.stage).arg(p.stages).arg(text);
    text += tr(" · %1 % of the %2").arg(qRound(p.fraction * 100)).arg(p.runs > 1 ? tr("sweep") : tr("run"));
    if (p.runs > 1) text = tr("run %1/%2 · %3").arg(p.run + 1).arg(p.runs).arg(text);
    progressLabel_->setText(text);
    // Fine-tuning: the bar says where ("fine-tuning epoch 2/3, loss 0.41") and the plot draws the curve.
    if (p.stageName == QLatin1String("finetune")) {
        stageBar_->setFormat(tr("fine-tuning %1").arg(p.layer));
        stageBar_->setMinimumWidth(stageBar_->fontMetrics().horizontalAdvance(stageBar_->text()) + 24);
        stageBar_->setMaximumWidth(QWIDGETSIZE_MAX);
        const RunJob::FinetuneCurve curve = job->finetuneCurve();
        if (curve.run == p.run && !curve.points.empty()) finetunePlot()->setLiveCurve(curve);
    } else {
        stageBar_->setFormat(QStringLiteral("%p%"));
        stageBar_->setMinimumWidth(0);
        stageBar_->setMaximumWidth(160);
    }
    const int total = static_cast<int>(std::min<qint64>(std::max<qint64>(p.total, 1), std::numeric_limits<int>::max()));
    stageBar_->setRange(0, total);
    stageBar_->setValue(static_cast<int>(std::min<qint64>(p.done, total)));
    runsBar_->setValue(workbench_->jobRunsDone());
}

void MainWindow::onRunAdded(int run) {
    runsBar_->setValue(workbench_->jobRunsDone());
    selectRun(run);
    updateActions();
    emit runAdded(run);
}

void MainWindow::onJobFinished(const QString& status) {
    finetunePlot()->clearLive();
    stageBar_->setFormat(QStringLiteral("%p%"));
    stageBar_->setMinimumWidth(0);
    stageBar_->setMaximumWidth(160);
    for (QWidget* w : {static_cast<QWidget*>(progressLabel_), static_cast<QWidget*>(stageBar_),
                       static_cast<QWidget*>(runsBar_), static_cast<QWidget*>(cancelButton_)})
        w->setVisible(false);
    updateActions();
    emit runFinished(status);
}

void MainWindow::sweepDialog() {
    if (!network() || isRunning()) return;
    SweepDialog dialog(layerModel_, [this](EcMode ec) { return estimateRunTime(ec); }, this);
    if (!sweepGrid().grid.empty()) dialog.setGrid(sweepGrid().grid, sweepGrid().ec, sweepGrid().seeds);
    dialog.enableCluster([this](const auto& grid, const auto& ec, const auto& seeds) { return currentSpec(grid, ec, seeds); },
                         QCoreApplication::applicationDirPath() + QStringLiteral("/qcnn"));
    if (dialog.exec() != QDialog::Accepted) return;
    if (!dialog.clusterSweep()) {
        runSweep(dialog.grid(), dialog.ecModes(), dialog.seeds());
        return;
    }
    // On Slurm: the watcher streams each run the tasks finish into the table and the plots.
    const ClusterSweep& c = *dialog.clusterSweep();
    SweepSpec spec;
    try {
        spec = currentSpec(dialog.grid(), dialog.ecModes(), dialog.seeds());
    } catch (const std::exception& e) {
        showError(tr("Cannot watch the cluster sweep"), QString::fromStdString(e.what()));
        return;
    }
    workbench_->watchCluster(c, spec);
    ShardWatcher* watcher = workbench_->clusterWatcher();
    connect(watcher, &ShardWatcher::progress, this, [this, id = c.sweep_id](int done, int total, const QString& queue) {
        statusBar()->showMessage(tr("cluster sweep %1: %2 of %3 runs; queue: %4")
                                     .arg(QString::fromStdString(id)).arg(done).arg(total).arg(queue.isEmpty() ? tr("-") : queue));
    });
    connect(watcher, &ShardWatcher::finished, this, [this, watcher](const QString& status, const QString& message) {
        if (status == QLatin1String("failed")) showError(tr("Cluster sweep failed"), message);
        else statusBar()->showMessage(tr("Cluster sweep completed: %n run(s)", "", watcher->runsSeen()), 8000);
    });
}

TradeoffPlot* MainWindow::compressionPlot() const { return plots_->find<TradeoffPlot>(QStringLiteral("compression")); }
TradeoffPlot* MainWindow::speedupPlot() const { return plots_->find<TradeoffPlot>(QStringLiteral("speedup")); }
MemoryPlot* MainWindow::memoryPlot() const { return plots_->find<MemoryPlot>(QStringLiteral("memory")); }
FinetunePlot* MainWindow::finetunePlot() const { return plots_->find<FinetunePlot>(QStringLiteral("finetune")); }
ResponseErrorPlot* MainWindow::responsePlot() const { return plots_->find<ResponseErrorPlot>(QStringLiteral("response")); }

bool MainWindow::measureMemory(int run) {
    if (run < 0 || run >= results_->rowCount()) {
        showError(tr("Cannot measure run-time memory"), tr("Select a run in the results table first."));
        return false;
    }
    const RunRecord& r = results_->record(run);
    std::optional<MeasuredMemory> dense;
    if (auto it = denseMemory_.find(r.model + "\n" + r.data); it != denseMemory_.end()) dense = it->second;
    QString error;
    if (!memoryProbe_->start(run, r, dense, &error)) {
        showError(tr("Cannot measure run-time memory"), error);
        return false;
    }
    return true;
}

void MainWindow::selectRun(int run) {
    if (run < 0 || run >= results_->rowCount()) return;
    selectedRun_ = run;
    updateActions();
    plots_->setSelectedRun(run);
    auto* proxy = static_cast<QSortFilterProxyModel*>(resultsView_->model());
    const QModelIndex index = proxy->mapFromSource(results_->index(run, 0));
    if (resultsView_->currentIndex().row() != index.row()) {
        const QSignalBlocker block(resultsView_->selectionModel());
        resultsView_->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
        resultsView_->scrollTo(index);
    }
}

void MainWindow::loadRunSettings(int run) {
    if (run < 0 || run >= results_->rowCount()) return;
    const RunRecord& r = results_->record(run);
    selectRun(run);
    if (!network() || workbench_->modelFile() != r.model) {
        showError(tr("Cannot load the run's settings"),
                  tr("run %1 was made with %2; open that model first").arg(run + 1).arg(QString::fromStdString(r.model)));
        return;
    }
    try {
        layerModel_->setSettingsText(QString::fromStdString(r.row.settings));
        ecCombo_->setCurrentIndex(ecCombo_->findData(QString::fromStdString(to_string(parse_ec_mode(r.row.ec)))));
        seedEdit_->setText(QString::number(r.row.seed));
        updateDependentOptions();
        statusBar()->showMessage(tr("Loaded the settings of run %1").arg(run + 1), 5000);
    } catch (const std::exception& e) {
        showError(tr("Cannot load the run's settings"), QString::fromStdString(e.what()));
    }
}

void MainWindow::updateActions() {
    const bool running = isRunning();
    const bool model = network() != nullptr;
    runAction_->setEnabled(model && !running);
    sweepAction_->setEnabled(model && !running);
    cancelAction_->setEnabled(running || memoryProbe_->isRunning());
    measureMemoryAction_->setEnabled(!memoryProbe_->isRunning() && selectedRun_ >= 0 && selectedRun_ < results_->rowCount() &&
                                     results_->record(selectedRun_).network != nullptr);
    saveSettingsAction_->setEnabled(model);
    exportHdf5Action_->setEnabled(results_->rowCount() > 0);
    exportCsvAction_->setEnabled(results_->rowCount() > 0);
    presetCombo_->setEnabled(model);
    for (QAction* a : presetActions_) a->setEnabled(model);
}

// ----- files ------------------------------------------------------------------------------

void MainWindow::saveSettingsDialog() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save Settings"), QStringLiteral("sweep.json"),
                                                      tr("Sweep specs (*.json)"));
    if (!path.isEmpty()) saveSettings(path);
}

void MainWindow::loadSettingsDialog() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Load Settings"), QString(), tr("Sweep specs (*.json);;All files (*)"));
    if (!path.isEmpty()) loadSettings(path);
}

void MainWindow::exportDialog(bool hdf5) {
    const QString path = QFileDialog::getSaveFileName(this, hdf5 ? tr("Export Results (HDF5)") : tr("Export Results (CSV)"),
                                                      hdf5 ? QStringLiteral("results.h5") : QStringLiteral("runs.csv"),
                                                      hdf5 ? tr("HDF5 files (*.h5 *.hdf5)") : tr("CSV files (*.csv)"));
    if (path.isEmpty()) return;
    if (hdf5)
        exportResultsHdf5(path);
    else
        exportResultsCsv(path);
}

void MainWindow::updateRecentMenu() {
    recentMenu_->clear();
    const QStringList files = recentFiles();
    for (const QString& f : files) recentMenu_->addAction(QDir::toNativeSeparators(f), this, [this, f] { openRecent(f); });
    recentMenu_->setEnabled(!files.isEmpty());
}

void MainWindow::openRecent(const QString& path) {
    if (isSettingsFile(path))
        loadSettings(path);
    else
        openModel(path);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (!droppableFiles(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QStringList files = droppableFiles(event->mimeData());
    if (files.isEmpty()) return;
    event->acceptProposedAction();
    openRecent(files.first());
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (!confirmClose()) {
        event->ignore();
        return;
    }
    workbench_->closeSessionFile();
    QSettings s = appSettings();
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    s.setValue(QStringLiteral("window/state"), presenter_ && !presenterState_.isEmpty() ? presenterState_ : saveState());
    workbench_->cancelRun();
    QMainWindow::closeEvent(event);
}

void MainWindow::syncTeachingWithTable() {
    const QString alias = teaching_->currentLayer();
    const auto& layers = layerModel_->geometry().layers;
    for (size_t i = 0; i < layers.size(); ++i) {
        if (QString::fromStdString(layers[i].alias) != alias) continue;
        const QuantSetting& s = layerModel_->settings()[i];
        const int64_t dsub = s.dense ? 0 : s.pq.dsub, K = s.dense ? 0 : s.pq.K;
        teaching_->setTableSetting(alias, dsub, K);
        // Follow the table (a dense row keeps the view's choice); an edit of another layer, which
        // leaves this one's setting as shown, recomputes nothing.
        const TeachingData& shown = teaching_->data();
        if (!s.dense && !(shown.layer == alias && shown.dsub == dsub && shown.K == K)) teaching_->showLayer(alias, dsub, K);
        return;
    }
}

void MainWindow::applyPresenterLayout() {
    if (!presenter_) return;
    const bool teaching = tabs_->currentWidget() == teaching_;
    if (!teaching && !presenterState_.isEmpty()) {
        restoreState(presenterState_);
        return;
    }
    for (QDockWidget* d : {plotsDock_, resultsDock_, costDock_})
        if (d) d->hide();
}

void MainWindow::runStoryTradeoff(const QString& layer, int64_t dsub) {
    if (!network()) return;
    bool fc = false;
    for (const LayerGeometry& l : layerModel_->geometry().layers)
        if (QString::fromStdString(l.alias) == layer) fc = l.kind == LayerKind::Fc;
    SweepGroup g;
    g.layers = fc ? "fc" : "conv";
    for (int64_t K : {4, 16, 64}) g.settings.push_back(std::to_string(dsub) + "/" + std::to_string(K));
    plotsDock_->show();
    plotsDock_->raise();
    if (!runSweep({g}, {EcMode::None}, {0}))
        statusBar()->showMessage(tr("The story's sweep cannot start now (a run is in progress?)"), 8000);
}

namespace {

// A font's point size times `factor`, from the size it had before presenter mode (kept on the object).
QFont scaledFont(QObject* owner, const char* key, QFont font, double factor) {
    const QVariant base = owner->property(key);
    const double pt = base.isValid() ? base.toDouble() : font.pointSizeF();
    if (!base.isValid()) owner->setProperty(key, pt);
    font.setPointSizeF(pt * factor);
    return font;
}

}  // namespace

void MainWindow::setPresenterMode(bool on) {
    presenter_ = on;
    if (presenterAction_ && presenterAction_->isChecked() != on) {
        const QSignalBlocker block(presenterAction_);
        presenterAction_->setChecked(on);
    }
    // The docks' layout before presenter mode comes back when it ends; in between, the Teaching
    // tab gets the whole screen (the story's last step shows the plots itself).
    if (on && presenterState_.isEmpty()) presenterState_ = saveState();
    applyPresenterLayout();
    if (!on && !presenterState_.isEmpty()) {
        restoreState(presenterState_);
        presenterState_.clear();
    }
    const double factor = on ? 1.6 : 1.0;
    setFont(scaledFont(this, "qcnnBasePt", font(), factor));
    for (QCustomPlot* plot : findChildren<QCustomPlot*>()) {
        for (QCPAxis* axis : plot->axisRect()->axes()) {
            axis->setLabelFont(scaledFont(axis, "qcnnLabelPt", axis->labelFont(), factor));
            axis->setTickLabelFont(scaledFont(axis, "qcnnTickPt", axis->tickLabelFont(), factor));
        }
        plot->legend->setFont(scaledFont(plot->legend, "qcnnLegendPt", plot->legend->font(), factor));
        for (QCPLayoutElement* e : plot->plotLayout()->elements(true))
            if (auto* t = qobject_cast<QCPTextElement*>(e)) t->setFont(scaledFont(t, "qcnnTextPt", t->font(), factor));
        plot->replot(QCustomPlot::rpQueuedReplot);
    }
    if (on)
        showFullScreen();
    else
        showNormal();
    statusBar()->showMessage(on ? tr("Presenter mode: F11 to leave") : tr("Presenter mode off"), 4000);
}

}  // namespace qcnn::ui
