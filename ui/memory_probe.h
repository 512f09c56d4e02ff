// "Measure run-time memory" (issue 14 section 1: the memory plot shows the accounted bytes and the
// measured ones). For one run of this session: its quantized network is saved to a temporary file
// with save_quantized_model (the save of `qcnn quantize -o`, on a worker thread), then the qcnn
// binary installed beside the workbench runs
//     qcnn eval --model FILE --data DATA --batch 1 --threads 1 --limit 1 --json
// as a child process (QProcess: the GUI thread only receives its end), on the saved model and on
// the float model (skipped when the caller already measured that model). Each child's JSON
// `memory` object gives peak_rss_bytes, fixed_footprint_bytes (peak RSS once the data set is open,
// before the model loads, plus the library code paged in afterwards to load and run it) and
// accounted_bytes (core/cli/cmd_eval.cpp).
//
// One of finished / failed ends every start(): a missing binary, a failing or crashing child
// (its stderr quoted), unreadable JSON, a child running longer than kTimeoutMs and cancel() all
// end in failed with a message naming what and where; cancel() kills the child.
#pragma once

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <memory>
#include <optional>

#include "ui/run_job.h"

class QProcess;
class QTemporaryDir;
class QTimer;

namespace qcnn::ui {

class BackgroundCall;

class MemoryProbe : public QObject {
    Q_OBJECT

public:
    static constexpr int kTimeoutMs = 300000;  // per child: generous, only a hang hits it

    // `qcnn`: the CLI binary (defaultQcnnPath(): next to the running executable).
    explicit MemoryProbe(QString qcnn, QObject* parent = nullptr);
    ~MemoryProbe() override;  // kills the child, waits for the save
    static QString defaultQcnnPath();
    QString qcnnPath() const { return qcnn_; }
    void setQcnnPath(const QString& path) { qcnn_ = path; }

    // Starts measuring run `run` (`record`: its record); `dense`: the float model's measurement
    // when already known. False (and *error says why) when it cannot start: a run without its
    // network (read back from a file), no qcnn binary, a probe already running.
    bool start(int run, const RunRecord& record, std::optional<MeasuredMemory> dense, QString* error);
    void cancel();
    bool isRunning() const { return running_; }
    QString stageText() const { return stage_; }  // "saving the quantized model", ...

    // The arguments of one measurement.
    static QStringList evalArguments(const QString& model, const std::string& data);
    // The `memory` object of `qcnn eval --json` output; throws qcnn::Error naming the missing key.
    static MeasuredMemory parseEvalJson(const QByteArray& stdoutText);

signals:
    void finished(int run, const qcnn::ui::MeasuredMemory& dense, const qcnn::ui::MeasuredMemory& quantized);
    void failed(int run, const QString& message);
    void stageChanged(const QString& text);

private:
    void launch(const QString& model, bool quantized);
    void onChildFinished(int exitCode, bool crashed);
    void failWith(const QString& message);
    void stopChild();  // kills and drops the child (no signal from it follows)
    void setStage(const QString& text);

    QString qcnn_;
    bool running_ = false;
    bool cancelled_ = false;
    int run_ = -1;
    std::string data_, floatModel_;
    std::optional<MeasuredMemory> dense_;
    MeasuredMemory quantized_;
    bool measuringQuantized_ = false;
    QString stage_;
    std::unique_ptr<QTemporaryDir> dir_;
    QProcess* process_ = nullptr;
    QTimer* timeout_;
    QPointer<BackgroundCall> save_;
    quint64 generation_ = 0;  // of start(): a late save of an earlier start is dropped
};

}  // namespace qcnn::ui
