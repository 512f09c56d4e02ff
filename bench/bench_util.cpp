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

long long peak_rss_bytes() {
    std::ifstream f("/proc/self/status");
    std::string key;
    while (f >> key) {
        if (key == "VmHWM:") {
            long long kb = 0;
            f >> kb;
            return kb * 1024;
        }
        std::string rest;
        std::getline(f, rest);
    }
    return -1;
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
}

}  // namespace qcnn::bench
