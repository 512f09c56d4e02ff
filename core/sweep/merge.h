// `qcnn merge`: the shard files of one sweep (`qcnn sweep --shard I/N`, the Slurm tasks) into one
// results file with every run once (docs/cluster.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/sweep/sweep.h"

namespace qcnn {

struct MergeOutcome {
    std::string sweep_id;
    std::string status;          // "completed" (every run of the spec present) or "incomplete"
    int64_t runs_total = 0;      // runs of the spec
    int64_t runs_merged = 0;     // distinct runs written
    int64_t duplicates = 0;      // identical copies of a run left out
    std::vector<int64_t> missing;  // run indices in no input, ascending
};

// Reads sweep `sweep_id` ("" = the newest sweep of each file) from every input and writes one
// sweep with the same id to `out` (created, or a sweep added to it; built in a temporary file
// next to `out` and renamed, so `out` never holds a half-written merge). Required of the inputs,
// each refused with a message naming both files: the same sweep id, the same spec (SHA-256 of the
// canonical spec) and the same model SHA-256. A run in several inputs must have the same numbers
// (every column except the timings and the provenance: host, shard, finished_utc); it is kept
// once (the first input's copy), otherwise an error names the run, the files and the column.
// Rows keep their provenance; the sweep's attributes are the first input's, with host the
// inputs' hosts (comma-separated), start_utc the earliest, end_utc the latest, shard "",
// merged_from the inputs, status "completed" or "incomplete".
MergeOutcome merge_results(const std::vector<std::string>& inputs, const std::string& out,
                           const std::string& sweep_id = "");

}  // namespace qcnn
