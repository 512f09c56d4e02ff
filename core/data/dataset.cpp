#include "core/data/dataset.h"
#include "core/data/training_split.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <numeric>

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

// "3x224x224".
std::string format_chw(const Shape& s) {
    std::string out;
    for (int64_t d : s) out += cat(out.empty() ? "" : "x", d);
    return out;
}

void check_sample_shape(const Shape& s) {
    if (s.empty()) return;
    if (s.size() != 3 || s[0] < 1 || s[1] < 1 || s[2] < 1)
        fail("sample shape ", to_string(s), " is not {C, H, W} with positive sizes");
}

// Samples held in memory (SampleData's pixels), read by copying.
class MemorySource final : public SampleSource {
public:
    explicit MemorySource(SampleData& d) : u8_(std::move(d.u8)), f32_(std::move(d.f32)) {
        QCNN_ASSERT(d.shape.size() == 4, "SampleData shape ", to_string(d.shape), " is not {N, C, H, W}");
        n_ = d.shape[0];
        sample_ = {d.shape[1], d.shape[2], d.shape[3]};
        QCNN_ASSERT(n_ >= 1 && d.shape[1] >= 1 && d.shape[2] >= 1 && d.shape[3] >= 1, "SampleData shape ",
                    to_string(d.shape));
        chw_ = numel(sample_);
        is_float_ = d.pixels == SampleData::Pixels::f32;
        QCNN_ASSERT(is_float_ ? static_cast<int64_t>(f32_.size()) == n_ * chw_ && u8_.empty()
                              : static_cast<int64_t>(u8_.size()) == n_ * chw_ && f32_.empty(),
                    "SampleData pixel count does not match shape ", to_string(d.shape));
    }
    int64_t size() const override { return n_; }
    Shape sample_shape() const override { return sample_; }
    bool is_float() const override { return is_float_; }
    void read(int64_t index, uint8_t* u8, float* f32) const override {
        if (is_float_)
            std::copy_n(f32_.data() + index * chw_, chw_, f32);
        else
            std::copy_n(u8_.data() + index * chw_, chw_, u8);
        reads_.fetch_add(1, std::memory_order_relaxed);
    }
    SourceStats stats() const override {
        SourceStats s;
        s.resident_bytes = static_cast<int64_t>(u8_.size() + f32_.size() * sizeof(float));
        s.reads = reads_.load();  // copies; nothing is decoded, so peak_in_flight stays 0
        return s;
    }

private:
    std::vector<uint8_t> u8_;
    std::vector<float> f32_;
    int64_t n_ = 0, chw_ = 0;
    Shape sample_;
    bool is_float_ = false;
    mutable std::atomic<int64_t> reads_{0};
};

}  // namespace

int data::resolve_data_threads(int threads) { return threads > 0 ? threads : omp_get_max_threads(); }

// Per-thread workspace of fill_sample: the sample as read, and the conversion's planes.
struct Dataset::Scratch {
    std::vector<uint8_t> u8;
    std::vector<float> f32, work;
};

Dataset::Dataset(SampleData data, const DataOptions& opts)
    : Dataset(std::make_shared<MemorySource>(data), static_cast<SampleLabels&&>(data), opts) {}

