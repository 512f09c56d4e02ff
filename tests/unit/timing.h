// Wall-clock budgets in tests. A budget states what a user sees on an optimised build
// (say, "a cancel is seen within 0.5 s"); under a sanitizer the same code runs several times
// slower, so the budget is scaled by the sanitizer's usual slowdown rather than dropped.
#pragma once

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
