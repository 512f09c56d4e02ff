// Timing helpers shared by the benchmarks: warm up, then repeat until a time budget is
// spent, and report the median (robust to the noise of a shared 2-core machine).
#pragma once

#include <functional>
#include <limits>
#include <map>
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
// Resets the peak-RSS counter (VmHWM) of this process to its current RSS (/proc/self/clear_refs).
void reset_peak_rss();

// ------------------------------------------------------------------ child processes --
// A benchmark cell runs in a forked child of its own, so its peak RSS is its own, a crash
// becomes a reported error, and the parent never starts OpenMP (fork only from a process that
// has not: the children of qcnn_bench and qcnn_zoo are forked from a parent that runs no
// parallel region).

// Runs fn in a forked child and returns what it returned (a text blob); on an exception,
// "error: " + its text; on a crash or a non-zero exit, "error: child process died ..." with
// whatever the child wrote.
std::string in_child(const std::function<std::string()>& fn);

// Key-value lines "key<TAB>value" in and out of child processes. encode() replaces tabs and
// newlines inside values by spaces and " | ", so any error text survives the trip.
using Record = std::map<std::string, std::string>;
std::string encode(const Record& r);
// An in_child() result: "error: ..." becomes {"error": ...}.
Record decode(const std::string& s);
// A double as text that reads back to the same value ("%.9g").
std::string num(double v);
// r[k] as a number, or fallback (NaN) when absent.
double get(const Record& r, const std::string& k, double fallback = std::numeric_limits<double>::quiet_NaN());

// v printed with the printf format f, or "-" for NaN (a cell that was not measured).
std::string fmt(const char* f, double v);

// Comma-separated items ("" gives none).
std::vector<std::string> split(const std::string& s, char sep = ',');

}  // namespace qcnn::bench
