// IDX files (the MNIST format): big-endian header {0, 0, type, ndim, dim0..dimN-1 as uint32},
// then the values row-major. Only unsigned bytes (type 0x08) are used by image datasets.
#include <algorithm>
#include <array>
#include <filesystem>
#include <limits>
#include <memory>

#include "core/data/input_file.h"
#include "core/data/readers.h"
#include "core/util/error.h"

namespace qcnn::data {

namespace {

// Reads and checks the header; returns the dimensions.
Shape read_idx_header(InputFile& f, int expected_ndim, const char* what) {
    std::array<uint8_t, 4> magic{};
    f.read_exact(magic.data(), 4, "the IDX magic number");
    if (magic[0] != 0 || magic[1] != 0)
        fail(f.path(), ": not an IDX file (magic number starts with bytes ", int(magic[0]), ", ",
             int(magic[1]), "; expected 0, 0)");
    if (magic[2] != 0x08)
        fail(f.path(), ": IDX element type 0x", std::hex, int(magic[2]), std::dec,
             " is not supported; ", what, " must be unsigned bytes (type 0x08)");
    if (magic[3] != expected_ndim)
        fail(f.path(), ": IDX ", what, " must have ", expected_ndim, " dimensions, the header says ",
             int(magic[3]));
    Shape dims;
    for (int i = 0; i < expected_ndim; ++i) {
        std::array<uint8_t, 4> b{};
        f.read_exact(b.data(), 4, "the IDX header");
        const int64_t d = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | int64_t(b[3]);
        dims.push_back(d);
    }
    return dims;
}

void check_no_trailing_data(InputFile& f, const char* what) {
    if (!f.at_end())
        fail(f.path(), ": unexpected data after the ", what, " declared in the IDX header (wrong header?)");
}

}  // namespace

SampleData read_idx(const std::string& images, const std::string& labels, int64_t limit) {
    SampleData d;
    InputFile fi(images);
    const Shape dims = read_idx_header(fi, 3, "images");
    const int64_t n = dims[0], h = dims[1], w = dims[2];
    if (n == 0 || h == 0 || w == 0)
        fail(images, ": IDX images header declares ", n, " images of ", h, "x", w, "; expected at least one non-empty image");

    std::unique_ptr<InputFile> fl;
    if (!labels.empty()) {
        fl = std::make_unique<InputFile>(labels);
        const int64_t nl = read_idx_header(*fl, 1, "labels")[0];
        if (nl != n) fail("IDX files disagree: ", images, " holds ", n, " images but ", labels, " holds ", nl, " labels");
    }

    const int64_t count = limit > 0 ? std::min(n, limit) : n;
    const int64_t bytes = checked_numel({count, h, w}, std::numeric_limits<int64_t>::max() / 4,
                                        images + ": IDX images header");
    d.u8 = fi.read_vector(bytes, kMaxPixelBytes,
                          cat(count, " images of ", h, "x", w, " pixels"));
    if (count == n) check_no_trailing_data(fi, "images");
    if (fl) {
        std::vector<uint8_t> lab = fl->read_vector(count, kMaxPixelBytes, cat(count, " labels"));
        if (count == n) check_no_trailing_data(*fl, "labels");
        d.labels.assign(lab.begin(), lab.end());
    }
    d.pixels = SampleData::Pixels::u8;
    d.shape = {count, 1, h, w};
    d.description = labels.empty() ? cat("IDX ", images) : cat("IDX ", images, ", ", labels);
    return d;
}

SampleData read_fashion_mnist(const std::string& dir, const std::string& split, int64_t limit) {
    std::string prefix;
    if (split == "test")
        prefix = "t10k";
    else if (split == "train")
        prefix = "train";
    else
        fail("unknown Fashion-MNIST split '", split, "': expected fashion-mnist:test or fashion-mnist:train");
    const std::string images = cat(dir, "/", prefix, "-images-idx3-ubyte.gz");
    const std::string labels = cat(dir, "/", prefix, "-labels-idx1-ubyte.gz");
    for (const std::string& p : {images, labels})
        if (!std::filesystem::exists(p))
            fail("Fashion-MNIST file not found: ", p,
                 " (it comes with the Debian package dataset-fashion-mnist: apt-get install dataset-fashion-mnist)");
    SampleData d = read_idx(images, labels, limit);
    d.num_classes = 10;
    d.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    d.description = cat("Fashion-MNIST ", split);
    return d;
}

}  // namespace qcnn::data
