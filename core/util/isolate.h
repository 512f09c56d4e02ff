// Running risky work in a child process. Debian 12's libhdf5 (1.10.8) crashes on some corrupt
// files (docs/hardening.md); a crash inside a library cannot be caught in-process, so readers
// of untrusted HDF5 files first read the file in a forked child: if the child dies or hangs,
// the file is refused with an error and this process goes on; if the child succeeds, the
// reader repeats the read in-process. Linux/POSIX only (fork).
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace qcnn {

struct IsolatedOutcome {
    enum class Status {
        Ok,        // `work` returned
        Error,     // `work` threw qcnn::Error; `message` is its text
        Crashed,   // killed by a signal or exited abnormally; `message` says how
        TimedOut,  // still running at the deadline; it was killed
    };
    Status status = Status::Ok;
    std::string message;
};

// Runs `work` in a forked child process and waits at most `timeout` for it. The child is
// single-threaded (only the calling thread is forked): `work` must not start threads or
// OpenMP regions. Its stdout and stderr go to /dev/null. It must not take locks that another
// thread of this process may hold at the time of the fork (callers serialise with them: see
// hdf5_handle.h). Throws qcnn::Error when the child cannot be started.
IsolatedOutcome run_isolated(const std::function<void()>& work, std::chrono::milliseconds timeout);

// True inside the child of run_isolated: nested isolation is skipped there.
bool in_isolated_child();

// Whether readers of untrusted HDF5 files (datasets, quantized models, results files) read
// them in a child process first (hdf5_handle.h probe_hdf5_file). On by default; the fuzz
// targets turn it off, since they look for crashes, in our own reading code too.
void set_isolated_reads(bool on);
bool isolated_reads();

}  // namespace qcnn
