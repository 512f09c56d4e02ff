// `qcnn eval` against the bundled networks' golden files (datasets/<net>.golden.json, written
// by datasets/train_reference.py from PyTorch), and its error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "cli_test_util.h"
#include "core/util/json.h"

namespace qcnn {
namespace {

using test::bundled;
using test::one_error_line;
using test::run_qcnn;

const std::string kLenet = bundled("lenet5.onnx");

bool have_fashion_mnist() { return test::exists(std::string(QCNN_FASHION_MNIST_DIR) + "/t10k-images-idx3-ubyte.gz"); }

// Rows of a logits CSV: label, then the scores.
std::vector<std::vector<double>> read_csv(const std::string& path) {
    std::vector<std::vector<double>> rows;
    std::istringstream in(test::read_file(path));
    for (std::string line; std::getline(in, line);) {
        std::vector<double> row;
        std::stringstream ls(line);
        for (std::string cell; std::getline(ls, cell, ',');) row.push_back(std::stod(cell));
        rows.push_back(std::move(row));
    }
    return rows;
}

// Checks the first rows of a logits CSV against the golden logits (1e-4 absolute).
void expect_golden_logits(const json::Value& golden, const std::vector<std::vector<double>>& rows) {
    const json::Array& g = golden["golden"].as_array();
    ASSERT_GE(rows.size(), g.size());
    for (const auto& item : g) {
        const int64_t i = item["index"].as_int();
        const json::Array& want = item["logits"].as_array();
        const auto& row = rows.at(i);
        ASSERT_EQ(row.size(), want.size() + 1) << "row " << i;
        EXPECT_EQ(row[0], static_cast<double>(item["label"].as_int())) << "label of image " << i;
        for (size_t j = 0; j < want.size(); ++j)
            EXPECT_NEAR(row[j + 1], want[j].as_number(), 1e-4) << "image " << i << " class " << j;
    }
}

TEST(CliEval, LenetFullTestSetMatchesGolden) {
    if (!test::exists(kLenet) || !have_fashion_mnist()) GTEST_SKIP() << "lenet5.onnx or Fashion-MNIST missing";
    const json::Value golden = json::parse_file(bundled("lenet5.golden.json"));
    test::TempDir dir;
    const std::string csv = dir.file("logits.csv");
    const auto r = run_qcnn({"eval", "--model", kLenet, "--data", "fashion-mnist:test", "--logits", csv, "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;  // no progress bar when stderr is not a terminal
    const json::Value v = json::parse(r.out);
    EXPECT_EQ(v["samples"].as_int(), 10000);
    EXPECT_EQ(v["top1_correct"].as_int(), golden["test_correct"].as_int());
    EXPECT_DOUBLE_EQ(v["top1"].as_number(), golden["test_top1"].as_number());
    EXPECT_NEAR(v["top5"].as_number(), golden["test_top5"].as_number(), 2e-4);  // ties may differ by one image
    EXPECT_GT(v["seconds"].as_number(), 0.0);
    EXPECT_GT(v["images_per_second"].as_number(), 0.0);
    const json::Array& pc = v["per_class"].as_array();
    const json::Array& want_pc = golden["per_class_top1"].as_array();
    ASSERT_EQ(pc.size(), want_pc.size());
    EXPECT_EQ(pc[0]["name"].as_string(), "T-shirt/top");
    for (size_t c = 0; c < pc.size(); ++c) {
        EXPECT_EQ(pc[c]["samples"].as_int(), 1000);
        EXPECT_EQ(pc[c]["top1_correct"].as_int(), std::lround(want_pc[c].as_number() * 1000)) << "class " << c;
    }
    const auto rows = read_csv(csv);
    ASSERT_EQ(rows.size(), 10000u);
    expect_golden_logits(golden, rows);
}

TEST(CliEval, Vgg7GoldenLogitsOnTheFirstImages) {
    const std::string vgg = bundled("vgg7.onnx");
    if (!test::exists(vgg) || !test::exists(bundled("vgg7.golden.json")) || !have_fashion_mnist())
        GTEST_SKIP() << "vgg7.onnx, its golden file or Fashion-MNIST missing";
    const json::Value golden = json::parse_file(bundled("vgg7.golden.json"));
    test::TempDir dir;
    const std::string csv = dir.file("logits.csv");
    // The default model is vgg7 and the default data fashion-mnist:test.
    const auto r = run_qcnn({"eval", "--limit", "16", "--batch", "5", "--logits", csv, "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const json::Value v = json::parse(r.out);
    // ... found where the build tree lays the bundled networks out as an install does.
    EXPECT_EQ(v["model"].as_string(), std::string(QCNN_BINARY_DIR) + "/share/qcnn-workbench/datasets/vgg7.onnx");
    EXPECT_EQ(v["samples"].as_int(), 16);
    const auto rows = read_csv(csv);
    ASSERT_EQ(rows.size(), 16u);
    expect_golden_logits(golden, rows);
    int64_t correct = 0;  // top-1 on these 16 images, from the golden logits
    for (const auto& item : golden["golden"].as_array()) {
        const json::Array& l = item["logits"].as_array();
        size_t best = 0;
        for (size_t j = 1; j < l.size(); ++j)
            if (l[j].as_number() > l[best].as_number()) best = j;
        correct += static_cast<int64_t>(best) == item["label"].as_int();
    }
    EXPECT_EQ(v["top1_correct"].as_int(), correct);
}

// The residual network (residual adds, strided convs with 1x1 projection shortcuts, global
// average pooling) reproduces PyTorch's top-1 on all 10,000 test images and its logits.
TEST(CliEval, Resnet8FullTestSetMatchesGolden) {
    const std::string net = bundled("resnet8.onnx");
    if (!test::exists(net) || !test::exists(bundled("resnet8.golden.json")) || !have_fashion_mnist())
        GTEST_SKIP() << "resnet8.onnx, its golden file or Fashion-MNIST missing";
    const json::Value golden = json::parse_file(bundled("resnet8.golden.json"));
    test::TempDir dir;
    const std::string csv = dir.file("logits.csv");
    const auto r = run_qcnn({"eval", "--model", net, "--data", "fashion-mnist:test", "--logits", csv, "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const json::Value v = json::parse(r.out);
    EXPECT_EQ(v["samples"].as_int(), 10000);
    EXPECT_EQ(v["top1_correct"].as_int(), golden["test_correct"].as_int());
    EXPECT_NEAR(v["top5"].as_number(), golden["test_top5"].as_number(), 2e-4);
    const auto rows = read_csv(csv);
    ASSERT_EQ(rows.size(), 10000u);
    expect_golden_logits(golden, rows);
}

TEST(CliEval, TextReportHasAccuracyClassesAndSpeed) {
    if (!test::exists(kLenet) || !have_fashion_mnist()) GTEST_SKIP() << "lenet5.onnx or Fashion-MNIST missing";
    const auto r = run_qcnn({"eval", "--model", kLenet, "--limit", "200", "--threads", "1"});
    ASSERT_EQ(r.rc, 0) << r.err;
    for (const char* s : {"samples: 200 (batch 64, 1 thread)", "top-1:", "top-5:", "images/s", "per-class top-1:",
                          "Ankle boot", "T-shirt/top"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

// A CIFAR-10 binary batch: per image 1 label byte + 3x32x32 pixels.
std::string cifar_bytes(int n) {
    std::string b;
    for (int i = 0; i < n; ++i) {
        b += static_cast<char>(i % 10);
        for (int k = 0; k < 3 * 32 * 32; ++k) b += static_cast<char>((k * 7 + i * 13) & 0xFF);
    }
    return b;
}

TEST(CliEval, ImageShapeNotMatchingTheModel) {
    if (!test::exists(kLenet)) GTEST_SKIP() << kLenet << " not built";
    test::TempDir dir;
    const std::string bin = dir.file("batch.bin");
    test::write_file(bin, cifar_bytes(3));
    const auto r = run_qcnn({"eval", "--model", kLenet, "--data", "cifar10:" + bin});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(one_error_line(r), "dataset cifar10:" + bin + " gives 3x32x32 images, model " + kLenet + " expects 1x28x28");

    // --convert maps them to the model's 1x28x28 (luma, bilinear) instead.
    const auto c = run_qcnn({"eval", "--model", kLenet, "--data", "cifar10:" + bin, "--convert", "--json"});
    ASSERT_EQ(c.rc, 0) << c.err;
    EXPECT_EQ(json::parse(c.out)["samples"].as_int(), 3);
}

TEST(CliEval, BadDataAndOutputPathsFailWithOneLine) {
    if (!test::exists(kLenet)) GTEST_SKIP() << kLenet << " not built";
    test::TempDir dir;
    auto r = run_qcnn({"eval", "--model", kLenet, "--data", "imagenet:val"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(one_error_line(r).find("imagenet:val"), std::string::npos);

    const std::string missing = dir.file("missing-images.gz");
    r = run_qcnn({"eval", "--model", kLenet, "--data", "idx:" + missing});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(one_error_line(r).find(missing), std::string::npos);

    if (!have_fashion_mnist()) return;
    const std::string bad_csv = dir.file("no/such/dir/logits.csv");
    r = run_qcnn({"eval", "--model", kLenet, "--limit", "2", "--logits", bad_csv});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(one_error_line(r).rfind("cannot create logits file " + bad_csv + ": ", 0), 0u) << r.err;

    r = run_qcnn({"eval", "--model", kLenet, "--limit", "2", "--mean", "0.1,0.2"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(one_error_line(r).find("mean"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qcnn
