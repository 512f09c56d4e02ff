#include "core/data/dataset.h"

#include <algorithm>
#include <cmath>

#include "core/data/image_ops.h"
#include "core/data/readers.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

std::string join(const std::vector<float>& v) {
    std::string s;
    for (float x : v) s += (s.empty() ? "" : ", ") + cat(x);
    return s;
}

// Expands a --mean / --std option to one value per channel.
std::vector<float> per_channel(const std::vector<float>& v, float none, int64_t channels, const char* name,
                               const std::string& source) {
    if (v.empty()) return std::vector<float>(static_cast<size_t>(channels), none);
    if (v.size() == 1) return std::vector<float>(static_cast<size_t>(channels), v[0]);
    if (static_cast<int64_t>(v.size()) != channels)
        fail("--", name, " has ", v.size(), " values but the samples of ", source, " have ", channels,
             " channels: give 1 value (for all channels) or ", channels);
    return v;
}

void check_sample_shape(const Shape& s) {
    if (s.empty()) return;
    if (s.size() != 3 || s[0] < 1 || s[1] < 1 || s[2] < 1)
        fail("sample shape ", to_string(s), " is not {C, H, W} with positive sizes");
}

}  // namespace

Dataset::Dataset(SampleData data, const DataOptions& opts)
    : pixels_(data.pixels),
      u8_(std::move(data.u8)),
      f32_(std::move(data.f32)),
      labels_(std::move(data.labels)) {
    QCNN_ASSERT(data.shape.size() == 4, "SampleData shape ", to_string(data.shape), " is not {N, C, H, W}");
    n_ = data.shape[0];
    c_ = data.shape[1];
    h_ = data.shape[2];
    w_ = data.shape[3];
    QCNN_ASSERT(n_ >= 1 && c_ >= 1 && h_ >= 1 && w_ >= 1, "SampleData shape ", to_string(data.shape));
    const int64_t stored = n_ * c_ * h_ * w_;
    QCNN_ASSERT(pixels_ == SampleData::Pixels::u8 ? static_cast<int64_t>(u8_.size()) == stored && f32_.empty()
                                                   : static_cast<int64_t>(f32_.size()) == stored && u8_.empty(),
                "SampleData pixel count does not match shape ", to_string(data.shape));
    QCNN_ASSERT(labels_.empty() || static_cast<int64_t>(labels_.size()) == n_, "SampleData has ", labels_.size(),
                " labels for ", n_, " samples");
    const std::string& source = data.description;

    int max_label = -1;
    for (size_t i = 0; i < labels_.size(); ++i) {
        if (labels_[i] < 0) fail(source, ": label ", labels_[i], " of sample ", i, " is negative");
        max_label = std::max(max_label, labels_[i]);
    }
    num_classes_ = labels_.empty() ? data.num_classes : std::max(data.num_classes, max_label + 1);
    class_names_ = std::move(data.class_names);
    class_names_.resize(static_cast<size_t>(num_classes_));
    for (int k = 0; k < num_classes_; ++k)
        if (class_names_[k].empty()) class_names_[k] = std::to_string(k);

    check_sample_shape(opts.sample_shape);
    if (opts.sample_shape.empty()) {
        oc_ = c_, oh_ = h_, ow_ = w_;
    } else {
        oc_ = opts.sample_shape[0], oh_ = opts.sample_shape[1], ow_ = opts.sample_shape[2];
        if (!can_convert_channels(c_, oc_))
            fail(source, ": samples have ", c_, " channels but ", oc_,
                 " are wanted; only 1 -> 3 (replicate) and 3 -> 1 (luma) conversions exist");
    }
    convert_ = oc_ != c_ || oh_ != h_ || ow_ != w_;

    mean_ = per_channel(opts.mean, 0.0f, oc_, "mean", source);
    std_ = per_channel(opts.std, 1.0f, oc_, "std", source);
    for (size_t k = 0; k < std_.size(); ++k)
        if (!(std::isfinite(std_[k]) && std_[k] != 0.0f) || !std::isfinite(mean_[k]))
            fail("--mean/--std for channel ", k, " of ", source, ": mean ", mean_[k], ", std ", std_[k],
                 " (std must be finite and non-zero)");
    if (pixels_ == SampleData::Pixels::u8 && !convert_) {
        lut_.resize(static_cast<size_t>(oc_ * 256));
        for (int64_t k = 0; k < oc_; ++k)
            for (int v = 0; v < 256; ++v) lut_[k * 256 + v] = (static_cast<float>(v) / 255.0f - mean_[k]) / std_[k];
    }

    description_ = cat(source, ": ", n_, " samples ", c_, "x", h_, "x", w_,
                       pixels_ == SampleData::Pixels::u8 ? " uint8" : " float32");
    if (convert_) description_ += cat(" -> ", oc_, "x", oh_, "x", ow_);
    if (!opts.mean.empty() || !opts.std.empty())
        description_ += cat(", mean [", join(mean_), "], std [", join(std_), "]");
}

