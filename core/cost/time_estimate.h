// How long one run will take (issue 16 section 2, issue 18 item 4), next to the cost model it
// reads. A run's time is split into the stages run_quantization() reports through its progress:
//   k-means      "quantize" / "kmeans"
//   calibration  "calibration data" / "calibration" / "response-error" (forward passes over the
//                calibration images and the EC Gram statistics; the response errors of every run)
//   EC solve     "error-correction"
//   evaluation   "evaluate" / "evaluate float" / "evaluate quantized"
//   speed        "measure speed" (the workbench's timing of dense and quantized passes)
// For each stage run_work() counts the work of a run in abstract units (multiply-adds of the
// cost model's layer geometry; see the .cpp for each formula) and a TimeModel turns work into
// seconds with a rate (seconds per unit) per stage, learnt from the runs already done on this
// machine: per EC mode when that mode has run the stage, else from any mode, else a prior of
// 1 GFLOP/s with a wide range. The estimate is a range: the lowest and highest rate observed
// (each widened by 25% for timing noise; one observation: 0.67x..1.5x), prior 0.25x..4x.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/cost/cost_model.h"
#include "core/quant/quantize_network.h"

namespace qcnn {

enum class RunStage { KMeans, Calibration, EcSolve, Evaluation, Speed };
inline constexpr int kRunStages = 5;
std::string to_string(RunStage s);
// The stage of a progress stage name (above); false for names of none of them.
bool run_stage_of(const std::string& progress_stage, RunStage* stage);

// Work or seconds per stage, indexed by RunStage.
using StageValues = std::array<double, kRunStages>;

// What a run does, besides its per-layer settings (in `cost`).
struct RunWorkOptions {
    EcMode ec = EcMode::None;
    int kmeans_iters = 25;
    int ec_iters = QuantizeOptions{}.ec_iterations;
    int64_t calib_images = 0;     // resolved as run_quantization does: 0 -> 256 (EC none) or
                                  // QuantizeOptions::ec_fc_images, bounded by calib_available
    int64_t calib_available = 0;  // images in the calibration set (0: unknown, no bound)
    int64_t ec_conv_images = QuantizeOptions{}.ec_conv_images;
    int64_t ec_positions = QuantizeOptions{}.ec_positions;
    int64_t eval_images = 0;      // evaluated images (the limit, or the data set's size)
    bool evaluate_float = false;  // the float model is evaluated too (not cached)
    bool measure_speed = false;
};

// Work units per stage of one run of the network priced by `cost` (its layers' settings).
StageValues run_work(const NetworkCost& cost, const RunWorkOptions& options);

// Seconds per stage from a stream of progress reports (or polled progress snapshots): the time
// between two observations is the first one's stage. Names of no stage ("sweep", "") count
// for the stage before them.
class StageClock {
public:
    using Clock = std::chrono::steady_clock;
    void observe(const std::string& progress_stage, Clock::time_point now = Clock::now());
    // Ends the current stage at `now`; the clock can then start again.
    void stop(Clock::time_point now = Clock::now());
    const StageValues& seconds() const { return seconds_; }
    void reset();

private:
    StageValues seconds_{};
    int current_ = -1;
    Clock::time_point since_{};
};

struct TimeEstimate {
    double low = 0, typical = 0, high = 0;  // seconds
    TimeEstimate() = default;
    // An exact figure (low = typical = high).
    TimeEstimate(double seconds) : low(seconds), typical(seconds), high(seconds) {}  // NOLINT: implicit on purpose
    TimeEstimate(double lo, double typ, double hi) : low(lo), typical(typ), high(hi) {}
    TimeEstimate& operator+=(const TimeEstimate& o);
    TimeEstimate operator*(double n) const { return {low * n, typical * n, high * n}; }
};

class TimeModel {
public:
    // One finished run: its work and the seconds it spent per stage.
    void observe(EcMode ec, const StageValues& work, const StageValues& seconds);
    TimeEstimate estimate(EcMode ec, const StageValues& work) const;
    // Per stage (rates used by estimate(); seconds for `work`).
    TimeEstimate estimate_stage(EcMode ec, RunStage stage, double work) const;
    int observations(EcMode ec) const;
    int observations() const { return static_cast<int>(runs_.size()); }
    void clear() { runs_.clear(); }

    // The prior rate: seconds per work unit before any run (1 GFLOP/s).
    static constexpr double kPriorSecondsPerUnit = 1e-9;

private:
    struct Run {
        EcMode ec;
        StageValues work, seconds;
    };
    std::vector<Run> runs_;
};

}  // namespace qcnn
