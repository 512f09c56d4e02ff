#include "core/util/heap_policy.h"

#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qcnn {

namespace {

std::mutex g_mutex;
int g_scopes = 0;

#if defined(__GLIBC__)
// glibc's largest mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX, 32 MiB on 64-bit): the buffers of
// a training step (VGG-7 at batch 64: 13 MB for the largest activation) are below it, and it is
// also where glibc's dynamic rule ends after a large free, so it stays set after the scope.
constexpr int kMmapThreshold = 32 << 20;
constexpr int kKeepTrimThreshold = 1 << 30;      // the heap top is not trimmed below 1 GiB free
constexpr int kAfterTrimThreshold = 64 << 20;    // twice the mmap threshold, as glibc's dynamic rule sets
#endif

}  // namespace

KeepHeapWhileTraining::KeepHeapWhileTraining() {
    const std::lock_guard lock(g_mutex);
    if (g_scopes++ > 0) return;
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
    mallopt(M_TRIM_THRESHOLD, kKeepTrimThreshold);
#endif
}

KeepHeapWhileTraining::~KeepHeapWhileTraining() {
    const std::lock_guard lock(g_mutex);
    if (--g_scopes > 0) return;
#if defined(__GLIBC__)
    mallopt(M_TRIM_THRESHOLD, kAfterTrimThreshold);
    malloc_trim(0);
#endif
}

int keep_heap_scopes() {
    const std::lock_guard lock(g_mutex);
    return g_scopes;
}

}  // namespace qcnn
