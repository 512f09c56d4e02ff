// Image-folder reader on PNG/JPEG fixtures written with stb_image_write.
#include <gtest/gtest.h>

#include <cmath>

#include "core/data/dataset.h"
#include "core/data/image_ops.h"
#include "data_test_util.h"
#include "tests/unit/png_writer.h"

namespace qcnn {
namespace {

using test::error_of;
using test::TempDir;
using test::write_png;

// Interleaved (HWC) pixels of a w x h image with `comp` channels, from a seed.
std::vector<uint8_t> image_pixels(int w, int h, int comp, uint32_t seed) {
    return test::random_bytes(static_cast<size_t>(w * h * comp), seed);
}

// Planar float (0..255) of the first `c` channels of interleaved pixels.
std::vector<float> planar(const std::vector<uint8_t>& px, int hw, int comp, int c) {
    std::vector<float> out(static_cast<size_t>(c * hw));
    for (int k = 0; k < c; ++k)
        for (int i = 0; i < hw; ++i) out[k * hw + i] = px[i * comp + k];
    return out;
}

TEST(Folder, ClassesSortedImagesExactAndGreyBecomesRgb) {
    TempDir dir;
    const auto cat0 = image_pixels(4, 3, 3, 1), cat1 = image_pixels(4, 3, 1, 2), dog0 = image_pixels(4, 3, 4, 3);
    write_png(dir.file("cat/b.png"), 4, 3, 3, cat0);
    write_png(dir.file("cat/sub/a.png"), 4, 3, 1, cat1);  // after cat/ files: folder order first
    write_png(dir.file("dog/x.PNG"), 4, 3, 4, dog0);      // RGBA: alpha dropped
    test::write_bytes(dir.file("dog/notes.txt"), {'h', 'i'});
    const auto ds = open_dataset("folder:" + dir.path().string());
    ASSERT_EQ(ds->size(), 3);
    EXPECT_EQ(ds->sample_shape(), (Shape{3, 3, 4}));
    EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"cat", "dog"}));
    EXPECT_EQ(ds->labels(), (std::vector<int>{0, 0, 1}));
    Tensor x;
    std::vector<int> y;
    ds->batch(0, 3, x, y);
    const int hw = 12;
    const std::vector<float> p0 = planar(cat0, hw, 3, 3), p2 = planar(dog0, hw, 4, 3);
    for (int i = 0; i < 3 * hw; ++i) {
        ASSERT_EQ(x.data[i], p0[i] / 255.0f) << i;
        ASSERT_EQ(x.data[3 * hw + i], cat1[i % hw] / 255.0f) << i;
        ASSERT_EQ(x.data[6 * hw + i], p2[i] / 255.0f) << i;
    }
}

TEST(Folder, AllGreyImagesGiveOneChannel) {
    TempDir dir;
    write_png(dir.file("a/1.png"), 5, 2, 1, image_pixels(5, 2, 1, 4));
    write_png(dir.file("b/1.png"), 5, 2, 2, image_pixels(5, 2, 2, 5));  // grey + alpha
    EXPECT_EQ(open_dataset("folder:" + dir.path().string())->sample_shape(), (Shape{1, 2, 5}));
}

TEST(Folder, ResizesAndConvertsToTheModelShape) {
    TempDir dir;
    const auto rgb = image_pixels(5, 3, 3, 6);
    write_png(dir.file("only/img.png"), 5, 3, 3, rgb);
    DataOptions opts;
    opts.sample_shape = {1, 7, 4};
    const auto ds = open_dataset("folder:" + dir.path().string(), opts);
    EXPECT_EQ(ds->sample_shape(), (Shape{1, 7, 4}));
    Tensor x;
    std::vector<int> y;
    ds->batch(0, 1, x, y);
    // Reference: luma, bilinear resize, rounded to uint8, then / 255.
    const std::vector<float> p = planar(rgb, 15, 3, 3);
    std::vector<float> grey(15), resized(28);
    convert_channels(p.data(), 3, 15, grey.data(), 1);
    resize_bilinear(grey.data(), 3, 5, resized.data(), 7, 4);
    for (int i = 0; i < 28; ++i)
        ASSERT_EQ(x.data[i], static_cast<float>(std::clamp(std::nearbyint(resized[i]), 0.0f, 255.0f)) / 255.0f) << i;
}

TEST(Folder, DecodesJpeg) {
    TempDir dir;
    std::vector<uint8_t> px(8 * 8 * 3);
    for (size_t i = 0; i < px.size(); i += 3) px[i] = 200, px[i + 1] = 100, px[i + 2] = 30;
    test::fs::create_directories(dir.path() / "k");
    ASSERT_TRUE(stbi_write_jpg(dir.file("k/a.jpg").c_str(), 8, 8, 3, px.data(), 100));
    const auto ds = open_dataset("folder:" + dir.path().string());
    Tensor x;
    std::vector<int> y;
    ds->batch(0, 1, x, y);
    ASSERT_EQ(x.shape, (Shape{1, 3, 8, 8}));
    EXPECT_NEAR(x.data[0] * 255.0f, 200.0f, 4.0f);
    EXPECT_NEAR(x.data[64] * 255.0f, 100.0f, 4.0f);
    EXPECT_NEAR(x.data[128] * 255.0f, 30.0f, 4.0f);
}

TEST(Folder, LimitTakesTheFirstImagesInOrder) {
    TempDir dir;
    for (const char* p : {"a/1.png", "a/2.png", "b/1.png"}) write_png(dir.file(p), 2, 2, 1, image_pixels(2, 2, 1, 9));
    DataOptions opts;
    opts.limit = 2;
    const auto ds = open_dataset("folder:" + dir.path().string(), opts);
    EXPECT_EQ(ds->labels(), (std::vector<int>{0, 0}));
    EXPECT_EQ(ds->num_classes(), 2);
}

TEST(Folder, Errors) {
    TempDir dir;
    std::string msg = error_of([&] { open_dataset("folder:" + dir.path().string()); });
    EXPECT_NE(msg.find("no class sub-folders"), std::string::npos) << msg;

    test::fs::create_directories(dir.path() / "empty");
    write_png(dir.file("full/a.png"), 2, 2, 1, image_pixels(2, 2, 1, 1));
    msg = error_of([&] { open_dataset("folder:" + dir.path().string()); });
    EXPECT_NE(msg.find(dir.file("empty")), std::string::npos) << msg;
    EXPECT_NE(msg.find("has no images"), std::string::npos) << msg;
    test::fs::remove(dir.path() / "empty");

    write_png(dir.file("full/b.png"), 3, 2, 1, image_pixels(3, 2, 1, 1));
    msg = error_of([&] { open_dataset("folder:" + dir.path().string()); });
    EXPECT_NE(msg.find("b.png is 3x2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("target size"), std::string::npos) << msg;
    test::fs::remove(dir.file("full/b.png"));

    test::write_bytes(dir.file("full/c.png"), {0x89, 'P', 'N', 'G', 1, 2, 3});
    msg = error_of([&] { open_dataset("folder:" + dir.path().string()); });
    EXPECT_NE(msg.find(dir.file("full/c.png")), std::string::npos) << msg;

    msg = error_of([] { open_dataset("folder:/nonexistent/images"); });
    EXPECT_NE(msg.find("/nonexistent/images"), std::string::npos) << msg;

    test::fs::remove(dir.file("full/c.png"));
    DataOptions opts;
    opts.sample_shape = {4, 2, 2};
    EXPECT_NE(error_of([&] { open_dataset("folder:" + dir.path().string(), opts); }).find("4-channel"),
              std::string::npos);
}

}  // namespace
}  // namespace qcnn
