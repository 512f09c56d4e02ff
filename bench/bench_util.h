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

// A "Vm...:" field of /proc/self/status in bytes, e.g. "VmRSS:" (-1 when absent).
long long proc_status_bytes(const char* key);
// Peak resident set size of this process so far, in bytes (VmHWM).
long long peak_rss_bytes();

}  // namespace qcnn::bench
