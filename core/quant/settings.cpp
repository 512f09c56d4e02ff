#include "core/quant/settings.h"

#include <cctype>
#include <map>

#include "core/quant/product_quantizer.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t pos = s.find(sep, start);
        out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
        if (pos == std::string::npos) return out;
        start = pos + 1;
    }
}

// Decimal integer of at most 9 digits; -1 when malformed.
int64_t parse_count(const std::string& s) {
    if (s.empty() || s.size() > 9) return -1;
    int64_t v = 0;
    for (char ch : s) {
        if (ch < '0' || ch > '9') return -1;
        v = v * 10 + (ch - '0');
    }
    return v;
}

QuantSetting parse_value(const std::string& value, const std::string& item) {
    if (value == "dense") return QuantSetting::make_dense();
    static const std::string kNoEc = ":noec";
    if (value.size() > kNoEc.size() && value.ends_with(kNoEc)) {
        QuantSetting s = parse_value(trim(value.substr(0, value.size() - kNoEc.size())), item);
        if (s.dense) fail("layer settings item '", item, "': ':noec' applies to a C_s'/K setting, not to dense");
        s.ec = false;
        return s;
    }
    const size_t slash = value.find('/');
    const int64_t dsub = slash == std::string::npos ? -1 : parse_count(trim(value.substr(0, slash)));
    const int64_t K = slash == std::string::npos ? -1 : parse_count(trim(value.substr(slash + 1)));
    if (dsub < 0 || K < 0)
        fail("layer settings item '", item, "': expected \"C_s'/K\" (e.g. 8/128), \"C_s'/K:noec\" or \"dense\", got '",
             value, "'");
    if (dsub < 1) fail("layer settings item '", item, "': C_s' must be >= 1, got ", dsub);
    if (K < kMinCodewords || K > kMaxCodewords)
        fail("layer settings item '", item, "': K = ", K, " is out of range (", kMinCodewords, "..", kMaxCodewords,
             ")");
    return QuantSetting::make_pq(dsub, K);
}

bool writable_key(const std::string& key) {
    return !key.empty() && key == trim(key) && key.find_first_of(",=") == std::string::npos && key != "conv" &&
           key != "fc";
}

std::string layer_label(const Node& n) { return n.alias.empty() || n.alias == n.name ? cat("'", n.name, "'") : cat(n.alias, " ('", n.name, "')"); }

std::string layer_list(const Network& net) {
    std::string s;
    for (int i : net.weight_layers()) s += (s.empty() ? "" : ", ") + layer_label(net.nodes[i]);
    return s.empty() ? "(none)" : s;
}

}  // namespace

std::string QuantSetting::to_string() const {
    return dense ? "dense" : cat(pq.dsub, "/", pq.K, ec ? "" : ":noec");
}

LayerSettings parse_layer_settings(const std::string& text) {
    LayerSettings s;
    if (trim(text).empty()) return s;
    std::map<std::string, int> seen;
    for (const std::string& raw : split(text, ',')) {
        const std::string item = trim(raw);
        if (item.empty()) fail("layer settings '", text, "': empty item (stray ',')");
        const size_t eq = item.find('=');
        if (eq == std::string::npos)
            fail("layer settings item '", item, "': expected key=value (e.g. conv=8/128, fc1=dense)");
        const std::string key = trim(item.substr(0, eq));
        const std::string value = trim(item.substr(eq + 1));
        if (key.empty()) fail("layer settings item '", item, "': missing layer name or type before '='");
        if (value.find('=') != std::string::npos) fail("layer settings item '", item, "': more than one '='");
        if (seen[key]++) fail("layer settings '", text, "': '", key, "' is given twice");
        const QuantSetting v = parse_value(value, item);
        if (key == "conv")
            s.conv = v;
        else if (key == "fc")
            s.fc = v;
        else
            s.layers.emplace_back(key, v);
    }
    return s;
}

std::string to_string(const LayerSettings& s) {
    std::string out;
    auto add = [&](const std::string& key, const QuantSetting& v) {
        out += (out.empty() ? "" : ",") + key + "=" + v.to_string();
    };
    if (s.conv) add("conv", *s.conv);
    if (s.fc) add("fc", *s.fc);
    for (const auto& [key, v] : s.layers) {
        if (!writable_key(key))
            fail("layer settings: the layer key '", key,
                 "' cannot be written (empty, surrounding spaces, ',' or '=', or a reserved type name)");
        add(key, v);
    }
    return out;
}

