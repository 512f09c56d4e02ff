// HDF5 image datasets through the HDF5 C API: images {N, C, H, W}, {N, H, W, C} or {N, H, W}
// as uint8 or float, labels {N} (or {N, 1}) of any integer type.
#include <hdf5.h>
#include <hdf5_hl.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <utility>

#include "core/data/readers.h"
#include "core/util/error.h"
#include "core/util/hdf5_handle.h"

namespace qcnn::data {

namespace {

using Handle = Hdf5Handle;

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
    static_cast<std::vector<std::string>*>(out)->push_back(name);
    return 0;
}

std::string top_level_names(hid_t file) {
    std::vector<std::string> names;
    H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names);
    std::string s;
    for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
    return s.empty() ? "none" : s;
}

Handle open_dataset_in(hid_t file, const std::string& path, const std::string& name, const char* role) {
    if (H5LTpath_valid(file, name.c_str(), 1) <= 0)
        fail(path, ": no HDF5 dataset '", name, "' for the ", role, " (top-level objects: ", top_level_names(file), ")");
    Handle ds(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.ok()) fail(path, ": '", name, "' (", role, ") is not an HDF5 dataset");
    return ds;
}

Shape dims_of(hid_t ds) {
    Handle space(H5Dget_space(ds), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> d(static_cast<size_t>(std::max(rank, 0)));
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
    return Shape(d.begin(), d.end());
}

// Reads rows [start, start + count) of dataset `ds` (dims `dims`, first axis = rows) as
// `mem_type` into dst.
void read_rows(hid_t ds, const Shape& dims, int64_t start, int64_t count, hid_t mem_type, void* dst,
               const std::string& what) {
    std::vector<hsize_t> off(dims.size(), 0), cnt(dims.begin(), dims.end());
    off[0] = static_cast<hsize_t>(start);
    cnt[0] = static_cast<hsize_t>(count);
    Handle file_space(H5Dget_space(ds), H5Sclose);
    H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr);
    Handle mem_space(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr), H5Sclose);
    if (H5Dread(ds, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, dst) < 0)
        fail("cannot read ", what, " (truncated or damaged file?)");
}

bool is_channels(int64_t d) { return d == 1 || d == 3; }

// Refuses a dataset whose declared size the file cannot hold, before anything is allocated:
// unfiltered data must be stored in full; filtered (compressed) data is bounded by deflate's
// largest ratio (about 1032:1). HDF5 would otherwise hand out fill values for unwritten data,
// so a tiny file could declare gigabytes.
void check_stored_size(hid_t ds, const Shape& dims, const std::string& what) {
    Handle type(H5Dget_type(ds), H5Tclose);
    const int64_t elem = static_cast<int64_t>(H5Tget_size(type.get()));
    const int64_t declared = checked_numel(dims, std::numeric_limits<int64_t>::max() / std::max<int64_t>(elem, 1) / 2048,
                                           what + ": declared size") * elem;
    Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
    const bool filtered = dcpl.ok() && H5Pget_nfilters(dcpl.get()) > 0;
    const auto stored = static_cast<int64_t>(H5Dget_storage_size(ds));
    const int64_t max_ratio = filtered ? 1032 : 1;
    if (declared > stored * max_ratio)
        fail(what, ": dimensions ", to_string(dims), " declare ", declared, " bytes but the file stores only ", stored,
             filtered ? " compressed bytes (more than the 1032:1 limit of deflate)" : " bytes of it",
             " (truncated file or corrupt header?)");
}

