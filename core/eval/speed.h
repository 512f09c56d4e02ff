// Measured speed: the one timing procedure behind every measured number (issue 14). `qcnn
// sweep` and the workbench's runs time whole networks with measure_speed(); `qcnn eval`'s
// per-layer kernel choice (kernel_choice.h) times ops with time_alternating().
//
// Why it is built this way (issue 14, measured on the 2-core shared machine): at batch 1 with
// 2 threads, every op whose work passes ExecContext::threads_for() opens a 2-thread team (the
// dense convs through Eigen's GEMM, which busy-waits for its partner). When the other core is
// busy with another process, the partner thread waits for a scheduler slice and the op takes
// ~12 ms instead of ~0.1 ms. The pass times are then bimodal (VGG-7 dense: p25 0.68 ms, p75
// 9.1 ms, max 122 ms), and a plain median lands on either mode depending on the load in its
// 0.5 s window: the same dense model measured 0.78 ms in one run and 96 ms in the next, so
// speed-ups of one setting read 1.31x and 2.52x. The dense network opens more teams than the
// quantized one (its convs pass the threshold, the LUT kernels often do not), so the load does
// not cancel out in the ratio. Hence:
//   - warm-up passes, then dense and quantized passes alternate (a burst hits both);
//   - a round during which the process was preempted (its count of involuntary context
//     switches grew: getrusage's ru_nivcsw) timed the scheduler, not the network: it is left
//     out of the statistics while enough clean rounds remain (measured on VGG-7 at 2 threads:
//     148 of 300 dense passes slow, every one of them preempted, no fast one preempted);
//   - every side is summarised by median, quartiles and spread = (q3 - q1) / median, and
//     repeated until every spread is <= target_spread (after min_rounds) or the budget ends;
//   - a side whose spread stays above noisy_spread is marked noisy, not shown as a precise
//     number;
//   - the dense measurement of one model is kept for the process (the workbench session): a
//     later measurement of the same (model, input shape, threads, kernel) reports the kept
//     one (dense_reused) as long as its own dense passes agree with it (same machine state).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/graph/network.h"

