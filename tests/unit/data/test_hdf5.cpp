// HDF5 reader on files written here with the HDF5 C API.
#include <gtest/gtest.h>

#include <hdf5/serial/hdf5.h>

#include "core/data/dataset.h"
#include "data_test_util.h"

namespace qcnn {
namespace {

using test::error_of;
using test::TempDir;

// Writes datasets into a new HDF5 file.
class H5Writer {
public:
    explicit H5Writer(const std::string& path) : file_(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) {
        EXPECT_GE(file_, 0) << path;
    }
    ~H5Writer() { H5Fclose(file_); }
    template <class T>
    void write(const std::string& name, const std::vector<hsize_t>& dims, hid_t type, const std::vector<T>& v) {
        hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
        hid_t ds = H5Dcreate2(file_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ASSERT_GE(ds, 0) << name;
        EXPECT_GE(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0) << name;
        H5Dclose(ds);
        H5Sclose(space);
    }

private:
    hid_t file_;
};

constexpr int kN = 4, kC = 3, kH = 5, kW = 6;

// NCHW pixel (n, c, y, x) of the fixtures.
uint8_t pixel(int n, int c, int y, int x) { return static_cast<uint8_t>((n * 53 + c * 29 + y * 7 + x * 3) % 256); }

std::vector<uint8_t> nchw() {
    std::vector<uint8_t> v;
    for (int n = 0; n < kN; ++n)
        for (int c = 0; c < kC; ++c)
            for (int y = 0; y < kH; ++y)
                for (int x = 0; x < kW; ++x) v.push_back(pixel(n, c, y, x));
    return v;
}

std::vector<uint8_t> nhwc() {
    std::vector<uint8_t> v;
    for (int n = 0; n < kN; ++n)
        for (int y = 0; y < kH; ++y)
            for (int x = 0; x < kW; ++x)
                for (int c = 0; c < kC; ++c) v.push_back(pixel(n, c, y, x));
    return v;
}

void expect_pixels(const Dataset& ds) {
    ASSERT_EQ(ds.sample_shape(), (Shape{kC, kH, kW}));
    Tensor x;
    std::vector<int> y;
    ds.batch(0, ds.size(), x, y);
    const std::vector<uint8_t> ref = nchw();
    for (size_t i = 0; i < x.data.size(); ++i) ASSERT_EQ(x.data[i], ref[i] / 255.0f) << i;
}

class Hdf5 : public ::testing::Test {
protected:
    void SetUp() override {
        path = dir.file("set.h5");
        H5Writer w(path);
        w.write("images_nchw", {kN, kC, kH, kW}, H5T_NATIVE_UINT8, nchw());
        w.write("images_nhwc", {kN, kH, kW, kC}, H5T_NATIVE_UINT8, nhwc());
        w.write("labels", {kN}, H5T_NATIVE_INT64, std::vector<int64_t>{2, 0, 11, 5});
        w.write("labels_u8", {kN, 1}, H5T_NATIVE_UINT8, std::vector<uint8_t>{1, 1, 0, 3});
        w.write("labels_short", {kN - 1}, H5T_NATIVE_INT32, std::vector<int32_t>{1, 2, 3});
        w.write("labels_negative", {kN}, H5T_NATIVE_INT16, std::vector<int16_t>{1, -2, 3, 0});
        w.write("labels_float", {kN}, H5T_NATIVE_FLOAT, std::vector<float>{1, 2, 3, 0});
        w.write("grey", {2, 2, 3}, H5T_NATIVE_UINT8, std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255});
        w.write("floats", {2, 1, 1, 2}, H5T_NATIVE_FLOAT, std::vector<float>{-1.5f, 0.25f, 1e6f, 3.0f});
        w.write("ambiguous", {2, 3, 4, 3}, H5T_NATIVE_UINT8, std::vector<uint8_t>(72, 9));
        w.write("uint16", {2, 1, 2, 2}, H5T_NATIVE_UINT16, std::vector<uint16_t>(8, 9));
    }
    std::unique_ptr<Dataset> open(const std::string& rest, const DataOptions& opts = {}) {
        return open_dataset("hdf5:" + path + ":" + rest, opts);
    }
    TempDir dir;
    std::string path;
};

TEST_F(Hdf5, NchwUint8WithInt64Labels) {
    const auto ds = open("images_nchw:labels");
    ASSERT_EQ(ds->size(), kN);
    expect_pixels(*ds);
    EXPECT_EQ(ds->labels(), (std::vector<int>{2, 0, 11, 5}));
    EXPECT_EQ(ds->num_classes(), 12);
}

TEST_F(Hdf5, NhwcIsDetectedAndTransposed) {
    const auto ds = open("images_nhwc:labels_u8");
    expect_pixels(*ds);
    EXPECT_EQ(ds->labels(), (std::vector<int>{1, 1, 0, 3}));
    expect_pixels(*open("images_nhwc:labels:nhwc"));
}

TEST_F(Hdf5, GreyNhwAndFloatTakenAsIs) {
    const auto grey = open("grey");
    EXPECT_EQ(grey->sample_shape(), (Shape{1, 2, 3}));
    EXPECT_FALSE(grey->has_labels());
    Tensor x;
    std::vector<int> y;
    grey->batch(1, 1, x, y);
    EXPECT_EQ(x.data.back(), 1.0f);
    EXPECT_EQ(x.data[0], 6.0f / 255.0f);

    const auto f = open("floats");
    EXPECT_EQ(f->sample_shape(), (Shape{1, 1, 2}));
    f->batch(0, 2, x, y);
    EXPECT_EQ(x.data, (AlignedVector<float>{-1.5f, 0.25f, 1e6f, 3.0f}));
}

TEST_F(Hdf5, AmbiguousLayoutNeedsASuffix) {
    const std::string msg = error_of([&] { open("ambiguous"); });
    EXPECT_NE(msg.find(":nchw or :nhwc"), std::string::npos) << msg;
    EXPECT_EQ(open("ambiguous:nchw")->sample_shape(), (Shape{3, 4, 3}));
    EXPECT_EQ(open("ambiguous:nhwc")->sample_shape(), (Shape{3, 3, 4}));
}

TEST_F(Hdf5, Limit) {
    DataOptions opts;
    opts.limit = 3;
    const auto ds = open("images_nhwc:labels", opts);
    EXPECT_EQ(ds->size(), 3);
    EXPECT_EQ(ds->labels(), (std::vector<int>{2, 0, 11}));
}

TEST_F(Hdf5, BadContents) {
    std::string msg = error_of([&] { open("nope:labels"); });
    EXPECT_NE(msg.find("no HDF5 dataset 'nope'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("images_nchw"), std::string::npos) << msg;  // lists what is there
    msg = error_of([&] { open("images_nchw:lbl"); });
    EXPECT_NE(msg.find("'lbl' for the labels"), std::string::npos) << msg;
    msg = error_of([&] { open("images_nchw:labels_short"); });
    EXPECT_NE(msg.find("4 images"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 labels"), std::string::npos) << msg;
    msg = error_of([&] { open("images_nchw:labels_negative"); });
    EXPECT_NE(msg.find("label -2 of sample 1"), std::string::npos) << msg;
    EXPECT_NE(error_of([&] { open("images_nchw:labels_float"); }).find("integers"), std::string::npos);
    EXPECT_NE(error_of([&] { open("uint16"); }).find("uint8 or floating point"), std::string::npos);
    EXPECT_NE(error_of([&] { open("labels"); }).find("3 (N,H,W) or 4"), std::string::npos);
}

TEST_F(Hdf5, MissingTruncatedOrNotHdf5) {
    std::string msg = error_of([] { open_dataset("hdf5:/nonexistent/x.h5:images"); });
    EXPECT_NE(msg.find("/nonexistent/x.h5"), std::string::npos) << msg;

    auto bytes = test::read_bytes(path);
    bytes.resize(bytes.size() * 2 / 3);
    test::write_bytes(dir.file("cut.h5"), bytes);
    msg = error_of([&] { open_dataset("hdf5:" + dir.file("cut.h5") + ":images_nhwc:labels"); });
    EXPECT_NE(msg.find(dir.file("cut.h5")), std::string::npos) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

    test::write_bytes(dir.file("text.h5"), {'h', 'e', 'l', 'l', 'o'});
    msg = error_of([&] { open_dataset("hdf5:" + dir.file("text.h5") + ":images"); });
    EXPECT_NE(msg.find("not an HDF5 file"), std::string::npos) << msg;

    msg = error_of([&] { open_dataset("hdf5:" + path); });
    EXPECT_NE(msg.find("FILE:IMAGES"), std::string::npos) << msg;
}

}  // namespace
}  // namespace qcnn
