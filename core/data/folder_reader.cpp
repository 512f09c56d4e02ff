// Image folders: DIR/<class>/**/<image>, classes in sorted name order, images within a class
// sorted by (folder, file name) like torchvision's ImageFolder; or the images a labels file
// lists. Opening reads every header; pixels are decoded on demand, one sample per read(), by
// stb_image (Debian libstb-dev), compiled into this file only, with static linkage.
#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <fstream>
#include <map>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "core/data/image_ops.h"
#include "core/data/readers.h"
#include "core/util/error.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_MAX_DIMENSIONS (1 << 15)
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace qcnn::data {

namespace fs = std::filesystem;

namespace {

bool is_image_file(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".ppm" ||
           ext == ".pgm" || ext == ".pnm";
}

struct Item {
    std::string path;
    int label = 0;
};

// Image files under one class folder, sorted by (folder, file name).
std::vector<std::string> images_under(const fs::path& class_dir) {
    std::vector<std::pair<std::string, std::string>> found;
    for (auto it = fs::recursive_directory_iterator(class_dir, fs::directory_options::follow_directory_symlink);
         it != fs::recursive_directory_iterator(); ++it)
        if (it->is_regular_file() && is_image_file(it->path()))
            found.emplace_back(it->path().parent_path().string(), it->path().filename().string());
    std::sort(found.begin(), found.end());
    std::vector<std::string> paths;
    for (const auto& [dir, name] : found) paths.push_back((fs::path(dir) / name).string());
    return paths;
}

// Channels kept from a decoded image: alpha is dropped (grey+alpha -> 1, RGBA -> 3).
int colour_channels(int comp) { return comp >= 3 ? 3 : 1; }

// Classes (sorted sub-folder names) and their images in order.
std::vector<Item> list_class_folders(const std::string& dir, std::vector<std::string>& classes) {
    try {
        for (const auto& e : fs::directory_iterator(dir))
            if (e.is_directory()) classes.push_back(e.path().filename().string());
        std::sort(classes.begin(), classes.end());
        if (classes.empty())
            fail("image folder ", dir, " has no class sub-folders (expected ", dir,
                 "/<class name>/<images>, or a labels file: folder:DIR,labels=FILE)");
        std::vector<Item> items;
        for (size_t k = 0; k < classes.size(); ++k) {
            const std::vector<std::string> paths = images_under(fs::path(dir) / classes[k]);
            if (paths.empty())
                fail("class folder ", (fs::path(dir) / classes[k]).string(),
                     " has no images (.png, .jpg, .jpeg, .bmp, .ppm, .pgm, .pnm)");
            for (const std::string& p : paths) items.push_back({p, static_cast<int>(k)});
        }
        return items;
    } catch (const fs::filesystem_error& e) {
        fail("cannot list image folder ", dir, ": ", e.what());
    }
}

constexpr int kMaxClassIndex = (1 << 20) - 1;

// The images a labels file lists ("file_name class_index" per line), in the file's order.
std::vector<Item> list_labels_file(const std::string& dir, const std::string& file) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) fail("labels file not found: ", file);
    std::ifstream in(file, std::ios::binary);
    if (!in) fail("cannot open labels file ", file);
    std::vector<Item> items;
    std::map<std::string, int64_t> first_line;  // name -> line
    std::string line;
    for (int64_t n = 1; std::getline(in, line); ++n) {
        const auto blank = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; };
        while (!line.empty() && blank(line.back())) line.pop_back();
        size_t begin = 0;
        while (begin < line.size() && blank(line[begin])) ++begin;
        if (begin == line.size()) continue;
        const std::string where = cat(file, ":", n);
        const size_t sep = line.find_last_of(" \t");
        if (sep == std::string::npos || sep < begin)
            fail(where, ": expected 'file_name class_index', got '", line.substr(begin), "'");
        size_t name_end = sep;
        while (name_end > begin && blank(line[name_end - 1])) --name_end;
        const std::string name = line.substr(begin, name_end - begin), index = line.substr(sep + 1);
        int label = -1;
        const auto r = std::from_chars(index.data(), index.data() + index.size(), label);
        if (r.ec != std::errc() || r.ptr != index.data() + index.size() || label < 0 || label > kMaxClassIndex)
            fail(where, ": class index '", index, "' is not an integer in [0, ", kMaxClassIndex, "]");
        if (const auto [it, fresh] = first_line.emplace(name, n); !fresh)
            fail(where, ": ", name, " is listed again (first on line ", it->second, ")");
        const std::string path = (fs::path(dir) / name).string();
        if (!fs::is_regular_file(path, ec)) fail(path, ": no such image file (listed in ", where, ")");
        items.push_back({path, label});
    }
    if (in.bad()) fail("cannot read labels file ", file);
    if (items.empty()) fail("labels file ", file, " lists no images (expected lines 'file_name class_index')");
    return items;
}