Dataset::Dataset(std::shared_ptr<const SampleSource> source, SampleLabels info, const DataOptions& opts)
    : source_(std::move(source)), labels_(std::move(info.labels)) {
    QCNN_ASSERT(source_ != nullptr, "Dataset without a sample source");
    n_ = source_->size();
    const Shape stored = source_->sample_shape();
    QCNN_ASSERT(stored.size() == 3, "sample shape ", to_string(stored), " is not {C, H, W}");
    c_ = stored[0];
    h_ = stored[1];
    w_ = stored[2];
    QCNN_ASSERT(n_ >= 1 && c_ >= 1 && h_ >= 1 && w_ >= 1, "samples ", n_, " x ", to_string(stored));
    QCNN_ASSERT(labels_.empty() || static_cast<int64_t>(labels_.size()) == n_, "SampleLabels has ", labels_.size(),
                " labels for ", n_, " samples");
    float_pixels_ = source_->is_float();
    threads_ = opts.threads;
    const std::string& source_name = info.description;

    int max_label = -1;
    for (size_t i = 0; i < labels_.size(); ++i) {
        if (labels_[i] < 0) fail(source_name, ": label ", labels_[i], " of sample ", i, " is negative");
        max_label = std::max(max_label, labels_[i]);
    }
    num_classes_ = labels_.empty() ? info.num_classes : std::max(info.num_classes, max_label + 1);
    class_names_ = std::move(info.class_names);
    class_names_.resize(static_cast<size_t>(num_classes_));
    for (int k = 0; k < num_classes_; ++k)
        if (class_names_[k].empty()) class_names_[k] = std::to_string(k);

    check_sample_shape(opts.sample_shape);
    if (opts.sample_shape.empty()) {
        oc_ = c_, oh_ = h_, ow_ = w_;
    } else {
        oc_ = opts.sample_shape[0], oh_ = opts.sample_shape[1], ow_ = opts.sample_shape[2];
        if (!can_convert_channels(c_, oc_))
            fail(source_name, ": samples have ", c_, " channels but ", oc_,
                 " are wanted; only 1 -> 3 (replicate) and 3 -> 1 (luma) conversions exist");
    }
    convert_ = oc_ != c_ || oh_ != h_ || ow_ != w_;

    mean_ = per_channel(opts.mean, 0.0f, oc_, "mean", source_name);
    std_ = per_channel(opts.std, 1.0f, oc_, "std", source_name);
    for (size_t k = 0; k < std_.size(); ++k)
        if (!(std::isfinite(std_[k]) && std_[k] != 0.0f) || !std::isfinite(mean_[k]))
            fail("--mean/--std for channel ", k, " of ", source_name, ": mean ", mean_[k], ", std ", std_[k],
                 " (std must be finite and non-zero)");
    if (!float_pixels_ && !convert_) {
        lut_.resize(static_cast<size_t>(oc_ * 256));
        for (int64_t k = 0; k < oc_; ++k)
            for (int v = 0; v < 256; ++v) lut_[k * 256 + v] = (static_cast<float>(v) / 255.0f - mean_[k]) / std_[k];
    }

    description_ = cat(source_name, ": ", n_, " samples ", c_, "x", h_, "x", w_, float_pixels_ ? " float32" : " uint8");
    if (convert_) description_ += cat(" -> ", oc_, "x", oh_, "x", ow_);
    if (!opts.mean.empty() || !opts.std.empty())
        description_ += cat(", mean [", join(mean_), "], std [", join(std_), "]");
}

