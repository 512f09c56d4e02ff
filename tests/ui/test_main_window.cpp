// The workbench main window, run headless (QT_QPA_PLATFORM=offscreen): opening models from a
// path, the demo action and drag and drop; the layer table against the cost model; errors
// reported through the injectable error handler with the CLI's text. The workbench tests
// (test_workbench.cpp) cover editing, runs, cancel, plots, exports and the teaching views.
#include <gtest/gtest.h>

#include <QApplication>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QLabel>
#include <QMimeData>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QUrl>
#include <filesystem>
#include <fstream>
#include <qcustomplot.h>
#include <sstream>

#include "core/cli/cli.h"
#include "core/data/dataset.h"
#include "core/cost/cost_model.h"
#include "core/eval/model_summary.h"
#include "ui/layer_cost_plot.h"
#include "ui/layer_table_model.h"
#include "ui/main_window.h"
#include "tests/ui/ui_test_util.h"

namespace qcnn::ui {
namespace {

// Dense FLOPs per image from the cost model's layer geometry (method section 4, Table 1):
// H_t*W_t * C_t * k_h*k_w * C_s/g, summed over the weight layers.
int64_t cost_model_flops(const Network& net) {
    int64_t total = 0;
    for (const LayerGeometry& g : layer_geometry(net, net.sample_shape()))
        total += g.h_t * g.w_t * g.c_t * g.k_h * g.k_w * g.c_s / g.group;
    return total;
}

// Sum of a numeric column over the table's rows (via the sort role: the raw number).
int64_t column_sum(const LayerTableModel& m, int column) {
    int64_t s = 0;
    for (int r = 0; r < m.rowCount(); ++r) s += m.data(m.index(r, column), LayerTableModel::SortRole).toLongLong();
    return s;
}

// What `qcnn info --model path` prints after "qcnn: error: ".
QString cliErrorFor(const QString& path) {
    std::string p = path.toStdString();
    std::string cmd = "qcnn", sub = "info", opt = "--model";
    char* argv[] = {cmd.data(), sub.data(), opt.data(), p.data(), nullptr};
    std::ostringstream out, err;
    EXPECT_EQ(run_cli(4, argv, out, err), 1);
    QString line = QString::fromStdString(err.str()).trimmed();
    EXPECT_TRUE(line.startsWith("qcnn: error: ")) << err.str();
    return line.mid(13);
}

void expectTableMatchesModel(const MainWindow& w, const QString& path) {
    const auto net = load_model(path.toStdString());
    const ModelSummary s = summarize(*net);
    const LayerTableModel& m = *w.layerModel();
    ASSERT_EQ(m.rowCount(), static_cast<int>(s.layers.size()));
    EXPECT_EQ(m.columnCount(), static_cast<int>(LayerTableModel::ColumnCount));
    for (int r = 0; r < m.rowCount(); ++r) {
        EXPECT_EQ(m.data(m.index(r, LayerTableModel::Name)).toString().toStdString(), s.layers[r].name);
        EXPECT_EQ(m.data(m.index(r, LayerTableModel::Alias)).toString().toStdString(), s.layers[r].alias);
        EXPECT_EQ(m.data(m.index(r, LayerTableModel::Op)).toString().toStdString(), s.layers[r].op);
    }
    // One row per run-time node: every weight layer of the network is there once.
    EXPECT_EQ(s.conv_layers + s.fc_layers, static_cast<int>(net->weight_layers().size()));
    EXPECT_EQ(column_sum(m, LayerTableModel::Flops), cost_model_flops(*net));
    EXPECT_EQ(column_sum(m, LayerTableModel::Flops), s.total_flops);
    EXPECT_EQ(column_sum(m, LayerTableModel::Params), s.total_params);
    EXPECT_EQ(w.modelPath(), path);
    EXPECT_EQ(w.windowTitle(), "QCNN Workbench");

    // The cost plot has one bar per weight layer, FLOPs in millions.
    const QCPBars* bars = w.costPlot()->flopsBars();
    ASSERT_EQ(bars->data()->size(), s.conv_layers + s.fc_layers);
    double plotted = 0;
    for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it) plotted += it->value;
    EXPECT_NEAR(plotted * 1e6, static_cast<double>(s.total_flops), 1.0);
}

TEST(MainWindow, OpensLenetAndShowsEveryLayerWithTotals) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    MainWindow w;
    ErrorLog errors;
    w.setErrorHandler(errors.handler());
    w.show();
    ASSERT_TRUE(openAndWait(w, kLenet));
    EXPECT_TRUE(errors.messages.isEmpty());
    expectTableMatchesModel(w, kLenet);
    const LayerTableModel& m = *w.layerModel();
    ASSERT_EQ(m.rowCount(), 10);
    EXPECT_EQ(m.data(m.index(0, LayerTableModel::Alias)).toString(), "conv1");
    EXPECT_EQ(m.data(m.index(0, LayerTableModel::Input)).toString(), "1x28x28");
    EXPECT_EQ(m.data(m.index(0, LayerTableModel::Output)).toString(), "8x28x28");
    EXPECT_EQ(m.data(m.index(0, LayerTableModel::Flops)).toString(), "156,800");
    EXPECT_EQ(m.data(m.index(1, LayerTableModel::Flops)).toString(), "");  // Relu: no weights
    EXPECT_EQ(m.headerData(LayerTableModel::Flops, Qt::Horizontal).toString(), "FLOPs");
    EXPECT_TRUE(w.totalsText().contains("529,280 FLOPs per image")) << w.totalsText().toStdString();
    EXPECT_TRUE(w.totalsText().contains("10 layers (2 conv, 2 fc)")) << w.totalsText().toStdString();
    bool statusShowsModel = false;
    for (const QLabel* l : w.statusBar()->findChildren<QLabel*>())
        statusShowsModel |= l->text().contains(kLenet) && l->text().contains("529,280");
    EXPECT_TRUE(statusShowsModel);
}