// Width, height and channel count of every image from its header (in parallel), each checked
// to be an image that decodes to a sane size.
std::vector<std::array<int, 3>> read_headers(const std::vector<Item>& items, int threads) {
    std::vector<std::array<int, 3>> info(items.size());
    std::vector<std::string> errors(items.size());
    const auto n = static_cast<int64_t>(items.size());
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads) if (threads > 1)
    for (int64_t i = 0; i < n; ++i) {
        int iw = 0, ih = 0, comp = 0;
        if (!stbi_info(items[i].path.c_str(), &iw, &ih, &comp)) {
            errors[i] = cat(items[i].path, ": not a readable image (", stbi_failure_reason(), ")");
            continue;
        }
        // A small compressed file must not decode to gigabytes: beyond 256 MiB, the decoded
        // size may be at most deflate's largest ratio (about 1032:1) times the file size.
        std::error_code size_ec;
        const auto file_bytes = static_cast<int64_t>(fs::file_size(items[i].path, size_ec));
        const int64_t decoded = int64_t(iw) * ih * comp;
        if (!size_ec && decoded > (int64_t(256) << 20) && decoded > 1032 * file_bytes)
            errors[i] = cat(items[i].path, ": header declares a ", iw, "x", ih, " image (", decoded,
                            " bytes decoded) in a file of ", file_bytes, " bytes; refused as corrupt (more than 1032:1)");
        info[i] = {iw, ih, comp};
    }
    for (const std::string& e : errors)
        if (!e.empty()) throw Error(e);
    return info;
}

// Decodes one image and writes it as c x h x w uint8 (planar) to dst, converting channels and
// resizing (bilinear, rounded to nearest) when the image differs.
void decode_into(const std::string& path, int64_t c, int64_t h, int64_t w, uint8_t* dst) {
    int iw = 0, ih = 0, comp = 0;
    stbi_uc* px = stbi_load(path.c_str(), &iw, &ih, &comp, 0);
    if (!px) fail(path, ": cannot decode image (", stbi_failure_reason(), ")");
    std::unique_ptr<stbi_uc, void (*)(void*)> guard(px, stbi_image_free);
    const int64_t ic = colour_channels(comp);
    const int64_t ihw = int64_t(ih) * iw;
    if (ic == c && ih == h && iw == w) {
        for (int64_t k = 0; k < c; ++k)
            for (int64_t i = 0; i < ihw; ++i) dst[k * ihw + i] = px[i * comp + k];
        return;
    }
    std::vector<float> planar(ic * ihw), conv(c * ihw), out(c * h * w);
    for (int64_t k = 0; k < ic; ++k)
        for (int64_t i = 0; i < ihw; ++i) planar[k * ihw + i] = px[i * comp + k];
    convert_channels(planar.data(), ic, ihw, conv.data(), c);
    for (int64_t k = 0; k < c; ++k) resize_bilinear(conv.data() + k * ihw, ih, iw, out.data() + k * h * w, h, w);
    for (int64_t i = 0; i < c * h * w; ++i) dst[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(out[i]), 0.0f, 255.0f));
}

// Decodes one image as RGB (grey replicated, alpha dropped: PIL's convert("RGB")) and writes
// its resize + center crop (image_ops.h) as 3 x crop x crop uint8 to dst.
void decode_resize_crop(const std::string& path, const Preprocess& p, uint8_t* dst) {
    int iw = 0, ih = 0, comp = 0;
    stbi_uc* px = stbi_load(path.c_str(), &iw, &ih, &comp, 3);
    if (!px) fail(path, ": cannot decode image (", stbi_failure_reason(), ")");
    std::unique_ptr<stbi_uc, void (*)(void*)> guard(px, stbi_image_free);
    resize_crop_pil(px, ih, iw, 3, resize_center_crop(ih, iw, p.resize, p.crop), dst);
}

