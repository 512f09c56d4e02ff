#include "ui/run_job.h"

#include <QMetaObject>
#include <cmath>
#include <exception>

#include "core/eval/model_summary.h"
#include "core/util/sha256.h"

namespace qcnn::ui {

bool RunRecord::measured() const { return std::isfinite(row.measured_speedup); }

RunJob::RunJob(SweepSpec spec, RunJobOptions options, QObject* parent)
    : QObject(parent), spec_(std::move(spec)), options_(std::move(options)), points_(expand(spec_)) {
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

bool RunJob::onProgress(const Progress& p) {
    {
        std::lock_guard lock(mutex_);
        snapshot_.stage = QString::fromStdString(p.stage);
        snapshot_.layer = QString::fromStdString(p.layer);
        snapshot_.done = p.done;
        snapshot_.total = p.total;
    }
    return !cancel_.load();
}

void RunJob::work() {
    QString status = QStringLiteral("completed"), message;
    try {
        std::optional<EvalResult> floatEval = options_.floatEval;
        std::shared_ptr<const Network> dense;
        std::string denseId;  // the dense model's SHA-256: its measured speed is kept for the session
        const ProgressFn progress = [this](const Progress& p) { return onProgress(p); };
        for (const SweepPoint& point : points_) {
            {
                std::lock_guard lock(mutex_);
                snapshot_.run = static_cast<int>(point.index);
            }
            if (cancel_) throw Cancelled();
            const RunSpec rs = run_spec(spec_, point);
            const RunResult r = run_quantization(rs, floatEval ? &*floatEval : nullptr, progress);
            if (!floatEval) {
                floatEval = r.float_eval;
                post([this, e = r.float_eval] { emit floatEvaluated(e); });
            }
            std::optional<SpeedMeasurement> speed;
            if (spec_.measure_speed) {
                report(progress, {"measure speed", "", 0, 1});
                if (!dense) {
                    dense = load_model(rs.model);
                    denseId = sha256_file(rs.model);
                }
                SpeedOptions so;
                so.budget_seconds = options_.speedBudgetSeconds;
                speed = measure_speed(*dense, r.q.network, denseId, dense->sample_shape(), rs.threads, rs.lut_kernel, so);
                report(progress, {"measure speed", "", 1, 1});
            }
            RunRecord rec;
            rec.row = run_row(point, r, speed ? &*speed : nullptr);
            rec.layers = layer_rows(point, r, speed ? &*speed : nullptr);
            rec.memoryDense = r.cost.dense;
            rec.memoryQuantized = r.cost.quantized;
            rec.model = rs.model;
            rec.data = rs.data;
            post([this, rec = std::move(rec)] { emit runFinished(rec); });
        }
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
