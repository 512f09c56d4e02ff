// A one-line terminal progress bar with elapsed time and ETA, redrawn in place with '\r'.
// Redraws are throttled to 10 per second (plus the first and the last update).
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "core/util/progress.h"

namespace qcnn::cli {

class ProgressBar {
public:
    // Draws nothing when `enabled` is false (stderr not a terminal).
    ProgressBar(std::ostream& os, bool enabled, std::string label);
    // Clears the line if something was drawn and finish() was not called.
    ~ProgressBar();

    // A ProgressFn that draws and never cancels.
    ProgressFn callback();
    void update(int64_t done, int64_t total);
    // Changes the label shown from the next redraw on (elapsed time and ETA keep counting).
    void set_label(std::string label) { label_ = std::move(label); }
    // Erases the bar so the results print on a clean line.
    void finish();

    // The bar's text for a state (no '\r'), e.g.
    // "evaluate [##########..........]  50%  5,000/10,000  1.2 s, ETA 1.2 s".
    static std::string render(const std::string& label, int64_t done, int64_t total, double elapsed, int width = 30);

private:
    using Clock = std::chrono::steady_clock;
    std::ostream& os_;
    bool enabled_;
    std::string label_;
    Clock::time_point start_, last_draw_;
    bool drawn_ = false;
    size_t last_len_ = 0;
};

// The bar of a sweep (`qcnn sweep`, `qcnn sensitivity`): runs finished in this invocation out
// of the runs left to do (so the ETA is not skewed by resumed runs), labelled with the current
// run and stage.
class SweepBar {
public:
    SweepBar(std::ostream& os, bool enabled, std::string label = "sweep")
        : bar_(os, enabled, label), label_(std::move(label)) {}
    ProgressFn callback();
    void finish() { bar_.finish(); }

private:
    ProgressBar bar_;
    std::string label_;
    int64_t first_ = -1, done_ = 0, total_ = 0;
};

// "0.8 s", "1 min 05 s", "1 h 02 min".
std::string format_duration(double seconds);

}  // namespace qcnn::cli
