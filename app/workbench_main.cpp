// The QCNN Workbench GUI: `qcnn-workbench [MODEL.onnx] [--demo]`.
#include <QApplication>
#include <QCommandLineParser>

#include "ui/main_window.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("QCNN Workbench"));
    QApplication::setWindowIcon(qcnn::ui::MainWindow::appIcon());

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Quantized CNNs (Wu et al., CVPR 2016): inspect ONNX models."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("model"), QStringLiteral("ONNX model to open"), QStringLiteral("[model]"));
    const QCommandLineOption demo(QStringLiteral("demo"),
                                  QStringLiteral("Open the bundled network (%1)").arg(qcnn::ui::MainWindow::demoModelPath()));
    parser.addOption(demo);
    parser.process(app);
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        qCritical("qcnn-workbench: error: at most one model path expected, got %lld", static_cast<long long>(positional.size()));
        return 2;
    }
    if (!positional.isEmpty() && parser.isSet(demo)) {
        qCritical("qcnn-workbench: error: give either a model path or --demo, not both");
        return 2;
    }

    qcnn::ui::MainWindow window;
    window.show();
    if (parser.isSet(demo))
        window.openDemo();
    else if (!positional.isEmpty())
        window.openModel(positional.first());
    return app.exec();
}