// The whole read; read_hdf5 runs it in a child process first (probe_hdf5_file).
SampleData read_in_process(const std::string& path, const std::string& images, const std::string& labels,
                           Layout layout, int64_t limit) {
    const Hdf5Session session;
    if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, ": not an HDF5 file");
    Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) fail("cannot open HDF5 file ", path, " (truncated or damaged?)");

    const Handle img = open_dataset_in(file.get(), path, images, "images");
    const Shape dims = dims_of(img.get());
    const std::string iname = cat(path, ":", images);
    int64_t n = 0, c = 1, h = 0, w = 0;
    bool nhwc = false;
    if (dims.size() == 3) {
        n = dims[0], h = dims[1], w = dims[2];
    } else if (dims.size() == 4) {
        if (layout == Layout::detect) {
            const bool first = is_channels(dims[1]), last = is_channels(dims[3]);
            if (first == last)
                fail(iname, ": cannot tell the channel axis of images ", to_string(dims),
                     first ? " (axes 1 and 3 could both be channels)" : " (neither axis 1 nor axis 3 has 1 or 3 entries)",
                     "; add :nchw or :nhwc to the spec");
            nhwc = last;
        } else {
            nhwc = layout == Layout::nhwc;
        }
        n = dims[0];
        c = nhwc ? dims[3] : dims[1];
        h = nhwc ? dims[1] : dims[2];
        w = nhwc ? dims[2] : dims[3];
    } else {
        fail(iname, ": images must have 3 (N,H,W) or 4 (N,C,H,W or N,H,W,C) dimensions, found ", to_string(dims));
    }
    if (n == 0 || c == 0 || h == 0 || w == 0) fail(iname, ": no images (shape ", to_string(dims), ")");

    Handle type(H5Dget_type(img.get()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.get());
    SampleData d;
    if (cls == H5T_INTEGER && H5Tget_size(type.get()) == 1 && H5Tget_sign(type.get()) == H5T_SGN_NONE)
        d.pixels = SampleData::Pixels::u8;
    else if (cls == H5T_FLOAT)
        d.pixels = SampleData::Pixels::f32;
    else
        fail(iname, ": images must be uint8 or floating point, found a ", H5Tget_size(type.get()), "-byte ",
             cls == H5T_INTEGER ? (H5Tget_sign(type.get()) == H5T_SGN_NONE ? "unsigned integer" : "signed integer")
                                : "non-numeric",
             " type");
    const bool u8 = d.pixels == SampleData::Pixels::u8;
    const hid_t mem_type = u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT;

    // Labels are checked before the images are read, so a mismatch fails fast.
    std::unique_ptr<Handle> lab;
    Shape ldims;
    const std::string lname = cat(path, ":", labels);
    if (!labels.empty()) {
        lab = std::make_unique<Handle>(open_dataset_in(file.get(), path, labels, "labels"));
        ldims = dims_of(lab->get());
        if (!(ldims.size() == 1 || (ldims.size() == 2 && ldims[1] == 1)))
            fail(lname, ": labels must have shape [N] or [Nx1], found ", to_string(ldims));
        if (ldims[0] != n) fail(path, ": ", n, " images in '", images, "' but ", ldims[0], " labels in '", labels, "'");
        Handle ltype(H5Dget_type(lab->get()), H5Tclose);
        if (H5Tget_class(ltype.get()) != H5T_INTEGER) fail(lname, ": labels must be integers");
    }

    check_stored_size(img.get(), dims, iname);
    if (lab) check_stored_size(lab->get(), ldims, lname);
    const int64_t count = limit > 0 ? std::min(n, limit) : n;
    const int64_t sample = checked_numel({c, h, w}, int64_t(1) << 40, iname + ": image");
    const size_t elem = u8 ? 1 : sizeof(float);
    const int64_t total = checked_numel({count, c, h, w}, kMaxPixelBytes / static_cast<int64_t>(elem), iname + ": images");
    if (u8)
        d.u8.resize(static_cast<size_t>(total));
    else
        d.f32.resize(static_cast<size_t>(total));
    auto* base = u8 ? static_cast<char*>(static_cast<void*>(d.u8.data())) : static_cast<char*>(static_cast<void*>(d.f32.data()));
    const int64_t block = std::max<int64_t>(1, (int64_t(16) << 20) / (sample * static_cast<int64_t>(elem)));
    std::vector<char> tmp;
    for (int64_t s = 0; s < count; s += block) {
        const int64_t b = std::min(block, count - s);
        char* dst = base + s * sample * elem;
        if (!nhwc) {
            read_rows(img.get(), dims, s, b, mem_type, dst, iname);
            continue;
        }
        tmp.resize(static_cast<size_t>(b * sample) * elem);
        read_rows(img.get(), dims, s, b, mem_type, tmp.data(), iname);
        const int64_t hw = h * w;
        for (int64_t i = 0; i < b; ++i)
            for (int64_t p = 0; p < hw; ++p)
                for (int64_t k = 0; k < c; ++k)
                    std::copy_n(tmp.data() + ((i * hw + p) * c + k) * elem, elem, dst + ((i * c + k) * hw + p) * elem);
    }

    if (!u8) {
        const auto bad = std::find_if(d.f32.begin(), d.f32.end(), [](float x) { return !std::isfinite(x); });
        if (bad != d.f32.end()) {
            const int64_t at = bad - d.f32.begin();
            fail(iname, ": sample ", at / sample, " holds ", *bad, " at value ", at % sample,
                 " (C x H x W order); image data must be finite");
        }
    }

    if (lab) {
        std::vector<int64_t> v(static_cast<size_t>(count));
        read_rows(lab->get(), ldims, 0, count, H5T_NATIVE_INT64, v.data(), lname);
        d.labels.resize(v.size());
        for (size_t i = 0; i < v.size(); ++i) {
            if (v[i] < 0 || v[i] > std::numeric_limits<int>::max())
                fail(lname, ": label ", v[i], " of sample ", i, " is not a class index (expected 0 or more)");
            d.labels[i] = static_cast<int>(v[i]);
        }
    }
    d.shape = {count, c, h, w};
    d.description = cat("HDF5 ", path, ":", images, labels.empty() ? "" : ":", labels, nhwc ? " (NHWC)" : "");
    return d;
}

}  // namespace

SampleData read_hdf5(const std::string& path, const std::string& images, const std::string& labels,
                     Layout layout, int64_t limit) {
    if (!std::filesystem::exists(path)) fail("HDF5 file not found: ", path);
    probe_hdf5_file(path, [&] { (void)read_in_process(path, images, labels, layout, limit); });
    return read_in_process(path, images, labels, layout, limit);
}

}  // namespace qcnn::data
