// Sweep spec: parsing with strict validation (every error names the key path), the canonical
// JSON writer, and the expansion into runs.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/quant/product_quantizer.h"
#include "core/quant/settings.h"
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
    void keys(const json::Value& v, const std::string& key, std::initializer_list<std::string_view> allowed) const {
        std::set<std::string> seen;
        for (const auto& [k, unused] : v.as_object()) {
            bool known = false;
            for (std::string_view a : allowed) known = known || k == a;
            const std::string path = key.empty() ? k : key + "." + k;
            if (!known) {
                std::string list;
                for (std::string_view a : allowed) list += cat(list.empty() ? "" : ", ", a);
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
    // An integer in [min, max] (JSON numbers are doubles: exact up to 2^53).
    int64_t integer(const json::Value& v, const std::string& key, int64_t min, int64_t max) const {
        if (!v.is_number()) bad(key, "expected an integer, got ", v.type_name());
        const double d = v.as_number();
        if (d != std::floor(d) || std::fabs(d) > 9007199254740992.0)
            bad(key, "expected an integer, got ", json::number(d));
        if (d < static_cast<double>(min) || d > static_cast<double>(max))
            bad(key, json::number(d), " is out of range (", min, "..", max, ")");
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

constexpr int64_t kMaxSeed = int64_t(1) << 53;  // exact as a JSON number

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

const char* kernel_name(LutKernel k) { return k == LutKernel::Fast ? "fast" : "reference"; }

}  // namespace

SweepSpec parse_sweep_spec(const json::Value& v, const std::string& what, const std::string& base_dir) {
    const Checker c{what};
    if (!v.is_object()) fail(what, ": a sweep spec is a JSON object, got ", v.type_name());
    c.keys(v, "", {"qcnn_sweep", "model", "data", "calib_data", "calib_images", "mean", "std", "preprocess", "limit",
                   "batch", "base", "grid", "ec", "seeds", "threads", "kmeans_iters", "ec_iters", "ec_conv_images",
                   "ec_positions", "kernel", "measure_speed"});
    const json::Value* version = v.find("qcnn_sweep");
    if (!version) fail(what, ": qcnn_sweep: missing (the spec's schema version, ", kSweepSpecVersion, ")");
    if (c.integer(*version, "qcnn_sweep", 0, INT32_MAX) != kSweepSpecVersion)
        c.bad("qcnn_sweep", "schema version ", version->as_number(), " is not supported (this build reads ",
              kSweepSpecVersion, ")");

    SweepSpec s;
    for (const char* required : {"model", "data"})
        if (!v.find(required)) c.bad(required, "missing (required)");
    s.model = c.string(v["model"], "model");
    if (s.model.empty()) c.bad("model", "expected a model file path, got \"\"");
    if (!base_dir.empty() && std::filesystem::path(s.model).is_relative())
        s.model = (std::filesystem::path(base_dir) / s.model).lexically_normal().string();
    s.data = c.string(v["data"], "data");
    if (s.data.empty()) c.bad("data", "expected a dataset spec (e.g. fashion-mnist:test), got \"\"");

    if (const auto* x = v.find("calib_data")) s.calib_data = c.string(*x, "calib_data");
    if (const auto* x = v.find("calib_images")) s.calib_images = c.integer(*x, "calib_images", 0, int64_t(1) << 24);
    for (const char* key : {"mean", "std"}) {
        const auto* x = v.find(key);
        if (!x) continue;
        const json::Array& a = c.array(*x, key, false);
        std::vector<float>& out = std::string_view(key) == "mean" ? s.mean : s.std;
        for (size_t i = 0; i < a.size(); ++i) {
            const std::string k = cat(key, "[", i, "]");
            out.push_back(c.finite_float(a[i], k));
            if (out.back() <= 0 && std::string_view(key) == "std") c.bad(k, "a standard deviation must be > 0");
        }
    }
    if (const auto* x = v.find("preprocess")) {
        const std::string text = c.string(*x, "preprocess");
        try {
            s.preprocess = to_string(parse_preprocess(text));
            with_preprocess(s.data, s.preprocess);  // only image folders take a preset
            if (!s.calib_data.empty()) with_preprocess(s.calib_data, s.preprocess);
        } catch (const Error& e) {
            c.bad("preprocess", e.what());
        }
    }
    if (const auto* x = v.find("limit")) s.limit = c.integer(*x, "limit", 0, INT64_MAX / 2);
    if (const auto* x = v.find("batch")) s.batch = c.integer(*x, "batch", 1, int64_t(1) << 20);

    std::set<std::string> keys_used;
    if (const auto* x = v.find("base")) {
        const std::string text = c.string(*x, "base");
        LayerSettings base;
        try {
            base = parse_layer_settings(text);
        } catch (const Error& e) {
            c.bad("base", e.what());
        }
        s.base = to_string(base);
        for (const std::string& k : settings_keys(base)) keys_used.insert(k);
    }

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

    if (const auto* x = v.find("ec")) {
        const json::Array& a = c.array(*x, "ec", true);
        s.ec.clear();
        for (size_t i = 0; i < a.size(); ++i) {
            const std::string k = cat("ec[", i, "]");
            const std::string text = c.string(a[i], k);
            try {
                s.ec.push_back(parse_ec_mode(text));
            } catch (const Error& e) {
                c.bad(k, e.what());
            }
            for (size_t j = 0; j + 1 < s.ec.size(); ++j)
                if (s.ec[j] == s.ec.back()) c.bad(k, "'", to_string(s.ec.back()), "' is listed twice");
        }
    }
    if (const auto* x = v.find("seeds")) {
        const json::Array& a = c.array(*x, "seeds", true);
        s.seeds.clear();
        for (size_t i = 0; i < a.size(); ++i) {
            const std::string k = cat("seeds[", i, "]");
            s.seeds.push_back(static_cast<uint64_t>(c.integer(a[i], k, 0, kMaxSeed)));
            for (size_t j = 0; j + 1 < s.seeds.size(); ++j)
                if (s.seeds[j] == s.seeds.back()) c.bad(k, "seed ", s.seeds.back(), " is listed twice");
        }
    }
    if (const auto* x = v.find("threads")) s.threads = static_cast<int>(c.integer(*x, "threads", 0, 4096));
    if (const auto* x = v.find("kmeans_iters")) s.kmeans_iters = static_cast<int>(c.integer(*x, "kmeans_iters", 1, 10000));
    if (const auto* x = v.find("ec_iters")) s.ec_iters = static_cast<int>(c.integer(*x, "ec_iters", 1, 1000));
    if (const auto* x = v.find("ec_conv_images")) s.ec_conv_images = c.integer(*x, "ec_conv_images", 1, int64_t(1) << 24);
    if (const auto* x = v.find("ec_positions")) s.ec_positions = c.integer(*x, "ec_positions", 0, int64_t(1) << 24);
    if (const auto* x = v.find("kernel")) {
        const std::string k = c.string(*x, "kernel");
        if (k == "fast")
            s.kernel = LutKernel::Fast;
        else if (k == "reference")
            s.kernel = LutKernel::Reference;
        else
            c.bad("kernel", "expected \"fast\" or \"reference\", got '", k, "'");
    }
    if (const auto* x = v.find("measure_speed")) s.measure_speed = c.boolean(*x, "measure_speed");
    return s;
}

SweepSpec load_sweep_spec(const std::string& path) {
    return parse_sweep_spec(json::parse_file(path), path, std::filesystem::path(path).parent_path().string());
}

std::string to_json(const SweepSpec& s) {
    std::ostringstream os;
    json::Writer w(os);
    w.begin_object();
    w.field("qcnn_sweep", kSweepSpecVersion);
    w.field("model", s.model).field("data", s.data).field("calib_data", s.calib_data);
    w.field("calib_images", s.calib_images);
    w.key("mean").array(s.mean);
    w.key("std").array(s.std);
    // Written only when not "none", like ec_conv_images below: old specs keep their canonical form.
    if (s.preprocess != SweepSpec{}.preprocess) w.field("preprocess", s.preprocess);
    w.field("limit", s.limit).field("batch", s.batch).field("base", s.base);
    w.key("grid").begin_array();
    for (const SweepGroup& g : s.grid) {
        w.begin_object();
        w.field("layers", g.layers);
        w.key("settings").array(g.settings);
        w.end_object();
    }
    w.end_array();
    std::vector<std::string> ec;
    for (EcMode m : s.ec) ec.push_back(to_string(m));
    w.key("ec").array(ec);
    w.key("seeds").array(s.seeds);
    w.field("threads", s.threads).field("kmeans_iters", s.kmeans_iters).field("ec_iters", s.ec_iters);
    // Written only when they differ from the defaults: a spec that leaves them alone keeps the
    // canonical form it had before these keys existed, so `--resume` still finds its sweep.
    if (s.ec_conv_images != SweepSpec{}.ec_conv_images) w.field("ec_conv_images", s.ec_conv_images);
    if (s.ec_positions != SweepSpec{}.ec_positions) w.field("ec_positions", s.ec_positions);
    w.field("kernel", kernel_name(s.kernel)).field("measure_speed", s.measure_speed);
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
    r.data = with_preprocess(s.data, s.preprocess);
    r.calib_data = s.calib_data.empty() ? s.calib_data : with_preprocess(s.calib_data, s.preprocess);
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
    return r;
}

}  // namespace qcnn
