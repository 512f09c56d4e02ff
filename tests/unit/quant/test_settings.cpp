// Layer settings syntax: parse/print round trip and the error messages.
#include <gtest/gtest.h>

#include "core/quant/random.h"
#include "core/quant/settings.h"

namespace qcnn {
namespace {

std::string error_of(const std::string& text) {
    try {
        parse_layer_settings(text);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(LayerSettingsSyntax, ParsesDefaultsAndOverrides) {
    const LayerSettings s = parse_layer_settings("conv=8/128,fc=4/32,conv1=dense,/features/Conv_3=6/64");
    ASSERT_TRUE(s.conv.has_value());
    EXPECT_EQ(*s.conv, QuantSetting::make_pq(8, 128));
    ASSERT_TRUE(s.fc.has_value());
    EXPECT_EQ(*s.fc, QuantSetting::make_pq(4, 32));
    ASSERT_EQ(s.layers.size(), 2u);
    EXPECT_EQ(s.layers[0].first, "conv1");
    EXPECT_TRUE(s.layers[0].second.dense);
    EXPECT_EQ(s.layers[1].first, "/features/Conv_3");
    EXPECT_EQ(s.layers[1].second, QuantSetting::make_pq(6, 64));
    EXPECT_EQ(to_string(s), "conv=8/128,fc=4/32,conv1=dense,/features/Conv_3=6/64");
}

TEST(LayerSettingsSyntax, NoEcFlag) {
    const LayerSettings s = parse_layer_settings("conv=8/128:noec, fc2 = 4/32 :noec ,fc=4/16");
    ASSERT_TRUE(s.conv.has_value());
    EXPECT_EQ(*s.conv, QuantSetting::make_pq(8, 128, false));
    EXPECT_EQ(*s.fc, QuantSetting::make_pq(4, 16));
    EXPECT_FALSE(s.layers[0].second.ec);
    EXPECT_EQ(to_string(s), "conv=8/128:noec,fc=4/16,fc2=4/32:noec");
    EXPECT_EQ(error_of("fc=dense:noec"), "layer settings item 'fc=dense:noec': ':noec' applies to a C_s'/K setting, not to dense");
    EXPECT_EQ(error_of("fc=4/32:ec"),
              "layer settings item 'fc=4/32:ec': expected \"C_s'/K\" (e.g. 8/128), \"C_s'/K:noec\" or \"dense\", got '4/32:ec'");
}

TEST(LayerSettingsSyntax, CanonicalPrinting) {
    EXPECT_EQ(to_string(parse_layer_settings("")), "");
    EXPECT_EQ(to_string(parse_layer_settings("  ")), "");
    EXPECT_EQ(to_string(parse_layer_settings(" fc = 4 / 32 , conv=dense ")), "conv=dense,fc=4/32");
    EXPECT_EQ(to_string(parse_layer_settings("fc2=1/16,conv=8/128")), "conv=8/128,fc2=1/16");
    EXPECT_EQ(parse_layer_settings(""), LayerSettings{});
}

TEST(LayerSettingsSyntax, RoundTripRandomSettings) {
    const uint64_t seed = 77;
    Rng rng(seed);
    auto random_setting = [&] {
        return rng.below(4) == 0 ? QuantSetting::make_dense()
                                 : QuantSetting::make_pq(1 + static_cast<int64_t>(rng.below(16)),
                                                         2 + static_cast<int64_t>(rng.below(255)), rng.below(3) != 0);
    };
    for (int trial = 0; trial < 200; ++trial) {
        LayerSettings s;
        if (rng.below(2)) s.conv = random_setting();
        if (rng.below(2)) s.fc = random_setting();
        const int64_t n = static_cast<int64_t>(rng.below(4));
        for (int64_t i = 0; i < n; ++i) s.layers.emplace_back(cat("layer.", i, "/Conv_", rng.below(100)), random_setting());
        const std::string text = to_string(s);
        EXPECT_EQ(parse_layer_settings(text), s) << "'" << text << "' trial " << trial << " seed " << seed;
        EXPECT_EQ(to_string(parse_layer_settings(text)), text);
    }
}

TEST(LayerSettingsSyntax, ErrorMessages) {
    EXPECT_EQ(error_of("conv=8/1000"), "layer settings item 'conv=8/1000': K = 1000 is out of range (2..256)");
    EXPECT_EQ(error_of("fc=4/1"), "layer settings item 'fc=4/1': K = 1 is out of range (2..256)");
    EXPECT_EQ(error_of("conv=0/16"), "layer settings item 'conv=0/16': C_s' must be >= 1, got 0");
    EXPECT_EQ(error_of("conv=8"),
              "layer settings item 'conv=8': expected \"C_s'/K\" (e.g. 8/128), \"C_s'/K:noec\" or \"dense\", got '8'");
    EXPECT_EQ(error_of("conv=-4/16"),
              "layer settings item 'conv=-4/16': expected \"C_s'/K\" (e.g. 8/128), \"C_s'/K:noec\" or \"dense\", got '-4/16'");
    EXPECT_EQ(error_of("conv=Dense"),
              "layer settings item 'conv=Dense': expected \"C_s'/K\" (e.g. 8/128), \"C_s'/K:noec\" or \"dense\", got 'Dense'");
    EXPECT_EQ(error_of("conv"), "layer settings item 'conv': expected key=value (e.g. conv=8/128, fc1=dense)");
    EXPECT_EQ(error_of("=4/16"), "layer settings item '=4/16': missing layer name or type before '='");
    EXPECT_EQ(error_of("conv=8/128=3"), "layer settings item 'conv=8/128=3': more than one '='");
    EXPECT_EQ(error_of("conv=8/128,"), "layer settings 'conv=8/128,': empty item (stray ',')");
    EXPECT_EQ(error_of("conv=8/128,conv=4/16"), "layer settings 'conv=8/128,conv=4/16': 'conv' is given twice");
    EXPECT_EQ(error_of("fc1=dense, fc1=4/16"), "layer settings 'fc1=dense, fc1=4/16': 'fc1' is given twice");
    EXPECT_EQ(error_of("conv=99999999999/16"),
              "layer settings item 'conv=99999999999/16': expected \"C_s'/K\" (e.g. 8/128), \"C_s'/K:noec\" or \"dense\", got "
              "'99999999999/16'");
}

TEST(LayerSettingsSyntax, UnwritableKeysAreRefused) {
    for (const std::string key : {"", "a,b", "a=b", " x", "conv", "fc"}) {
        LayerSettings s;
        s.layers.emplace_back(key, QuantSetting::make_dense());
        EXPECT_THROW(to_string(s), Error) << "'" << key << "'";
    }
}

}  // namespace
}  // namespace qcnn
