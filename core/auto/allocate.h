// Automatic per-layer settings (issue 15): choose one setting per weight layer from its
// measured sensitivity so that the network is as cheap as possible (bits, FLOPs, measured time
// or memory) at an estimated accuracy drop within a budget, or as accurate as possible at a
// cost within a budget. docs/auto.md gives the reasoning; this file holds the two pieces that
// need no network:
//
//   allocate_*   a multiple-choice knapsack solved exactly by dynamic programming over the
//                estimated drop (errors of the layers assumed additive, drops rounded up to
//                `resolution`): per layer exactly one option (dense or a C_s'/K setting).
//   AutoSearch   the verification loop: allocate for an estimated-drop budget, verify the
//                allocation with a real run (the caller's callback: a multi-layer run with error
//                correction), and bisect the estimated budget on the verified drop until the
//                interval closes, an allocation repeats, or the candidate/time limit ends. The
//                answer is always the best *verified* run, never an estimate.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace qcnn {

// One way to store one layer: its setting text ("dense" or "C_s'/K"), its estimated accuracy
// drop (a fraction, >= 0: the top-1 drop of the network with only this layer quantized, from a
// sensitivity table, clamped at 0) and its cost in the objective's unit (bits, FLOPs, ns, bytes:
// any non-negative integer that adds up over layers).
struct LayerOption {
    std::string setting;
    double drop = 0;
    int64_t cost = 0;
};

// The options of one layer; `name` is the key the settings text uses (alias or node name).
struct LayerChoices {
    std::string name;
    std::vector<LayerOption> options;  // at least one (normally "dense" with drop 0)
};

struct Allocation {
    std::vector<int> choice;      // index into each layer's options
    double estimated_drop = 0;    // sum of the chosen options' drops
    int64_t cost = 0;             // sum of the chosen options' costs
    // The settings text: "name=setting" for every layer whose choice is not "dense", comma-
    // separated in layer order ("" when every layer stays dense).
    std::string settings(const std::vector<LayerChoices>& layers) const;
};

// The cheapest allocation whose estimated drop is at most `max_drop` (drops are rounded up to
// multiples of `resolution` before they are added, so the true sum never exceeds the budget);
// ties are broken by the smaller estimated drop, then by the earlier option. nullopt when no
// allocation fits (possible only when some layer has no option with drop <= max_drop).
// Throws qcnn::Error for a layer without options, a negative drop or cost, or resolution <= 0.
std::optional<Allocation> allocate_min_cost(const std::vector<LayerChoices>& layers, double max_drop,
                                            double resolution = 1e-4);

// The allocation of least estimated drop whose cost is at most `max_cost`; nullopt when even
// the cheapest options of every layer cost more. Same rounding and errors as above.
std::optional<Allocation> allocate_min_drop(const std::vector<LayerChoices>& layers, int64_t max_cost,
                                            double resolution = 1e-4);

// What a verification run measured (the caller fills it from a real run).
struct VerifiedRun {
    std::string settings;
    double top1 = 0, top1_float = 0;  // fractions
    double objective = 0;             // the value to maximise among feasible runs (compression,
                                      // speed-up, 1/bytes, ...); for the accuracy objective, top1
    double drop() const { return top1_float - top1; }
};

struct AutoCandidate {
    Allocation allocation;
    std::string settings;
    double budget = 0;     // the estimated-drop budget it was allocated for (NaN: cost-bounded)
    VerifiedRun run;
    bool feasible = false; // verified drop <= max_drop (+1e-12 for float rounding) and cost bound met
};

struct AutoSearchOptions {
    // Mode 1 (max_cost < 0): cheapest verified run with drop <= max_drop.
    // Mode 2 (max_cost >= 0): most accurate verified run with cost <= max_cost; max_drop still
    //         marks which runs are "feasible" (use +inf for no accuracy bound).
    double max_drop = 0.01;
    int64_t max_cost = -1;
    int max_candidates = 8;       // verification runs at most
    double resolution = 1e-4;     // DP drop quantum (0.01 pt)
};

// Verifies one allocation's settings text with a real run. May throw qcnn::Cancelled (the
// search then ends; candidates already run are kept in the result) or qcnn::Error.
using VerifyFn = std::function<VerifiedRun(const std::string& settings)>;
// Called after each verified candidate (to stream it to a results file or a plot); return
// false to stop the search after it (a time budget).
using CandidateFn = std::function<bool(const AutoCandidate&)>;

struct AutoResult {
    std::vector<AutoCandidate> candidates;  // in the order they were run
    int best = -1;                          // index of the best feasible candidate, -1: none
    std::string stop_reason;                // "converged", "repeated allocation", "candidate limit",
                                            // "stopped", "no allocation fits"
    // The candidate to report when none is feasible: the one closest to the bound (least drop
    // in mode 1, least drop over max_drop in mode 2); -1 when nothing was run.
    int closest = -1;
};

// The search described at the top. Mode 1 starts at budget = max_drop; each verified run gives
// the next budget by a secant step in log-log space (verified drop = c x estimate^p through the
// last two runs, p in [0.4, 4], p = 1 after one run; aiming at 90% of the bound; 1.25x to 8x up
// after a feasible run, down after an infeasible one), and once a
// feasible and an infeasible budget bracket the answer, the step stays inside the middle 60% of
// the bracket. Mode 2 verifies the least-drop allocation within max_cost, then the next
// allocations within max_cost in order of estimated drop.
AutoResult auto_search(const std::vector<LayerChoices>& layers, const AutoSearchOptions& options,
                       const VerifyFn& verify, const CandidateFn& on_candidate = {});

}  // namespace qcnn
