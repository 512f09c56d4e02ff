// The QCNN Workbench GUI:
//   qcnn-workbench [MODEL.onnx | SETTINGS.json] [--demo] [--sweep] [--tab layers|teaching]
// A settings file (a sweep spec) opens its model and fills the layer table; --sweep then runs
// its grid (or its one run when it has no grid) as soon as the model has loaded.
#include <QApplication>
#include <QCommandLineParser>
#include <QTabWidget>

#include "ui/main_window.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("QCNN Workbench"));
    QApplication::setOrganizationName(QStringLiteral("qcnn"));
    QApplication::setApplicationVersion(QStringLiteral(QCNN_VERSION));
    QApplication::setWindowIcon(qcnn::ui::MainWindow::appIcon());

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Quantized CNNs (Wu et al., CVPR 2016): per-layer product quantization, runs, sweeps and plots."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("file"), QStringLiteral("ONNX model or settings file (sweep spec .json) to open"),
                                 QStringLiteral("[file]"));
    const QCommandLineOption demo(QStringLiteral("demo"),
                                  QStringLiteral("Open the bundled network (%1)").arg(qcnn::ui::MainWindow::demoModelPath()));
    const QCommandLineOption sweep(QStringLiteral("sweep"), QStringLiteral("Run the settings file's sweep once the model has loaded"));
    const QCommandLineOption tab(QStringLiteral("tab"), QStringLiteral("Show this tab first: layers or teaching"), QStringLiteral("name"),
                                 QStringLiteral("layers"));
    const QCommandLineOption presenter(QStringLiteral("presenter"),
                                       QStringLiteral("Start in presenter mode: large fonts, full screen (View > Presenter Mode, F11)"));
    parser.addOptions({demo, sweep, tab, presenter});
    parser.process(app);
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        qCritical("qcnn-workbench: error: at most one file expected, got %lld", static_cast<long long>(positional.size()));
        return 2;
    }
    if (!positional.isEmpty() && parser.isSet(demo)) {
        qCritical("qcnn-workbench: error: give either a file or --demo, not both");
        return 2;
    }
    const QString file = positional.value(0);
    const bool settingsFile = file.endsWith(QLatin1String(".json"), Qt::CaseInsensitive);
    if (parser.isSet(sweep) && !settingsFile) {
        qCritical("qcnn-workbench: error: --sweep needs a settings file (.json)");
        return 2;
    }
    const QString tabName = parser.value(tab);
    if (tabName != QLatin1String("layers") && tabName != QLatin1String("teaching")) {
        qCritical("qcnn-workbench: error: --tab expects layers or teaching, got '%s'", qPrintable(tabName));
        return 2;
    }

    qcnn::ui::MainWindow window;
    window.show();
    if (tabName == QLatin1String("teaching")) window.findChild<QTabWidget*>()->setCurrentIndex(1);
    if (parser.isSet(presenter)) window.setPresenterMode(true);
    if (parser.isSet(sweep)) {
        QObject::connect(&window, &qcnn::ui::MainWindow::modelLoaded, &window, [&window] {
            const qcnn::SweepSpec& g = window.sweepGrid();
            if (g.grid.empty())
                window.run();
            else
                window.runSweep(g.grid, g.ec, g.seeds);
        }, Qt::SingleShotConnection);
    }
    if (parser.isSet(demo))
        window.openDemo();
    else if (settingsFile)
        window.loadSettings(file);
    else if (!file.isEmpty())
        window.openModel(file);
    return app.exec();
}
