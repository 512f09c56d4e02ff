// Sweeps: one versioned JSON spec (docs/sweeps.md) shared by `qcnn sweep` and the workbench,
// expanded into runs in a fixed order; each finished run is one row of `runs` and one row
// per weight layer of `layers` in an HDF5 results file (core/sweep/results_file.h).
//
// Spec, version 1 (keys not listed are an error, so typos do not pass silently):
//   {
//     "qcnn_sweep": 1,                       required: the schema version
//     "model": "datasets/vgg7.onnx",         relative paths: relative to the spec file
//     "data": "fashion-mnist:test",          evaluation dataset spec (core/data/dataset.h)
//     "calib_data": "",                      "" = the training split of "data"
//     "calib_images": 0,                     0 = RunSpec's default
//     "mean": [], "std": [],                 preprocessing after scaling to [0,1]
//     "preprocess": "none",                  image folders: none | imagenet | imagenet:R/C
//                                            (dataset.h), applied to data and calib_data
//     "limit": 0, "batch": 64,               evaluation images (0 = all), batch size
//     "base": "conv1=dense",                 settings applied to every run (settings.h syntax)
//     "grid": [                              one entry per layer group; the runs are the
//       {"layers": "conv",                   cartesian product of every group's values
//        "settings": ["8/128", "4/16"]},     ("conv", "fc", or one layer's alias / node name;
//       {"layers": "fc",                      each value is a settings.h value: "C_s'/K",
//        "subspace_dims": [2, 4],             "C_s'/K:noec" or "dense"). Either "settings" or
//        "codewords": [16, 32]}               subspace_dims x codewords (+ "dense": true to add
//     ],                                      the dense option).
//     "ec": ["none", "network"],             error-correction modes (each run takes one)
//     "seeds": [0],                          each run takes one (0..2^63-1, exact)
//     "threads": 0,                          0 = all cores
//     "kmeans_iters": 25, "ec_iters": 6,     error correction: sweeps over the subspaces,
//     "ec_conv_images": 1000,                conv layers use the first N calibration images
//     "ec_positions": 64,                    and P seeded output positions per image (0 = all)
//     "kernel": "fast",                      quantized evaluation kernel: fast | reference
//     "measure_speed": false,                time dense vs quantized forward passes per run
//     "finetune": false, "ft_epochs": 3,     fine-tuning after quantization (and EC) on the
//     "ft_lr": 0.01, "ft_batch": 32,         calibration/training split (core/train/finetune.h);
//     "ft_params": "codebooks,bias,bn",      left out of the canonical text at their defaults
//     "ft_images": 5000                     (0 = the whole training split)
//   }
// Run order: ec mode outermost, then seeds, then grid groups in spec order with the last
// group varying fastest. A run's settings text is `base` followed by one item per group.
// In C++ (SweepSpec below) every key but grid, vary, ec, seeds and measure_speed is a field of
// SweepSpec::base, a RunSpec: "base" is base.layers, "kernel" base.lut_kernel, the others keep
// their names.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/eval/run.h"
#include "core/eval/speed.h"
#include "core/util/json.h"
#include "core/util/progress.h"

namespace qcnn {

inline constexpr int kSweepSpecVersion = 1;

struct SweepGroup {
    std::string layers;                 // "conv", "fc", or a layer alias / ONNX node name
    std::vector<std::string> settings;  // values in settings.h syntax, in run order

    bool operator==(const SweepGroup&) const = default;
};

// The spec: the run options of every run (core/sweep/run_options.h declares each once: key,
// CLI flag, bounds, help, workbench label) as one RunSpec with its defaults, the grid, and the
// sweep dimensions ec and seeds. The settings text applied to every run (spec key "base") is
// base.layers; base.ec and base.seed are not used: the lists `ec` and `seeds` are the spec's
// (run_spec() takes a run's mode and seed from its point), and operator== ignores them.
struct SweepSpec {
    RunSpec base;                       // model, data, calib_data, ..., layers = the base settings
    std::vector<SweepGroup> grid;       // empty: one run of base.layers per ec mode and seed
    // How the grid's groups combine (spec key "vary"): false ("together"): every combination of
    // one value per group (their product); true ("one-at-a-time"): each group's values alone, the
    // other groups absent (base only), so the runs are the sum of the group sizes. A sensitivity
    // analysis is a one-at-a-time sweep with one group per layer.
    bool one_at_a_time = false;
    std::vector<EcMode> ec = {RunSpec{}.ec};
    std::vector<uint64_t> seeds = {RunSpec{}.seed};  // each 0..2^63-1
    bool measure_speed = false;

