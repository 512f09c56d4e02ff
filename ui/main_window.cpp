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
#include "ui/background.h"
#include "ui/choice_delegate.h"
#include "ui/format.h"
#include "ui/layer_cost_plot.h"
#include "ui/layer_table_model.h"
#include "ui/plots.h"
#include "ui/results_model.h"
#include "ui/run_job.h"
#include "ui/run_options_form.h"
#include "ui/session_file.h"
#include "ui/shard_watcher.h"
#include "ui/sweep_dialog.h"
#include "ui/teaching_view.h"

// Resources of the static qcnn_ui library must be registered explicitly (outside any namespace).
static void initWorkbenchResources() { Q_INIT_RESOURCE(resources); }

namespace qcnn::ui {

namespace {

constexpr int kMaxRecentFiles = 8;
constexpr int kProgressPollMs = 50;

QSettings appSettings() { return QSettings(QStringLiteral("qcnn"), QStringLiteral("workbench")); }

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

std::string utcNow() { return QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString(); }

struct FloatEvalResult {
    std::optional<EvalResult> eval;
    QString error;
};

}  // namespace

// What the worker thread hands back: a model, its summary and geometry, or the error text.
struct MainWindow::LoadResult {
    std::shared_ptr<const Network> network;
    ModelSummary summary;
    NetworkGeometry geometry;
    QString error;
};

MainWindow::LoadResult MainWindow::loadJob(const QString& path) {
    LoadResult r;
    try {
        r.network = load_model(QFile::encodeName(path).toStdString());
        r.summary = summarize(*r.network);
        r.geometry = network_geometry(*r.network, r.network->sample_shape());
    } catch (const std::bad_alloc&) {
        r.network.reset();
        r.error = tr("out of memory");
    } catch (const std::exception& e) {
        r.network.reset();
        r.error = QString::fromStdString(e.what());
    }
    return r;
}

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      layerModel_(new LayerTableModel(this)),
      costPlot_(new LayerCostPlot),
      results_(new ResultsModel(this)),
      compressionPlot_(new TradeoffPlot(TradeoffAxis::Compression)),
      speedupPlot_(new TradeoffPlot(TradeoffAxis::Speedup)),
      memoryPlot_(new MemoryPlot),
      responsePlot_(new ResponseErrorPlot),
      teaching_(new TeachingView),
      tabs_(new QTabWidget),
      layerView_(new QTableView),
      resultsView_(new QTableView),
      totalsLabel_(new QLabel),
      costLabel_(new QLabel),
      statusModel_(new QLabel),
      statusData_(new QLabel),
      statusFloat_(new QLabel),
      progressLabel_(new QLabel),
      stageBar_(new QProgressBar),
      runsBar_(new QProgressBar),
      cancelButton_(new QToolButton),
      presetCombo_(new QComboBox),
      progressTimer_(new QTimer(this)) {
    initWorkbenchResources();
    setWindowTitle(tr("QCNN Workbench"));
    setWindowIcon(appIcon());
    setAcceptDrops(true);
    setDockNestingEnabled(true);
    resize(1500, 920);

    tabs_->addTab(createLayersTab(), tr("Layers"));
    tabs_->addTab(teaching_, tr("Teaching"));
    setCentralWidget(tabs_);
    createDocks();

    statusModel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    statusModel_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // long paths never widen the window
    statusBar()->addPermanentWidget(statusModel_, 2);
    statusBar()->addPermanentWidget(statusData_);
    statusBar()->addPermanentWidget(statusFloat_);
    progressLabel_->setMinimumWidth(260);
    stageBar_->setMaximumWidth(160);
    runsBar_->setFixedWidth(120);
    runsBar_->setFormat(tr("%v/%m runs done"));
    stageBar_->setTextVisible(true);
    for (QWidget* w : {static_cast<QWidget*>(progressLabel_), static_cast<QWidget*>(stageBar_),
                       static_cast<QWidget*>(runsBar_), static_cast<QWidget*>(cancelButton_)}) {
        statusBar()->addPermanentWidget(w);
        w->setVisible(false);
    }
    createActions();

    progressTimer_->setInterval(kProgressPollMs);
    connect(progressTimer_, &QTimer::timeout, this, &MainWindow::pollProgress);
    connect(layerModel_, &LayerTableModel::settingsChanged, this, &MainWindow::updateCostText);
    connect(compressionPlot_, &TradeoffPlot::runClicked, this, &MainWindow::loadRunSettings);
    connect(speedupPlot_, &TradeoffPlot::runClicked, this, &MainWindow::loadRunSettings);
    for (PlotPanel* p : std::initializer_list<PlotPanel*>{compressionPlot_, speedupPlot_, memoryPlot_, responsePlot_})
        connect(p, &PlotPanel::exportFailed, this, [this](const QString&, const QString& reason) { showError(tr("Export failed"), reason); });
    connect(teaching_, &TeachingView::failed, this, [this](const QString& m) { statusBar()->showMessage(m, 8000); });
    connect(teaching_, &TeachingView::storyTradeoff, this, &MainWindow::runStoryTradeoff);
    connect(layerModel_, &LayerTableModel::settingsChanged, this, &MainWindow::syncTeachingWithTable);
    compressionPlot_->setRecords(&results_->records());
    speedupPlot_->setRecords(&results_->records());

    QSettings s = appSettings();
    restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(s.value(QStringLiteral("window/state")).toByteArray());
    updateRecentMenu();
    updateActions();
    updateStatus();
    setupSession();
}

MainWindow::~MainWindow() {
    if (floatCancel_) *floatCancel_ = true;
    job_.reset();  // cancels and waits
    if (floatCall_) floatCall_->waitForFinished();
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

namespace {

// The workbench's start values: the run options' defaults, except 1,000 evaluation images and
// measured speed (quick interactive runs that show the measured speed-up series).
SweepSpec workbenchStartSpec() {
    SweepSpec s;
    s.base.data = "fashion-mnist:test";
    s.base.limit = 1000;
    s.measure_speed = true;
    return s;
}

}  // namespace

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
    spec_ = workbenchStartSpec();
    runForm_->setSpec(spec_);
    updateEcOptions();
    connect(runForm_, &RunOptionsForm::edited, this, [this](const QString& key) {
        if (key == QLatin1String("data") || key == QLatin1String("limit")) dataOptionsChanged();
        if (key == QLatin1String("ec")) updateEcOptions();
    });
    return runForm_;
}

void MainWindow::createDocks() {
    auto* plots = new QWidget;
    auto* pg = new QGridLayout(plots);
    pg->setContentsMargins(2, 2, 2, 2);
    pg->addWidget(compressionPlot_, 0, 0);
    pg->addWidget(speedupPlot_, 0, 1);
    pg->addWidget(memoryPlot_, 1, 0);
    pg->addWidget(responsePlot_, 1, 1);
    plotsDock_ = new QDockWidget(tr("Plots"), this);
    plotsDock_->setObjectName(QStringLiteral("plotsDock"));
    plotsDock_->setWidget(plots);
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
    return QStringList{statusModel_->text(), statusData_->text(), statusFloat_->text()}.join(QStringLiteral(" | "));
}

QString MainWindow::progressText() const { return isRunning() ? progressLabel_->text() : QString(); }

QStringList MainWindow::presetNames() {
    QStringList names;
    for (const Preset& p : presets()) names << QString::fromStdString(p.name);  // core/cost/presets.h, as `qcnn demo`
    return names;
}

QString MainWindow::presetSettings(const QString& name) { return QString::fromStdString(preset(name.toStdString()).settings); }

void MainWindow::applyPreset(const QString& name) {
    if (!layerModel_->hasCost() || !network_) return;
    try {
        // Fitted to the model: layers the preset would enlarge or slow down stay dense, said here.
        const AppliedPreset a = apply_preset(*network_, preset(name.toStdString()));
        layerModel_->setSettingsText(QString::fromStdString(a.settings));
        QStringList notes;
        for (const PresetLayerNote& n : a.notes) notes << QString::fromStdString(n.alias + " " + n.note);
        statusBar()->showMessage(notes.isEmpty() ? tr("Preset %1").arg(name)
                                                 : tr("Preset %1; %2").arg(name, notes.join(QStringLiteral("; "))),
                                 notes.isEmpty() ? 4000 : 15000);
    } catch (const std::exception& e) {
        showError(tr("Cannot apply the preset"), QString::fromStdString(e.what()));
    }
}

void MainWindow::openModelDialog() {
    const QString start = modelPath_.isEmpty() ? QFileInfo(demoModelPath()).absolutePath() : QFileInfo(modelPath_).absolutePath();
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

void MainWindow::openModel(const QString& path) {
    const quint64 generation = ++loadGeneration_;
    ++pending_;
    statusBar()->showMessage(tr("Loading %1 ...").arg(path));
    runInBackground(
        this, [path] { return loadJob(path); },
        [this, generation, path](LoadResult r) {
            --pending_;
            if (generation != loadGeneration_) return;  // superseded by a newer request
            finishLoad(path, r);
        });
}

void MainWindow::finishLoad(const QString& path, const LoadResult& r) {
    statusBar()->clearMessage();
    if (!r.error.isEmpty()) {
        pendingSpec_.reset();
        emit loadFailed(path, r.error);
        showError(tr("Cannot open model"), r.error);
        return;
    }
    network_ = r.network;
    modelPath_ = path;
    layerModel_->setNetwork(r.network, r.summary, r.geometry);
    costPlot_->setSummary(r.summary);
    teaching_->setNetwork(r.network);
    totalsLabel_->setText(layerModel_->totalsText());
    floatEval_.reset();
    floatEvalKey_.clear();
    addRecentFile(path);
    if (pendingSpec_) {
        const SweepSpec spec = *pendingSpec_;
        pendingSpec_.reset();
        applySpec(spec);
    }
    updateStatus();
    updateActions();
    evaluateFloat();
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
    const QString key = floatKey();
    runForm_->setSpec(o);
    updateEcOptions();
    if (floatKey() != key) dataOptionsChanged();
}

void MainWindow::updateEcOptions() {
    bool used = ecCombo_->currentData().toString() != QString::fromStdString(to_string(EcMode::None));
    if (!spec_.grid.empty())
        for (EcMode m : spec_.ec) used = used || m != EcMode::None;
    for (QSpinBox* s : {ecItersSpin_, ecConvImagesSpin_, ecPositionsSpin_}) s->setEnabled(used);
}

qint64 MainWindow::formLimit() const {
    try {
        return std::stoll(check_option_value(run_option("limit"), limitEdit_->text().trimmed().toStdString()));
    } catch (const std::exception&) {
        return -1;
    }
}

QString MainWindow::floatKey() const {
    return QStringLiteral("%1|%2|%3").arg(modelPath_, dataEdit_->text().trimmed()).arg(formLimit());
}

double MainWindow::floatTop1() const {
    return floatEval_ && floatEvalKey_ == floatKey() ? floatEval_->top1 : std::numeric_limits<double>::quiet_NaN();
}

void MainWindow::dataOptionsChanged() {
    updateStatus();
    if (network_ && floatEvalKey_ != floatKey() && formLimit() >= 0) evaluateFloat();
}

void MainWindow::evaluateFloat() {
    if (!network_) return;
    if (floatCancel_) *floatCancel_ = true;
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    floatCancel_ = cancel;
    const quint64 generation = ++floatGeneration_;
    ++floatPending_;
    const QString key = floatKey();
    const std::string data = dataEdit_->text().trimmed().toStdString();
    EvalOptions eopt;
    eopt.limit = std::max<qint64>(formLimit(), 0);
    eopt.threads = threadsSpin_->value();
    statusFloat_->setText(tr("float top-1: evaluating ..."));
    const auto net = network_;
    floatCall_ = runInBackground(
        this,
        [net, data, eopt, cancel] {
            FloatEvalResult r;
            try {
                DataOptions dopt;
                dopt.limit = eopt.limit;
                const auto ds = open_dataset(data, dopt);
                r.eval = evaluate(net, *ds, data, eopt, [cancel](const Progress&) { return !cancel->load(); });
            } catch (const Cancelled&) {
                r.error = QStringLiteral("cancelled");
            } catch (const std::exception& e) {
                r.error = QString::fromStdString(e.what());
            }
            return r;
        },
        [this, generation, key](FloatEvalResult r) {
            --floatPending_;
            if (generation != floatGeneration_) return;
            if (!r.error.isEmpty()) {
                statusFloat_->setText(tr("float top-1: -"));
                if (r.error != QLatin1String("cancelled")) showError(tr("Cannot evaluate the float model"), r.error);
                return;
            }
            floatEval_ = r.eval;
            floatEvalKey_ = key;
            updateStatus();
            emit floatEvaluated(r.eval->top1);
        });
}

void MainWindow::updateStatus() {
    statusModel_->setText(modelPath_.isEmpty() ? tr("no model")
                                               : tr("%1  —  %2").arg(QDir::toNativeSeparators(modelPath_), layerModel_->totalsText()));
    statusModel_->setToolTip(statusModel_->text());
    const qint64 limit = formLimit();
    statusData_->setText(tr("data %1 (%2)").arg(dataEdit_->text().trimmed(),
                                                limit > 0 ? tr("%1 images").arg(formatThousands(limit)) : tr("all images")));
    const double f = floatTop1();
    if (std::isfinite(f)) statusFloat_->setText(tr("float top-1 %1").arg(formatPercent(f)));
    else if (floatPending_ == 0) statusFloat_->setText(tr("float top-1 -"));
    compressionPlot_->setFloatTop1(f);
    speedupPlot_->setFloatTop1(f);
}

// ----- runs -------------------------------------------------------------------------------

SweepSpec MainWindow::currentSpec(const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec,
                                  const std::vector<uint64_t>& seeds) const {
    SweepSpec s = spec_;  // every key of the loaded spec; the form sets the run options
    runForm_->apply(s);
    s.base.model = QFile::encodeName(modelPath_).toStdString();
    QStringList covered;
    for (const SweepGroup& g : grid)
        for (int l : layerModel_->layersOfGroup(QString::fromStdString(g.layers)))
            covered << QString::fromStdString(layerModel_->geometry().layers[l].alias);
    s.base.layers = layerModel_->settingsText(covered).toStdString();
    s.grid = grid;
    s.ec = ec.empty() ? std::vector<EcMode>{s.ec.front()} : ec;
    s.seeds = seeds.empty() ? std::vector<uint64_t>{s.seeds.front()} : seeds;
    return s;
}

bool MainWindow::isRunning() const { return job_ && job_->isRunning(); }

bool MainWindow::run() {
    if (!network_) return false;
    try {
        return startJob(currentSpec());
    } catch (const std::exception& e) {
        showError(tr("Cannot start the run"), QString::fromStdString(e.what()));
        return false;
    }
}

bool MainWindow::runSweep(const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec,
                          const std::vector<uint64_t>& seeds) {
    if (!network_) return false;
    SweepSpec spec;
    try {
        spec = currentSpec(grid, ec, seeds);
    } catch (const std::exception& e) {
        showError(tr("Cannot start the sweep"), QString::fromStdString(e.what()));
        return false;
    }
    spec_.grid = grid;
    spec_.ec = spec.ec;
    spec_.seeds = spec.seeds;
    updateEcOptions();
    return startJob(spec);
}

bool MainWindow::startJob(const SweepSpec& spec) {
    if (isRunning()) return false;
    RunJobOptions opts;
    if (floatEval_ && floatEvalKey_ == floatKey()) opts.floatEval = floatEval_;
    std::unique_ptr<RunJob> job;
    try {
        job = std::make_unique<RunJob>(spec, opts);
    } catch (const std::exception& e) {
        showError(tr("Cannot start the run"), QString::fromStdString(e.what()));
        return false;
    }
    const QString key = floatKey();
    connect(job.get(), &RunJob::runFinished, this, &MainWindow::onRunFinished);
    connect(job.get(), &RunJob::floatEvaluated, this, [this, key](const EvalResult& e) {
        if (key != floatKey()) return;
        floatEval_ = e;
        floatEvalKey_ = key;
        updateStatus();
    });
    connect(job.get(), &RunJob::finished, this, &MainWindow::onJobFinished);
    job_ = std::move(job);
    jobRunsDone_ = 0;
    const int runs = static_cast<int>(job_->points().size());
    runsBar_->setRange(0, runs);
    runsBar_->setValue(0);
    stageBar_->setRange(0, 1);
    stageBar_->setValue(0);
    progressLabel_->setText(tr("starting ..."));
    for (QWidget* w : {static_cast<QWidget*>(progressLabel_), static_cast<QWidget*>(stageBar_), static_cast<QWidget*>(cancelButton_)})
        w->setVisible(true);
    runsBar_->setVisible(runs > 1);
    job_->start();
    progressTimer_->start();
    updateActions();
    emit runStarted(runs);
    return true;
}

void MainWindow::cancelRun() {
    if (!isRunning()) return;
    job_->cancel();
    progressLabel_->setText(tr("cancelling ..."));
}

void MainWindow::pollProgress() {
    if (!job_) return;
    const RunJob::Snapshot s = job_->snapshot();
    if (job_->isCancelRequested()) return;
    QString text = s.stage.isEmpty() ? tr("starting") : s.stage;
    if (!s.layer.isEmpty()) text += QStringLiteral(" ") + s.layer;
    if (s.runs > 1) text = tr("run %1/%2: %3").arg(s.run + 1).arg(s.runs).arg(text);
    progressLabel_->setText(text);
    const int total = static_cast<int>(std::min<qint64>(std::max<qint64>(s.total, 1), std::numeric_limits<int>::max()));
    stageBar_->setRange(0, total);
    stageBar_->setValue(static_cast<int>(std::min<qint64>(s.done, total)));
    runsBar_->setValue(jobRunsDone_);
}

void MainWindow::onRunFinished(const RunRecord& record) {
    const int run = results_->addRecord(record);
    afterRunAdded(record, run);
    ++jobRunsDone_;
    runsBar_->setValue(jobRunsDone_);
    compressionPlot_->recordsChanged();
    speedupPlot_->recordsChanged();
    selectRun(run);
    updateActions();
    emit runAdded(run);
}

void MainWindow::onJobFinished(const QString& status, const QString& message) {
    progressTimer_->stop();
    const int total = job_ ? static_cast<int>(job_->points().size()) : 0;
    job_.reset();
    for (QWidget* w : {static_cast<QWidget*>(progressLabel_), static_cast<QWidget*>(stageBar_),
                       static_cast<QWidget*>(runsBar_), static_cast<QWidget*>(cancelButton_)})
        w->setVisible(false);
    updateActions();
    if (status == QLatin1String("failed")) {
        showError(tr("Run failed"), message);
    } else if (status == QLatin1String("cancelled")) {
        statusBar()->showMessage(tr("Cancelled: %1 of %2 runs finished").arg(jobRunsDone_).arg(total), 8000);
    } else {
        statusBar()->showMessage(tr("%n run(s) finished", "", jobRunsDone_), 8000);
    }
    emit runFinished(status);
}

void MainWindow::sweepDialog() {
    if (!network_ || isRunning()) return;
    SweepDialog dialog(layerModel_, [this](EcMode ec) { return estimateRunTime(ec); }, this);
    if (!spec_.grid.empty()) dialog.setGrid(spec_.grid, spec_.ec, spec_.seeds);
    dialog.enableCluster([this](const auto& grid, const auto& ec, const auto& seeds) { return currentSpec(grid, ec, seeds); },
                         QCoreApplication::applicationDirPath() + QStringLiteral("/qcnn"));
    if (dialog.exec() != QDialog::Accepted) return;
    if (!dialog.clusterSweep()) {
        runSweep(dialog.grid(), dialog.ecModes(), dialog.seeds());
        return;
    }
    // On Slurm: the watcher streams each run the tasks finish into the table and the plots.
    const ClusterSweep& c = *dialog.clusterSweep();
    clusterWatcher_ = std::make_unique<ShardWatcher>(c, QFile::encodeName(modelPath_).toStdString(),
                                                     dataEdit_->text().trimmed().toStdString());
    connect(clusterWatcher_.get(), &ShardWatcher::runFinished, this, &MainWindow::onRunFinished);
    connect(clusterWatcher_.get(), &ShardWatcher::progress, this, [this, id = c.sweep_id](int done, int total, const QString& queue) {
        statusBar()->showMessage(tr("cluster sweep %1: %2 of %3 runs; queue: %4")
                                     .arg(QString::fromStdString(id)).arg(done).arg(total).arg(queue.isEmpty() ? tr("-") : queue));
    });
    connect(clusterWatcher_.get(), &ShardWatcher::finished, this, [this](const QString& status, const QString& message) {
        if (status == QLatin1String("failed")) showError(tr("Cluster sweep failed"), message);
        else statusBar()->showMessage(tr("Cluster sweep completed: %n run(s)", "", clusterWatcher_->runsSeen()), 8000);
    });
    clusterWatcher_->start();
}

void MainWindow::selectRun(int run) {
    if (run < 0 || run >= results_->rowCount()) return;
    selectedRun_ = run;
    const RunRecord& r = results_->record(run);
    memoryPlot_->setRecord(&r);
    responsePlot_->setRecord(&r);
    compressionPlot_->setSelectedRun(run);
    speedupPlot_->setSelectedRun(run);
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
    if (!network_ || QFile::encodeName(modelPath_).toStdString() != r.model) {
        showError(tr("Cannot load the run's settings"),
                  tr("run %1 was made with %2; open that model first").arg(run + 1).arg(QString::fromStdString(r.model)));
        return;
    }
    try {
        layerModel_->setSettingsText(QString::fromStdString(r.row.settings));
        ecCombo_->setCurrentIndex(ecCombo_->findData(QString::fromStdString(to_string(parse_ec_mode(r.row.ec)))));
        seedEdit_->setText(QString::number(r.row.seed));
        updateEcOptions();
        statusBar()->showMessage(tr("Loaded the settings of run %1").arg(run + 1), 5000);
    } catch (const std::exception& e) {
        showError(tr("Cannot load the run's settings"), QString::fromStdString(e.what()));
    }
}

void MainWindow::updateActions() {
    const bool running = isRunning();
    const bool model = network_ != nullptr;
    runAction_->setEnabled(model && !running);
    sweepAction_->setEnabled(model && !running);
    cancelAction_->setEnabled(running);
    saveSettingsAction_->setEnabled(model);
    exportHdf5Action_->setEnabled(results_->rowCount() > 0);
    exportCsvAction_->setEnabled(results_->rowCount() > 0);
    presetCombo_->setEnabled(model);
    for (QAction* a : presetActions_) a->setEnabled(model);
}

// ----- files ------------------------------------------------------------------------------

bool MainWindow::saveSettings(const QString& path) {
    if (!network_) return false;
    try {
        // The loaded spec's lists (ec, seeds: the form sets their first value) and grid, kept.
        const SweepSpec spec = currentSpec(spec_.grid, {}, {});
        SweepSpec lists = spec_;
        runForm_->apply(lists);
        SweepSpec out = spec;
        out.ec = lists.ec;
        out.seeds = lists.seeds;
        save_sweep_spec(QFile::encodeName(path).toStdString(), out);
    } catch (const std::exception& e) {
        showError(tr("Cannot save the settings"), QString::fromStdString(e.what()));
        return false;
    }
    addRecentFile(path);
    statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
    return true;
}

bool MainWindow::loadSettings(const QString& path) {
    SweepSpec spec;
    try {
        spec = load_sweep_spec(QFile::encodeName(path).toStdString());
    } catch (const std::exception& e) {
        showError(tr("Cannot load the settings"), QString::fromStdString(e.what()));
        return false;
    }
    addRecentFile(path);
    const QString model = QFile::decodeName(spec.base.model.c_str());
    if (!network_ || QFileInfo(model).absoluteFilePath() != QFileInfo(modelPath_).absoluteFilePath()) {
        pendingSpec_ = spec;
        openModel(model);
        return true;
    }
    applySpec(spec);
    return true;
}

void MainWindow::applySpec(const SweepSpec& spec) {
    spec_ = spec;  // every key, kept until the next load
    setRunOptions(spec);
    try {
        const std::vector<SweepPoint> points = expand(spec);
        layerModel_->setSettingsText(points.empty() ? QString::fromStdString(spec.base.layers) : QString::fromStdString(points.front().layers));
    } catch (const std::exception& e) {
        showError(tr("Cannot apply the settings"), QString::fromStdString(e.what()));
    }
}

bool MainWindow::exportResultsHdf5(const QString& path) {
    try {
        SweepAttributes attrs = environment_attributes();
        const SweepSpec spec = currentSpec();
        attrs.spec_json = to_json(spec);
        attrs.qt_version = qVersion();
        attrs.start_utc = attrs.end_utc = utcNow();
        attrs.status = "completed";
        attrs.model_path = spec.base.model;
        attrs.data_spec = spec.base.data;
        attrs.seeds = std::to_string(spec.seeds.front());
        attrs.threads = spec.base.threads;
        attrs.samples = results_->rowCount() > 0 && floatEval_ ? floatEval_->samples : spec.base.limit;
        const QString id = QStringLiteral("workbench-%1").arg(QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss-zzz")));
        results_->exportHdf5(path, id, attrs);
    } catch (const std::exception& e) {
        showError(tr("Cannot export the results"), QString::fromStdString(e.what()));
        return false;
    }
    exportedRuns_ = results_->rowCount();
    statusBar()->showMessage(tr("Exported %1 runs to %2").arg(results_->rowCount()).arg(path), 5000);
    return true;
}

bool MainWindow::exportResultsCsv(const QString& path) {
    try {
        results_->exportCsv(path);
    } catch (const std::exception& e) {
        showError(tr("Cannot export the results"), QString::fromStdString(e.what()));
        return false;
    }
    exportedRuns_ = results_->rowCount();
    statusBar()->showMessage(tr("Exported %1 runs to %2").arg(results_->rowCount()).arg(path), 5000);
    return true;
}

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

QStringList MainWindow::recentFiles() const { return appSettings().value(QStringLiteral("recentFiles")).toStringList(); }

void MainWindow::addRecentFile(const QString& path) {
    const QString abs = QFileInfo(path).absoluteFilePath();
    QStringList files = recentFiles();
    files.removeAll(abs);
    files.prepend(abs);
    while (files.size() > kMaxRecentFiles) files.removeLast();
    appSettings().setValue(QStringLiteral("recentFiles"), files);
    updateRecentMenu();
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
    if (session_) session_->close();
    QSettings s = appSettings();
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    s.setValue(QStringLiteral("window/state"), saveState());
    if (job_) job_->cancel();
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

void MainWindow::runStoryTradeoff(const QString& layer, int64_t dsub) {
    if (!network_) return;
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
