// Sweep spec: round trip, every validation error (naming the key path), expansion order.
#include <gtest/gtest.h>

#include "core/sweep/sweep.h"
#include "sweep_test_util.h"

namespace qcnn {
namespace {

SweepSpec parse(const std::string& text, const std::string& base_dir = "") {
    return parse_sweep_spec(json::parse(text, "sweep.json"), "sweep.json", base_dir);
}

// The error message of parsing `text`, or "" when it parses.
std::string parse_error(const std::string& text) {
    try {
        parse(text);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// A minimal valid spec with `extra` members added at the end.
std::string spec_with(const std::string& extra) {
    return R"({"qcnn_sweep": 1, "model": "m.onnx", "data": "fashion-mnist:test")" +
           (extra.empty() ? "" : ", " + extra) + "}";
}

TEST(SweepSpec, MinimalSpecTakesTheDocumentedDefaults) {
    const SweepSpec s = parse(spec_with(""));
    EXPECT_EQ(s.base.model, "m.onnx");
    EXPECT_EQ(s.base.data, "fashion-mnist:test");
    EXPECT_EQ(s.base.calib_data, "");
    EXPECT_EQ(s.base.calib_images, 0);
    EXPECT_EQ(s.base.limit, 0);
    EXPECT_EQ(s.base.batch, 64);
    EXPECT_TRUE(s.grid.empty());
    EXPECT_EQ(s.ec, std::vector<EcMode>{EcMode::None});
    EXPECT_EQ(s.seeds, std::vector<uint64_t>{0});
    EXPECT_EQ(s.base.threads, 0);
    EXPECT_EQ(s.base.kmeans_iters, 25);
    EXPECT_EQ(s.base.ec_iters, QuantizeOptions{}.ec_iterations);
    EXPECT_EQ(s.base.ec_conv_images, QuantizeOptions{}.ec_conv_images);
    EXPECT_EQ(s.base.ec_positions, QuantizeOptions{}.ec_positions);
    EXPECT_EQ(s.base.lut_kernel, LutKernel::Fast);
    EXPECT_FALSE(s.measure_speed);
    // Left at their defaults, the EC sampling keys stay out of the canonical form, which is
    // then what it was before they existed (a results file's sweep is found by it on --resume).
    const std::string text = to_json(s);
    EXPECT_EQ(text.find("ec_conv_images"), std::string::npos) << text;
    EXPECT_EQ(text.find("ec_positions"), std::string::npos) << text;
}

TEST(SweepSpec, EveryKeyRoundTripsThroughCanonicalJson) {
    const SweepSpec s = parse(R"({
        "qcnn_sweep": 1, "model": "nets/vgg7.onnx", "data": "fashion-mnist:test",
        "calib_data": "fashion-mnist:train", "calib_images": 500,
        "mean": [0.25], "std": [0.3],
        "limit": 1000, "batch": 16, "base": " conv1 = dense ",
        "grid": [
            {"layers": "conv", "settings": ["8/128", " 4 / 16 ", "dense", "2/64:noec"]},
            {"layers": "fc", "subspace_dims": [2, 4], "codewords": [16, 32], "dense": true}
        ],
        "ec": ["none", "network", "layer"], "seeds": [0, 7, 9007199254740992],
        "threads": 3, "kmeans_iters": 10, "ec_iters": 2, "ec_conv_images": 300,
        "ec_positions": 0, "kernel": "reference", "measure_speed": true
    })");
    EXPECT_EQ(s.base.layers, "conv1=dense");
    ASSERT_EQ(s.grid.size(), 2u);
    EXPECT_EQ(s.grid[0].settings, (std::vector<std::string>{"8/128", "4/16", "dense", "2/64:noec"}));
    // "dense" first, then subspace_dims outer x codewords inner.
    EXPECT_EQ(s.grid[1].settings, (std::vector<std::string>{"dense", "2/16", "2/32", "4/16", "4/32"}));
    EXPECT_EQ(s.ec, (std::vector<EcMode>{EcMode::None, EcMode::Network, EcMode::Layer}));
    EXPECT_EQ(s.seeds, (std::vector<uint64_t>{0, 7, uint64_t(1) << 53}));
    EXPECT_EQ(s.base.mean, std::vector<float>{0.25f});
    EXPECT_EQ(s.base.std, std::vector<float>{0.3f});
    EXPECT_EQ(s.base.ec_iters, 2);
    EXPECT_EQ(s.base.ec_conv_images, 300);
    EXPECT_EQ(s.base.ec_positions, 0);  // 0 = every position, not "unset"
    EXPECT_EQ(s.base.lut_kernel, LutKernel::Reference);
    EXPECT_TRUE(s.measure_speed);

    const std::string text = to_json(s);
    EXPECT_EQ(parse(text), s);
    EXPECT_EQ(to_json(parse(text)), text);  // canonical: stable
    EXPECT_NE(text.find("\"ec_conv_images\": 300"), std::string::npos) << text;
    EXPECT_NE(text.find("\"ec_positions\": 0"), std::string::npos) << text;

    test::ScratchDir dir;
    save_sweep_spec(dir.file("saved.json"), s);
    const SweepSpec loaded = load_sweep_spec(dir.file("saved.json"));
    // Loading from a file resolves the relative model path against the file's directory.
    EXPECT_EQ(loaded.base.model, dir.file("nets/vgg7.onnx"));
    SweepSpec expected = s;
    expected.base.model = loaded.base.model;
    EXPECT_EQ(loaded, expected);
}

TEST(SweepSpec, RelativeModelPathsResolveAgainstBaseDirAbsoluteOnesStay) {
    EXPECT_EQ(parse(spec_with(""), "/specs/a").base.model, "/specs/a/m.onnx");
    EXPECT_EQ(parse(R"({"qcnn_sweep": 1, "model": "../m.onnx", "data": "d"})", "/specs/a").base.model, "/specs/m.onnx");
    EXPECT_EQ(parse(R"({"qcnn_sweep": 1, "model": "/abs/m.onnx", "data": "d"})", "/specs/a").base.model, "/abs/m.onnx");
}

struct BadSpec {
    std::string text;
    std::string message;  // expected substring of the error
};

TEST(SweepSpec, EveryValidationErrorNamesTheKeyPath) {
    const std::vector<BadSpec> cases = {
        {"[1]", "sweep.json: a sweep spec is a JSON object, got array"},
        {R"({"model": "m", "data": "d"})", "sweep.json: qcnn_sweep: missing"},
        {R"({"qcnn_sweep": 2, "model": "m", "data": "d"})", "sweep.json: qcnn_sweep: schema version 2 is not supported"},
        {R"({"qcnn_sweep": "1", "model": "m", "data": "d"})", "sweep.json: qcnn_sweep: expected an integer, got string"},
        {R"({"qcnn_sweep": 1, "data": "d"})", "sweep.json: model: missing (required)"},
        {R"({"qcnn_sweep": 1, "model": "m"})", "sweep.json: data: missing (required)"},
        {R"({"qcnn_sweep": 1, "model": 3, "data": "d"})", "sweep.json: model: expected a string, got number"},
        {R"({"qcnn_sweep": 1, "model": "", "data": "d"})", "sweep.json: model: expected a model file path"},
        {R"({"qcnn_sweep": 1, "model": "m", "data": ""})", "sweep.json: data: expected a dataset spec"},
        {spec_with(R"("modle": "x")"), "sweep.json: modle: unknown key (expected one of: qcnn_sweep, model,"},
        {spec_with(R"("limit": 1, "limit": 2)"), "sweep.json: limit: given twice"},
        {spec_with(R"("calib_data": 1)"), "sweep.json: calib_data: expected a string, got number"},
        {spec_with(R"("calib_images": -1)"), "sweep.json: calib_images: -1 is out of range (0..16777216)"},
        {spec_with(R"("calib_images": "256")"), "sweep.json: calib_images: expected an integer, got string"},
        {spec_with(R"("mean": 0.5)"), "sweep.json: mean: expected an array, got number"},
        {spec_with(R"("mean": ["a"])"), "sweep.json: mean[0]: expected a number, got string"},
        {spec_with(R"("std": [0.5, 0])"), "sweep.json: std[1]: a standard deviation must be > 0"},
        {spec_with(R"("std": [1e300])"), "sweep.json: std[0]: 1e+300 is not a finite float"},
        {spec_with(R"("limit": 1.5)"), "sweep.json: limit: expected an integer, got 1.5"},
        {spec_with(R"("batch": 0)"), "sweep.json: batch: 0 is out of range (1..1048576)"},
        {spec_with(R"("base": 5)"), "sweep.json: base: expected a string, got number"},
        {spec_with(R"("base": "conv=8/300")"), "sweep.json: base: layer settings item 'conv=8/300': K = 300 is out of range"},
        {spec_with(R"("grid": {})"), "sweep.json: grid: expected an array, got object"},
        {spec_with(R"("grid": [3])"), "sweep.json: grid[0]: expected an object, got number"},
        {spec_with(R"("grid": [{"layers": "fc", "setings": ["4/16"]}])"), "sweep.json: grid[0].setings: unknown key"},
        {spec_with(R"("grid": [{"settings": ["4/16"]}])"), "sweep.json: grid[0].layers: missing"},
        {spec_with(R"("grid": [{"layers": "conv,fc", "settings": ["4/16"]}])"), "sweep.json: grid[0].layers: expected"},
        {spec_with(R"("grid": [{"layers": "fc", "settings": ["4/16"]}, {"layers": "fc", "settings": ["8/16"]}])"),
         "sweep.json: grid[1].layers: 'fc' is already set by base or another group"},
        {spec_with(R"("base": "conv=dense", "grid": [{"layers": "conv", "settings": ["4/16"]}])"),
         "sweep.json: grid[0].layers: 'conv' is already set by base or another group"},
        {spec_with(R"("grid": [{"layers": "fc"}])"), "sweep.json: grid[0]: needs \"settings\""},
        {spec_with(R"("grid": [{"layers": "fc", "settings": ["4/16"], "codewords": [16]}])"),
         "sweep.json: grid[0]: give either \"settings\" or \"subspace_dims\" x \"codewords\", not both"},
        {spec_with(R"("grid": [{"layers": "fc", "settings": ["4/16"], "dense": true}])"), "sweep.json: grid[0].dense: only with"},
        {spec_with(R"("grid": [{"layers": "fc", "settings": []}])"), "sweep.json: grid[0].settings: expected at least one value"},
        {spec_with(R"("grid": [{"layers": "fc", "settings": ["4/16", 8]}])"), "sweep.json: grid[0].settings[1]: expected a string, got number"},
        {spec_with(R"("grid": [{"layers": "fc", "settings": ["4/16", "8/x"]}])"),
         "sweep.json: grid[0].settings[1]: layer settings item 'fc=8/x': expected \"C_s'/K\""},
        {spec_with(R"("grid": [{"layers": "fc", "settings": ["4/16", "4 / 16"]}])"), "sweep.json: grid[0]: the value 4/16 is listed twice"},
        {spec_with(R"("grid": [{"layers": "conv", "settings": ["8/128"]}, {"layers": "fc", "subspace_dims": [4], "codewords": [300]}])"),
         "sweep.json: grid[1].codewords[0]: K = 300 is out of range (2..256)"},
        {spec_with(R"("grid": [{"layers": "fc", "subspace_dims": [4, 0], "codewords": [16]}])"),
         "sweep.json: grid[0].subspace_dims[1]: 0 is out of range (1..1048576)"},
        {spec_with(R"("grid": [{"layers": "fc", "subspace_dims": [4], "codewords": [16], "dense": 1}])"),
         "sweep.json: grid[0].dense: expected true or false, got number"},
        {spec_with(R"("grid": [{"layers": "fc", "subspace_dims": [4]}])"), "sweep.json: grid[0]: needs"},
        {spec_with(R"("ec": [])"), "sweep.json: ec: expected at least one value, got []"},
        {spec_with(R"("ec": ["none", "bogus"])"), "sweep.json: ec[1]: "},
        {spec_with(R"("ec": ["none", "none"])"), "sweep.json: ec[1]: 'none' is listed twice"},
        {spec_with(R"("seeds": [-1])"), "sweep.json: seeds[0]: -1 is out of range (0..9223372036854775807)"},
        {spec_with(R"("seeds": [3, 3])"), "sweep.json: seeds[1]: value 3 is listed twice"},
        {spec_with(R"("seeds": [9223372036854775808])"), "sweep.json: seeds[0]: expected an integer, got "},
        {spec_with(R"("seeds": [1e20])"), "sweep.json: seeds[0]: 1e+20 is out of range (0..9223372036854775807)"},
        {spec_with(R"("threads": 5000)"), "sweep.json: threads: 5000 is out of range (0..4096)"},
        {spec_with(R"("kmeans_iters": 0)"), "sweep.json: kmeans_iters: 0 is out of range (1..10000)"},
        {spec_with(R"("ec_iters": 0)"), "sweep.json: ec_iters: 0 is out of range (1..1000)"},
        {spec_with(R"("ec_iters": "6")"), "sweep.json: ec_iters: expected an integer, got string"},
        {spec_with(R"("ec_conv_images": 0)"), "sweep.json: ec_conv_images: 0 is out of range (1..16777216)"},
        {spec_with(R"("ec_conv_images": -3)"), "sweep.json: ec_conv_images: -3 is out of range (1..16777216)"},
        {spec_with(R"("ec_conv_images": 16777217)"), "sweep.json: ec_conv_images: 16777217 is out of range (1..16777216)"},
        {spec_with(R"("ec_conv_images": 2.5)"), "sweep.json: ec_conv_images: expected an integer, got 2.5"},
        {spec_with(R"("ec_conv_images": "1000")"), "sweep.json: ec_conv_images: expected an integer, got string"},
        {spec_with(R"("ec_positions": -1)"), "sweep.json: ec_positions: -1 is out of range (0..16777216)"},
        {spec_with(R"("ec_positions": null)"), "sweep.json: ec_positions: expected an integer, got null"},
        {spec_with(R"("ec_positions": [64])"), "sweep.json: ec_positions: expected an integer, got array"},
        {spec_with(R"("ec_position": 64)"), "sweep.json: ec_position: unknown key (expected one of: "},
        {spec_with(R"("kernel": "slow")"), "sweep.json: kernel: expected one of fast, reference, got 'slow'"},
        {spec_with(R"("measure_speed": "yes")"), "sweep.json: measure_speed: expected true or false, got string"},
    };
    for (const BadSpec& c : cases) {
        SCOPED_TRACE(c.text);
        const std::string msg = parse_error(c.text);
        EXPECT_NE(msg.find(c.message), std::string::npos) << "got: '" << msg << "'";
    }
}

TEST(SweepSpec, LoadNamesTheFileInErrors) {
    test::ScratchDir dir;
    test::write_file(dir.file("bad.json"), spec_with(R"("kernel": 1)"));
    try {
        load_sweep_spec(dir.file("bad.json"));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), dir.file("bad.json") + ": kernel: expected a string, got number");
    }
    EXPECT_THROW(load_sweep_spec(dir.file("missing.json")), Error);
}

TEST(SweepExpand, EcOutermostThenSeedsThenGroupsLastFastest) {
    const SweepSpec s = parse(spec_with(R"(
        "base": "conv1=dense", "ec": ["none", "network"], "seeds": [5, 6],
        "grid": [{"layers": "conv", "settings": ["8/128", "4/16"]},
                 {"layers": "fc", "settings": ["dense", "4/32", "2/16"]}])"));
    const std::vector<SweepPoint> points = expand(s);
    ASSERT_EQ(points.size(), 2u * 2u * 2u * 3u);
    for (size_t i = 0; i < points.size(); ++i) EXPECT_EQ(points[i].index, static_cast<int64_t>(i));
    EXPECT_EQ(points[0].layers, "conv1=dense,conv=8/128,fc=dense");
    EXPECT_EQ(points[1].layers, "conv1=dense,conv=8/128,fc=4/32");
    EXPECT_EQ(points[2].layers, "conv1=dense,conv=8/128,fc=2/16");
    EXPECT_EQ(points[3].layers, "conv1=dense,conv=4/16,fc=dense");
    EXPECT_EQ(points[5].layers, "conv1=dense,conv=4/16,fc=2/16");
    EXPECT_EQ(points[6].layers, points[0].layers);
    for (size_t i = 0; i < points.size(); ++i) {
        EXPECT_EQ(points[i].ec, i < 12 ? EcMode::None : EcMode::Network) << i;
        EXPECT_EQ(points[i].seed, (i / 6) % 2 == 0 ? 5u : 6u) << i;
    }
}

TEST(SweepExpand, RunSpecTakesTheEngineDefaultsWhenTheSpecOmitsThem) {
    const RunSpec r = run_spec(parse(spec_with("")), expand(parse(spec_with(""))).at(0));
    const RunSpec engine;
    EXPECT_EQ(r.calib_data, engine.calib_data);
    EXPECT_EQ(r.calib_images, engine.calib_images);
    EXPECT_EQ(r.ec_iters, engine.ec_iters);
    EXPECT_EQ(r.ec_conv_images, engine.ec_conv_images);
    EXPECT_EQ(r.ec_positions, engine.ec_positions);
    EXPECT_EQ(r.kmeans_iters, engine.kmeans_iters);
}

TEST(SweepExpand, EmptyGridIsOneRunOfBasePerEcModeAndSeed) {
    const SweepSpec s = parse(spec_with(R"("base": "fc=4/16", "ec": ["none", "layer"], "seeds": [1, 2, 3])"));
    const std::vector<SweepPoint> points = expand(s);
    ASSERT_EQ(points.size(), 6u);
    for (const SweepPoint& p : points) EXPECT_EQ(p.layers, "fc=4/16");
    EXPECT_EQ(points[2].seed, 3u);
    EXPECT_EQ(points[3].ec, EcMode::Layer);
    EXPECT_EQ(points[3].seed, 1u);
}

TEST(SweepExpand, RunSpecCarriesEverySpecField) {
    const SweepSpec s = parse(spec_with(R"(
        "calib_data": "c", "calib_images": 9, "mean": [0.5], "std": [0.25], "limit": 7, "batch": 3,
        "threads": 2, "kmeans_iters": 4, "ec_iters": 5, "ec_conv_images": 12, "ec_positions": 3,
        "kernel": "reference", "ec": ["layer"], "seeds": [11],
        "grid": [{"layers": "fc", "settings": ["4/16"]}])"));
    const SweepPoint p = expand(s).at(0);
    const RunSpec r = run_spec(s, p);
    EXPECT_EQ(r.model, "m.onnx");
    EXPECT_EQ(r.data, "fashion-mnist:test");
    EXPECT_EQ(r.calib_data, "c");
    EXPECT_EQ(r.layers, "fc=4/16");
    EXPECT_EQ(r.ec, EcMode::Layer);
    EXPECT_EQ(r.calib_images, 9);
    EXPECT_EQ(r.seed, 11u);
    EXPECT_EQ(r.kmeans_iters, 4);
    EXPECT_EQ(r.ec_iters, 5);
    EXPECT_EQ(r.ec_conv_images, 12);
    EXPECT_EQ(r.ec_positions, 3);
    EXPECT_EQ(r.limit, 7);
    EXPECT_EQ(r.batch, 3);
    EXPECT_EQ(r.threads, 2);
    EXPECT_EQ(r.lut_kernel, LutKernel::Reference);
    EXPECT_EQ(r.mean, std::vector<float>{0.5f});
    EXPECT_EQ(r.std, std::vector<float>{0.25f});
}

}  // namespace
}  // namespace qcnn
