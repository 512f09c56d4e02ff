// Sweep spec: parsing with strict validation (every error names the key path), the canonical
// JSON writer, and the expansion into runs.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/quant/product_quantizer.h"
#include "core/quant/settings.h"
#include "core/sweep/run_options.h"
#include "core/sweep/sweep.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

// Errors of one spec source: "<what>: <key path>: <message>".
struct Checker {
    const std::string& what;

    template <class... Args>
    [[noreturn]] void bad(const std::string& key, Args&&... args) const {
        fail(what, ": ", key, ": ", std::forward<Args>(args)...);
    }

    // Keys of an object must be among `allowed`; each at most once (the reader keeps duplicates).
    void keys(const json::Value& v, const std::string& key, const std::vector<std::string>& allowed) const {
        std::set<std::string> seen;
        for (const auto& [k, unused] : v.as_object()) {
            bool known = false;
            for (const std::string& a : allowed) known = known || k == a;
            const std::string path = key.empty() ? k : key + "." + k;
            if (!known) {
                std::string list;
                for (const std::string& a : allowed) list += cat(list.empty() ? "" : ", ", a);
                bad(path, "unknown key (expected one of: ", list, ")");
            }
            if (!seen.insert(k).second) bad(path, "given twice");
        }
    }

    const json::Value& object(const json::Value& v, const std::string& key) const {
        if (!v.is_object()) bad(key, "expected an object, got ", v.type_name());
        return v;
    }
    const json::Array& array(const json::Value& v, const std::string& key, bool non_empty) const {
        if (!v.is_array()) bad(key, "expected an array, got ", v.type_name());
        if (non_empty && v.as_array().empty()) bad(key, "expected at least one value, got []");
        return v.as_array();
    }
    std::string string(const json::Value& v, const std::string& key) const {
        if (!v.is_string()) bad(key, "expected a string, got ", v.type_name());
        return v.as_string();
    }
    bool boolean(const json::Value& v, const std::string& key) const {
        if (!v.is_bool()) bad(key, "expected true or false, got ", v.type_name());
        return v.as_bool();
    }
    // An integer in [min, max]: exact to 64 bits when written as an integer literal (json.h),
    // else an integral double up to 2^53.
    int64_t integer(const json::Value& v, const std::string& key, int64_t min, int64_t max) const {
        if (!v.is_number()) bad(key, "expected an integer, got ", v.type_name());
        const double d = v.as_number();
        if (const int64_t* i = v.exact_int()) {
            if (*i < min || *i > max) bad(key, *i, " is out of range (", min, "..", max, ")");
            return *i;
        }
        if (d != std::floor(d)) bad(key, "expected an integer, got ", json::number(d));
        if (d < static_cast<double>(min) || d > static_cast<double>(max))
            bad(key, json::number(d), " is out of range (", min, "..", max, ")");
        if (std::fabs(d) > 9007199254740992.0)
            bad(key, "expected an integer, got ", json::number(d), " (not exact: write it without a fraction or exponent)");
        return static_cast<int64_t>(d);
    }
    float finite_float(const json::Value& v, const std::string& key) const {
        if (!v.is_number()) bad(key, "expected a number, got ", v.type_name());
        const double d = v.as_number();
        if (!std::isfinite(static_cast<float>(d))) bad(key, json::number(d), " is not a finite float");
        return static_cast<float>(d);
    }
};

std::string item_key(size_t i, const char* field, size_t j) { return cat("grid[", i, "].", field, "[", j, "]"); }

// The canonical text of one group value ("8 / 128" -> "8/128"); errors name `key`.
std::string group_value(const Checker& c, const std::string& layers, const std::string& value, const std::string& key) {
    try {
        const LayerSettings s = parse_layer_settings(cat(layers, "=", value));
        const std::optional<QuantSetting>& v =
            layers == "conv" ? s.conv : layers == "fc" ? s.fc : std::optional<QuantSetting>(s.layers.at(0).second);
        return v->to_string();
    } catch (const Error& e) {
        c.bad(key, e.what());
    }
}

