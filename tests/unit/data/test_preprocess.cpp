// ImageNet-style image folders: Pillow-exact resize + center crop (fast path vs its reference
// twin, hand-computed values), the imagenet preset end to end, labels files, streaming.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/data/dataset.h"
#include "core/data/image_ops.h"
#include "data_test_util.h"
#include "tests/unit/png_writer.h"

namespace qcnn {
namespace {

using test::error_of;
using test::TempDir;
using test::write_png;

void write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
    ASSERT_TRUE(f.good()) << path;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---- geometry: torchvision's Resize(size) + CenterCrop(crop) ------------------------------------

TEST(ResizeCenterCrop, MatchesTorchvisionSizesAndRounding) {
    // 500 wide x 375 high: short side 256, long int(256 * 500 / 375) = 341; left = round(58.5) = 58
    // (Python rounds half to even), top = (256 - 224) / 2 = 16.
    ResizeCrop g = resize_center_crop(375, 500, 256, 224);
    EXPECT_EQ(g.rh, 256);
    EXPECT_EQ(g.rw, 341);
    EXPECT_EQ(g.top, 16);
    EXPECT_EQ(g.left, 58);
    EXPECT_EQ(g.ch, 224);
    EXPECT_EQ(g.cw, 224);
    // Portrait 333 x 500 (w x h): long int(256 * 500 / 333) = int(384.38) = 384, top = 80.
    g = resize_center_crop(500, 333, 256, 224);
    EXPECT_EQ(g.rw, 256);
    EXPECT_EQ(g.rh, 384);
    EXPECT_EQ(g.top, 80);
    EXPECT_EQ(g.left, 16);
    // 259 wide: round(17.5) = 18 (half to even rounds up here, down for 58.5 above).
    g = resize_center_crop(256, 259, 256, 224);
    EXPECT_EQ(g.rw, 259);
    EXPECT_EQ(g.left, 18);
    // Smaller than the crop: zero padding of (crop - n) // 2 before, like torchvision's pad.
    g = resize_center_crop(10, 13, 20, 24);  // -> 20 x int(20 * 13 / 10) = 26
    EXPECT_EQ(g.rh, 20);
    EXPECT_EQ(g.rw, 26);
    EXPECT_EQ(g.top, -2);
    EXPECT_EQ(g.left, 1);
    g = resize_center_crop(7, 7, 21, 24);
    EXPECT_EQ(g.top, -1);  // (24 - 21) // 2 = 1 row of padding above, 2 below
}

// ---- Pillow's bilinear resize, values computed by hand ------------------------------------------

TEST(ResizeCropPil, DownscaleByTwoHandComputed) {
    // 4 x 2 (w x h) grey -> 2 x 1. Horizontal: scale 2, support 2; output 0 centred at 1.0 takes
    // source 0, 1, 2 with triangle weights 0.75, 0.75, 0.25 -> 3/7, 3/7, 1/7; output 1 takes
    // 1, 2, 3 with 1/7, 3/7, 3/7. Row 0 = 10 20 30 40: 120/7 = 17.1 -> 17, 230/7 = 32.9 -> 33.
    // Row 1 = 200 100 0 50: 900/7 = 128.6 -> 129, 250/7 = 35.7 -> 36. Vertical: rows 0 and 1
    // weigh 1/2 each: (17 + 129) / 2 = 73, (33 + 36) / 2 = 34.5 -> 35 (halves round up).
    const std::vector<uint8_t> src = {10, 20, 30, 40, 200, 100, 0, 50};
    ResizeCrop g;
    g.rh = 1, g.rw = 2, g.ch = 1, g.cw = 2;
    std::vector<uint8_t> fast(2), ref(2);
    resize_crop_pil(src.data(), 2, 4, 1, g, fast.data());
    resize_crop_pil_reference(src.data(), 2, 4, 1, g, ref.data());
    EXPECT_EQ(fast, (std::vector<uint8_t>{73, 35}));
    EXPECT_EQ(ref, (std::vector<uint8_t>{73, 35}));
}

TEST(ResizeCropPil, UpscaleIsBilinearWithHalfPixelCentres) {
    // 2 x 1 -> 4 x 1: centres 0.25, 0.75, 1.25, 1.75 in source pixels; the edges clamp.
    const std::vector<uint8_t> src = {0, 100};
    ResizeCrop g;
    g.rh = 1, g.rw = 4, g.ch = 1, g.cw = 4;
    std::vector<uint8_t> fast(4), ref(4);
    resize_crop_pil(src.data(), 1, 2, 1, g, fast.data());
    resize_crop_pil_reference(src.data(), 1, 2, 1, g, ref.data());
    EXPECT_EQ(fast, (std::vector<uint8_t>{0, 25, 75, 100}));
    EXPECT_EQ(ref, fast);
}

TEST(ResizeCropPil, CropWindowAndZeroPaddingInterleavedToPlanar) {
    // No resize (2 x 3 RGB kept), crop 4 x 4 with one row/column of padding before.
    const std::vector<uint8_t> src = {1, 2, 3, 4, 5, 6, 7, 8, 9,  // row 0: three RGB pixels
                                      10, 11, 12, 13, 14, 15, 16, 17, 18};
    ResizeCrop g;
    g.rh = 2, g.rw = 3, g.top = -1, g.left = -1, g.ch = 4, g.cw = 4;
    std::vector<uint8_t> fast(3 * 16, 99), ref(3 * 16, 99);
    resize_crop_pil(src.data(), 2, 3, 3, g, fast.data());
    resize_crop_pil_reference(src.data(), 2, 3, 3, g, ref.data());
    const std::vector<uint8_t> red = {0, 0, 0, 0, 0, 1, 4, 7, 0, 10, 13, 16, 0, 0, 0, 0};
    EXPECT_EQ(std::vector<uint8_t>(fast.begin(), fast.begin() + 16), red);
    EXPECT_EQ(fast[16 + 5], 2);  // green plane, first pixel
    EXPECT_EQ(fast[32 + 11], 18);  // blue plane, last pixel
    EXPECT_EQ(fast, ref);
}

// ---- fast path vs reference twin on awkward sizes -----------------------------------------------

TEST(ResizeCropPil, FastPathEqualsReferenceTwinOnAwkwardSizes) {
    struct Case {
        int64_t h, w, c, resize, crop;
    };
    const std::vector<Case> cases = {
        {1, 1, 3, 256, 224},    {2, 3, 3, 256, 224},    {7, 5, 1, 256, 224},      {31, 33, 3, 256, 224},
        {100, 224, 3, 256, 224}, {223, 225, 3, 256, 224}, {375, 500, 3, 256, 224},  {501, 333, 3, 256, 224},
        {40, 2000, 3, 256, 224}, {900, 31, 3, 256, 224},  {256, 256, 3, 256, 224},  {257, 300, 3, 256, 224},
        {65, 64, 3, 256, 224},   {17, 16, 3, 20, 24},     {33, 17, 3, 33, 17},      {15, 63, 1, 15, 15},
        {1000, 3, 3, 7, 5},      {3, 1000, 3, 7, 5},
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        const Case& k = cases[i];
        const uint32_t seed = 100 + static_cast<uint32_t>(i);
        const std::vector<uint8_t> src = test::random_bytes(static_cast<size_t>(k.h * k.w * k.c), seed);
        const ResizeCrop g = resize_center_crop(k.h, k.w, k.resize, k.crop);
        std::vector<uint8_t> fast(static_cast<size_t>(k.c * g.ch * g.cw)), ref(fast.size());
        resize_crop_pil(src.data(), k.h, k.w, k.c, g, fast.data());
        resize_crop_pil_reference(src.data(), k.h, k.w, k.c, g, ref.data());
        size_t bad = 0;
        while (bad < fast.size() && fast[bad] == ref[bad]) ++bad;
        EXPECT_EQ(bad, fast.size()) << k.h << "x" << k.w << "x" << k.c << " resize " << k.resize << " crop " << k.crop
                                    << " (seed " << seed << "): first difference at " << bad;
    }
}

TEST(ResizeCropPil, ConstantImageStaysConstant) {
    // Normalised weights: a flat image stays flat at every scale (a wrong sum would drift).
    for (const auto& [h, w] : std::vector<std::pair<int64_t, int64_t>>{{375, 500}, {40, 2000}, {9, 11}}) {
        const std::vector<uint8_t> src(static_cast<size_t>(h * w * 3), 201);
        const ResizeCrop g = resize_center_crop(h, w, 256, 224);
        std::vector<uint8_t> out(3 * 224 * 224);
        resize_crop_pil(src.data(), h, w, 3, g, out.data());
        for (uint8_t v : out) ASSERT_EQ(v, 201) << h << "x" << w;
    }
}

// ---- presets and specs ---------------------------------------------------------------------------

TEST(Preprocess, ParsesPresetsAndNamesBadOnes) {
    EXPECT_TRUE(parse_preprocess("none").is_none());
    const Preprocess p = parse_preprocess("imagenet");
    EXPECT_EQ(p.resize, 256);
    EXPECT_EQ(p.crop, 224);
    EXPECT_EQ(p.mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
    EXPECT_EQ(p.std, (std::vector<float>{0.229f, 0.224f, 0.225f}));
    EXPECT_EQ(to_string(parse_preprocess("imagenet:256/224")), "imagenet");
    EXPECT_EQ(to_string(parse_preprocess("imagenet:36/32")), "imagenet:36/32");
    for (const char* bad : {"", "ImageNet", "imagenet:", "imagenet:256", "imagenet:0/224", "imagenet:256/x",
                            "imagenet:256/224/1", "imagenet:99999/224"}) {
        const std::string msg = error_of([&] { parse_preprocess(bad); });
        EXPECT_TRUE(contains(msg, std::string("'") + bad + "'")) << msg;
    }
}

TEST(Preprocess, WithPreprocessAddsThePresetToFolderSpecsOnly) {
    EXPECT_EQ(with_preprocess("folder:/d", "imagenet"), "folder:/d,preprocess=imagenet");
    EXPECT_EQ(with_preprocess("folder:/d,labels=/l.txt", "imagenet:36/32"), "folder:/d,labels=/l.txt,preprocess=imagenet:36/32");
    EXPECT_EQ(with_preprocess("folder:/d", "none"), "folder:/d");
    EXPECT_EQ(with_preprocess("fashion-mnist:test", "none"), "fashion-mnist:test");
    EXPECT_EQ(with_preprocess("folder:/d,preprocess=imagenet", "imagenet:256/224"), "folder:/d,preprocess=imagenet");
    std::string msg = error_of([] { with_preprocess("fashion-mnist:test", "imagenet"); });
    EXPECT_TRUE(contains(msg, "image folders")) << msg;
    EXPECT_TRUE(contains(msg, "fashion-mnist:test")) << msg;
    msg = error_of([] { with_preprocess("folder:/d,preprocess=imagenet", "none"); });
    EXPECT_TRUE(contains(msg, "already asks for preprocessing imagenet")) << msg;
}

TEST(Preprocess, FolderSpecOptionsAreCheckedAndDirMayHoldCommas) {
    TempDir dir;
    const std::string root = (dir.path() / "a,b").string();
    write_png(root + "/cls/x.png", 3, 2, 1, test::random_bytes(6, 1));
    EXPECT_EQ(open_dataset("folder:" + root)->size(), 1);
    std::string msg = error_of([&] { open_dataset("folder:" + root + ",colour=rgb"); });
    EXPECT_TRUE(contains(msg, "unknown folder option 'colour='")) << msg;
    msg = error_of([&] { open_dataset("folder:" + root + ",preprocess=imagenet,preprocess=none"); });
    EXPECT_TRUE(contains(msg, "preprocess= is given twice")) << msg;
    msg = error_of([&] { open_dataset("folder:" + root + ",preprocess=fancy"); });
    EXPECT_TRUE(contains(msg, "'fancy'")) << msg;
}

// ---- the imagenet preset end to end --------------------------------------------------------------

TEST(ImagenetPreset, TinyGreyImageHandComputed) {
    // 4 x 2 grey image, imagenet:1/1: short side 2 -> 1, long int(1 * 4 / 2) = 2; crop 1 at
    // left round(0.5) = 0: the value 73 of DownscaleByTwoHandComputed, replicated to R, G, B,
    // then (73 / 255 - mean) / std per channel.
    TempDir dir;
    write_png(dir.file("k/img.png"), 4, 2, 1, {10, 20, 30, 40, 200, 100, 0, 50});
    const auto ds = open_dataset("folder:" + dir.path().string() + ",preprocess=imagenet:1/1");
    EXPECT_EQ(ds->sample_shape(), (Shape{3, 1, 1}));
    Tensor x;
    std::vector<int> y;
    ds->batch(0, 1, x, y);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
    for (int k = 0; k < 3; ++k) EXPECT_EQ(x.data[k], (73.0f / 255.0f - mean[k]) / stdv[k]) << k;
    // --mean/--std given: they replace the preset's.
    DataOptions opts;
    opts.mean = {0.5f};
    const auto mine = open_dataset("folder:" + dir.path().string() + ",preprocess=imagenet:1/1", opts);
    mine->batch(0, 1, x, y);
    for (int k = 0; k < 3; ++k) EXPECT_EQ(x.data[k], (73.0f / 255.0f - 0.5f) / stdv[k]) << k;
}

TEST(ImagenetPreset, EqualsReferencePipelineOnAwkwardImages) {
    TempDir dir;
    struct Img {
        const char* name;
        int w, h, comp;
    };
    const std::vector<Img> imgs = {{"a/wide.png", 301, 77, 3}, {"a/small.png", 19, 23, 3},
                                   {"b/grey.png", 260, 257, 1}, {"b/rgba.png", 225, 300, 4}};
    std::vector<std::vector<uint8_t>> pixels;
    for (size_t i = 0; i < imgs.size(); ++i) {
        pixels.push_back(test::random_bytes(static_cast<size_t>(imgs[i].w * imgs[i].h * imgs[i].comp), 7 + i));
        write_png(dir.file(imgs[i].name), imgs[i].w, imgs[i].h, imgs[i].comp, pixels.back());
    }
    DataOptions opts;
    opts.threads = 3;
    const auto ds = open_dataset("folder:" + dir.path().string() + ",preprocess=imagenet", opts);
    ASSERT_EQ(ds->size(), 4);
    EXPECT_EQ(ds->sample_shape(), (Shape{3, 224, 224}));
    EXPECT_EQ(ds->labels(), (std::vector<int>{0, 0, 1, 1}));
    Tensor x;
    std::vector<int> y;
    ds->batch(0, 4, x, y);
    // Folder order: a/small, a/wide, b/grey, b/rgba.
    const std::vector<size_t> order = {1, 0, 2, 3};
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
    const int64_t plane = 224 * 224;
    for (size_t s = 0; s < order.size(); ++s) {
        const Img& im = imgs[order[s]];
        const std::vector<uint8_t>& px = pixels[order[s]];
        std::vector<uint8_t> rgb(static_cast<size_t>(im.w * im.h * 3));  // PIL's convert("RGB")
        for (int i = 0; i < im.w * im.h; ++i)
            for (int k = 0; k < 3; ++k) rgb[i * 3 + k] = px[i * im.comp + (im.comp >= 3 ? k : 0)];
        std::vector<uint8_t> ref(static_cast<size_t>(3 * plane));
        resize_crop_pil_reference(rgb.data(), im.h, im.w, 3, resize_center_crop(im.h, im.w, 256, 224), ref.data());
        for (int64_t i = 0; i < 3 * plane; ++i) {
            const int k = static_cast<int>(i / plane);
            ASSERT_EQ(x.data[s * 3 * plane + i], (static_cast<float>(ref[i]) / 255.0f - mean[k]) / stdv[k])
                << im.name << " value " << i;
        }
    }
}

// The images of tools/check_imagenet_preprocess.py, from the same integer formulas: HWC uint8.
std::vector<uint8_t> golden_pattern(int64_t w, int64_t h, int64_t comp, const std::string& kind) {
    std::vector<uint8_t> px(static_cast<size_t>(w * h * comp));
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            for (int64_t c = 0; c < comp; ++c)
                px[(y * w + x) * comp + c] = static_cast<uint8_t>(
                    kind == "stripes" ? (x * x * (c + 1) / 7 + y * (3 + c) + (x * y) / 11 + 40 * c) % 256
                                      : x * 150 / w + y * 100 / h + 3 * c);
    return px;
}

TEST(ImagenetPreset, MatchesTorchvisionGolden) {
    // tests/data/imagenet_preprocess_golden.txt holds torchvision 0.14 / Pillow 9.4 values
    // (Resize(256), CenterCrop(224), ToTensor(), Normalize) of PNG images: the same pixels in
    // both decoders, so every value must match to the bit.
    const std::string golden = std::string(QCNN_TEST_DATA_DIR) + "/imagenet_preprocess_golden.txt";
    std::ifstream in(golden);
    ASSERT_TRUE(in) << golden;
    TempDir dir;
    struct Expect {
        std::string name;
        double sum = 0;
        std::vector<std::array<int64_t, 3>> at;
        std::vector<float> value;
    };
    std::vector<Expect> images;
    for (std::string line; std::getline(in, line);) {
        std::istringstream ls(line);
        std::string tag;
        ls >> tag;
        if (tag == "image") {
            Expect e;
            int64_t w = 0, h = 0, comp = 0;
            std::string kind;
            ls >> e.name >> w >> h >> comp >> kind;
            write_png(dir.file("k/" + e.name + ".png"), static_cast<int>(w), static_cast<int>(h), static_cast<int>(comp),
                      golden_pattern(w, h, comp, kind));
            images.push_back(e);
        } else if (tag == "sum") {
            ls >> images.back().sum;
        } else if (tag == "v") {
            std::array<int64_t, 3> at{};
            std::string v;
            ls >> at[0] >> at[1] >> at[2] >> v;
            images.back().at.push_back(at);
            images.back().value.push_back(std::strtof(v.c_str(), nullptr));
        }
    }
    ASSERT_EQ(images.size(), 6u);
    const auto ds = open_dataset("folder:" + dir.path().string() + ",preprocess=imagenet");
    ASSERT_EQ(ds->size(), 6);
    Tensor x;
    std::vector<int> y;
    ds->batch(0, 6, x, y);
    const int64_t plane = 224 * 224;
    for (size_t i = 0; i < images.size(); ++i) {  // file names sort like the golden's order
        const float* img = x.data.data() + i * 3 * plane;
        double sum = 0;
        for (int64_t j = 0; j < 3 * plane; ++j) sum += img[j];
        EXPECT_NEAR(sum, images[i].sum, 1e-3) << images[i].name;
        ASSERT_EQ(images[i].at.size(), 48u) << images[i].name;
        for (size_t k = 0; k < images[i].at.size(); ++k) {
            const auto [c, r, col] = images[i].at[k];
            EXPECT_EQ(img[c * plane + r * 224 + col], images[i].value[k])
                << images[i].name << " channel " << c << " row " << r << " column " << col;
        }
    }
}

TEST(ImagenetPreset, JpegDecodesCloseToTheSamePng) {
    // JPEG goes through the same path with a lossy decode: a smooth image stays within a few
    // levels of its PNG twin (tools/check_imagenet_preprocess.py measured up to 3/255 against
    // Pillow's libjpeg decode).
    TempDir dir;
    const std::vector<uint8_t> px = golden_pattern(301, 203, 3, "smooth");
    write_png(dir.file("png/k/a.png"), 301, 203, 3, px);
    test::fs::create_directories(dir.path() / "jpg/k");
    ASSERT_TRUE(stbi_write_jpg(dir.file("jpg/k/a.jpg").c_str(), 301, 203, 3, px.data(), 95));
    Tensor a, b;
    std::vector<int> y;
    open_dataset("folder:" + dir.file("png") + ",preprocess=imagenet")->batch(0, 1, a, y);
    open_dataset("folder:" + dir.file("jpg") + ",preprocess=imagenet")->batch(0, 1, b, y);
    ASSERT_EQ(a.shape, b.shape);
    float worst = 0;
    for (size_t i = 0; i < a.data.size(); ++i) worst = std::max(worst, std::fabs(a.data[i] - b.data[i]));
    EXPECT_GT(worst, 0.0f);                    // it is the lossy decode
    EXPECT_LE(worst, 6.0f / 255.0f / 0.224f);  // within 6 levels (the smallest std is 0.224)
}

TEST(ImagenetPreset, WantedShapeOtherThanTheCropIsAnErrorNamingBoth) {
    TempDir dir;
    write_png(dir.file("k/img.png"), 9, 9, 3, test::random_bytes(243, 3));
    DataOptions opts;
    opts.sample_shape = {3, 32, 32};
    const std::string msg = error_of([&] { open_dataset("folder:" + dir.path().string() + ",preprocess=imagenet", opts); });
    EXPECT_TRUE(contains(msg, "gives 3x224x224 samples but 3x32x32 are wanted")) << msg;
    opts.sample_shape = {3, 32, 32};
    EXPECT_EQ(open_dataset("folder:" + dir.path().string() + ",preprocess=imagenet:36/32", opts)->sample_shape(),
              (Shape{3, 32, 32}));
}

// ---- labels files ----------------------------------------------------------------------------------

TEST(LabelsFile, ListsImagesInFileOrderWithTheirClasses) {
    TempDir dir;
    const std::string root = (dir.path() / "val").string();
    for (const char* name : {"x1.png", "x2.png", "sub/x 3.png"}) write_png(root + "/" + name, 2, 2, 1, test::random_bytes(4, 5));
    write_text(dir.file("val.txt"), "x2.png 7\n\n  sub/x 3.png\t0 \r\nx1.png 2\n");
    const auto ds = open_dataset("folder:" + root + ",labels=" + dir.file("val.txt"));
    ASSERT_EQ(ds->size(), 3);
    EXPECT_EQ(ds->labels(), (std::vector<int>{7, 0, 2}));
    EXPECT_EQ(ds->num_classes(), 8);
    EXPECT_EQ(ds->class_names()[7], "7");
    EXPECT_TRUE(contains(ds->description(), "labels " + dir.file("val.txt"))) << ds->description();
}

TEST(LabelsFile, MalformedLinesNameFileAndLine) {
    TempDir dir;
    const std::string root = (dir.path() / "val").string();
    write_png(root + "/a.png", 2, 2, 1, test::random_bytes(4, 5));
    const std::string labels = dir.file("l.txt");
    const auto spec = "folder:" + root + ",labels=" + labels;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"a.png 1\nb.png\n", labels + ":2: expected 'file_name class_index', got 'b.png'"},
        {"a.png one\n", labels + ":1: class index 'one' is not an integer in [0, 1048575]"},
        {"\na.png -3\n", labels + ":2: class index '-3' is not"},
        {"a.png 2x\n", labels + ":1: class index '2x'"},
        {"a.png 99999999999\n", labels + ":1: class index '99999999999'"},
        {"a.png 1\na.png 2\n", labels + ":2: a.png is listed again (first on line 1)"},
        {"a.png 1\nmissing.png 4\n", root + "/missing.png: no such image file (listed in " + labels + ":2)"},
        {"\n \n", "labels file " + labels + " lists no images"},
    };
    for (const auto& [text, want] : cases) {
        write_text(labels, text);
        const std::string msg = error_of([&] { open_dataset(spec); });
        EXPECT_TRUE(contains(msg, want)) << "file:\n" << text << "\nmessage: " << msg;
    }
    std::string msg = error_of([&] { open_dataset("folder:" + root + ",labels=" + dir.file("nope.txt")); });
    EXPECT_TRUE(contains(msg, "labels file not found: " + dir.file("nope.txt"))) << msg;
    msg = error_of([&] { open_dataset("folder:" + root + ",labels="); });
    EXPECT_TRUE(contains(msg, "labels= needs a file name")) << msg;
}

// ---- errors of image files -------------------------------------------------------------------------

TEST(ImageFiles, CorruptImagesAreNamed) {
    TempDir dir;
    const std::string root = (dir.path() / "val").string();
    write_png(root + "/good.png", 40, 40, 3, test::random_bytes(4800, 8));
    // A header that is not an image: refused when the data set is opened.
    test::write_bytes(root + "/bad.png", {0x89, 'P', 'N', 'G', 0, 0, 0, 0});
    write_text(dir.file("l.txt"), "good.png 0\nbad.png 1\n");
    std::string msg = error_of([&] { open_dataset("folder:" + root + ",labels=" + dir.file("l.txt")); });
    EXPECT_TRUE(contains(msg, root + "/bad.png: not a readable image")) << msg;
    // A valid header over truncated pixel data: named when its batch is decoded.
    std::vector<uint8_t> bytes = test::read_bytes(root + "/good.png");
    bytes.resize(bytes.size() / 2);
    test::write_bytes(root + "/bad.png", bytes);
    const auto ds = open_dataset("folder:" + root + ",labels=" + dir.file("l.txt") + ",preprocess=imagenet");
    Tensor x;
    std::vector<int> y;
    ds->batch(0, 1, x, y);  // the good one alone is fine
    msg = error_of([&] { ds->batch(0, 2, x, y); });
    EXPECT_TRUE(contains(msg, root + "/bad.png: cannot decode image")) << msg;
}

// ---- streaming --------------------------------------------------------------------------------------

TEST(Streaming, FolderDecodesOnDemandAndHoldsNoPixels) {
    TempDir dir;
    const int n = 24, batch = 8;
    for (int i = 0; i < n; ++i)
        write_png(dir.file(cat("c", i % 3, "/img", 100 + i, ".png")), 37, 29, 3, test::random_bytes(37 * 29 * 3, 40 + i));
    DataOptions opts;
    opts.threads = 2;
    const auto ds = open_dataset("folder:" + dir.path().string() + ",preprocess=imagenet:40/32", opts);
    ASSERT_EQ(ds->size(), n);
    SourceStats s = ds->source().stats();
    EXPECT_EQ(s.reads, 0);  // opening reads headers only
    EXPECT_EQ(s.resident_bytes, 0);
    Tensor x;
    std::vector<int> y;
    for (int start = 0; start < n; start += batch) {
        ds->batch(start, batch, x, y);
        s = ds->source().stats();
        EXPECT_EQ(s.reads, start + batch);  // exactly this batch was decoded
        EXPECT_EQ(s.resident_bytes, 0);     // and nothing of it is kept
        EXPECT_GE(s.peak_in_flight, 1);
        EXPECT_LE(s.peak_in_flight, 2);     // at most one image per decoding thread
    }
    const std::vector<int64_t> picks = {23, 0, 5};
    ds->gather(picks, x, y);
    EXPECT_EQ(ds->source().stats().reads, n + 3);
    ds->gather({}, x, y);  // nothing asked, nothing decoded
    EXPECT_EQ(x.shape, (Shape{0, 3, 32, 32}));
    EXPECT_EQ(ds->source().stats().reads, n + 3);

    // In-memory sources, by contrast, hold every pixel.
    SampleData d;
    d.shape = {5, 1, 2, 3};
    d.u8.assign(30, 1);
    const Dataset mem(std::move(d), {});
    EXPECT_EQ(mem.source().stats().resident_bytes, 30);
}

TEST(Streaming, ThreadCountDoesNotChangeTheBits) {
    TempDir dir;
    for (int i = 0; i < 9; ++i)
        write_png(dir.file(cat("k/", i, ".png")), 50 + 7 * i, 61 - 3 * i, 3, test::random_bytes((50 + 7 * i) * (61 - 3 * i) * 3, i));
    Tensor a, b;
    std::vector<int> y;
    DataOptions one, three;
    one.threads = 1;
    three.threads = 3;
    const std::string spec = "folder:" + dir.path().string() + ",preprocess=imagenet:64/48";
    open_dataset(spec, one)->batch(0, 9, a, y);
    open_dataset(spec, three)->batch(0, 9, b, y);
    EXPECT_EQ(a.data, b.data);
}

}  // namespace
}  // namespace qcnn
