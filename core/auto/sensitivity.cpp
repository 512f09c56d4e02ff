#include "core/auto/sensitivity.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/eval/model_summary.h"
#include "core/quant/settings.h"
#include "core/sweep/results_file.h"
#include "core/util/error.h"
#include "core/util/sha256.h"

namespace qcnn {

namespace {

constexpr const char* kRoot = "sensitivity";

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) out.push_back(item);
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

bool is_conv_alias(const std::string& alias) { return alias.rfind("conv", 0) == 0; }

}  // namespace

std::vector<std::string> default_sensitivity_grid() {
    return {"2/16", "4/16", "4/32", "4/64", "8/16", "8/32", "8/64", "8/128", "16/64", "16/256"};
}

SensitivityPlan plan_sensitivity(const Network& net, const SensitivityRequest& request) {
    const SweepSpec& o = request.options;
    for (EcMode ec : o.ec)
        if (ec == EcMode::Network)
            fail("sensitivity: --ec network does not apply to one layer at a time (use none or layer; `qcnn auto "
                 "--ec network` verifies its candidates with network EC)");
    if (request.grid.empty()) fail("sensitivity: the grid is empty (give --grid C_s'/K,...)");
    for (const std::string& g : request.grid) {
        const LayerSettings parsed = parse_layer_settings("conv=" + g);
        if (!parsed.conv || parsed.conv->dense)
            fail("sensitivity: grid value '", g, "' is not a C_s'/K setting (\"dense\" is every layer's baseline)");
    }

    // The selected weight layers, in network order.
    const std::vector<int> weight = net.weight_layers();
    std::set<int> chosen;
    for (const std::string& item : split_commas(request.layers)) {
        if (item == "conv" || item == "fc") {
            for (int n : weight)
                if (is_conv_alias(net.nodes[n].alias) == (item == "conv")) chosen.insert(n);
            continue;
        }
        const int n = net.find_node(item);
        if (n < 0 || std::find(weight.begin(), weight.end(), n) == weight.end()) {
            std::string names;
            for (int w : weight) names += (names.empty() ? "" : ", ") + net.nodes[w].alias;
            fail("sensitivity: --layers: '", item, "' is not a weight layer of ", net.source, " (", names, ")");
        }
        chosen.insert(n);
    }
    if (chosen.empty()) fail("sensitivity: --layers '", request.layers, "' selects no weight layer of ", net.source);

    SensitivityPlan plan;
    plan.spec = o;
    plan.spec.base.layers.clear();
    plan.spec.grid.clear();
    plan.spec.one_at_a_time = true;
    plan.spec.measure_speed = true;  // the measured layer time is part of the table
    plan.spec.ec.resize(1);
    plan.spec.seeds.resize(1);
    for (int n : chosen) {
        const std::string& alias = net.nodes[n].alias;
        SweepGroup group;
        group.layers = alias;
        for (const std::string& g : request.grid) {
            try {
                resolve_settings(net, parse_layer_settings(alias + "=" + g));
                group.settings.push_back(g);
            } catch (const Error& e) {
                plan.skipped.emplace_back(alias + " " + g, e.what());
            }
        }
        if (!group.settings.empty()) plan.spec.grid.push_back(std::move(group));
    }
    if (plan.spec.grid.empty())
        fail("sensitivity: no grid value fits any selected layer (", plan.skipped.front().second, ")");
    return plan;
}

std::vector<SensitivityEntry> sensitivity_entries(const SweepSpec& spec, const std::vector<RunRow>& runs,
                                                  const std::vector<LayerRow>& layers) {
    const std::vector<SweepPoint> points = expand(spec);
    std::vector<SensitivityEntry> out;
    for (const RunRow& r : runs) {
        if (r.run_index < 0 || r.run_index >= static_cast<int64_t>(points.size())) continue;
        // The point's settings are "alias=value" (one-at-a-time, no base).
        const std::string& text = points[static_cast<size_t>(r.run_index)].layers;
        const size_t eq = text.find('=');
        SensitivityEntry e;
        e.layer = text.substr(0, eq);
        e.setting = text.substr(eq + 1);
        e.top1 = r.top1;
        e.top5 = r.top5;
        e.top1_float = r.top1_float;
        e.top5_float = r.top5_float;
        const auto l = std::find_if(layers.begin(), layers.end(),
                                    [&](const LayerRow& x) { return x.run_index == r.run_index && x.alias == e.layer; });
        if (l == layers.end()) fail("sensitivity table: run ", r.run_index, " has no layer row for ", e.layer);
        e.name = l->name;
        e.response_error = l->response_error;
        e.bytes_dense = l->bytes_dense;
        e.bytes_quantized = l->bytes_quantized;
        e.flops_dense = l->flops_dense;
        e.flops_quantized = l->flops_quantized;
        e.compression = l->bytes_quantized > 0 ? double(l->bytes_dense) / double(l->bytes_quantized) : 0.0;
        e.theoretical_speedup = l->theoretical_speedup;
        e.dense_ms = l->dense_ms;
        e.quantized_ms = l->quantized_ms;
        out.push_back(std::move(e));
    }
    return out;
}

SensitivityTable run_sensitivity(const SensitivityPlan& plan, const std::string& results_path, int threads,
                                 const ProgressFn& progress) {
    SensitivityTable t;
    t.path = results_path;
    const std::string canonical = to_json(plan.spec);
    SweepOptions opt;
    opt.root = kRoot;
    opt.threads = threads;
    if (std::filesystem::exists(results_path)) {
        // The newest analysis of this spec and model: reused when complete, resumed otherwise.
        const std::string sha = sha256_file(plan.spec.base.model);
        const std::vector<std::string> ids = list_sweeps(results_path, kRoot);
        for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
            const ResultsFile f = ResultsFile::read(results_path, *it, kRoot);
            const SweepAttributes a = f.attributes();
            if (a.spec_canonical != canonical || a.model_sha256 != sha) continue;
            t.id = *it;
            if (a.status == "completed") {
                t.reused = true;
                t.entries = sensitivity_entries(plan.spec, f.runs(), f.layers());
                return t;
            }
            opt.resume = true;
            opt.sweep_id = *it;
            break;
        }
    }
    SweepRunner runner(plan.spec, opt);
    const SweepOutcome out = runner.run(results_path, canonical, nullptr, progress);
    t.id = out.sweep_id;
    t.runs_done = out.runs_done;
    t.runs_resumed = out.runs_skipped;
    t.entries = sensitivity_entries(plan.spec, out.rows, out.layer_rows);
    return t;
}

}  // namespace qcnn