// The keys a settings text sets ("conv", "fc" or layer names).
std::vector<std::string> settings_keys(const LayerSettings& s) {
    std::vector<std::string> out;
    if (s.conv) out.push_back("conv");
    if (s.fc) out.push_back("fc");
    for (const auto& [k, unused] : s.layers) out.push_back(k);
    return out;
}

}  // namespace

namespace {

// One value of option `o` from JSON; `key` names it in errors. Returns its canonical text.
std::string json_option_value(const Checker& c, const RunOption& o, const json::Value& x, const std::string& key) {
    std::string text;
    switch (o.kind) {
        case OptionKind::Integer: text = std::to_string(c.integer(x, key, o.min, o.max)); break;
        case OptionKind::Float: text = json::number(c.finite_float(x, key)); break;
        case OptionKind::Flag: text = c.boolean(x, key) ? "true" : "false"; break;
        case OptionKind::Choice:
        case OptionKind::Text: text = c.string(x, key); break;
    }
    if (o.kind == OptionKind::Choice &&
        std::find(o.choices.begin(), o.choices.end(), text) == o.choices.end()) {
        std::string list;
        for (const std::string& ch : o.choices) list += cat(list.empty() ? "" : ", ", ch);
        c.bad(key, "expected one of ", list, ", got '", text, "'");
    }
    try {
        return check_option_value(o, text);
    } catch (const Error& e) {
        c.bad(key, e.what());
    }
}

}  // namespace