TEST(MainWindow, DemoActionOpensTheBundledNetwork) {
    if (!exists(MainWindow::demoModelPath())) GTEST_SKIP() << "vgg7.onnx not built yet";
    MainWindow w;
    ErrorLog errors;
    w.setErrorHandler(errors.handler());
    QSignalSpy loaded(&w, &MainWindow::modelLoaded);
    w.openDemo();
    ASSERT_TRUE(loaded.wait(kTimeoutMs));
    EXPECT_TRUE(errors.messages.isEmpty()) << errors.messages.join("; ").toStdString();
    expectTableMatchesModel(w, MainWindow::demoModelPath());
    // The demo comes with the Fashion-MNIST test set; the float top-1 follows in the
    // background and lands in the status bar (the bundled VGG-style network: about 94%).
    EXPECT_EQ(w.runOptions().data, "fashion-mnist:test");
    QSignalSpy evaluated(&w, &MainWindow::floatEvaluated);
    if (w.isEvaluatingFloat()) {
        ASSERT_TRUE(evaluated.wait(kTimeoutMs));
    }
    EXPECT_TRUE(errors.messages.isEmpty()) << errors.messages.join("; ").toStdString();
    const double top1 = w.floatTop1();
    EXPECT_GT(top1, 0.90);
    EXPECT_TRUE(w.statusText().contains("float top-1 " + QString::number(top1 * 100, 'f', 2) + "%")) << w.statusText().toStdString();
    EXPECT_TRUE(w.statusText().contains("vgg7.onnx"));
    EXPECT_TRUE(w.statusText().contains("fashion-mnist:test"));
}

TEST(MainWindow, BadFileShowsTheCliErrorAndKeepsTheModel) {
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const QString garbage = dir.filePath("garbage.onnx");
    {
        std::ofstream f(garbage.toStdString(), std::ios::binary);
        uint32_t x = 7;
        for (int i = 0; i < 5000; ++i) f.put(static_cast<char>((x = x * 1664525u + 1013904223u) >> 24));
    }
    MainWindow w;
    ErrorLog errors;
    w.setErrorHandler(errors.handler());
    const bool haveLenet = exists(kLenet);
    if (haveLenet) {
        ASSERT_TRUE(openAndWait(w, kLenet));
    }

    QSignalSpy failed(&w, &MainWindow::loadFailed);
    EXPECT_FALSE(openAndWait(w, garbage));
    ASSERT_EQ(failed.size(), 1);
    ASSERT_EQ(errors.messages.size(), 1);
    EXPECT_EQ(errors.titles[0], "Cannot open model");
    EXPECT_EQ(failed[0][1].toString(), errors.messages[0]);
    EXPECT_EQ(errors.messages[0].simplified(), cliErrorFor(garbage));
    EXPECT_TRUE(errors.messages[0].contains(garbage));
    if (haveLenet) {  // the previous model stays
        EXPECT_EQ(w.modelPath(), kLenet);
        EXPECT_EQ(w.layerModel()->rowCount(), 10);
    }

    const QString missing = dir.filePath("missing.onnx");
    EXPECT_FALSE(openAndWait(w, missing));
    ASSERT_EQ(errors.messages.size(), 2);
    EXPECT_EQ(errors.messages[1].simplified(), cliErrorFor(missing));
}

