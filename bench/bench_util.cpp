#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <fstream>

namespace qcnn::bench {

Timing time_it(const std::function<void()>& fn, double budget_s, int min_reps, int warmup) {
    using clock = std::chrono::steady_clock;
    for (int i = 0; i < warmup; ++i) fn();
    std::vector<double> t;
    const auto start = clock::now();
    while (static_cast<int>(t.size()) < min_reps ||
           std::chrono::duration<double>(clock::now() - start).count() < budget_s) {
        const auto t0 = clock::now();
        fn();
        t.push_back(std::chrono::duration<double>(clock::now() - t0).count());
        if (t.size() >= 10000) break;
    }
    std::sort(t.begin(), t.end());
    return {t[t.size() / 2], t.front(), static_cast<int>(t.size())};
}

long long proc_status_bytes(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string k;
    while (f >> k) {
        if (k == key) {
            long long kb = 0;
            f >> kb;
            return kb * 1024;
        }
        std::string rest;
        std::getline(f, rest);
    }
    return -1;
}

long long peak_rss_bytes() { return proc_status_bytes("VmHWM:"); }

}  // namespace qcnn::bench
