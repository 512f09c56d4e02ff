// Bilinear resize against values computed by PyTorch, and channel conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/data/image_ops.h"

namespace qcnn {
namespace {

// x = i*i*0.37 + 1.5*sin(i), i = 0..11, as a 3x4 float32 plane.
const std::vector<float> kSrc = {0.0f,       1.63220644f, 2.84394598f, 3.54167986f, 4.78479624f, 7.81161356f,
                                 12.900876f, 19.1154804f, 25.1640377f, 30.5881786f, 36.1839676f, 43.2700157f};

struct TorchCase {
    int64_t oh, ow;
    std::vector<float> expected;  // torch.nn.functional.interpolate(x, (oh, ow), mode="bilinear",
                                  // align_corners=False), torch 2.x
};

const std::vector<TorchCase> kTorch = {
    {5, 7, {0.0f,        0.582930923f, 1.51562035f, 2.23807645f, 2.89378428f, 3.29248929f, 3.54167986f,
            1.91391861f, 2.69607973f,  3.94753742f, 5.48534441f, 7.07418203f, 8.73388672f, 9.77120113f,
            4.78479767f, 5.86580372f,  7.59541368f, 10.356246f,  13.344779f,  16.8959808f, 19.1154823f,
            17.0123425f, 18.6070614f,  21.1586113f, 24.1741447f, 27.3519821f, 31.2019653f, 33.6082039f,
            25.1640377f, 27.1012287f,  30.2007408f, 33.3860741f, 36.6901169f, 40.7392845f, 43.2700157f}},
    {2, 3, {1.52634227f, 4.26761866f, 7.08897161f, 20.8733635f, 27.6286163f, 36.0866852f}},
    {1, 1, {10.356245f}},
    {6, 2, {0.81610322f, 3.19281292f, 2.18662858f, 6.39665413f, 4.92767954f, 12.8043365f, 11.6926804f,
            21.9378815f, 22.4816322f, 33.797287f, 27.8761082f, 39.7269897f}},
};

TEST(ResizeBilinear, MatchesPyTorchInterpolate) {
    for (const TorchCase& c : kTorch) {
        std::vector<float> out(c.oh * c.ow, std::nanf(""));
        resize_bilinear(kSrc.data(), 3, 4, out.data(), c.oh, c.ow);
        for (size_t i = 0; i < out.size(); ++i)
            EXPECT_NEAR(out[i], c.expected[i], 1e-5f) << c.oh << "x" << c.ow << " element " << i;
    }
}

TEST(ResizeBilinear, SameSizeIsExactCopy) {
    std::vector<float> out(12);
    resize_bilinear(kSrc.data(), 3, 4, out.data(), 3, 4);
    EXPECT_EQ(out, kSrc);
}

TEST(ResizeBilinear, ConstantPlaneStaysConstantForAwkwardSizes) {
    for (int64_t h : {1, 2, 7, 17})
        for (int64_t w : {1, 3, 16, 33})
            for (int64_t oh : {1, 5, 15, 32})
                for (int64_t ow : {1, 2, 17, 31}) {
                    std::vector<float> src(h * w, 0.75f), out(oh * ow, 0.0f);
                    resize_bilinear(src.data(), h, w, out.data(), oh, ow);
                    for (float v : out) ASSERT_NEAR(v, 0.75f, 1e-6f) << h << "x" << w << " -> " << oh << "x" << ow;
                }
}

TEST(ResizeBilinear, DoublingInterpolatesQuarterPoints) {
    // 1x2 -> 1x4: source coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    const std::vector<float> src = {0.0f, 8.0f};
    std::vector<float> out(4);
    resize_bilinear(src.data(), 1, 2, out.data(), 1, 4);
    EXPECT_EQ(out, (std::vector<float>{0.0f, 2.0f, 6.0f, 8.0f}));
}

TEST(ConvertChannels, GreyToRgbReplicatesAndRgbToGreyTakesLuma) {
    const std::vector<float> grey = {0.0f, 0.5f, 1.0f};
    std::vector<float> rgb(9);
    convert_channels(grey.data(), 1, 3, rgb.data(), 3);
    EXPECT_EQ(rgb, (std::vector<float>{0.0f, 0.5f, 1.0f, 0.0f, 0.5f, 1.0f, 0.0f, 0.5f, 1.0f}));

    const std::vector<float> planes = {1.0f, 0.0f, 0.0f, 1.0f,   // R
                                       0.0f, 1.0f, 0.0f, 1.0f,   // G
                                       0.0f, 0.0f, 1.0f, 1.0f};  // B
    std::vector<float> luma(4);
    convert_channels(planes.data(), 3, 4, luma.data(), 1);
    EXPECT_FLOAT_EQ(luma[0], 0.299f);
    EXPECT_FLOAT_EQ(luma[1], 0.587f);
    EXPECT_FLOAT_EQ(luma[2], 0.114f);
    EXPECT_NEAR(luma[3], 1.0f, 1e-6f);

    EXPECT_TRUE(can_convert_channels(3, 3));
    EXPECT_TRUE(can_convert_channels(1, 3));
    EXPECT_FALSE(can_convert_channels(4, 3));
    EXPECT_FALSE(can_convert_channels(3, 2));
}

}  // namespace
}  // namespace qcnn