void Dataset::fill_sample(int64_t index, float* dst, std::vector<float>& scratch) const {
    const int64_t hw = h_ * w_, chw = c_ * hw;
    const bool u8 = pixels_ == SampleData::Pixels::u8;
    if (!convert_) {
        if (u8) {
            const uint8_t* src = u8_.data() + index * chw;
            for (int64_t k = 0; k < c_; ++k) {
                const float* lut = lut_.data() + k * 256;
                for (int64_t p = 0; p < hw; ++p) dst[k * hw + p] = lut[src[k * hw + p]];
            }
        } else {
            const float* src = f32_.data() + index * chw;
            for (int64_t k = 0; k < c_; ++k)
                for (int64_t p = 0; p < hw; ++p) dst[k * hw + p] = (src[k * hw + p] - mean_[k]) / std_[k];
        }
        return;
    }
    scratch.resize(static_cast<size_t>(chw + oc_ * hw));
    float* scaled = scratch.data();
    float* converted = scaled + chw;
    if (u8) {
        const uint8_t* src = u8_.data() + index * chw;
        for (int64_t i = 0; i < chw; ++i) scaled[i] = static_cast<float>(src[i]) / 255.0f;
    } else {
        std::copy_n(f32_.data() + index * chw, chw, scaled);
    }
    convert_channels(scaled, c_, hw, converted, oc_);
    const int64_t ohw = oh_ * ow_;
    for (int64_t k = 0; k < oc_; ++k) {
        float* out = dst + k * ohw;
        resize_bilinear(converted + k * hw, h_, w_, out, oh_, ow_);
        for (int64_t p = 0; p < ohw; ++p) out[p] = (out[p] - mean_[k]) / std_[k];
    }
}

void Dataset::batch(int64_t start, int64_t count, Tensor& out, std::vector<int>& labels) const {
    QCNN_ASSERT(start >= 0 && count >= 0 && start + count <= n_, "batch [", start, ", ", start + count,
                ") outside a dataset of ", n_, " samples");
    out.resize({count, oc_, oh_, ow_});
    labels.resize(static_cast<size_t>(count));
    const int64_t sample = oc_ * oh_ * ow_;
    std::vector<float> scratch;
    for (int64_t i = 0; i < count; ++i) {
        fill_sample(start + i, out.ptr() + i * sample, scratch);
        labels[i] = labels_.empty() ? -1 : labels_[start + i];
    }
}

void Dataset::gather(std::span<const int64_t> indices, Tensor& out, std::vector<int>& labels) const {
    const auto count = static_cast<int64_t>(indices.size());
    out.resize({count, oc_, oh_, ow_});
    labels.resize(indices.size());
    const int64_t sample = oc_ * oh_ * ow_;
    std::vector<float> scratch;
    for (int64_t i = 0; i < count; ++i) {
        const int64_t s = indices[i];
        QCNN_ASSERT(s >= 0 && s < n_, "sample index ", s, " outside a dataset of ", n_, " samples");
        fill_sample(s, out.ptr() + i * sample, scratch);
        labels[i] = labels_.empty() ? -1 : labels_[s];
    }
}

