#include "core/cli/progress_bar.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "core/cli/command.h"

namespace qcnn::cli {

std::string format_duration(double seconds) {
    char buf[48];
    if (!(seconds >= 0)) seconds = 0;
    if (seconds < 60) {
        std::snprintf(buf, sizeof buf, "%.1f s", seconds);
    } else if (seconds < 3600) {
        const auto s = static_cast<long>(std::lround(seconds));
        std::snprintf(buf, sizeof buf, "%ld min %02ld s", s / 60, s % 60);
    } else {
        const auto m = static_cast<long>(std::lround(seconds / 60));
        std::snprintf(buf, sizeof buf, "%ld h %02ld min", m / 60, m % 60);
    }
    return buf;
}

ProgressBar::ProgressBar(std::ostream& os, bool enabled, std::string label)
    : os_(os), enabled_(enabled), label_(std::move(label)), start_(Clock::now()) {}

ProgressBar::~ProgressBar() { finish(); }

ProgressFn ProgressBar::callback() {
    return [this](const Progress& p) {
        update(p.done, p.total);
        return true;
    };
}

std::string ProgressBar::render(const std::string& label, int64_t done, int64_t total, double elapsed, int width) {
    const double frac = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 0.0;
    const int filled = static_cast<int>(frac * width);
    std::string s = label + " [" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(frac * 100.0));
    s += cat(pct, "  ", thousands(done), "/", thousands(total), "  ", format_duration(elapsed));
    if (done > 0 && done < total) s += ", ETA " + format_duration(elapsed * static_cast<double>(total - done) / static_cast<double>(done));
    return s;
}

void ProgressBar::update(int64_t done, int64_t total) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (drawn_ && done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const std::string line = render(label_, done, total, std::chrono::duration<double>(now - start_).count());
    os_ << '\r' << line;
    if (line.size() < last_len_) os_ << std::string(last_len_ - line.size(), ' ');
    os_.flush();
    last_len_ = line.size();
    drawn_ = true;
}

void ProgressBar::finish() {
    if (!drawn_) return;
    os_ << '\r' << std::string(last_len_, ' ') << '\r';
    os_.flush();
    drawn_ = false;
    last_len_ = 0;
}

ProgressFn SweepBar::callback() {
    return [this](const Progress& p) {
        if (p.stage == "sweep") {
            if (first_ < 0) first_ = p.done;
            done_ = p.done;
            total_ = p.total;
            bar_.set_label(cat(label_, " ", done_, "/", total_));
        } else {
            bar_.set_label(cat(label_, " ", p.layer, " ", p.stage));
        }
        bar_.update(done_ - first_, total_ - first_);
        return true;
    };
}

}  // namespace qcnn::cli
