// Background runs: a RunJob runs a sweep spec on a worker thread with core's SweepRunner
// (core/sweep/sweep.h: the loop `qcnn sweep` runs, every point checked before the first run, the
// same speed budget) and turns each finished run into a RunRecord (the rows of the results file).
//
// Threading: the worker only writes a mutex-guarded progress snapshot (the GUI polls it on a
// timer, so progress never floods the event queue) and hands finished records to the GUI
// thread through queued calls. cancel() sets a flag the progress callback returns, so core
// throws qcnn::Cancelled at its next report; the destructor cancels and waits. Nothing throws
// across the thread boundary: errors end the job with finished("failed", message).
#pragma once

#include <QObject>
#include <QString>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/graph/network.h"
#include "core/sweep/sweep.h"
#include "core/train/finetune.h"

namespace qcnn::ui {

// A run's fine-tuning outcome (core/train/finetune.h's FinetuneResult without its network), kept in
// the record and the session file (ui/session_file.h: the `finetune` table beside `runs`).
struct FinetuneRecord {
    bool ran = false;             // the run fine-tuned (spec finetune on)
    int plannedEpochs = 0;        // ft_epochs asked for (0: unknown, e.g. read back from a file)
    int bestEpoch = 0;            // 0: the network as given was best
    double initialValTop1 = 0;    // held-out top-1 before training (fraction)
    double bestValTop1 = 0;
    std::vector<FinetuneEpoch> epochs;  // finished epochs in order
    bool diverged = false;
    std::string status;           // why it stopped early ("" when every epoch ran)

    static FinetuneRecord from(const FinetuneResult& r, int plannedEpochs);
    // "3 epochs, best 2 (val 91.2 %)", "diverged at epoch 2 (best 1, val 88.0 %)", "" when it did not run.
    QString summary() const;
};

// The measured run-time memory of a saved model (`qcnn eval --batch 1 --threads 1 --limit 1 --json`
// in a child process: its `memory` object).
struct MeasuredMemory {
    int64_t peakRss = 0;          // memory.peak_rss_bytes
    int64_t fixedFootprint = 0;   // memory.fixed_footprint_bytes: the process before the model loaded,
                                  // plus the library code paged in to load and run it
    int64_t accounted = -1;       // memory.accounted_bytes (-1: the cost model could not price it)
    int64_t modelBytes() const { return peakRss - fixedFootprint; }  // what the model added
};

// One finished run as the workbench keeps it.
struct RunRecord {
    RunRow row;                      // row.run_index: the run's number in the session (0-based)
    std::vector<LayerRow> layers;    // one per weight layer, network order
    MemoryReport memoryDense;        // run-time memory, every layer dense
    MemoryReport memoryQuantized;    // with the run's settings
    std::string model, data;         // the model file (as given to core) and the data spec
    // Provenance (issue 18): the spec that produced the run (a hand run: its one-point spec; null
    // when unknown, e.g. a run read back from an old file without a spec), the model file's
    // SHA-256 ("" when it is no file: builtin:NAME) and the images evaluated.
    std::shared_ptr<const SweepSpec> spec;
    std::string modelSha256;
    int64_t samples = 0;
    FinetuneRecord finetune;
    // The quantized network of a run made in this session (null for runs read back from a file):
    // what "Measure run-time memory" saves. Not written to any file.
    std::shared_ptr<const Network> network;
    std::optional<MeasuredMemory> measuredDense, measuredQuantized;  // set by "Measure run-time memory"
    bool measured() const;           // the speed was measured
};

// The SHA-256 of the file at `path`, "" when there is none to read (builtin:NAME, a moved file).
std::string file_sha256_or_empty(const std::string& path);

struct RunJobOptions {
    std::optional<EvalResult> floatEval;  // reused for every run when given (same model/data/limit)
};

class RunJob : public QObject {
    Q_OBJECT

public:
    struct Snapshot {
        QString stage, layer;
        qint64 done = 0, total = 0;
        int run = 0, runs = 0;  // 0-based index of the current run, number of runs
    };
    // The live fine-tuning curve of the current run: one point per training step, x = epochs done
    // (step / steps per epoch), y = the epoch's running mean loss as core reports it.
    struct FinetuneCurve {
        int run = -1;           // the run it belongs to (-1: none yet)
        int epochs = 0;         // N of "epoch E/N"
        int epoch = 0;          // E of the latest report
        double loss = 0;        // the latest loss
        std::vector<std::pair<double, double>> points;
    };

    // The spec's points are checked when the job runs (a bad one ends it with "failed" before any run).
    RunJob(SweepSpec spec, RunJobOptions options, QObject* parent = nullptr);
    ~RunJob() override;

    void start();
    void cancel();
    bool isRunning() const { return running_; }
    bool isCancelRequested() const { return cancel_.load(); }
    Snapshot snapshot() const;
    FinetuneCurve finetuneCurve() const;
    // Parses core's "epoch E/N, loss L" (finetune.h's progress label): false for any other label.
    static bool parseFinetuneLabel(const std::string& label, int* epoch, int* epochs, double* loss);
    const SweepSpec& spec() const { return spec_; }
    const std::vector<SweepPoint>& points() const { return points_; }

signals:
    // On the GUI thread, in run order.
    void runFinished(const qcnn::ui::RunRecord& record);
    // The float model's evaluation, once computed (to reuse for later runs).
    void floatEvaluated(const qcnn::EvalResult& result);
    // status: "completed" | "cancelled" | "failed" (message: the error text).
    void finished(const QString& status, const QString& message);

private:
    void work();
    bool onProgress(const Progress& p);
    // From the worker: queue `event` for the GUI thread (in order) and wake it.
    void post(std::function<void()> event);
    Q_INVOKABLE void deliver();

    SweepSpec spec_;
    std::shared_ptr<const SweepSpec> sharedSpec_;  // spec_, shared by the job's records
    RunJobOptions options_;
    std::vector<SweepPoint> points_;
    std::thread thread_;
    std::atomic<bool> cancel_{false};
    bool running_ = false;
    mutable std::mutex mutex_;
    Snapshot snapshot_;
    FinetuneCurve curve_;
    std::vector<std::function<void()>> outbox_;  // guarded by mutex_
};

}  // namespace qcnn::ui
