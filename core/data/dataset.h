// Image classification datasets: readers for the `--data` specs and preprocessing into float
// batches for the engine.
//
// Specs (open_dataset):
//   fashion-mnist:test | fashion-mnist:train   the Debian package dataset-fashion-mnist
//   idx:IMAGES[,LABELS]                       IDX files (MNIST format), plain or .gz
//   cifar10:FILE[,FILE...]                    CIFAR-10 binary batches (1 label byte + 3072 CHW)
//   cifar100:FILE[,FILE...]                   CIFAR-100 binary (coarse, fine label bytes + 3072
//                                             CHW; the fine label is used)
//   folder:DIR[,labels=FILE][,preprocess=P]   PNG/JPEG/BMP/PNM images: one sub-folder per class
//                                             (sorted names), or with labels=FILE the images
//                                             that FILE lists (see below); P as --preprocess
//   hdf5:FILE:IMAGES[:LABELS][:nchw|:nhwc]    HDF5 datasets; images uint8 (scaled by 1/255) or
//                                             float (taken as is), NCHW, NHWC or NHW; labels
//                                             any integer type
// Samples keep the file's order (no shuffling); callers pick seeded subsets by index.
//
// Labels file (folder:DIR,labels=FILE, ImageNet-validation style): one image per line,
// `file_name class_index`, the name relative to DIR (it may contain blanks: the class index is
// the line's last field), the index an integer >= 0; blank lines are skipped. The samples are
// the listed images in the file's order; classes are 0 .. largest index, named by number. A
// malformed line is an error naming FILE:LINE, a listed image that does not exist names the
// image and FILE:LINE.
//
// Image-folder preprocessing presets (P in preprocess=P, the CLI's --preprocess P, a sweep
// spec's "preprocess"):
//   none                 images as they are (all of one size), or converted to
//                        DataOptions::sample_shape as below
//   imagenet             torchvision's ImageNet evaluation transform on PIL images:
//                        convert("RGB"), Resize(256), CenterCrop(224), ToTensor(),
//                        Normalize(mean 0.485,0.456,0.406, std 0.229,0.224,0.225). The resize is
//                        Pillow's antialiased bilinear (image_ops.h), bit-exact, so the samples
//                        are exactly torchvision's for the same decoded pixels (JPEG decoders
//                        differ by a few levels: stb_image here, libjpeg in Pillow).
//   imagenet:R/C         the same with Resize(R), CenterCrop(C) (e.g. imagenet:36/32)
// The preset's mean/std apply unless DataOptions gives its own (each of mean, std separately).
// A preset produces 3 x C x C samples; a DataOptions::sample_shape other than that is an error
// naming both shapes (nothing is resized after the crop).
//
// Storage: folder images are decoded on demand, batch by batch, from the file list (in
// parallel, DataOptions::threads): no decoded image outlives the batch() call that needed it.
// Every other source holds its pixels once, in the file's type (uint8 or float32), layout
// N x C x H x W row-major. batch() produces preprocessed float32 on demand.
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
// folder (preprocess none): images are converted as they are decoded (they may differ in size)
// to uint8 rounded to nearest; every other source is converted per batch.
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
    // Threads decoding streamed (folder) samples in batch() and reading their headers in
    // open_dataset(); 0 = the calling thread's OpenMP default (all cores unless
    // set_global_threads() lowered it, as the CLI does for --threads).
    int threads = 0;
};

// An image-folder preprocessing preset (see the top of this file).
struct Preprocess {
    std::string name = "none";     // "none" or "imagenet"
    int64_t resize = 0, crop = 0;  // imagenet: short side -> resize, then crop x crop at the centre
    std::vector<float> mean, std;  // the preset's normalisation (empty for none)

    bool is_none() const { return name == "none"; }
};
inline constexpr int64_t kMaxPreprocessSize = 8192;
// "none", "imagenet" (= imagenet:256/224) or "imagenet:R/C" with 1 <= C, R <= 8192; throws
// qcnn::Error naming the text and the valid forms otherwise.
Preprocess parse_preprocess(const std::string& text);
// The canonical text: "none", "imagenet" (for 256/224) or "imagenet:R/C".
std::string to_string(const Preprocess& p);

// What a data set knows besides its pixels.
struct SampleLabels {
    std::vector<int> labels;              // N labels >= 0, or empty when there are none
    int num_classes = 0;                  // nominal class count (0 = max label + 1)
    std::vector<std::string> class_names; // num_classes names, or empty for "0", "1", ...
    std::string description;              // e.g. "Fashion-MNIST test"
};

// Counters of a SampleSource, for tests and reports.
struct SourceStats {
    int64_t resident_bytes = 0;  // pixel bytes held between read() calls (all of them for
                                 // in-memory sources, 0 for streamed ones)
    int64_t reads = 0;           // samples read so far (for streamed sources: decoded)
    int64_t peak_in_flight = 0;  // most samples being decoded at the same time so far (streamed
                                 // sources; 0 for in-memory ones, which only copy)
};

