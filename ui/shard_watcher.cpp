#include "ui/shard_watcher.h"

#include <algorithm>
#include <map>

#include "ui/background.h"
#include "ui/session_file.h"

namespace qcnn::ui {

ShardWatcher::ShardWatcher(ClusterSweep sweep, std::string model, std::string data, QObject* parent)
    : QObject(parent), sweep_(std::move(sweep)), model_(std::move(model)), data_(std::move(data)) {
    connect(&timer_, &QTimer::timeout, this, &ShardWatcher::poll);
    read_without_file_locks();  // on this thread, before any poll thread runs
}

ShardWatcher::~ShardWatcher() {
    timer_.stop();
    delete call_;  // waits for a poll in flight; its delivery is dropped
}

void ShardWatcher::start(int intervalMs) {
    timer_.start(intervalMs);
    poll();
}

void ShardWatcher::stop() { timer_.stop(); }

void ShardWatcher::poll() {
    if (call_) return;  // the last poll is still reading
    const ClusterSweep sweep = sweep_;
    const std::string model = model_, data = data_;
    call_ = runInBackground(
        this,
        [sweep, model, data] {
            Poll p;
            try {
                p.shards = shard_states(sweep);
                if (on_path("squeue")) {
                    try {
                        p.queue = queued_jobs(sweep);
                        p.haveQueue = true;
                    } catch (const std::exception& e) {
                        // No controller reachable (scripts copied elsewhere, or a restart): watch the files.
                        p.queue = {"squeue: " + std::string(e.what())};
                    }
                }
                for (const ShardState& s : p.shards) {
                    if (s.runs_done == 0) continue;
                    std::vector<RunRow> runs;
                    std::vector<LayerRow> layers;
                    try {
                        read_shard(sweep, s.index, runs, layers);
                    } catch (const std::exception&) {
                        continue;  // being written: the next poll reads it
                    }
                    std::map<int64_t, std::vector<LayerRow>> byRun;
                    for (LayerRow& l : layers) byRun[l.run_index].push_back(std::move(l));
                    for (RunRow& r : runs) {
                        std::vector<LayerRow> rowLayers = std::move(byRun[r.run_index]);
                        p.records.push_back(recordFromRows(std::move(r), std::move(rowLayers), model, data));
                    }
                }
            } catch (const std::exception& e) {
                p.error = QString::fromStdString(e.what());
            }
            return p;
        },
        [this](Poll p) {
            call_ = nullptr;
            deliver(std::move(p));
        });
}

void ShardWatcher::deliver(Poll p) {
    if (!timer_.isActive()) return;
    if (!p.error.isEmpty()) {
        stop();
        emit finished(QStringLiteral("failed"), p.error);
        return;
    }
    std::sort(p.records.begin(), p.records.end(),
              [](const RunRecord& a, const RunRecord& b) { return a.row.run_index < b.row.run_index; });
    for (const RunRecord& r : p.records)
        if (seen_.insert(r.row.run_index).second) emit runFinished(r);
    QString queue;
    for (const std::string& q : p.queue) queue += (queue.isEmpty() ? QString() : QStringLiteral(", ")) + QString::fromStdString(q);
    emit progress(runsSeen(), static_cast<int>(sweep_.runs), queue);
    if (static_cast<int64_t>(seen_.size()) >= sweep_.runs) {
        stop();
        emit finished(QStringLiteral("completed"), QString());
        return;
    }
    if (p.haveQueue && p.queue.empty()) {
        QStringList failed;
        for (const ShardState& s : p.shards)
            if (!s.finished())
                failed << tr("shard %1/%2 (%3 of %4 runs; log %5)")
                              .arg(s.index)
                              .arg(sweep_.options.shards)
                              .arg(s.runs_done)
                              .arg(s.runs_expected)
                              .arg(QString::fromStdString(sweep_.shard_log(s.index)));
        stop();
        emit finished(QStringLiteral("failed"), tr("The sweep's jobs left the queue unfinished: %1").arg(failed.join(QStringLiteral("; "))));
    }
}

}  // namespace qcnn::ui
