// The workbench main window, run headless (QT_QPA_PLATFORM=offscreen): opening models from a
// path, the demo action and drag and drop; the layer table against the cost model; errors
// reported through the injectable error handler with the CLI's text. The workbench tests
// (test_workbench.cpp) cover editing, runs, cancel, plots, exports and the teaching views.
#include <gtest/gtest.h>

#include <QApplication>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
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
#include "core/sweep/run_options.h"
#include "core/util/json.h"
#include "ui/main_window.h"
#include "ui/run_job.h"
#include "ui/run_options_form.h"
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
    EXPECT_EQ(w.runOptions().base.data, "fashion-mnist:test");
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

// ----- run options (issue 16: one option table) ---------------------------------------------


// Every descriptor: spec -> generated form -> spec keeps its value; the form holds every key on
// it with the table's widget kind (63-bit integers in line edits, ints in spin boxes with the
// table's bounds).
TEST(RunOptionsForm, EveryOptionRoundTripsSpecFormSpec) {
    RunOptionsForm form;
    SweepSpec s;
    for (const RunOption& o : run_options()) set_from_text(o, s, example_value(o), o.key);
    s.seeds.push_back(5);  // a sweep dimension's later values stay in the spec
    form.setSpec(s);
    SweepSpec back;
    back.base.model = s.base.model;
    back.base.layers = s.base.layers;
    back.seeds = {0, 5};
    form.apply(back);
    for (const RunOption& o : run_options()) {
        SCOPED_TRACE(o.key);
        EXPECT_EQ(o.get(back), o.get(s));
        if (!o.on_form()) continue;
        QWidget* w = form.widget(o.key);
        ASSERT_NE(w, nullptr);
        EXPECT_EQ(w->objectName().toStdString(), o.widget);
        EXPECT_TRUE(w->toolTip().contains(QString::fromStdString(o.key)));
        if (auto* spin = qobject_cast<QSpinBox*>(w)) {
            EXPECT_EQ(spin->minimum(), o.min);
            EXPECT_EQ(spin->maximum(), o.max);
        }
    }
    EXPECT_TRUE(back == s);
    // The same threads bounds as the CLI's (the table's).
    auto* threads = qobject_cast<QSpinBox*>(form.widget("threads"));
    ASSERT_NE(threads, nullptr);
    EXPECT_EQ(threads->maximum(), run_option("threads").max);
    // A 63-bit seed fits (a QSpinBox would not).
    EXPECT_NE(qobject_cast<QLineEdit*>(form.widget("seeds")), nullptr);
    EXPECT_EQ(form.text("seeds"), "9223372036854775807");
}

TEST(RunOptionsForm, BadFieldsAreRejectedNamingTheOption) {
    RunOptionsForm form;
    const auto error = [&] {
        try {
            SweepSpec s;
            form.apply(s);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    form.setText("data", "fashion-mnist:test");
    form.setText("seeds", "9223372036854775808");
    EXPECT_EQ(error(), "Seed (seeds) expects an integer >= 0, got '9223372036854775808'");
    form.setText("seeds", "0");
    form.setText("std", "0.5,0");
    EXPECT_EQ(error(), "Std (std): a standard deviation must be > 0, got 0");
    form.setText("std", "");
    form.setText("preprocess", "imagenet");
    EXPECT_EQ(error().rfind("preprocess: preprocessing imagenet applies to image folders", 0), 0u) << error();
}

// Issue 18 item 7: the Data and Calib. data fields show a spec such as fashion-mnist:test in
// full in the shown window (a fresh window at its default size).
TEST(MainWindow, DataFieldsShowAFullDatasetSpec) {
    MainWindow w;
    w.show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(&w));
    for (const char* key : {"data", "calib_data"}) {
        auto* edit = qobject_cast<QLineEdit*>(w.runOptionsForm()->widget(key));
        ASSERT_NE(edit, nullptr) << key;
        const int needed = edit->fontMetrics().horizontalAdvance(QStringLiteral("fashion-mnist:test"));
        // The text area is the field minus its frame and margins (a few pixels each side).
        EXPECT_GE(edit->width(), needed + 12) << key << ": " << edit->width() << " px";
    }
}

// Issue 18 item 7: a long model path is elided in the status bar and never runs into the data
// label (the full text stays in the tooltip and statusText()).
TEST(MainWindow, StatusBarLabelsNeverOverlap) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    QTemporaryDir dir;
    const QString deep = dir.filePath(QString(120, QLatin1Char('d')) + QStringLiteral("/") + QString(120, QLatin1Char('e')));
    ASSERT_TRUE(QDir().mkpath(deep));
    const QString model = deep + QStringLiteral("/lenet5.onnx");
    ASSERT_TRUE(QFile::copy(kLenet, model));
    MainWindow w;
    w.resize(1000, 700);
    w.show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(&w));
    ASSERT_TRUE(openAndWait(w, model));
    QTest::qWait(50);
    const auto* modelLabel = w.findChild<QLabel*>(QStringLiteral("statusModel"));
    const auto* dataLabel = w.findChild<QLabel*>(QStringLiteral("statusData"));
    ASSERT_TRUE(modelLabel && dataLabel);
    EXPECT_TRUE(w.statusText().contains(QDir::toNativeSeparators(model)));
    EXPECT_TRUE(modelLabel->toolTip().contains(QDir::toNativeSeparators(model)));
    EXPECT_TRUE(modelLabel->text().contains(QChar(0x2026)));  // elided
    EXPECT_LE(modelLabel->fontMetrics().horizontalAdvance(modelLabel->text()), modelLabel->contentsRect().width());
    EXPECT_LE(modelLabel->geometry().right(), dataLabel->geometry().left());
    EXPECT_GE(dataLabel->width(), dataLabel->sizeHint().width());  // the data label is shown whole
}

