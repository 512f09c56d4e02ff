// Timing helpers shared by the benchmarks: warm up, then repeat until a time budget is
// spent, and report the median (robust to the noise of a shared 2-core machine).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace qcnn::bench {

struct Timing {
    double median_s = 0;
    double min_s = 0;
    int reps = 0;
};

// Runs fn `warmup` times, then at least min_reps times and until budget_s seconds passed.
Timing time_it(const std::function<void()>& fn, double budget_s = 0.5, int min_reps = 5, int warmup = 2);

// Peak resident set size of this process so far, in bytes (from /proc/self/status VmHWM).
long long peak_rss_bytes();

std::string cpu_model();

}  // namespace qcnn::bench