    bool operator==(const SweepSpec& o) const;
};

// Parses and validates a spec (every settings value, ec mode and group name; model
// existence is checked when the sweep runs). `what` names the source in errors, which name
// the offending key, e.g. "sweep.json: grid[1].codewords[0]: K = 300 is out of range (2..256)".
// `base_dir` resolves relative model paths ("" leaves them as written).
SweepSpec parse_sweep_spec(const json::Value& v, const std::string& what, const std::string& base_dir = "");
SweepSpec load_sweep_spec(const std::string& path);
// Canonical JSON (what the workbench saves); parse_sweep_spec(json::parse(to_json(s))) == s.
std::string to_json(const SweepSpec& s);
void save_sweep_spec(const std::string& path, const SweepSpec& s);

struct SweepPoint {
    int64_t index = 0;       // position in run order, 0-based
    std::string layers;      // settings text of this run (base + one item per group)
    EcMode ec = EcMode::None;
    uint64_t seed = 0;
};

std::vector<SweepPoint> expand(const SweepSpec& s);

// One shard of a sweep's runs (`qcnn sweep --shard I/N`): the runs whose index i has
// i mod N == I (round-robin over the run order, so every shard gets its share of every EC mode
// and seed). Every run is in exactly one shard; with N > runs, shards I >= runs are empty.
struct Shard {
    int64_t index = 0, count = 1;  // 0 <= index < count

    bool operator==(const Shard&) const = default;
    bool sharded() const { return count > 1; }
    bool contains(int64_t run_index) const { return run_index % count == index; }
};
// "I/N", 0 <= I < N <= 100000; errors name `what` (e.g. "--shard") and the text.
Shard parse_shard(const std::string& text, const std::string& what);
std::string to_string(const Shard& s);  // "I/N"
std::vector<SweepPoint> shard_points(const std::vector<SweepPoint>& points, const Shard& shard);

// A new sweep id: the UTC time "20250314T093012Z", with "_2", "_3", ... appended when the results
// file `path` (when it exists) already has that id.
std::string new_sweep_id(const std::string& path, const std::string& root = "sweeps");
// Ids given by the user (--sweep-id): non-empty, at most 64 characters of [A-Za-z0-9_-];
// errors name `what` and the id.
void check_sweep_id(const std::string& id, const std::string& what);
// "2025-03-14T09:30:12Z", now.
std::string utc_now();
// The RunSpec of one point: the spec's base with the point's settings text, ec mode and seed,
// the preprocess preset folded into data and calib_data (resolve_preprocess, core/eval/run.h).
RunSpec run_spec(const SweepSpec& s, const SweepPoint& p);

// One row of the `runs` table (units in the names).
struct RunRow {
    int64_t run_index = 0;
    std::string settings;    // the point's settings text
    std::string ec;          // "none" | "layer" | "network"
    uint64_t seed = 0;
    double top1 = 0, top5 = 0, top1_float = 0, top5_float = 0;  // fractions in [0, 1]
    double compression = 0, theoretical_speedup = 0;
    double measured_speedup = 0;     // NaN when speed was not measured
    double dense_ms = 0, quantized_ms = 0;  // per batch-1 forward (medians); NaN when not measured
    // Measurement quality (core/eval/speed.h): relative interquartile ranges of the two
    // latencies, the speed-up's interval from the quartiles (NaN when not measured), whether the
    // measurement is noisy, whether dense_ms is the session's kept dense measurement, the timed
    // rounds and those left out because the process was preempted (0 when not measured).
    double dense_ms_spread = 0, quantized_ms_spread = 0;
    double measured_speedup_lo = 0, measured_speedup_hi = 0;
    int64_t speed_noisy = 0, dense_reused = 0, speed_rounds = 0, speed_preempted_rounds = 0;
    int64_t memory_bytes_dense = 0, memory_bytes_quantized = 0;
    double quantize_seconds = 0, eval_seconds = 0;
    // Provenance (schema version 3, issue 17): the host that ran it, its shard I of N (0 of 1
    // when not sharded) and the UTC time it finished ("2025-03-14T09:30:12Z").
    std::string host;
    int64_t shard = 0, shards = 1;
    std::string finished_utc;
};

// One row of the `layers` table.
struct LayerRow {
    int64_t run_index = 0;
    std::string name, alias, op;     // op: "conv" | "fc"
    int64_t subspace_dim = 0, codewords = 0;  // 0, 0 for a dense layer
    std::string ec;                  // the mode applied to this layer ("none" when not corrected)
    int64_t params = 0;
    int64_t bytes_dense = 0, bytes_quantized = 0;
    int64_t flops_dense = 0, flops_quantized = 0;
    double theoretical_speedup = 0;
    double dense_ms = 0, quantized_ms = 0;  // medians; NaN when speed was not measured
    double dense_ms_spread = 0, quantized_ms_spread = 0;  // relative interquartile ranges; NaN likewise
    double response_error = 0;       // relative L2 error of the layer's output (0 for dense)
};

// The measured speed-up of a run as the CLI and the workbench show it: "1.31x ±0.05" (half the
// width of [measured_speedup_lo, measured_speedup_hi]), " noisy" appended when speed_noisy,
// "-" when not measured.
std::string measured_speedup_text(const RunRow& r);

// Rows of one finished run. `speed` null: speeds are NaN. The run row's host and finished_utc are
// this process's host name and the current time.
RunRow run_row(const SweepPoint& p, const RunResult& r, const SpeedMeasurement* speed);
std::vector<LayerRow> layer_rows(const SweepPoint& p, const RunResult& r, const SpeedMeasurement* speed);

struct SweepOptions {
    bool resume = false;     // skip runs already in the file (same spec required)
    int threads = -1;        // >= 0 overrides the spec's threads
    Shard shard;             // run only this shard's points
    // "": a new id (new_sweep_id), or with resume the newest sweep of the same spec (and shard).
    // Set: the sweep's id; with resume, a file without that sweep starts it (what the Slurm
    // tasks do, so a resubmitted task continues its shard file and a first one creates it).
    std::string sweep_id;
    // The results file's group the table goes to: "sweeps", or "sensitivity" for a sensitivity
    // analysis (core/auto/sensitivity.h).
    std::string root = "sweeps";
};

struct SweepOutcome {
    std::string sweep_id;
    std::string status;      // "completed" | "cancelled" | "failed"
    int64_t runs_total = 0, runs_done = 0, runs_skipped = 0;  // of this shard's runs
    std::vector<RunRow> rows;  // every run of the table, in run order (including resumed ones)
    std::vector<LayerRow> layer_rows;  // the layer rows of `rows`, in the same order
    double seconds = 0;
};

// Receives each finished run of a SweepRunner, in run order (after its rows were appended to
// the results file and flushed, when there is one): the workbench's job, `qcnn sweep`'s lines.
class RunSink {
public:
    virtual ~RunSink() = default;
    virtual void add(const SweepPoint& p, const RunResult& r, const RunRow& row, const std::vector<LayerRow>& layers) = 0;
};

// The one sweep loop, of `qcnn sweep` and of the workbench's runs (ui/run_job.h): expand the
// spec (this shard's points), check every point before the first run (validate()), run them one
// after another (run_quantization, the float evaluation reused), time them when the spec asks
// (measure_speed with speed_options(), the same budget everywhere), hand the rows to a sink and,
// given a path, append them to a results file (created, or reopened with opt.resume).
// Progress: stage "sweep" (done = finished runs, total = runs) with the stages of
// run_quantization and "measure speed" nested inside (Progress::layer = "run i/n", or
// "run i/n: conv2" when the stage names a layer). A cancel
// marks the sweep "cancelled" in the file and rethrows qcnn::Cancelled; a run that throws marks
// it "failed", keeps every finished run, and rethrows.
class SweepRunner {
public:
    SweepRunner(const SweepSpec& spec, const SweepOptions& opt = {});