// A settings file with every key set: loading it into the workbench and saving it again keeps
// every key (the workbench edits the loaded spec, not a narrower copy).
TEST(MainWindow, SettingsFileWithEveryKeyLoadsAndSavesUnchanged) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    MainWindow w;
    ErrorLog errors;
    w.setErrorHandler(errors.handler());
    ASSERT_TRUE(openAndWait(w, kLenet));
    QTemporaryDir dir;
    SweepSpec s;
    for (const RunOption& o : run_options())
        if (o.key != "preprocess") set_from_text(o, s, example_value(o), o.key);  // preprocess: image folders only
    s.base.model = kLenet.toStdString();
    s.base.data = "fashion-mnist:test";
    s.base.calib_data = "fashion-mnist:train";
    s.base.mean = {0.25f};
    s.base.std = {0.5f};
    s.base.threads = 2;
    s.base.layers = "conv2=4/16";
    s.grid = {{"fc", {"4/16", "dense"}}};
    s.ec = {EcMode::Layer, EcMode::None};
    s.seeds = {9223372036854775807ull, 3};
    const QString in = dir.filePath("in.json"), out = dir.filePath("out.json");
    save_sweep_spec(in.toStdString(), s);
    ASSERT_TRUE(w.loadSettings(in));
    ASSERT_TRUE(w.saveSettings(out));
    EXPECT_TRUE(errors.messages.isEmpty()) << errors.messages.join("; ").toStdString();
    EXPECT_TRUE(load_sweep_spec(out.toStdString()) == s) << to_json(load_sweep_spec(out.toStdString()));
    // The form shows the first of the sweep's EC modes and seeds; editing it changes the first only.
    auto* seed = w.findChild<QLineEdit*>("seedEdit");
    ASSERT_NE(seed, nullptr);
    EXPECT_EQ(seed->text(), "9223372036854775807");
    seed->setText("9223372036854775806");
    ASSERT_TRUE(w.saveSettings(out));
    EXPECT_EQ(load_sweep_spec(out.toStdString()).seeds, (std::vector<uint64_t>{9223372036854775806ull, 3}));
    // A bad field stops a run with the field named.
    seed->setText("x");
    EXPECT_FALSE(w.run());
    ASSERT_FALSE(errors.messages.isEmpty());
    EXPECT_TRUE(errors.messages.last().contains("Seed (seeds) expects an integer")) << errors.messages.last().toStdString();
}

// The rows of a run without the timing columns (and the host / finish time).
std::string comparable(const RunRow& r) {
    std::ostringstream os;
    json::Writer w(os, 0);
    w.begin_object().field("settings", r.settings).field("ec", r.ec).field("seed", r.seed);
    w.field("top1", r.top1).field("top5", r.top5).field("top1_float", r.top1_float).field("top5_float", r.top5_float);
    w.field("compression", r.compression).field("theoretical_speedup", r.theoretical_speedup);
    w.field("memory_dense", r.memory_bytes_dense).field("memory_quantized", r.memory_bytes_quantized).end_object();
    return os.str();
}
std::string comparable(const LayerRow& l) {
    std::ostringstream os;
    json::Writer w(os, 0);
    w.begin_object().field("name", l.name).field("alias", l.alias).field("op", l.op).field("dsub", l.subspace_dim);
    w.field("K", l.codewords).field("ec", l.ec).field("params", l.params).field("bytes_q", l.bytes_quantized);
    w.field("flops_q", l.flops_quantized).field("speedup", l.theoretical_speedup).field("response_error", l.response_error);
    w.end_object();
    return os.str();
}

