#include "ui/memory_probe.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTimer>
#include <exception>

#include "core/io/model_file.h"
#include "core/util/error.h"
#include "core/util/json.h"
#include "ui/background.h"
#include "ui/session_file.h"

namespace qcnn::ui {

MemoryProbe::MemoryProbe(QString qcnn, QObject* parent) : QObject(parent), qcnn_(std::move(qcnn)), timeout_(new QTimer(this)) {
    timeout_->setSingleShot(true);
    connect(timeout_, &QTimer::timeout, this, [this] {
        failWith(tr("%1 did not finish within %2 s (%3)").arg(qcnn_).arg(kTimeoutMs / 1000).arg(stage_));
    });
}

MemoryProbe::~MemoryProbe() {
    stopChild();
    if (save_) save_->waitForFinished();
}

QString MemoryProbe::defaultQcnnPath() { return QCoreApplication::applicationDirPath() + QStringLiteral("/qcnn"); }

QStringList MemoryProbe::evalArguments(const QString& model, const std::string& data) {
    return {QStringLiteral("eval"),    QStringLiteral("--model"),   model,
            QStringLiteral("--data"),  QString::fromStdString(data), QStringLiteral("--batch"),
            QStringLiteral("1"),       QStringLiteral("--threads"), QStringLiteral("1"),
            QStringLiteral("--limit"), QStringLiteral("1"),         QStringLiteral("--json")};
}

MeasuredMemory MemoryProbe::parseEvalJson(const QByteArray& stdoutText) {
    const json::Value v = json::parse(std::string_view(stdoutText.constData(), static_cast<size_t>(stdoutText.size())),
                                      "the output of qcnn eval --json");
    const json::Value& m = v["memory"];
    MeasuredMemory out;
    out.peakRss = m["peak_rss_bytes"].as_int();
    out.fixedFootprint = m["fixed_footprint_bytes"].as_int();
    if (const json::Value* a = m.find("accounted_bytes")) out.accounted = a->as_int();
    if (out.peakRss <= 0 || out.fixedFootprint <= 0 || out.fixedFootprint > out.peakRss)
        fail("qcnn eval --json: implausible memory.peak_rss_bytes ", out.peakRss, " / fixed_footprint_bytes ", out.fixedFootprint);
    return out;
}

bool MemoryProbe::start(int run, const RunRecord& record, std::optional<MeasuredMemory> dense, QString* error) {
    const QString what = tr("run %1").arg(fileRunIndex(run));
    if (running_) {
        *error = tr("A memory measurement is already running.");
        return false;
    }
    if (!record.network) {
        *error = tr("%1 was read back from a file: its quantized network is not kept, so it cannot be saved and "
                    "measured. Run its settings again (double-click the run, then Run) and measure the new run.")
                     .arg(what);
        return false;
    }
    const QFileInfo exe(qcnn_);
    if (!exe.isFile() || !exe.isExecutable()) {
        *error = tr("The qcnn command-line tool, which measures the memory in a separate process, is not at %1 "
                    "(it is installed beside the workbench).")
                     .arg(QDir::toNativeSeparators(qcnn_));
        return false;
    }
    dir_ = std::make_unique<QTemporaryDir>(QDir::tempPath() + QStringLiteral("/qcnn-memory-XXXXXX"));
    if (!dir_->isValid()) {
        *error = tr("Cannot create a temporary folder in %1: %2").arg(QDir::tempPath(), dir_->errorString());
        return false;
    }
    run_ = run;
    data_ = record.data;
    floatModel_ = record.model;
    dense_ = dense;
    running_ = true;
    cancelled_ = false;
    const std::string path = QFile::encodeName(dir_->filePath(QStringLiteral("run-%1.qcnn").arg(fileRunIndex(run)))).toStdString();
    ModelProvenance prov;
    prov.settings = record.row.settings;
    prov.seed = std::to_string(record.row.seed);
    prov.ec = record.row.ec;
    prov.source_path = record.model;
    prov.source_sha256 = record.modelSha256;
    prov.created_utc = utc_now();
    setStage(tr("saving the quantized model of %1").arg(what));
    // The save (the one of `qcnn quantize -o`) off the GUI thread; its error comes back as text.
    save_ = runInBackground(
        this,
        [net = record.network, path, prov]() -> std::string {
            try {
                save_quantized_model(path, *net, prov);
                return {};
            } catch (const std::exception& e) {
                return e.what()[0] ? std::string(e.what()) : std::string("saving failed");
            }
        },
        [this, path, generation = ++generation_](std::string err) {
            if (generation != generation_ || cancelled_ || !running_) return;
            if (!err.empty()) return failWith(tr("Saving the quantized model failed: %1").arg(QString::fromStdString(err)));
            launch(QFile::decodeName(path.c_str()), true);
        });
    return true;
}

void MemoryProbe::launch(const QString& model, bool quantized) {
    measuringQuantized_ = quantized;
    setStage(quantized ? tr("qcnn eval on the saved quantized model") : tr("qcnn eval on the float model"));
    process_ = new QProcess(this);
    process_->setProgram(qcnn_);
    process_->setArguments(evalArguments(model, data_));
    connect(process_, &QProcess::finished, this,
            [this](int code, QProcess::ExitStatus status) { onChildFinished(code, status == QProcess::CrashExit); });
    connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart) failWith(tr("%1 could not be started: %2").arg(qcnn_, process_->errorString()));
    });
    timeout_->start(kTimeoutMs);
    process_->start();
}

void MemoryProbe::onChildFinished(int exitCode, bool crashed) {
    timeout_->stop();
    if (!running_ || !process_) return;
    const QByteArray out = process_->readAllStandardOutput();
    const QString err = QString::fromUtf8(process_->readAllStandardError()).trimmed();
    const QString command = QStringLiteral("%1 %2").arg(qcnn_, process_->arguments().join(QLatin1Char(' ')));
    process_->deleteLater();
    process_ = nullptr;
    if (crashed || exitCode != 0)
        return failWith(tr("%1 failed (%2): %3")
                        .arg(command, crashed ? tr("crashed") : tr("exit code %1").arg(exitCode), err.isEmpty() ? tr("no message") : err));
    MeasuredMemory m;
    try {
        m = parseEvalJson(out);
    } catch (const std::exception& e) {
        return failWith(tr("%1: %2").arg(command, QString::fromStdString(e.what())));
    }
    if (measuringQuantized_) {
        quantized_ = m;
        if (!dense_) return launch(QFile::decodeName(floatModel_.c_str()), false);
    } else {
        dense_ = m;
    }
    running_ = false;
    dir_.reset();
    setStage({});
    emit finished(run_, *dense_, quantized_);
}

void MemoryProbe::cancel() {
    if (!running_) return;
    cancelled_ = true;
    failWith(tr("Memory measurement cancelled."));
}

void MemoryProbe::stopChild() {
    if (!process_) return;
    process_->disconnect(this);
    process_->kill();
    process_->waitForFinished(5000);
    process_->deleteLater();
    process_ = nullptr;
}

void MemoryProbe::failWith(const QString& message) {
    if (!running_) return;
    timeout_->stop();
    running_ = false;
    stopChild();
    dir_.reset();
    setStage({});
    emit failed(run_, message);
}

void MemoryProbe::setStage(const QString& text) {
    stage_ = text;
    emit stageChanged(text);
}

}  // namespace qcnn::ui
