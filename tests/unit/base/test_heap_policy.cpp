// KeepHeapWhileTraining: nested scopes count, and inside one a big freed block stays in the
// heap (glibc's mallinfo2), while after the last scope a block above 32 MiB is mmap'ed again.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "core/util/heap_policy.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qcnn {
namespace {

// The sanitizers replace malloc, and mallinfo2 then says nothing. GCC defines __SANITIZE_*__;
// clang (the hardening builds, .ci/hardening.sh) answers __has_feature.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define QCNN_TEST_OWN_MALLOC 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define QCNN_TEST_OWN_MALLOC 1
#endif
#if defined(QCNN_TEST_OWN_MALLOC)
constexpr bool kOwnMalloc = true;
#else
constexpr bool kOwnMalloc = false;
#endif

TEST(HeapPolicy, NestedScopesCountAndOnlyTheLastOneOutRestores) {
    EXPECT_EQ(keep_heap_scopes(), 0);
    {
        const KeepHeapWhileTraining outer;
        EXPECT_EQ(keep_heap_scopes(), 1);
        {
            const KeepHeapWhileTraining inner;
            EXPECT_EQ(keep_heap_scopes(), 2);
        }
        EXPECT_EQ(keep_heap_scopes(), 1);
    }
    EXPECT_EQ(keep_heap_scopes(), 0);
}

#if defined(__GLIBC__)
// Allocates, touches and frees `bytes`; returns (free heap bytes, mmap'ed bytes) seen while held
// and after the free.
struct Seen {
    size_t mmapped_held, free_after;
};
Seen alloc_touch_free(size_t bytes) {
    auto* p = static_cast<char*>(std::malloc(bytes));
    std::memset(p, 1, bytes);
    asm volatile("" : : "r"(p) : "memory");  // the compiler may not elide the block
    const size_t held = mallinfo2().hblkhd;
    std::free(p);
    return {held, mallinfo2().fordblks};
}

TEST(HeapPolicy, AFreedTrainingBufferStaysInTheHeapAndBigOnesAreMappedAfterwards) {
    if (kOwnMalloc) GTEST_SKIP() << "a sanitizer's malloc is in use";
    constexpr size_t kStep = 24u << 20;  // a training step's buffer: under the 32 MiB threshold
    {
        const KeepHeapWhileTraining keep;
        const size_t mapped_before = mallinfo2().hblkhd;
        const Seen s = alloc_touch_free(kStep);
        EXPECT_LT(s.mmapped_held, mapped_before + kStep) << "the buffer was mmap'ed";
        EXPECT_GE(s.free_after, kStep) << "the freed buffer left the heap";
    }
    constexpr size_t kBig = 48u << 20;  // above glibc's largest mmap threshold
    const size_t mapped_before = mallinfo2().hblkhd;
    const Seen s = alloc_touch_free(kBig);
    EXPECT_GE(s.mmapped_held, mapped_before + kBig) << "after the scope a 48 MiB block should be mmap'ed";
}
#endif

}  // namespace
}  // namespace qcnn