// A spec with every run option set runs through the workbench's job (RunJob) and through
// `qcnn sweep`, and gives the same rows (timing columns aside): one engine, one schema.
TEST(MainWindow, EveryKeySpecGivesTheSameRowsInTheWorkbenchAndQcnnSweep) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    SweepSpec s;
    s.base.model = kLenet.toStdString();
    s.base.data = "fashion-mnist:test";
    s.base.calib_data = "fashion-mnist:train";
    s.base.calib_images = 48;
    s.base.mean = {0.1f};
    s.base.std = {0.9f};
    s.base.limit = 96;
    s.base.batch = 7;
    s.base.layers = "conv1=dense";
    s.grid = {{"fc", {"4/16", "2/8"}}};
    s.ec = {EcMode::Layer};
    s.seeds = {9223372036854775807ull};
    s.base.threads = 1;
    s.base.kmeans_iters = 3;
    s.base.ec_iters = 1;
    s.base.ec_conv_images = 8;
    s.base.ec_positions = 4;
    s.base.lut_kernel = LutKernel::Reference;
    s.measure_speed = true;
    s.base.finetune = true;  // fine-tuning (issue 19): a little, on 64 training images
    s.base.ft_epochs = 1;
    s.base.ft_lr = 0.002f;
    s.base.ft_optimizer = "adam";
    s.base.ft_batch = 16;
    s.base.ft_params = "codebooks";
    s.base.ft_images = 64;
    s.base.ft_distill = 2.0f;
    s.base.ft_codes_lr = 2.0f;
    s.base.recipe = "paper";  // conv layers all dense here: step 1 quantizes none, step 3 the FC layers
    for (const RunOption& o : run_options()) {
        if (o.key != "preprocess") {  // image folders only; the form and the spec round trips cover it
            EXPECT_NE(o.get(s), o.get(SweepSpec{})) << o.key << " is left at its default";
        }
    }

    // The workbench's job path.
    std::vector<RunRecord> records;
    RunJob job(s, {});
    QObject::connect(&job, &RunJob::runFinished, [&](const RunRecord& r) { records.push_back(r); });
    QSignalSpy finished(&job, &RunJob::finished);
    job.start();
    ASSERT_TRUE(finished.wait(kTimeoutMs));
    ASSERT_EQ(finished[0][0].toString(), "completed") << finished[0][1].toString().toStdString();
    ASSERT_EQ(records.size(), 2u);

    // `qcnn sweep` on the same spec file.
    QTemporaryDir dir;
    const std::string spec = dir.filePath("every.json").toStdString(), results = dir.filePath("r.h5").toStdString();
    save_sweep_spec(spec, s);
    std::string cmd = "qcnn", sub = "sweep", o = "-o", js = "--json";
    std::string specArg = spec, resultsArg = results;
    char* argv[] = {cmd.data(), sub.data(), specArg.data(), o.data(), resultsArg.data(), js.data(), nullptr};
    std::ostringstream out, err;
    ASSERT_EQ(run_cli(6, argv, out, err), 0) << err.str();
    const json::Value v = json::parse(out.str());
    ASSERT_EQ(v["runs"].size(), 2u);
    const SweepOutcome o2 = [&] {
        SweepOutcome x;
        for (size_t i = 0; i < 2; ++i) {
            RunRow r;
            const json::Value& j = v["runs"][i];
            r.settings = j["settings"].as_string();
            r.ec = j["ec"].as_string();
            r.seed = static_cast<uint64_t>(j["seed"].as_int());
            r.top1 = j["top1"].as_number();
            r.top5 = j["top5"].as_number();
            r.top1_float = j["top1_float"].as_number();
            r.top5_float = j["top5_float"].as_number();
            r.compression = j["compression"].as_number();
            r.theoretical_speedup = j["theoretical_speedup"].as_number();
            r.memory_bytes_dense = j["memory_bytes_dense"].as_int();
            r.memory_bytes_quantized = j["memory_bytes_quantized"].as_int();
            x.rows.push_back(r);
        }
        for (size_t i = 0; i < v["layers"].size(); ++i) {
            const json::Value& j = v["layers"][i];
            LayerRow l;
            l.name = j["name"].as_string();
            l.alias = j["alias"].as_string();
            l.op = j["op"].as_string();
            l.subspace_dim = j["subspace_dim"].as_int();
            l.codewords = j["codewords"].as_int();
            l.ec = j["ec"].as_string();
            l.params = j["params"].as_int();
            l.bytes_quantized = j["bytes_quantized"].as_int();
            l.flops_quantized = j["flops_quantized"].as_int();
            l.theoretical_speedup = j["theoretical_speedup"].as_number();
            l.response_error = j["response_error"].as_number();
            x.layer_rows.push_back(l);
        }
        return x;
    }();
    size_t layer = 0;
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(comparable(records[i].row), comparable(o2.rows[i])) << "run " << i;
        EXPECT_EQ(records[i].row.seed, 9223372036854775807ull);
        EXPECT_TRUE(records[i].measured());  // measure_speed reached the job
        for (const LayerRow& l : records[i].layers) {
            ASSERT_LT(layer, o2.layer_rows.size());
            EXPECT_EQ(comparable(l), comparable(o2.layer_rows[layer++])) << "run " << i << " layer " << l.alias;
        }
    }
    EXPECT_EQ(layer, o2.layer_rows.size());
    // The options reached the runs: the reference kernel and the image limit.
    EXPECT_EQ(records[0].row.ec, "layer");
}

}  // namespace
}  // namespace qcnn::ui
