// Image folders: DIR/<class>/**/<image>, classes in sorted name order, images within a class
// sorted by (folder, file name) like torchvision's ImageFolder. Decoding by stb_image
// (Debian libstb-dev), compiled into this file only, with static linkage.
#include <algorithm>
#include <array>
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

// Classes (sorted sub-folder names) and their images in order.
std::vector<Item> list_images(const std::string& dir, std::vector<std::string>& classes) {
    try {
        for (const auto& e : fs::directory_iterator(dir))
            if (e.is_directory()) classes.push_back(e.path().filename().string());
        std::sort(classes.begin(), classes.end());
        if (classes.empty())
            fail("image folder ", dir, " has no class sub-folders (expected ", dir, "/<class name>/<images>)");
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

}  // namespace

SampleData read_folder(const std::string& dir, const Shape& target, int64_t limit) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) fail("image folder not found: ", dir);
    if (!fs::is_directory(dir, ec)) fail("image folder ", dir, " is not a directory");

    std::vector<std::string> classes;
    std::vector<Item> items = list_images(dir, classes);
    if (limit > 0 && static_cast<int64_t>(items.size()) > limit) items.resize(static_cast<size_t>(limit));
    const auto n = static_cast<int64_t>(items.size());

    // Headers first: every file is checked, and the storage is allocated once.
    std::vector<std::array<int, 3>> info(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        int iw = 0, ih = 0, comp = 0;
        if (!stbi_info(items[i].path.c_str(), &iw, &ih, &comp))
            fail(items[i].path, ": not a readable image (", stbi_failure_reason(), ")");
        // A small compressed file must not decode to gigabytes: beyond 256 MiB, the decoded
        // size may be at most deflate's largest ratio (about 1032:1) times the file size.
        std::error_code size_ec;
        const auto file_bytes = static_cast<int64_t>(fs::file_size(items[i].path, size_ec));
        const int64_t decoded = int64_t(iw) * ih * comp;
        if (!size_ec && decoded > (int64_t(256) << 20) && decoded > 1032 * file_bytes)
            fail(items[i].path, ": header declares a ", iw, "x", ih, " image (", decoded, " bytes decoded) in a file of ",
                 file_bytes, " bytes; refused as corrupt (more than 1032:1)");
        info[i] = {iw, ih, comp};
    }
    int64_t c = 0, h = 0, w = 0;
    if (!target.empty()) {
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
                     "; images of different sizes need a target size (the model's input) to be resized to");
    }

    SampleData d;
    const int64_t sample = c * h * w;
    d.u8.resize(static_cast<size_t>(checked_numel({n, c, h, w}, std::numeric_limits<int64_t>::max() / 4,
                                                  "image folder " + dir)));
    std::vector<std::string> errors(items.size());
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t i = 0; i < n; ++i) {
        try {
            decode_into(items[i].path, c, h, w, d.u8.data() + i * sample);
        } catch (const std::exception& e) {
            errors[i] = e.what();
        }
    }
    for (const std::string& e : errors)
        if (!e.empty()) throw Error(e);

    d.pixels = SampleData::Pixels::u8;
    d.shape = {n, c, h, w};
    d.labels.reserve(items.size());
    for (const Item& it : items) d.labels.push_back(it.label);
    d.num_classes = static_cast<int>(classes.size());
    d.class_names = classes;
    d.description = target.empty() ? cat("image folder ", dir) : cat("image folder ", dir, " (decoded to ", c, "x", h, "x", w, ")");
    return d;
}

}  // namespace qcnn::data
