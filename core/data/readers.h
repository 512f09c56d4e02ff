// Internal: one function per source format, each returning the samples as stored in the file
// (limit applied: only the first `limit` samples are read when limit > 0). Used by
// open_dataset; declared here so tests can point the readers at fixture paths.
#pragma once

#include <string>
#include <vector>

#include "core/data/dataset.h"

namespace qcnn::data {

// Largest pixel payload (bytes) a reader accepts where the file's size cannot bound it: gzip
// data, whose true size is only known by decompressing it, and HDF5 (possibly compressed)
// datasets. Plain files are checked against their size on disk instead.
inline constexpr int64_t kMaxPixelBytes = int64_t(8) << 30;

// IDX (MNIST format): images unsigned byte {N, H, W}, labels unsigned byte {N}.
SampleData read_idx(const std::string& images, const std::string& labels, int64_t limit);

// Fashion-MNIST from `dir` ({train,t10k}-{images-idx3,labels-idx1}-ubyte.gz); split "test" or
// "train". Missing files name the Debian package dataset-fashion-mnist.
SampleData read_fashion_mnist(const std::string& dir, const std::string& split, int64_t limit);
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// CIFAR binary batches; label_bytes 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine; fine used).
SampleData read_cifar(const std::vector<std::string>& files, int label_bytes, int64_t limit);

// DataOptions::threads resolved: itself when > 0, else the calling thread's OpenMP default.
int resolve_data_threads(int threads);

// folder:DIR[,labels=FILE][,preprocess=P], parsed.
struct FolderSpec {
    std::string dir;
    std::string labels_file;       // empty: one sub-folder per class
    Preprocess preprocess;
    bool preprocess_given = false; // the spec names a preset (even "none")
};

// Images streamed from files: the source decodes on demand.
struct FolderSamples {
    std::shared_ptr<const SampleSource> source;
    SampleLabels info;
};

// Lists the images (class sub-folders or the labels file) and reads every header, with up to
// `threads` threads (0: OpenMP default); decodes nothing. The source produces, per sample:
// with a preset, 3 x crop x crop (dataset.h); otherwise `target` {C, H, W}, or when empty the
// images' own shape (which must then agree between images).
FolderSamples read_folder(const FolderSpec& spec, const Shape& target, int64_t limit, int threads);

enum class Layout { detect, nchw, nhwc };
// HDF5 datasets `images` and (if not empty) `labels` in `file`.
SampleData read_hdf5(const std::string& file, const std::string& images, const std::string& labels,
                     Layout layout, int64_t limit);

}  // namespace qcnn::data