// Where a Dataset's pixels come from: samples held in memory (every reader but folder:) or
// image files decoded on demand (folder:).
class SampleSource {
public:
    virtual ~SampleSource() = default;
    virtual int64_t size() const = 0;
    // {C, H, W} of every sample read() writes.
    virtual Shape sample_shape() const = 0;
    virtual bool is_float() const = 0;
    // Writes sample `index` (in [0, size())) as C*H*W values, CHW row-major, to u8 (uint8
    // sources) or f32 (float sources; the other pointer is unused). Thread-safe. Throws
    // qcnn::Error naming the file for a sample that cannot be read.
    virtual void read(int64_t index, uint8_t* u8, float* f32) const = 0;
    virtual SourceStats stats() const = 0;
};

// Samples held in memory, as the readers but folder: produce them; also lets other modules'
// tests build small datasets.
struct SampleData : SampleLabels {
    enum class Pixels { u8, f32 };
    Pixels pixels = Pixels::u8;
    Shape shape;                          // {N, C, H, W}
    std::vector<uint8_t> u8;              // N*C*H*W, NCHW row-major, when pixels == u8
    std::vector<float> f32;               // N*C*H*W, NCHW row-major, when pixels == f32
};

class Dataset {
public:
    // Takes the samples (moved, never copied) and prepares the preprocessing in `opts`
    // (opts.limit is the reader's business and ignored here). Throws qcnn::Error for a
    // mean/std count that does not match the channels, a zero std, negative labels, or a
    // sample_shape that cannot be reached (channels other than 1 <-> 3).
    Dataset(SampleData data, const DataOptions& opts);
    // Pixels read from `source` on demand, labels and names from `info` (same checks).
    Dataset(std::shared_ptr<const SampleSource> source, SampleLabels info, const DataOptions& opts);

    int64_t size() const { return n_; }
    // {C, H, W} of every sample batch() produces (after conversion).
    Shape sample_shape() const { return {oc_, oh_, ow_}; }
    // {C, H, W} as the source gives them (folder images: as decoded, resized and cropped).
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
    // when !has_labels()). Requires start >= 0, count >= 0, start + count <= size(). Samples
    // are read (folders: decoded) in parallel with DataOptions::threads; the bits do not depend
    // on the thread count. A sample that cannot be read throws qcnn::Error naming its file.
    // Thread-safe: concurrent calls on one Dataset are fine.
    void batch(int64_t start, int64_t count, Tensor& out, std::vector<int>& labels) const;
    // Same for an arbitrary list of sample indices (each in [0, size())).
    void gather(std::span<const int64_t> indices, Tensor& out, std::vector<int>& labels) const;

    // Where the pixels come from; its stats() tell what is held in memory and decoded.
    const SampleSource& source() const { return *source_; }

private:
    struct Scratch;
    // Writes sample `index` preprocessed to dst (C*H*W floats of sample_shape()).
    void fill_sample(int64_t index, float* dst, Scratch& scratch) const;

    std::shared_ptr<const SampleSource> source_;
    bool float_pixels_ = false;
    int threads_ = 0;
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

// The spec with an image-folder preprocessing preset set (parse_preprocess's forms):
// ("folder:DIR", "imagenet") -> "folder:DIR,preprocess=imagenet". "none" returns a spec without
// a preset unchanged. Throws qcnn::Error for a bad preset, a preset other than none for a spec
// that is not folder:, or a spec that already names a different preset.
std::string with_preprocess(const std::string& spec, const std::string& preset);

// The spec of the training split that goes with an evaluation spec, the default calibration
// data of every run (`qcnn quantize`, `qcnn sweep`, the workbench): dataset_splits()'s rule
// (core/data/training_split.h): fashion-mnist:test -> fashion-mnist:train, IDX t10k/test files
// -> their train files, CIFAR test batches -> the data batches, folder:D/val|test -> folder:D/train
// (only splits that exist are named). nullopt when no training split is known (the caller must
// ask for calibration data explicitly), also for a folder holding train/ and val/ (evaluate on
// its val/: no_training_split_message says so).
std::optional<std::string> calibration_split(const std::string& eval_spec);
// The error when no calibration data is given and `eval_spec` has none (calibration_split):
// "no training split is known for SPEC; give calibration data HOW (to calibrate on the evaluation
// set itself, name it)", and for a folder holding train/ and val/: "; or evaluate on
// folder:D/val, whose training split is folder:D/train". `how`: "explicitly", "with --calib-data SPEC".
std::string no_training_split_message(const std::string& eval_spec, const std::string& how);

// The valid spec forms, one per line, for help texts and error messages.
const std::vector<std::string>& dataset_spec_forms();

}  // namespace qcnn
