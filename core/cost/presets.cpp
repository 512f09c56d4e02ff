#include "core/cost/presets.h"

#include <cstdio>

#include "core/cost/cost_model.h"
#include "core/quant/settings.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

std::string ratio(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2fx", x);
    return buf;
}

}  // namespace

const std::vector<Preset>& presets() {
    static const std::vector<Preset> list = {
        {"Paper (conv 8/128, FC 4/32)", "conv=8/128,fc=4/32", "the paper's setting: conv 8/128, FC 4/32"},
        {"Fast (K=16)", "conv=4/16,fc=4/16", "fast setting, K=16 (4-bit codes)"},
        {"All dense", "", "every layer dense"},
        {"FC only (FC 4/32)", "fc=4/32", "FC layers only, C_s'=4, K=32"},
        {"High compression (8/16)", "conv=8/16,fc=8/16", "high compression: C_s'=8, K=16"},
    };
    return list;
}

const Preset& preset(const std::string& name) {
    std::string names;
    for (const Preset& p : presets()) {
        if (p.name == name) return p;
        names += cat(names.empty() ? "" : ", ", "'", p.name, "'");
    }
    fail("unknown preset '", name, "' (presets: ", names, ")");
}

AppliedPreset apply_preset(const Network& net, const Preset& p) {
    AppliedPreset out{p.settings, {}};
    const ResolvedSettings resolved = resolve_settings(net, parse_layer_settings(p.settings));
    const NetworkGeometry geometry = network_geometry(net, net.sample_shape());
    QCNN_ASSERT(geometry.layers.size() == resolved.layers.size(), "weight layers and geometry differ");
    for (size_t i = 0; i < resolved.layers.size(); ++i) {
        const ResolvedLayer& l = resolved.layers[i];
        if (l.setting.dense || l.already_quantized) continue;
        const LayerCost c = layer_cost(geometry.layers[i], l.setting);
        if (c.compression() >= 1 && c.speedup() >= 1) continue;
        out.settings += cat(out.settings.empty() ? "" : ",", l.alias, "=dense");
        out.notes.push_back({l.alias, cat("kept dense: ", l.setting.to_string(), " would give ", ratio(c.speedup()),
                                          " speed-up, ", ratio(c.compression()), " compression")});
    }
    return out;
}

}  // namespace qcnn
