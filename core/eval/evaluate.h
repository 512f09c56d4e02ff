// Classification accuracy of a network on a labelled dataset: top-1, top-5, per-class
// accuracy and throughput. The CLI (`qcnn eval`) and the workbench both call evaluate(), so
// they cannot compute different numbers.
//
// Ranking rule (deterministic, ties broken by class index as argmax does): the rank of the
// true class y in a row of logits l is #{j : l[j] > l[y]} + #{j < y : l[j] == l[y]}; a sample
// is a top-k hit when rank < k. A NaN score for the true class is never a hit; NaN scores of
// other classes never outrank it. With fewer than k classes every sample is a top-k hit.
//
// Results are independent of the batch size and thread count up to the float rounding of the
// engine's kernels; for a given batch size and thread count they are bit-identical run to run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/graph/plan.h"
#include "core/util/progress.h"

namespace qcnn {

// Receives every evaluated sample in dataset order: its index, its label and the network's
// raw outputs (`classes` floats, valid only during the call).
using LogitsSink = std::function<void(int64_t index, int label, const float* logits, int64_t classes)>;

struct EvalOptions {
    int64_t batch = 64;   // samples per forward pass (the last batch may be smaller)
    int threads = 0;      // engine threads; 0 = all cores
    int64_t limit = 0;    // evaluate only the first `limit` samples; 0 = all
    LutKernel lut_kernel = LutKernel::Fast;  // quantized layers: SIMD kernels or the float reference
    LogitsSink logits_sink;
};

struct ClassAccuracy {
    std::string name;
    int64_t samples = 0;
    int64_t top1_correct = 0;
    // top1_correct / samples; NaN when the class has no sample.
    double top1() const;
};

struct EvalResult {
    int64_t samples = 0;
    int64_t top1_correct = 0;
    int64_t top5_correct = 0;
    double top1 = 0;              // fraction in [0, 1]
    double top5 = 0;              // fraction in [0, 1]
    std::vector<ClassAccuracy> per_class;  // one per dataset class, in label order
    double seconds = 0;           // wall time of the whole evaluation (data + network)
    double forward_seconds = 0;   // part of it spent in the network's forward passes
    double images_per_second = 0; // samples / seconds
    int threads = 0;              // engine threads used
    int64_t batch = 0;            // batch size used
};

// Throws qcnn::Error with a one-line message when the dataset cannot be fed to the network:
//   "dataset fashion-mnist:test gives 1x28x28 images, model lenet5.onnx expects 3x32x32"
// `dataset_name` is the name to print (the spec); the model is named by net.source.
// Dimensions the model leaves dynamic (-1) match any size.
void check_compatible(const Network& net, const Dataset& data, const std::string& dataset_name);

// Evaluates `engine`'s network on `data` (which must have labels). Sets the engine's thread
// count to options.threads. Checks the sample shape (check_compatible) and that the network
// outputs {N, classes} with at least data.num_classes() scores. Reports Progress{"evaluate",
// "", samples done, samples total} before the first batch and after each one; a progress
// callback returning false stops the evaluation with qcnn::Cancelled. Throws qcnn::Error for
// bad input (messages name the dataset and the model).
EvalResult evaluate(Engine& engine, const Dataset& data, const std::string& dataset_name,
                    const EvalOptions& options = {}, const ProgressFn& progress = {});

// Same with a fresh engine over `net`.
EvalResult evaluate(std::shared_ptr<const Network> net, const Dataset& data, const std::string& dataset_name,
                    const EvalOptions& options = {}, const ProgressFn& progress = {});

// Rank of class `label` in `logits` (the ranking rule above); `classes` if logits[label] is NaN.
int64_t rank_of(const float* logits, int64_t classes, int label);

// A LogitsSink that writes one CSV line per sample: the label, then every output with full
// float precision (%.9g, which reads back to the same float). No header line.
class LogitsCsvWriter {
public:
    explicit LogitsCsvWriter(std::ostream& os) : os_(os) {}
    void operator()(int64_t index, int label, const float* logits, int64_t classes);

private:
    std::ostream& os_;
};

}  // namespace qcnn
