// Wall-clock budgets in tests. A budget states what a user sees on an optimised build
// (say, "a cancel is seen within 0.5 s"); under a sanitizer the same code runs several times
// slower, so the budget is scaled by the sanitizer's usual slowdown rather than dropped.
#pragma once

// GCC defines __SANITIZE_*__; clang (the hardening presets' compiler) answers __has_feature.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define __SANITIZE_THREAD__ 1
#endif
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif

namespace qcnn::test {

#if defined(__SANITIZE_THREAD__)
inline constexpr double kSanitizerSlowdown = 10.0;  // TSan: 5-15x
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr double kSanitizerSlowdown = 4.0;  // ASan at -O1: 2-5x
#else
inline constexpr double kSanitizerSlowdown = 1.0;
#endif

// `seconds` on an optimised build, scaled for a sanitizer build.
inline constexpr double budget(double seconds) { return seconds * kSanitizerSlowdown; }

}  // namespace qcnn::test