ResolvedSettings resolve_settings(const Network& net, const LayerSettings& s) {
    // Overrides -> node index, with checks.
    std::map<int, std::pair<std::string, QuantSetting>> explicit_by_node;
    for (const auto& [key, v] : s.layers) {
        const int node = net.find_node(key);
        if (node < 0) fail("layer settings: unknown layer '", key, "'; layers: ", layer_list(net));
        const Node& n = net.nodes[node];
        if (!n.op->weight_layer())
            fail("layer settings: node '", key, "' (", n.op->type(), ") is not a conv or FC layer; layers: ",
                 layer_list(net));
        auto [it, inserted] = explicit_by_node.emplace(node, std::make_pair(key, v));
        if (!inserted)
            fail("layer settings: layer ", layer_label(n), " is set twice ('", it->second.first, "' and '", key, "')");
    }

    ResolvedSettings out;
    for (int node : net.weight_layers()) {
        const Node& n = net.nodes[node];
        ResolvedLayer r;
        r.node = node;
        r.name = n.name;
        r.alias = n.alias;
        const WeightLayer w = *n.op->as_weight_layer();
        r.kind = w.kind;
        const std::string label = layer_label(n);
        const std::string type_key = r.kind == LayerKind::Conv ? "conv" : "fc";
        const auto ex = explicit_by_node.find(node);

        // Weight shape and groups of a float layer.
        const Shape ws = w.weight_shape();
        const int64_t groups = w.groups;
        if (w.quantized()) {  // left as is
            if (ex != explicit_by_node.end())
                fail("layer settings: layer ", label, " is already quantized (", n.op->type(), " ", n.op->describe(),
                     ") and cannot be set again");
            r.already_quantized = true;
            r.setting = QuantSetting::make_pq(w.pq->dsub, w.pq->K);
            r.note = cat("already quantized (", n.op->type(), " ", n.op->describe(), "): left as is");
            out.layers.push_back(std::move(r));
            continue;
        }

        if (ex != explicit_by_node.end()) {
            r.setting = ex->second.second;
            r.note = cat(r.setting.to_string(), " (set for '", ex->second.first, "')");
            if (!r.setting.dense) {
                const std::string problem = pq_fit_problem(r.kind, ws, groups, r.setting.pq);
                if (!problem.empty())
                    fail("layer settings '", ex->second.first, "=", r.setting.to_string(), "': layer ", label, ": ",
                         problem);
            }
        } else {
            const std::optional<QuantSetting>& def = r.kind == LayerKind::Conv ? s.conv : s.fc;
            if (!def) {
                r.note = cat("dense (no ", type_key, "= default and no per-layer setting)");
            } else if (def->dense) {
                r.note = cat("dense (", type_key, "=dense)");
            } else {
                const std::string problem = pq_fit_problem(r.kind, ws, groups, def->pq);
                if (problem.empty()) {
                    r.setting = *def;
                    r.note = cat(def->to_string(), " (", type_key, "= default)");
                } else if (w.depthwise()) {
                    // Depthwise: every sub-vector's table row meets one output channel once.
                    const int64_t per_group = ws[0] / groups;
                    r.note = cat("dense: depthwise conv (one input channel per group): a lookup table would serve only "
                                 "its group's ", per_group, " output channel", per_group == 1 ? "" : "s",
                                 ", so product quantization would cost about K/", per_group,
                                 " times the dense work (docs/results.md, depthwise convolutions)");
                } else {
                    r.note = cat("dense: the default ", type_key, "=", def->to_string(), " does not fit: ", problem);
                }
            }
        }
        if (!r.setting.dense) {
            const PQGeometry g = pq_geometry(r.kind, ws, groups, r.setting.pq, label);
            if (g.K > g.vectors_per_subspace())
                r.note += cat("; K = ", g.K, " exceeds the ", g.vectors_per_subspace(),
                              " sub-vectors per subspace: at most ", g.vectors_per_subspace(), " codewords are used");
        }
        out.layers.push_back(std::move(r));
    }
    return out;
}

}  // namespace qcnn