    const SweepSpec& spec() const { return spec_; }  // with opt.threads applied
    const std::vector<SweepPoint>& points() const { return points_; }  // this shard's, run order
    // Reuse this float evaluation (same model, data, limit) instead of evaluating it in the first run.
    void set_float_eval(const EvalResult& e) { float_eval_ = e; }
    // The model, the data against the model, every point's settings against its layers; throws
    // qcnn::Error naming the run. run() calls it first.
    void validate();
    // The timing every measured run uses (measure_speed's defaults: one budget for the CLI and the GUI).
    static SpeedOptions speed_options() { return {}; }
    // `results_path` "": no file (the workbench keeps the rows itself); opt.resume needs a file.
    SweepOutcome run(const std::string& results_path, const std::string& spec_text, RunSink* sink,
                     const ProgressFn& progress = {});

private:
    SweepSpec spec_in_, spec_;
    SweepOptions opt_;
    std::vector<SweepPoint> all_points_, points_;
    std::optional<EvalResult> float_eval_;
    std::shared_ptr<const Network> net_;
    std::string model_sha_;
    int64_t samples_ = 0;
    bool validated_ = false;
};

// Called after each run has been appended and flushed.
using RunFinished = std::function<void(const SweepPoint&, const RunResult&, const RunRow&)>;

// A SweepRunner writing to `results_path` (created when absent; --resume reopens it).
SweepOutcome run_sweep(const SweepSpec& spec, const std::string& spec_text, const std::string& results_path,
                       const SweepOptions& opt, const ProgressFn& progress = {}, const RunFinished& on_run = {});

}  // namespace qcnn
