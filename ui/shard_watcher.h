// Watches a sweep running on Slurm (core/sweep/slurm.h): every 2 s a background read of the
// shard files (and squeue when it is on PATH) hands each newly finished run to the GUI thread as
// a RunRecord, so the results table and plots fill in as the tasks finish. Ends with
// finished("completed") once every run of the spec arrived, or finished("failed", message naming
// the unfinished shards and their logs) when the sweep's jobs left the queue without them.
// Without squeue, or when squeue fails (scripts submitted elsewhere), it watches until every run
// arrived or stop().
#pragma once

#include <QObject>
#include <QString>
#include <QTimer>
#include <set>

#include "core/sweep/slurm.h"
#include "ui/run_job.h"

namespace qcnn::ui {

class BackgroundCall;

class ShardWatcher : public QObject {
    Q_OBJECT

public:
    ShardWatcher(ClusterSweep sweep, std::string model, std::string data, QObject* parent = nullptr);
    ~ShardWatcher() override;

    void start(int intervalMs = 2000);
    void stop();
    bool isWatching() const { return timer_.isActive(); }
    const ClusterSweep& sweep() const { return sweep_; }
    int runsSeen() const { return static_cast<int>(seen_.size()); }

signals:
    void runFinished(const qcnn::ui::RunRecord& record);  // in run order within each poll
    void progress(int runsDone, int runsTotal, const QString& queue);
    void finished(const QString& status, const QString& message);

private:
    struct Poll {
        std::vector<RunRecord> records;  // every run of the shard files, by run index
        std::vector<ShardState> shards;
        std::vector<std::string> queue;
        bool haveQueue = false;
        QString error;
    };
    void poll();
    void deliver(Poll p);

    ClusterSweep sweep_;
    std::string model_, data_;
    QTimer timer_;
    BackgroundCall* call_ = nullptr;
    std::set<int64_t> seen_;
};

}  // namespace qcnn::ui