void Dataset::fill_sample(int64_t index, float* dst, Scratch& scratch) const {
    const int64_t hw = h_ * w_, chw = c_ * hw;
    if (float_pixels_)
        scratch.f32.resize(static_cast<size_t>(chw));
    else
        scratch.u8.resize(static_cast<size_t>(chw));
    source_->read(index, scratch.u8.data(), scratch.f32.data());
    if (!convert_) {
        if (!float_pixels_) {
            const uint8_t* src = scratch.u8.data();
            for (int64_t k = 0; k < c_; ++k) {
                const float* lut = lut_.data() + k * 256;
                for (int64_t p = 0; p < hw; ++p) dst[k * hw + p] = lut[src[k * hw + p]];
            }
        } else {
            const float* src = scratch.f32.data();
            for (int64_t k = 0; k < c_; ++k)
                for (int64_t p = 0; p < hw; ++p) dst[k * hw + p] = (src[k * hw + p] - mean_[k]) / std_[k];
        }
        return;
    }
    scratch.work.resize(static_cast<size_t>(chw + oc_ * hw));
    float* scaled = scratch.work.data();
    float* converted = scaled + chw;
    if (!float_pixels_) {
        for (int64_t i = 0; i < chw; ++i) scaled[i] = static_cast<float>(scratch.u8[i]) / 255.0f;
    } else {
        std::copy_n(scratch.f32.data(), chw, scaled);
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
    std::vector<int64_t> indices(static_cast<size_t>(count));
    std::iota(indices.begin(), indices.end(), start);
    gather(indices, out, labels);
}

void Dataset::gather(std::span<const int64_t> indices, Tensor& out, std::vector<int>& labels) const {
    const auto count = static_cast<int64_t>(indices.size());
    for (int64_t s : indices) QCNN_ASSERT(s >= 0 && s < n_, "sample index ", s, " outside a dataset of ", n_, " samples");
    out.resize({count, oc_, oh_, ow_});
    labels.resize(indices.size());
    const int64_t sample = oc_ * oh_ * ow_;
    // Samples are independent: any thread count gives the same bits. Errors (a file that
    // cannot be decoded) are caught per sample and the first in index order is rethrown.
    const int threads = static_cast<int>(std::clamp<int64_t>(count, 1, data::resolve_data_threads(threads_)));
    std::vector<std::string> errors(indices.size());
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        Scratch scratch;
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < count; ++i) {
            try {
                fill_sample(indices[i], out.ptr() + i * sample, scratch);
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        }
    }
    for (const std::string& e : errors)
        if (!e.empty()) throw Error(e);
    for (int64_t i = 0; i < count; ++i) labels[i] = labels_.empty() ? -1 : labels_[indices[i]];
}