const std::vector<std::string>& dataset_spec_forms() {
    static const std::vector<std::string> forms = {
        "fashion-mnist:test | fashion-mnist:train   (Debian package dataset-fashion-mnist)",
        "idx:IMAGES[,LABELS]                       (IDX/MNIST-format files, plain or .gz)",
        "cifar10:FILE[,FILE...]                    (CIFAR-10 binary batches)",
        "cifar100:FILE[,FILE...]                   (CIFAR-100 binary, fine labels)",
        "folder:DIR                                (one sub-folder of PNG/JPEG images per class)",
        "hdf5:FILE:IMAGES[:LABELS][:nchw|:nhwc]    (HDF5 datasets in FILE)",
    };
    return forms;
}

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> parts;
    size_t begin = 0;
    while (true) {
        const size_t end = s.find(sep, begin);
        parts.push_back(s.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
        if (end == std::string::npos) break;
        begin = end + 1;
    }
    return parts;
}

[[noreturn]] void bad_spec(const std::string& spec, const std::string& why) {
    std::string forms;
    for (const std::string& f : dataset_spec_forms()) forms += "\n  " + f;
    fail("dataset spec '", spec, "': ", why, "; valid forms:", forms);
}

std::vector<std::string> file_list(const std::string& spec, const std::string& rest, size_t max_files) {
    std::vector<std::string> files = split(rest, ',');
    for (const std::string& f : files)
        if (f.empty()) bad_spec(spec, "empty file name");
    if (files.size() > max_files) bad_spec(spec, cat("at most ", max_files, " files expected"));
    return files;
}

}  // namespace

std::unique_ptr<Dataset> open_dataset(const std::string& spec, const DataOptions& opts) {
    if (opts.limit < 0) fail("dataset limit ", opts.limit, " is negative (0 means all samples)");
    check_sample_shape(opts.sample_shape);
    const size_t colon = spec.find(':');
    if (colon == std::string::npos) bad_spec(spec, "no scheme");
    const std::string scheme = spec.substr(0, colon), rest = spec.substr(colon + 1);
    if (rest.empty()) bad_spec(spec, "nothing after '" + scheme + ":'");

    SampleData d;
    if (scheme == "fashion-mnist") {
        d = data::read_fashion_mnist(data::kFashionMnistDir, rest, opts.limit);
    } else if (scheme == "idx") {
        const std::vector<std::string> f = file_list(spec, rest, 2);
        d = data::read_idx(f[0], f.size() > 1 ? f[1] : std::string(), opts.limit);
    } else if (scheme == "cifar10" || scheme == "cifar100") {
        d = data::read_cifar(file_list(spec, rest, SIZE_MAX), scheme == "cifar10" ? 1 : 2, opts.limit);
    } else if (scheme == "folder") {
        d = data::read_folder(rest, opts.sample_shape, opts.limit);
    } else if (scheme == "hdf5") {
        std::vector<std::string> t = split(rest, ':');
        data::Layout layout = data::Layout::detect;
        if (t.back() == "nchw" || t.back() == "nhwc") {
            layout = t.back() == "nchw" ? data::Layout::nchw : data::Layout::nhwc;
            t.pop_back();
        }
        if (t.size() < 2 || t.size() > 3 || std::any_of(t.begin(), t.end(), [](auto& s) { return s.empty(); }))
            bad_spec(spec, "hdf5 needs FILE:IMAGES with optional :LABELS and :nchw or :nhwc");
        d = data::read_hdf5(t[0], t[1], t.size() > 2 ? t[2] : std::string(), layout, opts.limit);
    } else {
        bad_spec(spec, "unknown scheme '" + scheme + "'");
    }
    return std::make_unique<Dataset>(std::move(d), opts);
}

std::optional<std::string> calibration_split(const std::string& eval_spec) {
    if (eval_spec == "fashion-mnist:test" || eval_spec == "fashion-mnist:train") return "fashion-mnist:train";
    return std::nullopt;
}

}  // namespace qcnn
