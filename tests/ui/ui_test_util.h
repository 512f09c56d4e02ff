// Helpers shared by the workbench tests.
#pragma once

#include <gtest/gtest.h>

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>
#include <QString>
#include <QStringList>
#include <filesystem>
#include <functional>

#include "ui/main_window.h"

namespace qcnn::ui {

inline const QString kLenet = QStringLiteral(QCNN_DATASETS_DIR "/lenet5.onnx");
constexpr int kTimeoutMs = 60000;

inline bool exists(const QString& path) { return std::filesystem::exists(path.toStdString()); }

// Small, fast runs on the bundled LeNet: 200 evaluation images, 64 calibration images.
inline SweepSpec fastOptions() {
    SweepSpec o;
    o.base.data = "fashion-mnist:test";
    o.base.limit = 200;
    o.base.calib_images = 64;
    o.base.kmeans_iters = 4;
    o.base.threads = 1;
    o.measure_speed = false;
    return o;
}

// Processes events until `done` (true) or the timeout (false).
inline bool waitFor(const std::function<bool()>& done, int timeoutMs = kTimeoutMs) {
    QElapsedTimer t;
    t.start();
    while (!done() && t.elapsed() < timeoutMs) QTest::qWait(10);
    return done();
}

// Max gap between ticks of a 10 ms GUI-thread timer while it runs.
class Heartbeat {
public:
    Heartbeat() {
        timer_.setInterval(10);
        QObject::connect(&timer_, &QTimer::timeout, [this] {
            maxGap_ = std::max(maxGap_, clock_.restart());
        });
        clock_.start();
        timer_.start();
    }
    qint64 maxGapMs() const { return maxGap_; }

private:
    QTimer timer_;
    QElapsedTimer clock_;
    qint64 maxGap_ = 0;
};

// Records what the window would show in message boxes.
struct ErrorLog {
    QStringList titles, messages;
    MainWindow::ErrorHandler handler() {
        return [this](const QString& title, const QString& message) {
            titles << title;
            messages << message;
        };
    }
};

// Opens `path` and waits for the load to finish; true when it loaded.
inline bool openAndWait(MainWindow& w, const QString& path) {
    QSignalSpy loaded(&w, &MainWindow::modelLoaded);
    QSignalSpy failed(&w, &MainWindow::loadFailed);
    w.openModel(path);
    EXPECT_TRUE(w.isLoading());
    for (int waited = 0; loaded.isEmpty() && failed.isEmpty() && waited < kTimeoutMs; waited += 50) loaded.wait(50);
    EXPECT_FALSE(w.isLoading());
    return !loaded.isEmpty();
}

}  // namespace qcnn::ui
