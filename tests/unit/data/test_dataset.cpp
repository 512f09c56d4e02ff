// Dataset preprocessing (scaling, mean/std, conversion to the model's shape), batching,
// thread safety and spec parsing, on in-memory samples.
#include <gtest/gtest.h>

#include <thread>

#include "core/data/dataset.h"
#include "core/data/image_ops.h"
#include "data_test_util.h"

namespace qcnn {
namespace {

using test::error_of;

SampleData u8_samples(int64_t n, int64_t c, int64_t h, int64_t w, uint32_t seed) {
    SampleData d;
    d.shape = {n, c, h, w};
    d.u8 = test::random_bytes(static_cast<size_t>(n * c * h * w), seed);
    for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int>(i % 3));
    d.num_classes = 3;
    d.description = "memory";
    return d;
}

TEST(Dataset, PerChannelMeanStdExactlyAsTorchNormalize) {
    const SampleData d = u8_samples(4, 3, 2, 5, 11);
    DataOptions opts;
    opts.mean = {0.485f, 0.456f, 0.406f};
    opts.std = {0.229f, 0.224f, 0.225f};
    const Dataset ds(d, opts);
    Tensor x;
    std::vector<int> y;
    ds.batch(0, 4, x, y);
    const int64_t hw = 10;
    for (int64_t i = 0; i < x.size(); ++i) {
        const int64_t c = (i / hw) % 3;
        ASSERT_EQ(x.data[i], (static_cast<float>(d.u8[i]) / 255.0f - opts.mean[c]) / opts.std[c]) << i;
    }
    EXPECT_NE(ds.description().find("mean [0.485, 0.456, 0.406]"), std::string::npos) << ds.description();
}

TEST(Dataset, SingleMeanStdAppliesToAllChannelsAndWrongCountsFail) {
    const SampleData d = u8_samples(2, 3, 2, 2, 12);
    DataOptions one;
    one.mean = {0.5f};
    one.std = {0.25f};
    Tensor x;
    std::vector<int> y;
    Dataset(d, one).batch(0, 2, x, y);
    for (int64_t i = 0; i < x.size(); ++i) ASSERT_EQ(x.data[i], (d.u8[i] / 255.0f - 0.5f) / 0.25f);

    DataOptions two;
    two.mean = {0.5f, 0.5f};
    std::string msg = error_of([&] { Dataset(d, two); });
    EXPECT_NE(msg.find("--mean has 2 values"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 channels"), std::string::npos) << msg;
    DataOptions zero;
    zero.std = {1.0f, 0.0f, 1.0f};
    msg = error_of([&] { Dataset(d, zero); });
    EXPECT_NE(msg.find("channel 1"), std::string::npos) << msg;
}

TEST(Dataset, FloatSamplesTakenAsIs) {
    SampleData d;
    d.pixels = SampleData::Pixels::f32;
    d.shape = {1, 2, 1, 2};
    d.f32 = {-3.0f, 0.5f, 7.0f, 2.0f};
    DataOptions opts;
    opts.mean = {1.0f, 2.0f};
    opts.std = {2.0f, 0.5f};
    Tensor x;
    std::vector<int> y;
    Dataset(d, opts).batch(0, 1, x, y);
    EXPECT_EQ(x.data, (AlignedVector<float>{-2.0f, -0.25f, 10.0f, 0.0f}));
    EXPECT_EQ(y, std::vector<int>{-1});
}

TEST(Dataset, ConvertsToTheModelShapePerBatch) {
    const SampleData d = u8_samples(3, 1, 5, 7, 13);
    DataOptions opts;
    opts.sample_shape = {3, 4, 9};
    opts.mean = {0.1f, 0.2f, 0.3f};
    opts.std = {0.5f};
    const Dataset ds(d, opts);
    EXPECT_EQ(ds.sample_shape(), (Shape{3, 4, 9}));
    EXPECT_EQ(ds.stored_shape(), (Shape{1, 5, 7}));
    Tensor x;
    std::vector<int> y;
    ds.batch(1, 2, x, y);
    ASSERT_EQ(x.shape, (Shape{2, 3, 4, 9}));
    for (int s = 0; s < 2; ++s) {
        std::vector<float> scaled(35), resized(36);
        for (int i = 0; i < 35; ++i) scaled[i] = d.u8[(1 + s) * 35 + i] / 255.0f;
        resize_bilinear(scaled.data(), 5, 7, resized.data(), 4, 9);
        for (int c = 0; c < 3; ++c)
            for (int i = 0; i < 36; ++i)
                ASSERT_EQ(x.data[(s * 3 + c) * 36 + i], (resized[i] - opts.mean[c]) / 0.5f) << s << " " << c << " " << i;
    }
    DataOptions bad;
    bad.sample_shape = {2, 5, 7};
    EXPECT_NE(error_of([&] { Dataset(d, bad); }).find("only 1 -> 3"), std::string::npos);
    bad.sample_shape = {1, 5};
    EXPECT_NE(error_of([&] { Dataset(d, bad); }).find("{C, H, W}"), std::string::npos);
}

TEST(Dataset, GatherMatchesBatch) {
    const Dataset ds(u8_samples(6, 2, 3, 3, 14), {});
    Tensor a, b;
    std::vector<int> la, lb;
    ds.batch(4, 1, a, la);
    const std::vector<int64_t> idx = {4, 0, 4};
    ds.gather(idx, b, lb);
    ASSERT_EQ(b.shape, (Shape{3, 2, 3, 3}));
    EXPECT_EQ(lb, (std::vector<int>{1, 0, 1}));
    for (int64_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(b.data[i], a.data[i]);
        EXPECT_EQ(b.data[2 * a.size() + i], a.data[i]);
    }
}

TEST(Dataset, ConcurrentBatchesEqualSerialOnes) {
    DataOptions opts;
    opts.sample_shape = {3, 6, 6};  // exercises the conversion path's per-call scratch
    const Dataset ds(u8_samples(64, 1, 4, 4, 15), opts);
    Tensor serial;
    std::vector<int> labels;
    ds.batch(0, 64, serial, labels);
    std::vector<Tensor> outs(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            std::vector<int> l;
            for (int rep = 0; rep < 20; ++rep) ds.batch(t * 16, 16, outs[t], l);
        });
    for (auto& th : threads) th.join();
    const int64_t per = 16 * 3 * 36;
    for (int t = 0; t < 4; ++t)
        for (int64_t i = 0; i < per; ++i) ASSERT_EQ(outs[t].data[i], serial.data[t * per + i]);
}

TEST(Dataset, LabelsAndClassNames) {
    SampleData d = u8_samples(3, 1, 1, 1, 16);
    d.labels = {0, 4, 1};
    d.class_names = {"zero", "one", "two"};
    const Dataset ds(d, {});
    EXPECT_EQ(ds.num_classes(), 5);  // a label past the nominal classes widens the range
    EXPECT_EQ(ds.class_names(), (std::vector<std::string>{"zero", "one", "two", "3", "4"}));
    d.labels = {0, -1, 1};
    EXPECT_NE(error_of([&] { Dataset(d, {}); }).find("label -1 of sample 1 is negative"), std::string::npos);
}

TEST(OpenDataset, UnknownOrMalformedSpecsListTheValidForms) {
    std::string msg = error_of([] { open_dataset("imagenet:/data/val"); });
    EXPECT_NE(msg.find("unknown scheme 'imagenet'"), std::string::npos) << msg;
    for (const char* form : {"fashion-mnist:test", "idx:IMAGES[,LABELS]", "cifar10:FILE", "cifar100:FILE",
                             "folder:DIR", "hdf5:FILE:IMAGES"})
        EXPECT_NE(msg.find(form), std::string::npos) << form;
    EXPECT_NE(error_of([] { open_dataset("/data/images"); }).find("no scheme"), std::string::npos);
    EXPECT_NE(error_of([] { open_dataset("idx:"); }).find("nothing after"), std::string::npos);
    EXPECT_NE(error_of([] { open_dataset("idx:a,b,c"); }).find("at most 2 files"), std::string::npos);
    EXPECT_NE(error_of([] { open_dataset("hdf5:f.h5::labels"); }).find("FILE:IMAGES"), std::string::npos);
    DataOptions neg;
    neg.limit = -1;
    EXPECT_NE(error_of([&] { open_dataset("idx:a", neg); }).find("negative"), std::string::npos);
}

}  // namespace
}  // namespace qcnn
