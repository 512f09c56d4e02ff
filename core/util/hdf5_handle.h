// RAII helpers for HDF5's C API, shared by the readers and writers that link HDF5 (core/data,
// core/io, core/sweep), and the isolated first read of untrusted files. Header-only:
// core/util itself does not link HDF5, so include this only from modules that do.
#pragma once

#include <hdf5.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>

#include "core/util/error.h"
#include "core/util/isolate.h"

namespace qcnn {

// Closes an HDF5 identifier on scope exit (H5Fclose, H5Dclose, ... as given).
class Hdf5Handle {
public:
    Hdf5Handle() = default;
    Hdf5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
    ~Hdf5Handle() { reset(); }
    Hdf5Handle(Hdf5Handle&& o) noexcept : id_(std::exchange(o.id_, -1)), close_(o.close_) {}
    Hdf5Handle& operator=(Hdf5Handle&& o) noexcept {
        if (this != &o) {
            reset();
            id_ = std::exchange(o.id_, -1);
            close_ = o.close_;
        }
        return *this;
    }
    Hdf5Handle(const Hdf5Handle&) = delete;
    Hdf5Handle& operator=(const Hdf5Handle&) = delete;
    hid_t get() const { return id_; }
    bool ok() const { return id_ >= 0; }

private:
    void reset() {
        if (id_ >= 0 && close_) close_(id_);
        id_ = -1;
    }
    hid_t id_ = -1;
    herr_t (*close_)(hid_t) = nullptr;
};

namespace detail {
// Debian's libhdf5 is built thread-safe: one global lock inside the library. A fork while
// another thread holds it would leave the child's copy locked for good, so every use of HDF5
// in this code holds this mutex shared (Hdf5Session) and probe_hdf5_file forks holding it
// exclusively.
inline std::shared_mutex& hdf5_fork_mutex() {
    static std::shared_mutex m;
    return m;
}
inline int& hdf5_session_depth() {
    thread_local int depth = 0;
    return depth;
}
}  // namespace detail

// One stretch of HDF5 calls: turns off HDF5's printing of its error stack while alive (failures
// become qcnn::Error) and keeps isolated reads from forking meanwhile. Nests.
class Hdf5Session {
public:
    // In the child of an isolated read the forking thread still holds the mutex exclusively
    // (and is the only thread): no locking there.
    Hdf5Session() : lock_(!in_isolated_child()) {
        if (detail::hdf5_session_depth()++ == 0 && lock_) detail::hdf5_fork_mutex().lock_shared();
        H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }
    ~Hdf5Session() {
        H5Eset_auto2(H5E_DEFAULT, func_, data_);
        if (--detail::hdf5_session_depth() == 0 && lock_) detail::hdf5_fork_mutex().unlock_shared();
    }
    Hdf5Session(const Hdf5Session&) = delete;
    Hdf5Session& operator=(const Hdf5Session&) = delete;

private:
    bool lock_;
    H5E_auto2_t func_ = nullptr;
    void* data_ = nullptr;
};

// Debian 12's libhdf5 1.10.8 crashes (SIGSEGV, heap overflows) on some corrupt files, and a
// crash inside the library cannot be caught in-process (docs/hardening.md). So a reader of an
// untrusted HDF5 file first runs `probe` (the same HDF5 calls as the real read; no threads,
// no OpenMP) in a forked child (isolate.h). A crash or hang there becomes a qcnn::Error naming
// `path`; a qcnn::Error there is rethrown as it is; success lets the caller read in-process.
// Costs one extra read of the file. Call it outside any Hdf5Session of this thread.
inline void probe_hdf5_file(const std::string& path, const std::function<void()>& probe) {
    if (!isolated_reads() || in_isolated_child()) return;
    QCNN_ASSERT(detail::hdf5_session_depth() == 0, "probe_hdf5_file inside an Hdf5Session would deadlock");
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(path, ec);
    // Generous: a healthy read runs at hundreds of MB/s; this only catches a hang.
    const std::chrono::milliseconds timeout(60000 + (ec ? 0 : static_cast<long long>(bytes / 20000)));
    IsolatedOutcome out;
    {
        const std::unique_lock<std::shared_mutex> no_hdf5_in_flight(detail::hdf5_fork_mutex());
        out = run_isolated(probe, timeout);
    }
    switch (out.status) {
        case IsolatedOutcome::Status::Ok:
            return;
        case IsolatedOutcome::Status::Error:
            throw Error(out.message);
        case IsolatedOutcome::Status::Crashed:
            fail(path, ": libhdf5 ", out.message,
                 " reading this file; it is corrupt (Debian 12's libhdf5 1.10.8 cannot read some damaged files "
                 "safely, so qcnn reads HDF5 files in a separate process first: docs/hardening.md)");
        case IsolatedOutcome::Status::TimedOut:
            fail(path, ": reading this HDF5 file ", out.message, " (hung inside libhdf5?); the file is corrupt");
    }
}

}  // namespace qcnn
