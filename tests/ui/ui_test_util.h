// Helpers shared by the workbench tests.
#pragma once

#include <gtest/gtest.h>

#include <QSignalSpy>
#include <QString>
#include <QStringList>
#include <filesystem>

#include "ui/main_window.h"

namespace qcnn::ui {

inline const QString kLenet = QStringLiteral(QCNN_DATASETS_DIR "/lenet5.onnx");
constexpr int kTimeoutMs = 60000;

inline bool exists(const QString& path) { return std::filesystem::exists(path.toStdString()); }

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
