#include "ui/main_window.h"

#include <QAction>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHeaderView>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSortFilterProxyModel>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>
#include <exception>

#include "ui/layer_cost_plot.h"
#include "ui/layer_table_model.h"

// Resources of the static qcnn_ui library must be registered explicitly (outside any namespace).
static void initWorkbenchResources() { Q_INIT_RESOURCE(resources); }

namespace qcnn::ui {

namespace {

// The local .onnx files among dropped URLs.
QStringList onnxFiles(const QMimeData* mime) {
    QStringList files;
    if (!mime || !mime->hasUrls()) return files;
    for (const QUrl& url : mime->urls())
        if (url.isLocalFile() && url.toLocalFile().endsWith(QLatin1String(".onnx"), Qt::CaseInsensitive))
            files << url.toLocalFile();
    return files;
}

}  // namespace

// What the worker thread hands back: a model and its summary, or the error text.
struct MainWindow::LoadResult {
    std::shared_ptr<const Network> network;
    ModelSummary summary;
    QString error;
};

MainWindow::LoadResult MainWindow::loadJob(const QString& path) {
    LoadResult r;
    try {
        r.network = load_model(QFile::encodeName(path).toStdString());
        r.summary = summarize(*r.network);
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
      tabs_(new QTabWidget),
      layerView_(new QTableView),
      totalsLabel_(new QLabel),
      statusModel_(new QLabel) {
    initWorkbenchResources();
    setWindowTitle(tr("QCNN Workbench"));
    setWindowIcon(appIcon());
    setAcceptDrops(true);
    resize(1100, 700);

    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(layerModel_);
    proxy->setSortRole(LayerTableModel::SortRole);
    layerView_->setModel(proxy);
    layerView_->setSortingEnabled(true);
    layerView_->sortByColumn(-1, Qt::AscendingOrder);  // network order until a header is clicked
    layerView_->setSelectionBehavior(QAbstractItemView::SelectRows);
    layerView_->setAlternatingRowColors(true);
    layerView_->horizontalHeader()->setStretchLastSection(false);
    layerView_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    layerView_->verticalHeader()->setVisible(false);
    layerView_->verticalHeader()->setDefaultSectionSize(layerView_->fontMetrics().height() + 8);

    totalsLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    totalsLabel_->setText(tr("No model. Open an ONNX file (File > Open Model..., or drop it here) or the demo network."));
    auto* layersTab = new QWidget;
    auto* layersLayout = new QVBoxLayout(layersTab);
    layersLayout->addWidget(layerView_);
    layersLayout->addWidget(totalsLabel_);
    tabs_->addTab(layersTab, tr("Layers"));
    setCentralWidget(tabs_);

    auto* costDock = new QDockWidget(tr("Cost per layer"), this);
    costDock->setObjectName("costDock");
    costDock->setWidget(costPlot_);
    addDockWidget(Qt::BottomDockWidgetArea, costDock);

    statusBar()->addPermanentWidget(statusModel_, 1);
    createActions(costDock);
}

MainWindow::~MainWindow() = default;

void MainWindow::createActions(QDockWidget* costDock) {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open Model..."), this, &MainWindow::openModelDialog);
    open->setShortcut(QKeySequence::Open);
    file->addAction(tr("Open &Demo"), this, &MainWindow::openDemo)
        ->setStatusTip(tr("Open the bundled network %1").arg(demoModelPath()));
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(costDock->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About"), this, [this] {
        QMessageBox::about(this, tr("About QCNN Workbench"),
                           tr("<b>QCNN Workbench</b><p>Quantized convolutional neural networks (Wu et al., "
                              "CVPR 2016): product quantization of conv and FC weights, error correction "
                              "and lookup-table inference.</p>"));
    });
}

QString MainWindow::demoModelPath() { return QStringLiteral(QCNN_DATASETS_DIR "/vgg7.onnx"); }

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

void MainWindow::openModelDialog() {
    const QString start = modelPath_.isEmpty() ? QFileInfo(demoModelPath()).absolutePath() : QFileInfo(modelPath_).absolutePath();
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Open ONNX Model"), start, tr("ONNX models (*.onnx);;All files (*)"));
    if (!path.isEmpty()) openModel(path);
}

void MainWindow::openDemo() { openModel(demoModelPath()); }

void MainWindow::openModel(const QString& path) {
    const quint64 generation = ++loadGeneration_;
    ++pending_;
    statusBar()->showMessage(tr("Loading %1 ...").arg(path));
    auto* watcher = new QFutureWatcher<LoadResult>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation, path] {
        watcher->deleteLater();
        --pending_;
        if (generation != loadGeneration_) return;  // superseded by a newer request
        finishLoad(path, watcher->result());
    });
    watcher->setFuture(QtConcurrent::run(&MainWindow::loadJob, path));
}

void MainWindow::finishLoad(const QString& path, const LoadResult& r) {
    statusBar()->clearMessage();
    if (!r.error.isEmpty()) {
        emit loadFailed(path, r.error);
        showError(tr("Cannot open model"), r.error);
        return;
    }
    network_ = r.network;
    modelPath_ = path;
    layerModel_->setSummary(r.summary);
    costPlot_->setSummary(r.summary);
    totalsLabel_->setText(layerModel_->totalsText());
    statusModel_->setText(tr("%1  —  %2").arg(QDir::toNativeSeparators(path), layerModel_->totalsText()));
    emit modelLoaded(path);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (!onnxFiles(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QStringList files = onnxFiles(event->mimeData());
    if (files.isEmpty()) return;
    event->acceptProposedAction();
    openModel(files.first());
}

}  // namespace qcnn::ui
