#include "bench_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>

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

void reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
}

std::string in_child(const std::function<std::string()>& fn) {
    int fds[2];
    if (pipe(fds) != 0) return "error: pipe failed";
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return "error: fork failed";
    }
    if (pid == 0) {
        close(fds[0]);
        std::string r;
        try {
            r = fn();
        } catch (const std::exception& e) {
            r = std::string("error: ") + e.what();
        }
        size_t off = 0;
        while (off < r.size()) {
            const ssize_t n = write(fds[1], r.data() + off, r.size() - off);
            if (n <= 0) break;
            off += static_cast<size_t>(n);
        }
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    std::string r;
    char buf[65536];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) r.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        const std::string how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                                    : "status " + std::to_string(status);
        return "error: child process died (" + how + ")" + (r.empty() ? "" : ": " + r);
    }
    return r;
}

std::string encode(const Record& r) {
    std::string s;
    for (const auto& [k, v] : r) {
        std::string clean;
        for (char c : v) {
            if (c == '\n') clean += " | ";
            else if (c == '\t' || c == '\r') clean += ' ';
            else clean += c;
        }
        s += k + "\t" + clean + "\n";
    }
    return s;
}

Record decode(const std::string& s) {
    Record r;
    if (s.rfind("error: ", 0) == 0) {
        r["error"] = s.substr(7);
        return r;
    }
    std::stringstream ss(s);
    std::string line;
    while (std::getline(ss, line)) {
        const size_t tab = line.find('\t');
        if (tab != std::string::npos) r[line.substr(0, tab)] = line.substr(tab + 1);
    }
    return r;
}

std::string num(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.9g", v);
    return b;
}

std::string fmt(const char* f, double v) {
    if (std::isnan(v)) return "-";
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

double get(const Record& r, const std::string& k, double fallback) {
    auto it = r.find(k);
    return it == r.end() ? fallback : std::stod(it->second);
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> v;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, sep)) v.push_back(item);
    return v;
}

}  // namespace qcnn::bench