const std::vector<std::string>& dataset_spec_forms() {
    static const std::vector<std::string> forms = {
        "fashion-mnist:test | fashion-mnist:train   (Debian package dataset-fashion-mnist)",
        "idx:IMAGES[,LABELS]                       (IDX/MNIST-format files, plain or .gz)",
        "cifar10:FILE[,FILE...]                    (CIFAR-10 binary batches)",
        "cifar100:FILE[,FILE...]                   (CIFAR-100 binary, fine labels)",
        "folder:DIR[,labels=FILE][,preprocess=P]   (PNG/JPEG images: one sub-folder per class, or listed in FILE)",
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

// folder:DIR[,key=value...]: options are peeled off the end, so DIR may contain commas.
data::FolderSpec parse_folder_spec(const std::string& spec, const std::string& rest) {
    std::vector<std::string> items = split(rest, ',');
    data::FolderSpec f;
    bool has_labels = false, has_preprocess = false;
    while (items.size() > 1) {
        const std::string& item = items.back();
        const size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0 ||
            !std::all_of(item.begin(), item.begin() + static_cast<std::ptrdiff_t>(eq),
                         [](char ch) { return (ch >= 'a' && ch <= 'z') || ch == '_'; }))
            break;
        const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
        if (key == "labels") {
            if (has_labels) bad_spec(spec, "labels= is given twice");
            if (value.empty()) bad_spec(spec, "labels= needs a file name");
            has_labels = true;
            f.labels_file = value;
        } else if (key == "preprocess") {
            if (has_preprocess) bad_spec(spec, "preprocess= is given twice");
            has_preprocess = true;
            f.preprocess = parse_preprocess(value);
        } else {
            bad_spec(spec, "unknown folder option '" + key + "=' (expected labels=FILE or preprocess=P)");
        }
        items.pop_back();
    }
    for (size_t i = 0; i < items.size(); ++i) f.dir += (i ? "," : "") + items[i];
    if (f.dir.empty()) bad_spec(spec, "folder needs a directory");
    f.preprocess_given = has_preprocess;
    return f;
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
        const data::FolderSpec folder = parse_folder_spec(spec, rest);
        const Preprocess& p = folder.preprocess;
        DataOptions o = opts;
        if (!p.is_none()) {
            const Shape produced = {3, p.crop, p.crop};
            if (!o.sample_shape.empty() && o.sample_shape != produced)
                fail("dataset ", spec, ": the ", to_string(p), " preprocessing gives ", format_chw(produced),
                     " samples but ", format_chw(o.sample_shape),
                     " are wanted (nothing is resized after the center crop; choose the sizes with "
                     "preprocess=imagenet:RESIZE/CROP)");
            if (o.mean.empty()) o.mean = p.mean;
            if (o.std.empty()) o.std = p.std;
        }
        data::FolderSamples f = data::read_folder(folder, o.sample_shape, o.limit, o.threads);
        return std::make_unique<Dataset>(std::move(f.source), std::move(f.info), o);
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

Preprocess parse_preprocess(const std::string& text) {
    Preprocess p;
    if (text == "none") return p;
    const std::string forms = "none, imagenet (= imagenet:256/224: resize the short side to 256, center crop 224) or "
                              "imagenet:RESIZE/CROP";
    if (text != "imagenet" && text.rfind("imagenet:", 0) != 0)
        fail("preprocessing '", text, "' is not known (expected ", forms, ")");
    p.name = "imagenet";
    p.resize = 256;
    p.crop = 224;
    p.mean = {0.485f, 0.456f, 0.406f};
    p.std = {0.229f, 0.224f, 0.225f};
    if (text == "imagenet") return p;
    const std::string sizes = text.substr(9);
    const size_t slash = sizes.find('/');
    const auto parse_size = [&](const std::string& v, int64_t& out) {
        const char* end = v.data() + v.size();
        const auto r = std::from_chars(v.data(), end, out);
        return !v.empty() && r.ec == std::errc() && r.ptr == end && out >= 1 && out <= kMaxPreprocessSize;
    };
    if (slash == std::string::npos || !parse_size(sizes.substr(0, slash), p.resize) ||
        !parse_size(sizes.substr(slash + 1), p.crop))
        fail("preprocessing '", text, "': expected imagenet:RESIZE/CROP with sizes in [1, ", kMaxPreprocessSize,
             "] (e.g. imagenet:256/224)");
    return p;
}

std::string to_string(const Preprocess& p) {
    if (p.is_none()) return "none";
    if (p.resize == 256 && p.crop == 224) return "imagenet";
    return cat("imagenet:", p.resize, "/", p.crop);
}

std::string with_preprocess(const std::string& spec, const std::string& preset) {
    const Preprocess p = parse_preprocess(preset);
    if (spec.rfind("folder:", 0) != 0) {
        if (p.is_none()) return spec;
        fail("preprocessing ", to_string(p), " applies to image folders (folder:DIR...), not to dataset ", spec);
    }
    const data::FolderSpec f = parse_folder_spec(spec, spec.substr(7));
    if (f.preprocess_given) {
        if (to_string(f.preprocess) == to_string(p)) return spec;
        fail("dataset ", spec, " already asks for preprocessing ", to_string(f.preprocess), ", not ", to_string(p));
    }
    return p.is_none() ? spec : cat(spec, ",preprocess=", to_string(p));
}

std::optional<std::string> calibration_split(const std::string& eval_spec) {
    // The workbench's rule (training_split.h); a folder with train/ and val/ is not itself an
    // evaluation split (its classes would be "train" and "val").
    const DatasetSplits s = dataset_splits(eval_spec);
    return s.eval == eval_spec ? s.calib : std::nullopt;
}

std::string no_training_split_message(const std::string& eval_spec, const std::string& how) {
    std::string msg = cat("no training split is known for ", eval_spec, "; give calibration data ", how,
                          " (to calibrate on the evaluation set itself, name it)");
    const DatasetSplits s = dataset_splits(eval_spec);
    if (s.eval != eval_spec && s.calib) msg += cat("; or evaluate on ", s.eval, ", whose training split is ", *s.calib);
    return msg;
}

}  // namespace qcnn