SweepSpec parse_sweep_spec(const json::Value& v, const std::string& what, const std::string& base_dir) {
    const Checker c{what};
    if (!v.is_object()) fail(what, ": a sweep spec is a JSON object, got ", v.type_name());
    std::vector<std::string> allowed{"qcnn_sweep"};  // in the canonical order: grid after base
    for (const RunOption& o : run_options()) {
        allowed.push_back(o.key);
        if (o.key == "base") {
            allowed.push_back("grid");
            allowed.push_back("vary");
        }
    }
    c.keys(v, "", allowed);
    const json::Value* version = v.find("qcnn_sweep");
    if (!version) fail(what, ": qcnn_sweep: missing (the spec's schema version, ", kSweepSpecVersion, ")");
    if (c.integer(*version, "qcnn_sweep", 0, INT32_MAX) != kSweepSpecVersion)
        c.bad("qcnn_sweep", "schema version ", version->as_number(), " is not supported (this build reads ",
              kSweepSpecVersion, ")");

    SweepSpec s;
    for (const RunOption& o : run_options())
        if (o.required && !v.find(o.key)) c.bad(o.key, "missing (required)");
    // Every run option, in table order (base before the grid, which checks its groups against it).
    for (const RunOption& o : run_options()) {
        const json::Value* x = v.find(o.key);
        if (!x) continue;
        std::vector<std::string> values;
        if (o.arity == OptionArity::Scalar) {
            values.push_back(json_option_value(c, o, *x, o.key));
        } else {
            const json::Array& a = c.array(*x, o.key, o.arity == OptionArity::Dimension);
            for (size_t i = 0; i < a.size(); ++i) {
                const std::string k = cat(o.key, "[", i, "]");
                values.push_back(json_option_value(c, o, a[i], k));
                if (o.arity == OptionArity::Dimension &&
                    std::find(values.begin(), values.end() - 1, values.back()) != values.end() - 1)
                    c.bad(k, o.kind == OptionKind::Integer ? "value " + values.back() : "'" + values.back() + "'",
                          " is listed twice");
            }
        }
        o.set(s, values);
    }
    if (!base_dir.empty() && std::filesystem::path(s.model).is_relative())
        s.model = (std::filesystem::path(base_dir) / s.model).lexically_normal().string();
    try {
        check_run_options(s);
    } catch (const Error& e) {
        fail(what, ": ", e.what());
    }

    std::set<std::string> keys_used;
    for (const std::string& k : settings_keys(parse_layer_settings(s.base))) keys_used.insert(k);

    if (const auto* x = v.find("grid")) {
        const json::Array& groups = c.array(*x, "grid", false);
        for (size_t i = 0; i < groups.size(); ++i) {
            const std::string gk = cat("grid[", i, "]");
            const json::Value& g = c.object(groups[i], gk);
            c.keys(g, gk, {"layers", "settings", "subspace_dims", "codewords", "dense"});
            SweepGroup group;
            if (!g.find("layers")) c.bad(gk + ".layers", "missing (\"conv\", \"fc\" or a layer name)");
            group.layers = c.string(g["layers"], gk + ".layers");
            if (group.layers.empty() || group.layers.find_first_of(",= \t\n") != std::string::npos)
                c.bad(gk + ".layers", "expected \"conv\", \"fc\" or one layer's alias or node name (no ',', '=' or "
                                      "blanks), got '", group.layers, "'");
            if (!keys_used.insert(group.layers).second)
                c.bad(gk + ".layers", "'", group.layers, "' is already set by base or another group");

            const bool by_list = g.find("settings") != nullptr;
            const bool by_product = g.find("subspace_dims") || g.find("codewords");
            if (by_list && by_product)
                c.bad(gk, "give either \"settings\" or \"subspace_dims\" x \"codewords\", not both");
            if (by_list) {
                if (g.find("dense")) c.bad(gk + ".dense", "only with subspace_dims x codewords (list \"dense\" in settings)");
                const json::Array& values = c.array(g["settings"], gk + ".settings", true);
                for (size_t j = 0; j < values.size(); ++j) {
                    const std::string k = item_key(i, "settings", j);
                    group.settings.push_back(group_value(c, group.layers, c.string(values[j], k), k));
                }
            } else {
                if (!g.find("subspace_dims") || !g.find("codewords"))
                    c.bad(gk, "needs \"settings\" (e.g. [\"8/128\", \"dense\"]) or both \"subspace_dims\" and "
                              "\"codewords\"");
                if (const auto* d = g.find("dense"); d && c.boolean(*d, gk + ".dense")) group.settings.push_back("dense");
                const json::Array& dims = c.array(g["subspace_dims"], gk + ".subspace_dims", true);
                const json::Array& ks = c.array(g["codewords"], gk + ".codewords", true);
                std::vector<int64_t> dsub, K;
                for (size_t j = 0; j < dims.size(); ++j)
                    dsub.push_back(c.integer(dims[j], item_key(i, "subspace_dims", j), 1, 1 << 20));
                for (size_t j = 0; j < ks.size(); ++j) {
                    const std::string k = item_key(i, "codewords", j);
                    const int64_t kv = c.integer(ks[j], k, INT32_MIN, INT32_MAX);
                    if (kv < kMinCodewords || kv > kMaxCodewords)
                        c.bad(k, "K = ", kv, " is out of range (", kMinCodewords, "..", kMaxCodewords, ")");
                    K.push_back(kv);
                }
                for (int64_t d : dsub)
                    for (int64_t k : K) group.settings.push_back(QuantSetting::make_pq(d, k).to_string());
            }
            std::set<std::string> distinct;
            for (size_t j = 0; j < group.settings.size(); ++j)
                if (!distinct.insert(group.settings[j]).second)
                    c.bad(gk, "the value ", group.settings[j], " is listed twice");
            s.grid.push_back(std::move(group));
        }
    }
    if (const auto* x = v.find("vary")) {
        const std::string vary = c.string(*x, "vary");
        if (vary != "together" && vary != "one-at-a-time")
            c.bad("vary", "expected \"together\" (every combination of the groups' values) or \"one-at-a-time\" "
                          "(each group's values alone), got '", vary, "'");
        s.one_at_a_time = vary == "one-at-a-time";
    }

    return s;
}

SweepSpec load_sweep_spec(const std::string& path) {
    return parse_sweep_spec(json::parse_file(path), path, std::filesystem::path(path).parent_path().string());
}

