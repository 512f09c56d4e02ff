// qcnn quantize / info --layers / demo, end to end on the bundled LeNet and real Fashion-MNIST.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/cli/cli.h"
#include "core/util/json.h"

namespace qcnn::cli {
namespace {

namespace fs = std::filesystem;

const std::string kLenet = std::string(QCNN_DATASETS_DIR) + "/lenet5.onnx";

struct CliRun {
    int code;
    std::string out, err;
};

CliRun qcnn(std::vector<std::string> args) {
    args.insert(args.begin(), "qcnn");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::ostringstream out, err;
    const int code = run_cli(static_cast<int>(argv.size()), argv.data(), out, err);
    return {code, out.str(), err.str()};
}

TEST(QuantizeCli, SavedModelReproducesTheReportedTop1Exactly) {
    const fs::path out = fs::temp_directory_path() / "qcnn_cli_lenet_q.h5";
    const CliRun q = qcnn({"quantize", "--model", kLenet, "--layers", "conv=4/16,fc=4/32,fc2=dense", "--limit", "2000",
                        "--threads", "1", "--seed", "3", "-o", out.string(), "--json"});
    ASSERT_EQ(q.code, 0) << q.err;
    const json::Value r = json::parse(q.out);
    for (const char* key : {"top1_float", "top1", "top5", "compression", "theoretical_speedup", "memory_bytes_dense",
                            "memory_bytes_quantized", "layers"})
        EXPECT_NE(r.find(key), nullptr) << key;
    EXPECT_NEAR(r["top1_float"].as_number(), 0.9255, 1e-12);  // first 2,000 test images, float model
    EXPECT_FALSE(r["calibrated_on_eval_set"].as_bool());
    EXPECT_EQ(r["calib_data"].as_string(), "fashion-mnist:train");
    ASSERT_EQ(r["layers"].size(), 4u);
    EXPECT_EQ(r["layers"][0]["setting"].as_string(), "dense");  // conv1: one input channel
    EXPECT_EQ(r["layers"][3]["setting"].as_string(), "dense");  // fc2: explicit override
    EXPECT_GT(r["compression"].as_number(), 1.5);
    EXPECT_GT(r["layers"][1]["response_error"].as_number(), 0.0);
    // The saved file runs and gives the same top-1, to the image, on the same kernels (eval's
    // default `auto` may move a layer to the dense kernels when they are faster here, which
    // changes results within the 8-bit lookup tables' rounding).
    const CliRun e = qcnn({"eval", "--model", out.string(), "--limit", "2000", "--threads", "1", "--kernel", "fast",
                           "--json"});
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_EQ(json::parse(e.out)["top1"].as_number(), r["top1"].as_number());
    // On disk: the cost model's stored bytes (packed codes + codebooks of the quantized layers,
    // float weights of the dense ones, biases) within 10% (HDF5 metadata and provenance on top).
    const double stored = r["weight_bytes_quantized"].as_number() + r["bias_bytes"].as_number();
    const double size = static_cast<double>(fs::file_size(out));
    EXPECT_GT(stored, 0.0);
    EXPECT_LE(size, 1.10 * stored) << "file " << size << " bytes, cost model " << stored;
    EXPECT_GE(size, 0.90 * stored) << "file " << size << " bytes, cost model " << stored;
}

TEST(QuantizeCli, CalibratingOnTheEvaluationSetIsFlagged) {
    const CliRun q = qcnn({"quantize", "--model", kLenet, "--layers", "fc=4/16", "--limit", "500", "--calib-data",
                        "fashion-mnist:test", "--calib", "64"});
    ASSERT_EQ(q.code, 0) << q.err;
    EXPECT_NE(q.out.find("calibrated on the evaluation set"), std::string::npos) << q.out;
}

TEST(QuantizeCli, ImpossibleSettingsFailWithTheLayerAndItsValidValues) {
    const CliRun q = qcnn({"quantize", "--model", kLenet, "--layers", "conv2=3/16", "--limit", "10"});
    EXPECT_EQ(q.code, 1);
    EXPECT_NE(q.err.find("conv2"), std::string::npos) << q.err;
    EXPECT_NE(q.err.find("valid C_s' values: 1, 2, 4, 8"), std::string::npos) << q.err;
    EXPECT_EQ(std::count(q.err.begin(), q.err.end(), '\n'), 1) << q.err;
    const CliRun k = qcnn({"quantize", "--model", kLenet, "--layers", "fc=4/512", "--limit", "10"});
    EXPECT_NE(k.code, 0);
    EXPECT_NE(k.err.find("512"), std::string::npos) << k.err;
    const CliRun missing = qcnn({"quantize", "--model", kLenet});
    EXPECT_EQ(missing.code, 2);
    EXPECT_NE(missing.err.find("--layers"), std::string::npos);
}

TEST(InfoCli, CostModelReproducesThePapersAlexNetNumbers) {
    const CliRun r = qcnn({"info", "--model", "builtin:alexnet", "--layers", "conv1=3/128,conv=8/128,fc=4/32,fc3=1/16",
                        "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const json::Value v = json::parse(r.out);
    EXPECT_EQ(v["flops_dense"].as_number(), 724406816.0);
    EXPECT_EQ(v["flops_quantized"].as_number(), 174299872.0);
    EXPECT_NEAR(v["theoretical_speedup"].as_number(), 4.156, 0.0005);
    EXPECT_NEAR(v["compression_shared_group_codebooks"].as_number(), 18.54, 0.005);
}

}  // namespace
}  // namespace qcnn::cli
