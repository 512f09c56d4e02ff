#include "ui/run_job.h"

#include <QMetaObject>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>

#include "core/eval/model_summary.h"
#include "core/util/sha256.h"
#include "ui/format.h"

namespace qcnn::ui {

bool RunRecord::measured() const { return std::isfinite(row.measured_speedup); }

FinetuneRecord FinetuneRecord::from(const FinetuneResult& r, int plannedEpochs) {
    FinetuneRecord f;
    f.ran = true;
    f.plannedEpochs = plannedEpochs;
    f.bestEpoch = r.best_epoch;
    f.initialValTop1 = r.initial_val_top1;
    f.bestValTop1 = r.best_val_top1;
    f.epochs = r.epochs;
    f.diverged = r.diverged;
    f.status = r.status;
    return f;
}

QString FinetuneRecord::summary() const {
    if (!ran) return {};
    const QString best = QObject::tr("best %1, val %2")
                             .arg(bestEpoch == 0 ? QObject::tr("as given") : QObject::tr("epoch %1").arg(bestEpoch))
                             .arg(formatPercent(bestValTop1));
    if (diverged) return QObject::tr("diverged at epoch %1 (%2)").arg(epochs.size() + 1).arg(best);
    const QString ran = epochs.size() == 1 ? QObject::tr("1 epoch") : QObject::tr("%1 epochs").arg(epochs.size());
    return QObject::tr("%1, %2").arg(ran, best);
}

bool RunJob::parseFinetuneLabel(const std::string& label, int* epoch, int* epochs, double* loss) {
    int e = 0, n = 0;
    double l = 0;
    int used = 0;
    if (std::sscanf(label.c_str(), "epoch %d/%d, loss %lf%n", &e, &n, &l, &used) != 3 || used != static_cast<int>(label.size()) ||
        n <= 0)
        return false;
    *epoch = e;
    *epochs = n;
    *loss = l;
    return true;
}

std::string file_sha256_or_empty(const std::string& path) {
    try {
        return sha256_file(path);
    } catch (const std::exception&) {
        return {};  // builtin:NAME, or a model file since moved: nothing to hash
    }
}

RunJob::RunJob(SweepSpec spec, RunJobOptions options, QObject* parent)
    : QObject(parent),
      spec_(std::move(spec)),
      sharedSpec_(std::make_shared<const SweepSpec>(spec_)),
      options_(std::move(options)),
      points_(expand(spec_)) {
    snapshot_.runs = static_cast<int>(points_.size());
}

RunJob::~RunJob() {
    cancel();
    if (thread_.joinable()) thread_.join();
}

void RunJob::start() {
    if (running_) return;
    running_ = true;
    thread_ = std::thread([this] { work(); });
}

void RunJob::post(std::function<void()> event) {
    {
        std::lock_guard lock(mutex_);
        outbox_.push_back(std::move(event));
    }
    // By name, without arguments: the queued event is made and freed inside libQt6Core, and
    // the data crosses through mutex_ (which ThreadSanitizer sees).
    QMetaObject::invokeMethod(this, "deliver", Qt::QueuedConnection);
}

void RunJob::deliver() {
    std::vector<std::function<void()>> events;
    {
        std::lock_guard lock(mutex_);
        events.swap(outbox_);
    }
    for (auto& e : events) e();
}

void RunJob::cancel() { cancel_ = true; }

RunJob::Snapshot RunJob::snapshot() const {
    std::lock_guard lock(mutex_);
    return snapshot_;
}

RunJob::FinetuneCurve RunJob::finetuneCurve() const {
    std::lock_guard lock(mutex_);
    return curve_;
}

bool RunJob::onProgress(const Progress& p) {
    {
        std::lock_guard lock(mutex_);
        snapshot_.stage = QString::fromStdString(p.stage);
        snapshot_.layer = QString::fromStdString(p.layer);
        snapshot_.done = p.done;
        snapshot_.total = p.total;
        int e = 0, n = 0;
        double loss = 0;
        if (p.stage == "finetune" && p.done > 0 && p.total > 0 && parseFinetuneLabel(p.layer, &e, &n, &loss)) {
            if (curve_.run != snapshot_.run) {
                curve_ = FinetuneCurve{};
                curve_.run = snapshot_.run;
            }
            curve_.epochs = n;
            curve_.epoch = e;
            curve_.loss = loss;
            const double x = static_cast<double>(p.done) * n / static_cast<double>(p.total);
            if (curve_.points.empty() || x > curve_.points.back().first) curve_.points.emplace_back(x, loss);
        }
    }
    return !cancel_.load();
}

void RunJob::work() {
    QString status = QStringLiteral("completed"), message;
    // Each finished run goes to the GUI thread as a RunRecord (and the float evaluation, once).
    struct Sink : RunSink {
        RunJob* job;
        std::string sha;
        bool floatSent = false;
        explicit Sink(RunJob* j) : job(j) {}
        void add(const SweepPoint& p, const RunResult& r, const RunRow& row, const std::vector<LayerRow>& layers) override {
            if (!floatSent && !job->options_.floatEval) job->post([job = job, e = r.float_eval] { emit job->floatEvaluated(e); });
            floatSent = true;
            RunRecord rec;
            rec.row = row;
            rec.layers = layers;
            rec.memoryDense = r.cost.dense;
            rec.memoryQuantized = r.cost.quantized;
            rec.model = r.spec.model;
            rec.data = r.spec.data;
            rec.spec = job->sharedSpec_;
            rec.modelSha256 = sha;
            rec.samples = r.quant_eval.samples;
            if (r.spec.finetune) rec.finetune = FinetuneRecord::from(r.finetune, r.spec.ft_epochs);
            rec.network = std::make_shared<const Network>(r.q.network);
            job->post([job = job, rec = std::move(rec)] { emit job->runFinished(rec); });
            (void)p;
        }
    } sink(this);
    try {
        sink.sha = file_sha256_or_empty(spec_.base.model);
        // The one sweep loop of core (SweepRunner): every point checked before the first run, the
        // same speed budget as `qcnn sweep`; the workbench keeps the rows itself (no results file).
        SweepRunner runner(spec_);
        if (options_.floatEval) runner.set_float_eval(*options_.floatEval);
        const ProgressFn progress = [this](const Progress& p) {
            if (p.stage == "sweep") {
                std::lock_guard lock(mutex_);
                snapshot_.run = static_cast<int>(std::min<int64_t>(p.done, static_cast<int64_t>(points_.size()) - 1));
                return !cancel_.load();
            }
            // The runner labels nested stages "run i/n[: layer]"; the window shows the run itself.
            Progress q = p;
            if (q.layer.rfind("run ", 0) == 0) {
                const size_t colon = q.layer.find(": ");
                q.layer = colon == std::string::npos ? std::string() : q.layer.substr(colon + 2);
            }
            return onProgress(q);
        };
        if (cancel_) throw Cancelled();
        runner.run("", "", &sink, progress);
    } catch (const Cancelled&) {
        status = QStringLiteral("cancelled");
    } catch (const std::bad_alloc&) {
        status = QStringLiteral("failed");
        message = tr("out of memory");
    } catch (const std::exception& e) {
        status = QStringLiteral("failed");
        message = QString::fromStdString(e.what());
    }
    post([this, status, message] {
        if (thread_.joinable()) thread_.join();  // work() is returning: this is its last post
        running_ = false;
        emit finished(status, message);
    });
}

}  // namespace qcnn::ui