std::string to_json(const SweepSpec& s) {
    std::ostringstream os;
    json::Writer w(os);
    const SweepSpec defaults;
    w.begin_object();
    w.field("qcnn_sweep", kSweepSpecVersion);
    for (const RunOption& o : run_options()) {
        const std::vector<std::string> values = o.get(s);
        if (o.omit_default && values == o.get(defaults)) continue;
        w.key(o.key);
        const auto token = [&](const std::string& t) {
            switch (o.kind) {
                case OptionKind::Text:
                case OptionKind::Choice: return json::quote(t);
                default: return t;  // numbers and true/false, canonical already
            }
        };
        if (o.arity == OptionArity::Scalar) {
            w.raw_value(token(values.at(0)));
        } else {
            std::string list = "[";
            for (size_t i = 0; i < values.size(); ++i) list += (i ? ", " : "") + token(values[i]);
            w.raw_value(list + "]");
        }
        if (o.key == "base") {
            w.key("grid").begin_array();
            for (const SweepGroup& g : s.grid) {
                w.begin_object();
                w.field("layers", g.layers);
                w.key("settings").array(g.settings);
                w.end_object();
            }
            w.end_array();
            // Left out at its default, so the canonical text of older specs (what --resume matches) stays.
            if (s.one_at_a_time) w.field("vary", "one-at-a-time");
        }
    }
    w.end_object();
    os << '\n';
    return os.str();
}

void save_sweep_spec(const std::string& path, const SweepSpec& s) {
    const std::string text = to_json(s);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) fail(path, ": cannot open for writing");
    f << text;
    f.close();
    if (!f) fail(path, ": cannot write the sweep spec");
}

std::vector<SweepPoint> expand(const SweepSpec& s) {
    size_t combinations = 1;
    for (const SweepGroup& g : s.grid) combinations *= g.settings.size();
    std::vector<SweepPoint> out;
    if (s.one_at_a_time) {
        // Each group's values alone over base, groups in spec order; no group: base once.
        for (EcMode ec : s.ec)
            for (uint64_t seed : s.seeds) {
                const auto add = [&](const std::string& layers) {
                    SweepPoint p;
                    p.index = static_cast<int64_t>(out.size());
                    p.ec = ec;
                    p.seed = seed;
                    p.layers = layers;
                    out.push_back(std::move(p));
                };
                if (s.grid.empty()) add(s.base);
                for (const SweepGroup& g : s.grid)
                    for (const std::string& v : g.settings)
                        add(cat(s.base, s.base.empty() ? "" : ",", g.layers, "=", v));
            }
        return out;
    }
    out.reserve(s.ec.size() * s.seeds.size() * combinations);
    for (EcMode ec : s.ec) {
        for (uint64_t seed : s.seeds) {
            for (size_t c = 0; c < combinations; ++c) {
                // Mixed-radix digits of c, the last group varying fastest.
                std::vector<size_t> at(s.grid.size());
                size_t rest = c;
                for (size_t g = s.grid.size(); g-- > 0;) {
                    at[g] = rest % s.grid[g].settings.size();
                    rest /= s.grid[g].settings.size();
                }
                SweepPoint p;
                p.index = static_cast<int64_t>(out.size());
                p.ec = ec;
                p.seed = seed;
                p.layers = s.base;
                for (size_t g = 0; g < s.grid.size(); ++g)
                    p.layers += cat(p.layers.empty() ? "" : ",", s.grid[g].layers, "=", s.grid[g].settings[at[g]]);
                out.push_back(std::move(p));
            }
        }
    }
    return out;
}

RunSpec run_spec(const SweepSpec& s, const SweepPoint& p) {
    RunSpec r;
    r.model = s.model;
    // Preset "none" leaves the data specs as written (a folder spec may name its own preset).
    const bool preset = s.preprocess != SweepSpec{}.preprocess;
    r.data = preset ? with_preprocess(s.data, s.preprocess) : s.data;
    r.calib_data = preset && !s.calib_data.empty() ? with_preprocess(s.calib_data, s.preprocess) : s.calib_data;
    r.layers = p.layers;
    r.ec = p.ec;
    r.calib_images = s.calib_images;
    r.seed = p.seed;
    r.kmeans_iters = s.kmeans_iters;
    r.ec_iters = s.ec_iters;
    r.ec_conv_images = s.ec_conv_images;
    r.ec_positions = s.ec_positions;
    r.limit = s.limit;
    r.batch = s.batch;
    r.threads = s.threads;
    r.lut_kernel = s.kernel;
    r.mean = s.mean;
    r.std = s.std;
    r.finetune = s.finetune;
    r.ft_epochs = s.ft_epochs;
    r.ft_lr = s.ft_lr;
    r.ft_batch = s.ft_batch;
    r.ft_params = s.ft_params;
    r.ft_images = s.ft_images;
    return r;
}

}  // namespace qcnn