namespace qcnn {

// Summary of repeated timings of one thing, in the unit of the samples.
struct TimingStats {
    double median = std::numeric_limits<double>::quiet_NaN();
    double q1 = std::numeric_limits<double>::quiet_NaN();  // 25th percentile (linear interpolation)
    double q3 = std::numeric_limits<double>::quiet_NaN();  // 75th percentile
    int samples = 0;
    // Relative interquartile range (q3 - q1) / median; NaN without samples.
    double spread() const;
};
TimingStats timing_stats(std::vector<double> samples);

struct SpeedOptions {
    int warmup = 2;               // untimed passes per side before timing (plans, buffers, teams)
    int min_rounds = 7;           // timed passes per side at least
    int max_rounds = 2000;        // and at most
    double target_spread = 0.05;  // stop once every side's spread is at most this ...
    double budget_seconds = 1.0;  // ... or once this much time was spent timing
    double noisy_spread = 0.15;   // a side whose spread is above this is noisy
    double reuse_tolerance = 0.10;  // a kept dense measurement is reused while a fresh dense
                                    // median is within this fraction of it
};

// Timing of `sides` things, one pass of each per round (side 0, 1, ..., then again).
struct AlternatingTiming {
    std::vector<TimingStats> total;                // per side, seconds per pass
    std::vector<std::vector<TimingStats>> parts;   // per side and part (e.g. layer), seconds
    int rounds = 0;
    int preempted_rounds = 0;                      // rounds left out (see clean)
    bool clean = true;                             // the statistics use only rounds without a
                                                   // preemption; false: too few of those, all
                                                   // rounds were used
    bool converged = false;                        // stopped on target_spread, not on budget/max
};
// One pass of side `side`; fills `part_seconds` (may leave it empty: no parts).
using TimedPass = std::function<void(int side, std::vector<double>& part_seconds)>;
// Monotonic seconds.
using SecondsClock = std::function<double()>;
SecondsClock steady_seconds();
// Cumulative count of times the process was preempted; empty: never.
using PreemptionCounter = std::function<long()>;
PreemptionCounter process_preemptions();  // getrusage(RUSAGE_SELF).ru_nivcsw
// Runs options.warmup untimed passes per side, then rounds of timed passes until the stopping
// rule of SpeedOptions (min_rounds and target_spread count clean rounds only). Pass time =
// clock after - clock before; a round is preempted when `preemptions` grew during it.
AlternatingTiming time_alternating(int sides, const TimedPass& pass, const SpeedOptions& options,
                                   const SecondsClock& clock, const PreemptionCounter& preemptions = {});

// One network's measured latency, milliseconds per batch-1 forward pass.
struct NetworkTiming {
    TimingStats total_ms;
    std::vector<TimingStats> layer_ms;  // per weight layer, network order
    bool noisy = false;                 // total spread above SpeedOptions::noisy_spread, or too
                                        // few rounds free of preemption
};

// What identifies a dense measurement for reuse.
struct DenseTimingKey {
    std::string model_id;   // identity of the dense model (SHA-256 of its file); "" = never reuse
    Shape input_shape;
    int threads = 0;        // resolved
    LutKernel kernel = LutKernel::Fast;
    auto operator<=>(const DenseTimingKey&) const = default;
};

// Dense measurements kept for a process (thread-safe). Only measurements that are not noisy
// are kept.
class DenseTimingCache {
public:
    std::optional<NetworkTiming> find(const DenseTimingKey& key) const;
    void store(const DenseTimingKey& key, const NetworkTiming& t);
    void clear();
    static DenseTimingCache& process();  // the process-wide one measure_speed uses by default

private:
    mutable std::mutex mutex_;
    std::map<DenseTimingKey, NetworkTiming> kept_;
};

struct SpeedMeasurement {
    NetworkTiming dense, quantized;
    bool dense_reused = false;  // dense is the process's kept measurement (this call's dense
                                // passes agreed with it)
    int rounds = 0;             // timed passes per network in this call
    int preempted_rounds = 0;   // of them left out: the process was preempted
    // Medians (the result columns), NaN when not measured.
    double dense_ms() const { return dense.total_ms.median; }
    double quantized_ms() const { return quantized.total_ms.median; }
    double speedup() const { return dense_ms() / quantized_ms(); }
    // Interval of the speed-up from the quartiles: [dense q1 / quantized q3, dense q3 / quantized q1].
    double speedup_lo() const { return dense.total_ms.q1 / quantized.total_ms.q3; }
    double speedup_hi() const { return dense.total_ms.q3 / quantized.total_ms.q1; }
    bool noisy() const { return dense.noisy || quantized.noisy; }
};

// The measurement procedure with the passes and the clock given: pass(0, ...) runs the dense
// network, pass(1, ...) the quantized one, each filling per-weight-layer seconds. Tests inject
// a fake clock here; measure_speed() calls it with real engines.
SpeedMeasurement measure_speed_with(const DenseTimingKey& key, const TimedPass& pass, const SpeedOptions& options,
                                    const SecondsClock& clock, DenseTimingCache* cache,
                                    const PreemptionCounter& preemptions = {});

// Latency of the float and the quantized network at batch 1 on `threads` threads (0 = all
// cores), fixed pseudo-random input. `model_id` names the dense model for the cache ("" never
// reuses). Throws qcnn::Error when the networks' weight layers differ or the input has a
// dynamic dimension.
SpeedMeasurement measure_speed(const Network& dense, const Network& quantized, const std::string& model_id,
                               const Shape& sample_shape, int threads, LutKernel kernel,
                               const SpeedOptions& options = {}, DenseTimingCache* cache = &DenseTimingCache::process());

}  // namespace qcnn