// Image files decoded on demand.
class ImageFileSource final : public SampleSource {
public:
    ImageFileSource(std::vector<std::string> paths, Shape shape, Preprocess preprocess)
        : paths_(std::move(paths)), shape_(std::move(shape)), preprocess_(std::move(preprocess)) {}

    int64_t size() const override { return static_cast<int64_t>(paths_.size()); }
    Shape sample_shape() const override { return shape_; }
    bool is_float() const override { return false; }
    void read(int64_t index, uint8_t* u8, float*) const override {
        QCNN_ASSERT(index >= 0 && index < size(), "sample ", index, " of ", size());
        const int64_t now = in_flight_.fetch_add(1) + 1;
        int64_t peak = peak_.load();
        while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
        }
        struct Leave {
            std::atomic<int64_t>& n;
            ~Leave() { n.fetch_sub(1); }
        } leave{in_flight_};
        reads_.fetch_add(1);
        const std::string& path = paths_[static_cast<size_t>(index)];
        if (!preprocess_.is_none())
            decode_resize_crop(path, preprocess_, u8);
        else
            decode_into(path, shape_[0], shape_[1], shape_[2], u8);
    }
    SourceStats stats() const override {
        SourceStats s;
        s.reads = reads_.load();
        s.peak_in_flight = peak_.load();
        return s;
    }

private:
    std::vector<std::string> paths_;
    Shape shape_;
    Preprocess preprocess_;
    mutable std::atomic<int64_t> in_flight_{0}, peak_{0}, reads_{0};
};

}  // namespace

FolderSamples read_folder(const FolderSpec& spec, const Shape& target, int64_t limit, int threads) {
    const std::string& dir = spec.dir;
    std::error_code ec;
    if (!fs::exists(dir, ec)) fail("image folder not found: ", dir);
    if (!fs::is_directory(dir, ec)) fail("image folder ", dir, " is not a directory");

    std::vector<std::string> classes;
    std::vector<Item> items = spec.labels_file.empty() ? list_class_folders(dir, classes)
                                                       : list_labels_file(dir, spec.labels_file);
    if (limit > 0 && static_cast<int64_t>(items.size()) > limit) items.resize(static_cast<size_t>(limit));

    // Headers first: every file is checked before anything runs.
    const std::vector<std::array<int, 3>> info = read_headers(items, resolve_data_threads(threads));
    const Preprocess& p = spec.preprocess;
    int64_t c = 0, h = 0, w = 0;
    if (!p.is_none()) {
        c = 3;
        h = w = p.crop;
    } else if (!target.empty()) {
        c = target[0];
        h = target[1];
        w = target[2];
        if (c != 1 && c != 3) fail("image folder ", dir, ": cannot produce ", c, "-channel samples (1 or 3)");
    } else {
        for (const auto& in : info) c = std::max<int64_t>(c, colour_channels(in[2]));
        w = info[0][0];
        h = info[0][1];
        for (size_t i = 1; i < items.size(); ++i)
            if (info[i][0] != w || info[i][1] != h)
                fail("image folder ", dir, ": ", items[i].path, " is ", info[i][0], "x", info[i][1], " but ",
                     items[0].path, " is ", w, "x", h,
                     "; images of different sizes need a target size (the model's input) to be resized to, "
                     "or a preprocessing preset (preprocess=imagenet)");
    }

    FolderSamples f;
    std::vector<std::string> paths;
    paths.reserve(items.size());
    f.info.labels.reserve(items.size());
    for (Item& it : items) {
        paths.push_back(std::move(it.path));
        f.info.labels.push_back(it.label);
    }
    f.info.num_classes = static_cast<int>(classes.size());
    f.info.class_names = classes;
    f.info.description = cat("image folder ", dir);
    if (!spec.labels_file.empty()) f.info.description += cat(" (labels ", spec.labels_file, ")");
    if (!p.is_none())
        f.info.description += cat(", ", to_string(p), " preprocessing (short side to ", p.resize,
                                  " by Pillow's antialiased bilinear, center crop ", p.crop, ")");
    else if (!target.empty())
        f.info.description += cat(" (decoded to ", c, "x", h, "x", w, ")");
    f.source = std::make_shared<ImageFileSource>(std::move(paths), Shape{c, h, w}, p);
    return f;
}

}  // namespace qcnn::data
