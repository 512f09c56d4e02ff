// merge_results: shard files of one sweep into one sweep with every run once.
#include "core/sweep/merge.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include "core/sweep/results_file.h"
#include "core/util/error.h"
#include "core/util/json.h"
#include "core/util/sha256.h"

namespace qcnn {

namespace {

struct Input {
    std::string path, id;
    SweepAttributes attrs;
    std::string spec_sha;
    std::vector<RunRow> runs;
    std::map<int64_t, std::vector<LayerRow>> layers;  // by run index
};

Input read_input(const std::string& path, const std::string& sweep_id) {
    Input in;
    in.path = path;
    const std::vector<std::string> ids = list_sweeps(path);
    if (ids.empty()) fail("merge: ", path, ": no sweep in the file");
    if (sweep_id.empty()) {
        in.id = ids.back();
    } else {
        if (std::find(ids.begin(), ids.end(), sweep_id) == ids.end()) {
            std::string list;
            for (const std::string& id : ids) list += (list.empty() ? "" : ", ") + id;
            fail("merge: ", path, ": no sweep '", sweep_id, "' (sweeps in the file: ", list, ")");
        }
        in.id = sweep_id;
    }
    const ResultsFile f = ResultsFile::read(path, in.id);
    in.attrs = f.attributes();
    in.spec_sha = in.attrs.spec_sha256.empty() ? sha256_hex(in.attrs.spec_canonical) : in.attrs.spec_sha256;
    in.runs = f.runs();
    for (RunRow& r : in.runs)
        if (r.host.empty()) r.host = in.attrs.host;  // before schema 3: the sweep's host
    for (LayerRow& l : f.layers()) in.layers[l.run_index].push_back(std::move(l));
    return in;
}

bool same_value(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// The first column (timings and provenance aside) in which two copies of a run differ, "" when
// none does.
std::string first_difference(const RunRow& a, const RunRow& b) {
    if (a.settings != b.settings) return "settings";
    if (a.ec != b.ec) return "ec";
    if (a.seed != b.seed) return "seed";
    const std::pair<const char*, std::pair<double, double>> numbers[] = {
        {"top1", {a.top1, b.top1}},
        {"top5", {a.top5, b.top5}},
        {"top1_float", {a.top1_float, b.top1_float}},
        {"top5_float", {a.top5_float, b.top5_float}},
        {"compression", {a.compression, b.compression}},
        {"theoretical_speedup", {a.theoretical_speedup, b.theoretical_speedup}},
    };
    for (const auto& [name, v] : numbers)
        if (!same_value(v.first, v.second)) return cat(name, " ", json::number(v.first), " vs ", json::number(v.second));
    if (a.memory_bytes_dense != b.memory_bytes_dense) return "memory_bytes_dense";
    if (a.memory_bytes_quantized != b.memory_bytes_quantized) return "memory_bytes_quantized";
    return "";
}

std::string first_difference(const std::vector<LayerRow>& a, const std::vector<LayerRow>& b) {
    if (a.size() != b.size()) return cat("layers: ", a.size(), " vs ", b.size(), " rows");
    for (size_t i = 0; i < a.size(); ++i) {
        const LayerRow &x = a[i], &y = b[i];
        const std::string where = cat("layers[", x.alias, "].");
        if (x.name != y.name || x.alias != y.alias || x.op != y.op) return where + "name";
        if (x.subspace_dim != y.subspace_dim || x.codewords != y.codewords) return where + "subspace_dim/codewords";
        if (x.ec != y.ec) return where + "ec";
        if (x.params != y.params || x.bytes_dense != y.bytes_dense || x.bytes_quantized != y.bytes_quantized)
            return where + "params/bytes";
        if (x.flops_dense != y.flops_dense || x.flops_quantized != y.flops_quantized) return where + "flops";
        if (!same_value(x.theoretical_speedup, y.theoretical_speedup)) return where + "theoretical_speedup";
        if (!same_value(x.response_error, y.response_error))
            return cat(where, "response_error ", json::number(x.response_error), " vs ", json::number(y.response_error));
    }
    return "";
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

}  // namespace

MergeOutcome merge_results(const std::vector<std::string>& inputs, const std::string& out, const std::string& sweep_id) {
    if (inputs.empty()) fail("merge: no input files");
    if (!sweep_id.empty()) check_sweep_id(sweep_id, "merge");
    std::vector<Input> ins;
    for (const std::string& path : inputs) ins.push_back(read_input(path, sweep_id));
    const Input& first = ins.front();
    for (const Input& in : ins) {
        if (in.id != first.id)
            fail("merge: ", in.path, " holds sweep '", in.id, "' but ", first.path, " holds sweep '", first.id,
                 "': only the shards of one sweep merge (--sweep-id picks one sweep of each file)");
        if (in.spec_sha != first.spec_sha)
            fail("merge: ", in.path, " and ", first.path, " were run with different specs (spec SHA-256 ",
                 in.spec_sha.substr(0, 12), "... vs ", first.spec_sha.substr(0, 12),
                 "...): files of different sweeps do not merge");
        if (in.attrs.model_sha256 != first.attrs.model_sha256)
            fail("merge: ", in.path, " and ", first.path, " were run on different model files (SHA-256 ",
                 in.attrs.model_sha256.substr(0, 12), "... vs ", first.attrs.model_sha256.substr(0, 12), "...)");
    }
    const SweepSpec spec = parse_sweep_spec(json::parse(first.attrs.spec_canonical, first.path), first.path + ": spec_canonical");
    const std::vector<SweepPoint> points = expand(spec);

    struct Kept {
        const RunRow* row;
        const std::vector<LayerRow>* layers;
        const Input* from;
    };
    static const std::vector<LayerRow> kNoLayers;
    std::map<int64_t, Kept> kept;
    MergeOutcome outcome;
    outcome.sweep_id = first.id;
    outcome.runs_total = static_cast<int64_t>(points.size());
    for (const Input& in : ins) {
        for (const RunRow& r : in.runs) {
            if (r.run_index < 0 || r.run_index >= outcome.runs_total ||
                r.settings != points[static_cast<size_t>(r.run_index)].layers)
                fail("merge: ", in.path, ": run ", r.run_index, " ('", r.settings, "') is not run ", r.run_index,
                     " of the spec");
            const auto it = in.layers.find(r.run_index);
            const std::vector<LayerRow>* layers = it == in.layers.end() ? &kNoLayers : &it->second;
            const auto [pos, inserted] = kept.emplace(r.run_index, Kept{&r, layers, &in});
            if (inserted) continue;
            std::string diff = first_difference(*pos->second.row, r);
            if (diff.empty()) diff = first_difference(*pos->second.layers, *layers);
            if (!diff.empty())
                fail("merge: run ", r.run_index, " ('", r.settings, "', ec ", r.ec, ", seed ", r.seed, ") is in ",
                     pos->second.from->path, " and ", in.path, " with different numbers (", diff, ")");
            ++outcome.duplicates;
        }
    }
    for (int64_t i = 0; i < outcome.runs_total; ++i)
        if (!kept.count(i)) outcome.missing.push_back(i);
    outcome.runs_merged = static_cast<int64_t>(kept.size());
    outcome.status = outcome.missing.empty() ? "completed" : "incomplete";

    SweepAttributes attrs = first.attrs;
    std::vector<std::string> hosts;
    for (const Input& in : ins) {
        if (std::find(hosts.begin(), hosts.end(), in.attrs.host) == hosts.end()) hosts.push_back(in.attrs.host);
        attrs.start_utc = std::min(attrs.start_utc, in.attrs.start_utc);
        attrs.end_utc = std::max(attrs.end_utc, in.attrs.end_utc);  // ISO 8601 UTC sorts as text
    }
    attrs.host = join(hosts);
    attrs.spec_sha256 = first.spec_sha;
    attrs.shard = "";
    attrs.merged_from = join(inputs);
    attrs.status = outcome.status;

    // Built next to `out` (same file system) and renamed over it at the end.
    namespace fs = std::filesystem;
    const std::string tmp = cat(out, ".merging-", getpid());
    std::error_code ec;
    fs::remove(tmp, ec);
    try {
        if (fs::exists(out)) {
            for (const std::string& id : list_sweeps(out))
                if (id == first.id)
                    fail("merge: ", out, " already has a sweep '", first.id,
                         "' (merge into another file, or delete the file first)");
            fs::copy_file(out, tmp);
        }
        {
            ResultsFile f = ResultsFile::create(tmp, first.id, attrs);
            for (const auto& [index, k] : kept) f.append(*k.row, *k.layers);
            f.set_status(outcome.status, attrs.end_utc);
        }
        fs::rename(tmp, out);
    } catch (const fs::filesystem_error& e) {
        fs::remove(tmp, ec);
        fail("merge: ", out, ": ", e.code().message());
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
    return outcome;
}

}  // namespace qcnn
