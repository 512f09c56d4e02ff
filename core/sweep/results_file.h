// HDF5 results of sweeps (docs/sweeps.md has the full layout):
//   /sweeps/<id>            group; attributes: spec (the JSON as given), schema_version,
//                           app_version, git_commit, seed(s), host, cpu_model, threads,
//                           qt_version ("" from the CLI), eigen_version, hdf5_version,
//                           start_utc, end_utc, status, model_path, model_sha256, data_spec,
//                           samples
//   /sweeps/<id>/runs       chunked, extendable 1-D compound dataset of RunRow
//   /sweeps/<id>/layers     chunked, extendable 1-D compound dataset of LayerRow
//   /sensitivity/<id>       the same layout for a sensitivity analysis (core/auto/sensitivity.h:
//                           one run per layer and setting, docs/auto.md)
// Fixed-length strings only, snake_case field names with units. Each append is flushed to
// disk before it returns, so a killed process leaves every appended run readable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/sweep/sweep.h"

namespace qcnn {

// 1: the first layout; 2 (issue 14): runs gain dense_ms_spread, quantized_ms_spread,
// measured_speedup_lo/hi, speed_noisy, dense_reused, speed_rounds, speed_preempted_rounds and
// layers gain dense_ms_spread, quantized_ms_spread; 3 (issue 17): runs gain host, shard,
// shards, finished_utc (provenance of each run, kept by `qcnn merge`). Versions 1 and 2 are
// still read (the new fields NaN / 0 / "").
inline constexpr int kResultsSchemaVersion = 3;

// The top-level groups a results file holds tables in (the `root` arguments below).
inline constexpr const char* kResultsRoots[] = {"sweeps", "sensitivity"};

struct SweepAttributes {
    std::string spec_json, app_version, git_commit, seeds, host, cpu_model, qt_version, eigen_version,
        hdf5_version, start_utc, end_utc, status, model_path, model_sha256, data_spec;
    int64_t threads = 0, samples = 0;
    // Attribute spec_canonical: to_json() of the parsed spec (model path resolved); --resume
    // matches a sweep by it, so layout and whitespace changes to the spec file do not matter.
    std::string spec_canonical;
    // Schema version 3 (read as "" from older sweeps): SHA-256 of spec_canonical (what `qcnn
    // merge` compares), the shard "I/N" of a `--shard` sweep ("" otherwise), and for a merged
    // sweep the files it was merged from (comma-separated, as given).
    std::string spec_sha256, shard, merged_from;
};

// This machine's host name ("" when unknown).
std::string host_name();

// Host, CPU model, library versions, app version and git commit (when known) of this build.
SweepAttributes environment_attributes();

class ResultsFile {
public:
    // Creates `path` (or opens it when it exists) and a new group /sweeps/<id>. Errors name
    // the path.
    // `root`: "sweeps" or "sensitivity" (kResultsRoots).
    static ResultsFile create(const std::string& path, const std::string& sweep_id, const SweepAttributes& attrs,
                              const std::string& root = "sweeps");
    // Opens an existing sweep for appending (--resume). Errors name the path and the id.
    static ResultsFile open(const std::string& path, const std::string& sweep_id, const std::string& root = "sweeps");
    // Opens an existing sweep read-only (append and set_status then throw). Errors name the
    // path and the id.
    static ResultsFile read(const std::string& path, const std::string& sweep_id, const std::string& root = "sweeps");

    ResultsFile(ResultsFile&&) noexcept;
    ResultsFile& operator=(ResultsFile&&) noexcept;
    ~ResultsFile();

    // Appends one run and its layers, then flushes the file.
    void append(const RunRow& run, const std::vector<LayerRow>& layers);
    void set_status(const std::string& status, const std::string& end_utc);
    SweepAttributes attributes() const;
    std::vector<RunRow> runs() const;
    std::vector<LayerRow> layers() const;

private:
    struct Impl;
    explicit ResultsFile(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Ids of the sweeps in a results file, in creation order.
std::vector<std::string> list_sweeps(const std::string& path, const std::string& root = "sweeps");

// CSV of a runs table (header line of the field names, one line per row).
std::string runs_csv(const std::vector<RunRow>& rows);

}  // namespace qcnn
