// CIFAR-10 / CIFAR-100 binary readers on generated fixtures.
#include <gtest/gtest.h>

#include "core/data/dataset.h"
#include "data_test_util.h"

namespace qcnn {
namespace {

using test::error_of;
using test::TempDir;

// One record: label bytes then 3072 pixels; pixel p of record r is (r * 31 + p * 7) % 256.
std::vector<uint8_t> record(const std::vector<uint8_t>& label_bytes, int r) {
    std::vector<uint8_t> rec = label_bytes;
    for (int p = 0; p < 3072; ++p) rec.push_back(static_cast<uint8_t>((r * 31 + p * 7) % 256));
    return rec;
}

float expected_pixel(int r, int p) { return static_cast<float>((r * 31 + p * 7) % 256) / 255.0f; }

TEST(Cifar10, ReadsRecordsAcrossFiles) {
    TempDir dir;
    test::write_bytes(dir.file("data_batch_1.bin"), test::concat(record({6}, 0), record({9}, 1)));
    test::write_gz(dir.file("data_batch_2.bin.gz"), record({4}, 2));
    const auto ds = open_dataset("cifar10:" + dir.file("data_batch_1.bin") + "," + dir.file("data_batch_2.bin.gz"));
    ASSERT_EQ(ds->size(), 3);
    EXPECT_EQ(ds->sample_shape(), (Shape{3, 32, 32}));
    EXPECT_EQ(ds->num_classes(), 10);
    EXPECT_EQ(ds->class_names()[6], "frog");
    Tensor x;
    std::vector<int> y;
    ds->batch(0, 3, x, y);
    EXPECT_EQ(y, (std::vector<int>{6, 9, 4}));
    for (int r = 0; r < 3; ++r)
        for (int p = 0; p < 3072; ++p) ASSERT_EQ(x.data[r * 3072 + p], expected_pixel(r, p)) << r << " " << p;
}

TEST(Cifar10, ClassNamesFromTheArchiveMetaFile) {
    TempDir dir;
    test::write_bytes(dir.file("test_batch.bin"), record({1}, 0));
    std::vector<uint8_t> meta;
    for (const char* n : {"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"}) {
        meta.insert(meta.end(), n, n + 2);
        meta.push_back('\n');
    }
    test::write_bytes(dir.file("batches.meta.txt"), meta);
    EXPECT_EQ(open_dataset("cifar10:" + dir.file("test_batch.bin"))->class_names()[1], "a1");
}

TEST(Cifar100, UsesTheFineLabel) {
    TempDir dir;
    test::write_bytes(dir.file("test.bin"), test::concat(record({3, 42}, 0), record({19, 99}, 1)));
    const auto ds = open_dataset("cifar100:" + dir.file("test.bin"));
    ASSERT_EQ(ds->size(), 2);
    EXPECT_EQ(ds->labels(), (std::vector<int>{42, 99}));
    EXPECT_EQ(ds->num_classes(), 100);
    Tensor x;
    std::vector<int> y;
    ds->batch(1, 1, x, y);
    EXPECT_EQ(x.data[5], expected_pixel(1, 5));
}

TEST(Cifar10, LimitStopsInTheFirstFile) {
    TempDir dir;
    test::write_bytes(dir.file("a.bin"), test::concat(record({1}, 0), record({2}, 1)));
    test::write_bytes(dir.file("b.bin"), record({3}, 2));
    DataOptions opts;
    opts.limit = 1;
    EXPECT_EQ(open_dataset("cifar10:" + dir.file("a.bin") + "," + dir.file("b.bin"), opts)->labels(),
              (std::vector<int>{1}));
    opts.limit = 3;
    EXPECT_EQ(open_dataset("cifar10:" + dir.file("a.bin") + "," + dir.file("b.bin"), opts)->labels(),
              (std::vector<int>{1, 2, 3}));
}

TEST(Cifar10, TruncatedAndEmptyFiles) {
    TempDir dir;
    auto bytes = test::concat(record({1}, 0), record({2}, 1));
    bytes.resize(bytes.size() - 100);
    test::write_bytes(dir.file("short.bin"), bytes);
    std::string msg = error_of([&] { open_dataset("cifar10:" + dir.file("short.bin")); });
    EXPECT_NE(msg.find(dir.file("short.bin")), std::string::npos) << msg;
    EXPECT_NE(msg.find("3073-byte record"), std::string::npos) << msg;

    test::write_gz(dir.file("short.gz"), bytes);
    msg = error_of([&] { open_dataset("cifar10:" + dir.file("short.gz")); });
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
    EXPECT_NE(msg.find("record 1 ends after 2973 of its 3073 bytes"), std::string::npos) << msg;

    // A CIFAR-10 file read as CIFAR-100 does not fit its 3074-byte records.
    test::write_bytes(dir.file("ten.bin"), test::concat(record({1}, 0), record({2}, 1)));
    EXPECT_NE(error_of([&] { open_dataset("cifar100:" + dir.file("ten.bin")); }).find("3074-byte record"),
              std::string::npos);

    test::write_bytes(dir.file("empty.bin"), {});
    EXPECT_NE(error_of([&] { open_dataset("cifar10:" + dir.file("empty.bin")); }).find(dir.file("empty.bin")),
              std::string::npos);
    test::write_gz(dir.file("empty.gz"), {});
    EXPECT_NE(error_of([&] { open_dataset("cifar10:" + dir.file("empty.gz")); }).find("no records"),
              std::string::npos);

    msg = error_of([&] { open_dataset("cifar10:" + dir.file("ten.bin") + ",/nonexistent/b.bin"); });
    EXPECT_NE(msg.find("/nonexistent/b.bin"), std::string::npos) << msg;
    EXPECT_NE(error_of([&] { open_dataset("cifar10:" + dir.file("ten.bin") + ","); }).find("empty file name"),
              std::string::npos);
}

}  // namespace
}  // namespace qcnn
