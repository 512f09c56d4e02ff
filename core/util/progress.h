// Progress reporting and cancellation: one small type shared by every long loop in core
// (k-means iterations, error-correction sweeps, evaluation batches).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/util/error.h"

namespace qcnn {

struct Progress {
    std::string stage;   // "evaluate", "kmeans", "error-correction", ...
    std::string layer;   // layer alias or empty
    int64_t done = 0;
    int64_t total = 0;
};

// Returns false to ask the work to stop; the work then throws qcnn::Cancelled.
using ProgressFn = std::function<bool(const Progress&)>;

inline void report(const ProgressFn& fn, const Progress& p) {
    if (fn && !fn(p)) throw Cancelled();
}

}  // namespace qcnn
