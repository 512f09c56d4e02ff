// Image classification datasets: readers for the `--data` specs and preprocessing into float
// batches for the engine.
//
// Specs (open_dataset):
//   fashion-mnist:test | fashion-mnist:train   the Debian package dataset-fashion-mnist
//   idx:IMAGES[,LABELS]                       IDX files (MNIST format), plain or .gz
//   cifar10:FILE[,FILE...]                    CIFAR-10 binary batches (1 label byte + 3072 CHW)
//   cifar100:FILE[,FILE...]                   CIFAR-100 binary (coarse, fine label bytes + 3072
//                                             CHW; the fine label is used)
//   folder:DIR                                one sub-folder per class (sorted names), PNG/JPEG/
//                                             BMP/PNM images
//   hdf5:FILE:IMAGES[:LABELS][:nchw|:nhwc]    HDF5 datasets; images uint8 (scaled by 1/255) or
//                                             float (taken as is), NCHW, NHWC or NHW; labels
//                                             any integer type
// Samples keep the file's order (no shuffling); callers pick seeded subsets by index.
//
// Storage: the pixels are held once, in the file's type (uint8 or float32), layout
// N x C x H x W row-major; batch() produces preprocessed float32 on demand.
//
// Preprocessing of one pixel x of channel c (in this order, all float32):
//   x = u8 / 255.0f (uint8 sources; float sources are taken as is)
//   channel conversion and resize to DataOptions::sample_shape (see below)
//   y = (x - mean[c]) / std[c]            (when mean/std are given)
// so a uint8 source gives exactly PyTorch's `x.float() / 255` followed by
// `transforms.Normalize(mean, std)`.
//
// Conversion to DataOptions::sample_shape {C, H, W}, when it differs from the stored shape:
//   channels 1 -> 3 replicate the plane; 3 -> 1 takes luma 0.299 R + 0.587 G + 0.114 B;
//   size: bilinear, half-pixel centres, no antialiasing (torch.nn.functional.interpolate with
//   mode="bilinear", align_corners=False).
// folder: images are converted as they are decoded (they may differ in size) and stored as
// uint8 rounded to nearest; every other source is stored as read and converted per batch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace qcnn {

struct DataOptions {
    // Per-channel normalisation y = (x - mean) / std; empty = none. A single value applies to
    // every channel; otherwise the count must equal the channel count of sample_shape().
    std::vector<float> mean, std;
    // Read only the first `limit` samples; 0 = all.
    int64_t limit = 0;
    // {C, H, W} the model wants; empty = the stored shape.
    Shape sample_shape;
};

// Samples as a reader produces them; also lets other modules' tests build small datasets.
struct SampleData {
    enum class Pixels { u8, f32 };
    Pixels pixels = Pixels::u8;
    Shape shape;                          // {N, C, H, W}
    std::vector<uint8_t> u8;              // N*C*H*W, NCHW row-major, when pixels == u8
    std::vector<float> f32;               // N*C*H*W, NCHW row-major, when pixels == f32
    std::vector<int> labels;              // N labels >= 0, or empty when there are none
    int num_classes = 0;                  // nominal class count (0 = max label + 1)
    std::vector<std::string> class_names; // num_classes names, or empty for "0", "1", ...
    std::string description;              // e.g. "Fashion-MNIST test"
};

class Dataset {
public:
    // Takes the samples (moved, never copied) and prepares the preprocessing in `opts`
    // (opts.limit is the reader's business and ignored here). Throws qcnn::Error for a
    // mean/std count that does not match the channels, a zero std, negative labels, or a
    // sample_shape that cannot be reached (channels other than 1 <-> 3).
    Dataset(SampleData data, const DataOptions& opts);

    int64_t size() const { return n_; }
    // {C, H, W} of every sample batch() produces (after conversion).
    Shape sample_shape() const { return {oc_, oh_, ow_}; }
    // {C, H, W} as stored.
    Shape stored_shape() const { return {c_, h_, w_}; }
    // max(nominal class count, largest label + 1); 0 when there are no labels.
    int num_classes() const { return num_classes_; }
    bool has_labels() const { return !labels_.empty(); }
    // size() labels, or empty when !has_labels().
    const std::vector<int>& labels() const { return labels_; }
    // num_classes() names: the dataset's own (Fashion-MNIST, CIFAR-10, folder names) or "0", "1", ...
    std::vector<std::string> class_names() const { return class_names_; }
    // One line: source, size, shapes, preprocessing.
    const std::string& description() const { return description_; }

    // Fills out = {count, C, H, W} preprocessed float32 and labels = count labels (-1 each
    // when !has_labels()). Requires start >= 0, count >= 0, start + count <= size().
    // Thread-safe: concurrent calls on one Dataset are fine.
    void batch(int64_t start, int64_t count, Tensor& out, std::vector<int>& labels) const;
    // Same for an arbitrary list of sample indices (each in [0, size())).
    void gather(std::span<const int64_t> indices, Tensor& out, std::vector<int>& labels) const;

private:
    // Writes sample `index` preprocessed to dst (C*H*W floats of sample_shape()); scratch is
    // per-call workspace for the conversion path.
    void fill_sample(int64_t index, float* dst, std::vector<float>& scratch) const;

    SampleData::Pixels pixels_;
    std::vector<uint8_t> u8_;
    std::vector<float> f32_;
    std::vector<int> labels_;
    int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0;     // stored
    int64_t oc_ = 0, oh_ = 0, ow_ = 0;          // produced
    bool convert_ = false;
    std::vector<float> mean_, std_;             // oc_ values each
    std::vector<float> lut_;                    // oc_ x 256: (v / 255 - mean) / std, uint8 sources
    int num_classes_ = 0;
    std::vector<std::string> class_names_;
    std::string description_;
};

// Opens a dataset from a spec (see the top of this file). Throws qcnn::Error for an unknown
// scheme (listing the valid ones), missing or malformed files (naming the file and what is
// wrong) and bad options.
std::unique_ptr<Dataset> open_dataset(const std::string& spec, const DataOptions& opts = {});

// The spec of the training split that goes with an evaluation spec, the default calibration
// data: fashion-mnist:test|train -> fashion-mnist:train. nullopt when there is no known
// training split (the caller must ask for calibration data explicitly).
std::optional<std::string> calibration_split(const std::string& eval_spec);

// The valid spec forms, one per line, for help texts and error messages.
const std::vector<std::string>& dataset_spec_forms();

}  // namespace qcnn
