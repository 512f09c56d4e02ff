// Work on a background thread, its result delivered on the GUI thread, with every handoff
// made through synchronisation ThreadSanitizer can see (docs/hardening.md, "TSan and the
// workbench"): the thread is a std::thread (its start orders everything before it), the
// result waits in a std::mutex-guarded slot, and the GUI thread is woken by a queued call by
// name that carries no data (so Qt builds and frees its event inside libQt6Core). QtConcurrent
// and QFutureWatcher hand objects over through synchronisation inside Debian's uninstrumented
// Qt instead, which TSan reports as races.
#pragma once

#include <QObject>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace qcnn::ui {

class BackgroundCall : public QObject {
    Q_OBJECT

public:
    // Starts `work` on a new thread. What it returns is called on this object's thread once
    // `work` is done, unless this object is deleted first. Deleting it waits for the thread.
    BackgroundCall(std::function<std::function<void()>()> work, QObject* parent);
    ~BackgroundCall() override;

    // Blocks until the work has finished (its delivery may still be pending).
    void waitForFinished();

private:
    Q_INVOKABLE void deliver();

    std::mutex mutex_;
    std::function<void()> delivery_;
    std::thread thread_;
};

// Runs `work()` on a background thread, then `done(result)` on `parent`'s (the GUI) thread;
// the call object deletes itself after delivering. `work` must not touch GUI objects.
template <class Work, class Done>
BackgroundCall* runInBackground(QObject* parent, Work work, Done done) {
    auto* call = new BackgroundCall(
        [work = std::move(work), done = std::move(done)]() mutable -> std::function<void()> {
            auto result = work();
            return [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); };
        },
        parent);
    return call;
}

}  // namespace qcnn::ui
