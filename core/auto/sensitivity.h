// Sensitivity analysis (issue 15): quantize one layer at a time over a grid of settings and
// record, per (layer, setting), the accuracy drop, the layer's response error, its compression,
// theoretical and measured speed-up and bytes. It is a sweep whose groups vary one at a time
// (SweepSpec::one_at_a_time, one group per layer), run by the one SweepRunner and stored in the
// results file under /sensitivity/<id> in the sweeps' layout (runs and layers tables, the same
// provenance attributes), so it is resumable after kill -9 and readable with pandas.read_hdf.
// A finished analysis of the same model (SHA-256) and canonical spec is reused, not rerun.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/graph/network.h"
#include "core/sweep/sweep.h"
#include "core/util/progress.h"

namespace qcnn {

// The grid `qcnn sensitivity` uses without --grid: from fine to coarse sub-vectors and from 16 to
// 128 codewords, the settings the paper and docs/results.md explore.
std::vector<std::string> default_sensitivity_grid();

struct SensitivityRequest {
    SweepSpec options;                 // model, data, calibration, ec (none or layer), seeds (the
                                       // first is used), k-means, limit, batch, kernel, threads
    std::string layers = "conv,fc";    // which layers: "conv", "fc", aliases or node names, comma-separated
    std::vector<std::string> grid = default_sensitivity_grid();  // "C_s'/K" values
    // (layer, setting) runs in flight at once, each on its share of the threads: 0 = automatic
    // (sensitivity_parallelism), 1 = one after another. Not part of the analysis' identity: the
    // table has the same bits either way.
    int parallel = 0;
};

struct SensitivityPlan {
    SweepSpec spec;  // one-at-a-time, one group per selected layer (its alias) with the values that fit it
    // Layer values left out, with the reason ("conv1 2/16: C_s' = 2 does not divide 1 input channel").
    std::vector<std::pair<std::string, std::string>> skipped;
    int parallel = 0;  // the request's
};

// Checks the request against `net` (unknown layer names, an empty selection, a bad grid value
// and EC modes other than none/layer are errors naming what is wrong) and builds the spec.
SensitivityPlan plan_sensitivity(const Network& net, const SensitivityRequest& request);

struct SensitivityEntry {
    std::string layer, name, setting;  // alias, node name, "C_s'/K"
    double top1 = 0, top5 = 0, top1_float = 0, top5_float = 0;
    double response_error = 0;         // relative L2 error of the layer's output (calibration images)
    double compression = 0;            // of the layer's weights
    double theoretical_speedup = 0;    // of the layer
    double dense_ms = 0, quantized_ms = 0;  // the layer's measured time (NaN when not measured)
    int64_t bytes_dense = 0, bytes_quantized = 0, flops_dense = 0, flops_quantized = 0;
    double top1_drop() const { return top1_float - top1; }
    double top5_drop() const { return top5_float - top5; }
};

// How many (layer, setting) runs go at once and why. Each run in flight holds its own copy of
// the evaluation and calibration data and its activations; `cell_bytes` estimates one run's peak
// from the network (weights, activation bytes per image from summarize()) and the run options
// (batch, evaluation images, calibration images), `available_bytes` is MemAvailable of
// /proc/meminfo (0 when unknown). Automatic: min(threads, runs, half the available memory /
// cell_bytes). Each run gets threads / cells threads; the speed timing of a finished run
// waits until the others pause at their next progress report and then uses all threads, as in
// the serial analysis.
struct SensitivityParallelism {
    int cells = 1, threads_per_cell = 1, threads = 1;
    int64_t cell_bytes = 0, available_bytes = 0;
    std::string reason;  // "2 runs at once, 1 thread each: --parallel 2", ...
};
SensitivityParallelism sensitivity_parallelism(const Network& net, const SweepSpec& spec, int threads, int requested,
                                               int64_t runs);
// MemAvailable of /proc/meminfo in bytes; 0 when it cannot be read.
int64_t available_memory_bytes();

struct SensitivityTable {
    std::string path, id;   // results file and /sensitivity/<id>
    bool reused = false;    // a finished analysis of the same spec and model was read back
    int64_t runs_done = 0, runs_resumed = 0;
    std::vector<SensitivityEntry> entries;  // in run order: layers in network order, grid values in order
    SensitivityParallelism parallel;        // how the runs of this call went (cells 1 when reused)
};

// The entries of a finished one-at-a-time sweep's rows.
std::vector<SensitivityEntry> sensitivity_entries(const SweepSpec& spec, const std::vector<RunRow>& runs,
                                                  const std::vector<LayerRow>& layers);

// Runs the plan's spec into `results_path` (created when absent) under /sensitivity/: reuses a
// completed analysis of the same canonical spec and model, resumes an unfinished one, or starts
// a new one. `threads` (>= 0) overrides the spec's thread count without changing its identity.
// Progress and cancel as SweepRunner (stage "sweep", the run's stages nested). With several runs
// in flight (plan.parallel, sensitivity_parallelism) the same table comes out (same bits; rows
// are appended to the file as runs finish, entries are in run order), the first "sweep" report's
// Progress::layer says how many run at once and why, each run's stages are nested as
// "run i/n: ...", progress calls are serialized, and a cancel stops every run in flight.
SensitivityTable run_sensitivity(const SensitivityPlan& plan, const std::string& results_path, int threads = -1,
                                 const ProgressFn& progress = {});

}  // namespace qcnn
