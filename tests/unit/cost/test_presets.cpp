// Shared presets (core/cost/presets.h): one list for the workbench and `qcnn demo`, fitted to a
// network by the cost model (issue 16's drift, issue 18 item 7: a preset skips a layer it would
// enlarge or slow down, saying so).
#include <gtest/gtest.h>

#include <set>

#include "core/cost/cost_model.h"
#include "core/cost/presets.h"
#include "core/eval/model_summary.h"
#include "core/quant/settings.h"

namespace qcnn {
namespace {

// Checks apply_preset against the cost model, computed here layer by layer: a layer is noted
// (and dense in the text) exactly when its preset setting has compression < 1 or speed-up < 1.
// Returns the noted aliases.
std::set<std::string> check_preset(const Network& net, const Preset& p) {
    SCOPED_TRACE(p.name);
    const AppliedPreset a = apply_preset(net, p);
    std::set<std::string> noted;
    for (const PresetLayerNote& n : a.notes) noted.insert(n.alias);
    const ResolvedSettings plain = resolve_settings(net, parse_layer_settings(p.settings));
    const ResolvedSettings fitted = resolve_settings(net, parse_layer_settings(a.settings));
    const NetworkGeometry g = network_geometry(net, net.sample_shape());
    for (size_t i = 0; i < plain.layers.size(); ++i) {
        const ResolvedLayer& l = plain.layers[i];
        SCOPED_TRACE(l.alias);
        const bool loses = !l.setting.dense && [&] {
            const LayerCost c = layer_cost(g.layers[i], l.setting);
            return c.compression() < 1 || c.speedup() < 1;
        }();
        EXPECT_EQ(noted.count(l.alias), loses ? 1u : 0u);
        EXPECT_EQ(fitted.layers[i].setting.to_string(), loses ? "dense" : l.setting.to_string());
    }
    EXPECT_EQ(noted.size(), a.notes.size());  // one note per layer
    return noted;
}

TEST(Presets, OneListWithTheDemosSettings) {
    std::vector<std::string> texts;
    for (const Preset& p : presets()) texts.push_back(p.settings);
    EXPECT_EQ(texts, (std::vector<std::string>{"conv=8/128,fc=4/32", "conv=4/16,fc=4/16", "", "fc=4/32",
                                               "conv=8/16,fc=8/16"}));
    EXPECT_EQ(preset("Fast (K=16)").settings, "conv=4/16,fc=4/16");
    try {
        preset("Turbo");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown preset 'Turbo' (presets: 'Paper"), std::string::npos) << e.what();
    }
}

TEST(Presets, TheTenOutputClassifierIsKeptDenseUnderThePaperPreset) {
    const auto vgg = load_model(std::string(QCNN_DATASETS_DIR) + "/vgg7.onnx");
    const Preset& paper = preset("Paper (conv 8/128, FC 4/32)");
    const std::set<std::string> noted = check_preset(*vgg, paper);
    const std::string last = vgg->weight_layers().empty() ? "" : network_geometry(*vgg, vgg->sample_shape()).layers.back().alias;
    EXPECT_TRUE(noted.count(last)) << last;
    const AppliedPreset a = apply_preset(*vgg, paper);
    ASSERT_FALSE(a.notes.empty());
    EXPECT_EQ(a.notes.back().note.rfind("kept dense: 4/32 would give ", 0), 0u) << a.notes.back().note;
    std::cout << "VGG-7, " << paper.name << ": " << a.settings << "\n";
    for (const PresetLayerNote& n : a.notes) std::cout << "  " << n.alias << ": " << n.note << "\n";
    for (const Preset& p : presets()) check_preset(*vgg, p);
}

TEST(Presets, LenetAndAlexNetFollowTheCostModel) {
    const auto lenet = load_model(std::string(QCNN_DATASETS_DIR) + "/lenet5.onnx");
    const auto alexnet = load_model("builtin:alexnet");
    for (const Preset& p : presets()) {
        check_preset(*lenet, p);
        // AlexNet's layers are wide enough for every preset: nothing is skipped.
        EXPECT_TRUE(check_preset(*alexnet, p).empty()) << p.name;
    }
    const AppliedPreset dense = apply_preset(*lenet, preset("All dense"));
    EXPECT_EQ(dense.settings, "");
    EXPECT_TRUE(dense.notes.empty());
}

}  // namespace
}  // namespace qcnn