TEST(MainWindow, NewerRequestSupersedesPendingLoad) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    MainWindow w;
    ErrorLog errors;
    w.setErrorHandler(errors.handler());
    QSignalSpy loaded(&w, &MainWindow::modelLoaded);
    QSignalSpy failed(&w, &MainWindow::loadFailed);
    w.openModel(QStringLiteral("/nonexistent/first.onnx"));
    w.openModel(kLenet);
    for (int waited = 0; w.isLoading() && waited < kTimeoutMs; waited += 50) loaded.wait(50);
    EXPECT_EQ(loaded.size(), 1);
    EXPECT_EQ(failed.size(), 0);
    EXPECT_TRUE(errors.messages.isEmpty());
    EXPECT_EQ(w.modelPath(), kLenet);
}

TEST(MainWindow, DropOfAnOnnxFileOpensIt) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    MainWindow w;
    ErrorLog errors;
    w.setErrorHandler(errors.handler());
    w.show();

    QMimeData text;
    text.setUrls({QUrl::fromLocalFile("/tmp/notes.txt")});
    QDragEnterEvent enterText(QPoint(10, 10), Qt::CopyAction, &text, Qt::LeftButton, Qt::NoModifier);
    enterText.setAccepted(false);
    QApplication::sendEvent(&w, &enterText);
    EXPECT_FALSE(enterText.isAccepted());

    QMimeData onnx;
    onnx.setUrls({QUrl::fromLocalFile(kLenet)});
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &onnx, Qt::LeftButton, Qt::NoModifier);
    enter.setAccepted(false);
    QApplication::sendEvent(&w, &enter);
    EXPECT_TRUE(enter.isAccepted());

    QSignalSpy loaded(&w, &MainWindow::modelLoaded);
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &onnx, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &drop);
    ASSERT_TRUE(loaded.wait(kTimeoutMs));
    EXPECT_EQ(w.modelPath(), kLenet);
    EXPECT_EQ(w.layerModel()->rowCount(), 10);
}

TEST(MainWindow, ClosingWhileLoadingDoesNotCrash) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    auto* w = new MainWindow;
    w->setErrorHandler([](const QString&, const QString&) {});
    w->openModel(kLenet);
    delete w;  // the worker's result is dropped with its watcher
    QApplication::processEvents();
    SUCCEED();
}

TEST(LayerTableModel, EmptyAndClear) {
    LayerTableModel m;
    EXPECT_EQ(m.rowCount(), 0);
    EXPECT_FALSE(m.hasModel());
    EXPECT_TRUE(m.totalsText().isEmpty());
    ModelSummary s;
    s.layers.resize(2);
    s.layers[0].name = "a";
    s.layers[0].weight_layer = true;
    s.layers[0].flops = 1234567;
    m.setSummary(s);
    EXPECT_EQ(m.rowCount(), 2);
    EXPECT_EQ(m.data(m.index(0, LayerTableModel::Flops)).toString(), "1,234,567");
    EXPECT_EQ(m.data(m.index(0, LayerTableModel::Flops), LayerTableModel::SortRole).toLongLong(), 1234567);
    EXPECT_FALSE(m.data(m.index(2, 0)).isValid());
    m.clear();
    EXPECT_EQ(m.rowCount(), 0);
}

// File > Open Dataset File / Folder: the path a dialog returns becomes the dataset spec the
// CLI takes, and that spec opens (the IDX labels file is found beside the images).
TEST(MainWindow, DatasetSpecForPickedPaths) {
    const QString fm = QStringLiteral(QCNN_FASHION_MNIST_DIR);
    const QString images = fm + "/t10k-images-idx3-ubyte.gz";
    ASSERT_TRUE(QFileInfo::exists(images)) << images.toStdString();
    const QString spec = MainWindow::datasetSpecForPath(images);
    EXPECT_EQ(spec, "idx:" + images + "," + fm + "/t10k-labels-idx1-ubyte.gz");
    EXPECT_EQ(open_dataset(spec.toStdString())->size(), 10000);
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    EXPECT_EQ(MainWindow::datasetSpecForPath(dir.path()), "folder:" + dir.path());
    EXPECT_EQ(MainWindow::datasetSpecForPath("/x/data_batch_1.bin"), "cifar10:/x/data_batch_1.bin");
    EXPECT_EQ(MainWindow::datasetSpecForPath("/x/set.h5"), "hdf5:/x/set.h5:images:labels");
    EXPECT_EQ(MainWindow::datasetSpecForPath("/x/notes.txt"), "");
}

}  // namespace
}  // namespace qcnn::ui
