// Thread-count handling. core uses OpenMP with static schedules, so results are
// deterministic for a given thread count (and, where documented, for any thread count).
#pragma once

#include <cstdint>

namespace qcnn {

// Number of hardware threads (>= 1).
int hardware_threads();

// Resolve a user thread count: 0 or negative means all cores.
int resolve_threads(int threads);

// Sets the calling thread's default OpenMP team size, which Eigen's GEMM also follows
// (Eigen::setNbThreads is never called: it is process-global, this is per thread).
void set_global_threads(int threads);

}  // namespace qcnn
