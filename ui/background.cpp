#include "ui/background.h"

#include <QMetaObject>

namespace qcnn::ui {

BackgroundCall::BackgroundCall(std::function<std::function<void()>()> work, QObject* parent) : QObject(parent) {
    thread_ = std::thread([this, work = std::move(work)] {
        std::function<void()> d = work();
        {
            const std::lock_guard lock(mutex_);
            delivery_ = std::move(d);
        }
        // By name, without arguments: the queued event is made and freed inside libQt6Core.
        QMetaObject::invokeMethod(this, "deliver", Qt::QueuedConnection);
    });
}

BackgroundCall::~BackgroundCall() {
    waitForFinished();
    const std::lock_guard lock(mutex_);
    delivery_ = nullptr;  // never delivered: its captures are released here, after the join
}

void BackgroundCall::waitForFinished() {
    if (thread_.joinable()) thread_.join();
}

void BackgroundCall::deliver() {
    waitForFinished();  // the thread has posted this call as its last step
    std::function<void()> d;
    {
        const std::lock_guard lock(mutex_);
        d = std::move(delivery_);
        delivery_ = nullptr;
    }
    deleteLater();
    if (d) d();
}

}  // namespace qcnn::ui
