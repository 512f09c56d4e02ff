// `qcnn auto` (issue 15): per-layer settings found automatically under a budget. Sensitivity
// table (core/auto/sensitivity.h, reused when cached) -> allocation and verification search
// (core/auto/allocate.h) whose candidates are real runs through the one SweepRunner, each a row
// of one sweep in the results file. The answer is the best verified run. docs/auto.md.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/auto/allocate.h"
#include "core/auto/sensitivity.h"
#include "core/eval/run.h"
#include "core/train/finetune.h"

namespace qcnn {

enum class AutoObjective { Compression, Speedup, MeasuredSpeedup, Memory, Accuracy };
// "compression", "speedup", "measured-speedup", "memory", "accuracy"; errors list them.
AutoObjective parse_auto_objective(const std::string& text);
std::string to_string(AutoObjective o);

struct AutoRequest {
    SensitivityRequest sensitivity;   // model, data, calibration, run options, layers, grid; its ec
                                      // (none or layer) is the sensitivity runs' mode
    EcMode verify_ec = EcMode::Network;  // the candidates' error correction
    AutoObjective objective = AutoObjective::Compression;
    double max_drop = 0.01;           // top-1 drop bound (fraction); +inf: none
    double min_compression = 0;       // > 0: the converse form (objective accuracy): the most
                                      // accurate verified run with at least this compression
    double time_budget_seconds = 0;   // 0: none; no candidate is started that would end after it
                                      // (another_candidate_fits)
    int max_candidates = 8;
    // Called on run_auto's thread once the sensitivity table is ready, and after each candidate's
    // rows are in the results file (the workbench streams them into its heat map and plots).
    std::function<void(const SensitivityTable&)> on_sensitivity;
    std::function<void(const RunRow&, const std::vector<LayerRow>&)> on_candidate;
};

// A candidate's fine-tuning (the request's options.base.finetune, issue 19): the verification runs
// fine-tune after quantization and EC on the calibration/training split; the sensitivity runs never
// do (a layer's estimate is its drop as quantized, the knapsack adds those up; fine-tuning is the
// candidates' business, docs/auto.md).
struct CandidateFinetune {
    bool ran = false;
    FinetuneResult result;  // epochs, best epoch, held-out top-1 before and after (network left empty)
    double seconds = 0;
    std::vector<RunStep> steps;  // with fine-tuning or --recipe paper: each step's top-1 (run.h)
};

// The time budget's rule: another candidate starts only when it is expected to end within the
// budget, taking it to last as long as the longest candidate so far (the first one always runs).
// budget_seconds <= 0: no budget. elapsed_seconds counts from run_auto's start (sensitivity too).
bool another_candidate_fits(double budget_seconds, double elapsed_seconds, double longest_candidate_seconds);

struct AutoOutcome {
    SensitivityTable sensitivity;
    std::vector<LayerChoices> choices;  // what the allocation chose from (cost in the objective's unit)
    AutoResult search;
    std::string sweep_id;               // /sweeps/<id>: one row per candidate, in order
    std::vector<RunRow> rows;           // the candidates' rows (run_index = candidate index)
    std::vector<CandidateFinetune> finetune;  // per candidate, like rows
    std::shared_ptr<const Network> best_network;  // the best feasible candidate's network (null: none)
    double seconds = 0;
    bool met() const { return search.best >= 0; }
    // The row to report: the best feasible one, else the closest (nullptr when nothing ran).
    const RunRow* reported() const;
};

// Runs the whole search. `results_path` holds the sensitivity table and the candidates' sweep.
// Progress: the sensitivity's stages, then stage "auto" (done = candidates run) with each run's
// stages nested (Progress::layer = "candidate i"). Cancel throws qcnn::Cancelled after the rows
// already written are flushed.
AutoOutcome run_auto(const AutoRequest& request, const std::string& results_path, int threads = -1,
                     const ProgressFn& progress = {});

}  // namespace qcnn
