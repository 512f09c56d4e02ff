// The workbench's main window: opens an ONNX model (File > Open Model..., File > Open Demo,
// or a .onnx file dropped on the window) and shows its per-layer table with totals and a
// cost-per-layer chart. Models load on a worker thread (QtConcurrent); the GUI thread only
// receives the finished result, so a large file never freezes the window.
//
// Layout: the central area is a tab widget (the "Layers" tab today; evaluation and
// accuracy-vs-compression views join it as tabs), plots and panels live in dock widgets.
#pragma once

#include <QIcon>
#include <QMainWindow>
#include <functional>
#include <memory>

#include "core/eval/model_summary.h"

class QDockWidget;
class QLabel;
class QTabWidget;
class QTableView;

namespace qcnn::ui {

class LayerTableModel;
class LayerCostPlot;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    // Shows an error to the user. The default opens a modal QMessageBox; tests install a
    // handler that records the message instead.
    using ErrorHandler = std::function<void(const QString& title, const QString& message)>;

    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Starts loading `path`; modelLoaded or loadFailed follows (a newer request supersedes a
    // pending one, whose result is dropped).
    void openModel(const QString& path);
    // Opens the bundled network (demoModelPath()).
    void openDemo();
    static QString demoModelPath();
    static QIcon appIcon();

    void setErrorHandler(ErrorHandler handler);

    bool isLoading() const { return pending_ != 0; }
    QString modelPath() const { return modelPath_; }
    std::shared_ptr<const Network> network() const { return network_; }
    LayerTableModel* layerModel() const { return layerModel_; }
    LayerCostPlot* costPlot() const { return costPlot_; }
    QString totalsText() const;

signals:
    void modelLoaded(const QString& path);
    // `message` is the error text (the same the CLI prints after "qcnn: error: ").
    void loadFailed(const QString& path, const QString& message);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    struct LoadResult;
    static LoadResult loadJob(const QString& path);
    void finishLoad(const QString& path, const LoadResult& result);
    void openModelDialog();
    void createActions(QDockWidget* costDock);
    void showError(const QString& title, const QString& message);

    LayerTableModel* layerModel_;
    LayerCostPlot* costPlot_;
    QTabWidget* tabs_;
    QTableView* layerView_;
    QLabel* totalsLabel_;
    QLabel* statusModel_;
    ErrorHandler errorHandler_;
    std::shared_ptr<const Network> network_;
    QString modelPath_;
    quint64 loadGeneration_ = 0;
    int pending_ = 0;
};

}  // namespace qcnn::ui
