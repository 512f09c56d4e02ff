#include "core/util/parallel.h"

#include <omp.h>
#include <thread>

namespace qcnn {

int hardware_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

int resolve_threads(int threads) { return threads > 0 ? threads : hardware_threads(); }

void set_global_threads(int threads) { omp_set_num_threads(resolve_threads(threads)); }

}  // namespace qcnn
