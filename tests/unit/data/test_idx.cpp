// IDX reader (plain and gzip) on generated fixtures, its error handling, and the real
// Fashion-MNIST files of the Debian package dataset-fashion-mnist.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "core/data/dataset.h"
#include "core/data/readers.h"
#include "data_test_util.h"

namespace qcnn {
namespace {

using test::concat;
using test::error_of;
using test::idx_header;
using test::random_bytes;
using test::TempDir;

constexpr uint32_t kN = 5, kH = 3, kW = 4;

struct IdxFixture {
    std::vector<uint8_t> pixels = random_bytes(kN * kH * kW, 7);
    std::vector<uint8_t> labels = {3, 0, 7, 7, 1};
    std::vector<uint8_t> image_file() const { return concat(idx_header({kN, kH, kW}), pixels); }
    std::vector<uint8_t> label_file() const { return concat(idx_header({kN}), labels); }
};

void expect_fixture(const Dataset& ds, const IdxFixture& fx) {
    ASSERT_EQ(ds.size(), kN);
    EXPECT_EQ(ds.sample_shape(), (Shape{1, kH, kW}));
    EXPECT_EQ(ds.num_classes(), 8);
    EXPECT_EQ(ds.class_names(), (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7"}));
    Tensor x;
    std::vector<int> y;
    ds.batch(0, kN, x, y);
    ASSERT_EQ(x.shape, (Shape{kN, 1, kH, kW}));
    for (size_t i = 0; i < fx.pixels.size(); ++i)
        ASSERT_EQ(x.data[i], static_cast<float>(fx.pixels[i]) / 255.0f) << "pixel " << i;
    EXPECT_EQ(y, (std::vector<int>{3, 0, 7, 7, 1}));
}

TEST(Idx, ReadsPlainFiles) {
    TempDir dir;
    IdxFixture fx;
    test::write_bytes(dir.file("img.idx3"), fx.image_file());
    test::write_bytes(dir.file("lab.idx1"), fx.label_file());
    const auto ds = open_dataset("idx:" + dir.file("img.idx3") + "," + dir.file("lab.idx1"));
    expect_fixture(*ds, fx);
    EXPECT_NE(ds->description().find("img.idx3"), std::string::npos) << ds->description();
}

TEST(Idx, ReadsGzipFilesAndMixedCompression) {
    TempDir dir;
    IdxFixture fx;
    test::write_gz(dir.file("img.gz"), fx.image_file());
    test::write_gz(dir.file("lab.gz"), fx.label_file());
    test::write_bytes(dir.file("lab.raw"), fx.label_file());
    expect_fixture(*open_dataset("idx:" + dir.file("img.gz") + "," + dir.file("lab.gz")), fx);
    expect_fixture(*open_dataset("idx:" + dir.file("img.gz") + "," + dir.file("lab.raw")), fx);
}

TEST(Idx, ImagesWithoutLabels) {
    TempDir dir;
    IdxFixture fx;
    test::write_bytes(dir.file("img"), fx.image_file());
    const auto ds = open_dataset("idx:" + dir.file("img"));
    EXPECT_FALSE(ds->has_labels());
    EXPECT_EQ(ds->num_classes(), 0);
    Tensor x;
    std::vector<int> y;
    ds->batch(1, 2, x, y);
    EXPECT_EQ(y, (std::vector<int>{-1, -1}));
    EXPECT_EQ(x.data[0], static_cast<float>(fx.pixels[kH * kW]) / 255.0f);
}

TEST(Idx, LimitReadsTheFirstSamples) {
    TempDir dir;
    IdxFixture fx;
    test::write_gz(dir.file("img"), fx.image_file());
    test::write_bytes(dir.file("lab"), fx.label_file());
    DataOptions opts;
    opts.limit = 2;
    const auto ds = open_dataset("idx:" + dir.file("img") + "," + dir.file("lab"), opts);
    ASSERT_EQ(ds->size(), 2);
    EXPECT_EQ(ds->labels(), (std::vector<int>{3, 0}));
    Tensor x;
    std::vector<int> y;
    ds->batch(1, 1, x, y);
    EXPECT_EQ(x.data.back(), static_cast<float>(fx.pixels[2 * kH * kW - 1]) / 255.0f);
}

TEST(Idx, WrongMagicNumber) {
    TempDir dir;
    auto bytes = IdxFixture().image_file();
    bytes[0] = 0x1f;
    test::write_bytes(dir.file("bad"), bytes);
    const std::string msg = error_of([&] { open_dataset("idx:" + dir.file("bad")); });
    EXPECT_NE(msg.find(dir.file("bad")), std::string::npos) << msg;
    EXPECT_NE(msg.find("magic"), std::string::npos) << msg;

    auto floats = IdxFixture().image_file();
    floats[2] = 0x0D;
    test::write_bytes(dir.file("float"), floats);
    EXPECT_NE(error_of([&] { open_dataset("idx:" + dir.file("float")); }).find("0xd is not supported"),
              std::string::npos);

    test::write_bytes(dir.file("labels-as-images"), IdxFixture().label_file());
    EXPECT_NE(error_of([&] { open_dataset("idx:" + dir.file("labels-as-images")); }).find("must have 3 dimensions"),
              std::string::npos);
}

TEST(Idx, ImageAndLabelCountsDiffer) {
    TempDir dir;
    IdxFixture fx;
    test::write_bytes(dir.file("img"), fx.image_file());
    test::write_bytes(dir.file("lab"), concat(idx_header({4}), {1, 2, 3, 4}));
    const std::string msg = error_of([&] { open_dataset("idx:" + dir.file("img") + "," + dir.file("lab")); });
    EXPECT_NE(msg.find("5 images"), std::string::npos) << msg;
    EXPECT_NE(msg.find("4 labels"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir.file("lab")), std::string::npos) << msg;
}

TEST(Idx, TruncatedFiles) {
    TempDir dir;
    auto bytes = IdxFixture().image_file();
    bytes.resize(bytes.size() - 7);
    test::write_bytes(dir.file("short.raw"), bytes);
    test::write_gz(dir.file("short.gz"), bytes);
    for (const char* name : {"short.raw", "short.gz"}) {
        const std::string msg = error_of([&] { open_dataset("idx:" + dir.file(name)); });
        EXPECT_NE(msg.find(dir.file(name)), std::string::npos) << msg;
        EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
    }
    // A gzip stream cut short (the compressed bytes end mid-stream).
    test::write_gz(dir.file("full.gz"), concat(idx_header({200, 28, 28}), random_bytes(200 * 28 * 28, 3)));
    auto gz = test::read_bytes(dir.file("full.gz"));
    gz.resize(gz.size() / 2);
    test::write_bytes(dir.file("cut.gz"), gz);
    const std::string msg = error_of([&] { open_dataset("idx:" + dir.file("cut.gz")); });
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
    // Only the header.
    test::write_bytes(dir.file("header-only"), {0, 0, 8});
    EXPECT_NE(error_of([&] { open_dataset("idx:" + dir.file("header-only")); }).find("truncated"), std::string::npos);
}

TEST(Idx, TrailingDataIsAnError) {
    TempDir dir;
    test::write_bytes(dir.file("long"), concat(IdxFixture().image_file(), {1, 2, 3}));
    EXPECT_NE(error_of([&] { open_dataset("idx:" + dir.file("long")); }).find("unexpected data after"),
              std::string::npos);
}

TEST(Idx, AbsurdDeclaredSizesAreRefusedBeforeAllocating) {
    TempDir dir;
    // 10^9 images of 1000x1000 pixels (10^15 bytes) in a file of a few bytes.
    const auto absurd = concat(idx_header({1000000000u, 1000u, 1000u}), random_bytes(100, 1));
    test::write_bytes(dir.file("absurd.raw"), absurd);
    std::string msg = error_of([&] { open_dataset("idx:" + dir.file("absurd.raw")); });
    EXPECT_NE(msg.find("truncated or wrong header"), std::string::npos) << msg;
    EXPECT_NE(msg.find("1000000000000000 bytes"), std::string::npos) << msg;

    test::write_gz(dir.file("absurd.gz"), absurd);
    msg = error_of([&] { open_dataset("idx:" + dir.file("absurd.gz")); });
    EXPECT_NE(msg.find("limit"), std::string::npos) << msg;

    // Under the cap (10^6 images of 28x28 = 784 MB) but the data holds 100 bytes: read
    // incrementally, the reader finds the end of the data long before allocating 784 MB.
    test::write_gz(dir.file("lying.gz"), concat(idx_header({1000000u, 28u, 28u}), random_bytes(100, 1)));
    msg = error_of([&] { open_dataset("idx:" + dir.file("lying.gz")); });
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ends after 100 of them"), std::string::npos) << msg;
}

TEST(Idx, MissingFileNamesThePath) {
    const std::string msg = error_of([] { open_dataset("idx:/nonexistent/images.idx3,/nonexistent/l"); });
    EXPECT_NE(msg.find("/nonexistent/images.idx3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

// --- The real Fashion-MNIST files (Debian package dataset-fashion-mnist) -------------------

const std::string kFashion = QCNN_FASHION_MNIST_DIR;

bool have_fashion_mnist() { return test::fs::exists(kFashion + "/t10k-images-idx3-ubyte.gz"); }

TEST(FashionMnist, MissingPackageIsNamed) {
    const std::string msg = error_of([] { data::read_fashion_mnist("/nonexistent/fm", "test", 0); });
    EXPECT_NE(msg.find("/nonexistent/fm/t10k-images-idx3-ubyte.gz"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dataset-fashion-mnist"), std::string::npos) << msg;
    EXPECT_NE(error_of([] { open_dataset("fashion-mnist:validation"); }).find("fashion-mnist:train"), std::string::npos);
}

TEST(FashionMnist, TestSplit) {
    if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    const auto ds = open_dataset("fashion-mnist:test");
    ASSERT_EQ(ds->size(), 10000);
    EXPECT_EQ(ds->sample_shape(), (Shape{1, 28, 28}));
    EXPECT_EQ(ds->num_classes(), 10);
    EXPECT_EQ(ds->class_names().front(), "T-shirt/top");
    EXPECT_EQ(ds->class_names()[9], "Ankle boot");
    const std::vector<int> first = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5};  // checked with Python's gzip + numpy
    EXPECT_EQ(std::vector<int>(ds->labels().begin(), ds->labels().begin() + 12), first);

    Tensor x;
    std::vector<int> y;
    ds->batch(0, 1, x, y);
    EXPECT_EQ(y[0], 9);
    // Row 10, columns 10..19 of the first image as stored bytes; pixels are byte / 255.0f exactly.
    const int row[] = {0, 0, 0, 4, 0, 53, 129, 120, 147, 175};
    for (int j = 0; j < 10; ++j) EXPECT_EQ(x.data[10 * 28 + 10 + j], static_cast<float>(row[j]) / 255.0f);
    double sum = 0;
    for (float v : x.data) sum += std::lround(v * 255.0f);
    EXPECT_EQ(sum, 33456);
    ds->batch(9999, 1, x, y);
    sum = 0;
    for (float v : x.data) sum += std::lround(v * 255.0f);
    EXPECT_EQ(sum, 24390);
}

TEST(FashionMnist, TrainSplitLoadsQuickly) {
    if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    const auto t0 = std::chrono::steady_clock::now();
    const auto ds = open_dataset("fashion-mnist:train");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "[ timing ] fashion-mnist:train (60000 images, gzip) loaded in " << seconds << " s\n";
    EXPECT_LT(seconds, 5.0);
    ASSERT_EQ(ds->size(), 60000);
    const std::vector<int> first = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9};
    EXPECT_EQ(std::vector<int>(ds->labels().begin(), ds->labels().begin() + 12), first);
    Tensor x;
    std::vector<int> y;
    ds->batch(0, 1, x, y);
    double sum = 0;
    for (float v : x.data) sum += std::lround(v * 255.0f);
    EXPECT_EQ(sum, 76247);
    ds->batch(59999, 1, x, y);
    sum = 0;
    for (float v : x.data) sum += std::lround(v * 255.0f);
    EXPECT_EQ(sum, 16684);
}

TEST(FashionMnist, NormalisationMatchesTorchFormula) {
    if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    DataOptions opts;
    opts.mean = {0.2860f};
    opts.std = {0.3530f};
    opts.limit = 3;
    const auto ds = open_dataset("fashion-mnist:test", opts);
    DataOptions plain;
    plain.limit = 3;
    const auto raw = open_dataset("fashion-mnist:test", plain);
    Tensor x, r;
    std::vector<int> y;
    ds->batch(0, 3, x, y);
    raw->batch(0, 3, r, y);
    for (size_t i = 0; i < x.data.size(); ++i) ASSERT_EQ(x.data[i], (r.data[i] - 0.2860f) / 0.3530f) << i;
}

TEST(CalibrationSplit, FashionMnistTestCalibratesOnTrain) {
    EXPECT_EQ(calibration_split("fashion-mnist:test"), "fashion-mnist:train");
    EXPECT_EQ(calibration_split("fashion-mnist:train"), "fashion-mnist:train");
    EXPECT_EQ(calibration_split("cifar10:/data/test_batch.bin"), std::nullopt);
    EXPECT_EQ(calibration_split("folder:/data/val"), std::nullopt);
}

}  // namespace
}  // namespace qcnn
