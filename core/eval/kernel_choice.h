// Per-layer choice between a quantized layer's lookup-table kernel and the dense kernels on its
// decoded weights (issue 5): a product-quantized layer is not always faster than dense (a first
// conv with one input channel, a layer with a handful of outputs, large K at small C_s'), so the
// engine times both at the shapes the layer will actually run and keeps the faster one.
//
// What is timed (choose_kernels): for every QConv / QFc node, its op with the fast lookup-table
// kernels (LutKernel::Fast) and its dense twin (dense_twin(): ConvOp / FcOp over
// PQWeights::decode(), the same W_hat the quantized layer computes with; for a layer whose dense
// weights exceed KernelChoiceOptions::max_dense_bytes, the twin of its first output channels
// only, its time scaled to all of them, so that timing never builds a large layer's whole dense
// weight and no dense weight outlives its layer's timing) on the same random
// input, alternating the two after a warm-up, median of the repetitions (speed.h's
// time_alternating(), the procedure behind every measured time), with their spreads. The input shape and thread count are
// the ones Engine::forward gives the op for (batch, threads):
//   - batch < 2 * threads (or one thread): the whole batch, the op using up to `threads`;
//   - otherwise the engine splits the batch into min(4 * threads, batch / 2) slices that run
//     single-threaded side by side: the largest slice, one thread.
// Both paths compute the same W_hat, so the choice changes only float rounding (and the 8-bit
// LUT quantization of the fast kernels, fast_fc.h), never which layer runs; timing noise can
// only pick the slightly slower of two close paths.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/graph/network.h"
#include "core/quant/weight_layer_factory.h"
#include "core/util/progress.h"

namespace qcnn {

enum class LayerPath { Quantized, Dense };
const char* layer_path_name(LayerPath p);  // "quantized", "dense"

struct LayerChoice {
    int node = -1;             // index into Network::nodes
    std::string name, alias;   // node name, "conv1" / "fc2"
    std::string op_type;       // "QConv" or "QFc"
    Shape input_shape;         // the shape timed (a slice when the engine splits the batch)
    int threads = 1;           // threads the op was timed with
    double quantized_seconds = 0;  // median time of one run, fast lookup-table kernels
    double dense_seconds = 0;      // median time of one run, dense kernels on W_hat (scaled
                                   // from dense_timed_outputs of out_channels, see below)
    int64_t out_channels = 0;         // C_t
    int64_t dense_timed_outputs = 0;  // output channels of the dense slice actually timed
    double quantized_spread = 0, dense_spread = 0;  // relative interquartile ranges (speed.h)
    bool noisy = false;            // a spread above SpeedOptions::noisy_spread: the choice is a guess
    int reps = 0;                  // timed runs per path
    LayerPath path = LayerPath::Quantized;
};

struct KernelChoiceOptions {
    int64_t batch = 1;        // samples per forward pass
    int threads = 0;          // engine threads; 0 = all cores
    double budget_s = 0.05;   // time per layer and path (at least min_reps runs each)
    int min_reps = 3;
    uint64_t seed = 0;        // random input values, uniform in [-1, 1]
    // At most this many bytes of dense weights exist while a layer's dense path is timed: a
    // larger layer is timed on its first rows output channels (at least 64, a multiple of 16)
    // and the time scaled by C_t / rows. Only the layers where dense wins get their whole dense
    // twin, in the returned network.
    int64_t max_dense_bytes = int64_t(32) << 20;
};

struct KernelChoice {
    std::vector<LayerChoice> layers;        // quantized layers in network order
    std::shared_ptr<const Network> network; // the input network with the dense choices applied
    int64_t batch = 0;
    int threads = 0;                        // resolved
    int dense_layers() const;               // layers where dense won
};

// dense_twin(op) (the dense twin of a quantized weight op: ConvOp / FcOp over the decoded
// weights, same bias, parameters and source type; nullptr for any other op) comes from the
// weight-layer factory, core/quant/weight_layer_factory.h.
// Whether `op` has a dense twin (a quantized weight layer), without building it: the twin decodes
// the layer's whole dense weight (VGG-11's fc1: 411 MB), so ask this to test for quantized layers.
bool has_dense_twin(const Op& op);

// The input shape and thread count Engine::forward runs every op with for `batch` samples on
// `threads` (resolved) threads; see the top of this file.
struct OpRunShape {
    int64_t samples = 0;
    int threads = 1;
};
OpRunShape engine_op_run_shape(int64_t batch, int threads);

// Times every quantized layer of `net` (input {batch, ...sample_shape}) both ways and returns
// the network with each layer on its faster path. Throws qcnn::Error when the network cannot be
// planned for that input. Reports Progress{"kernel-choice", alias, layers done, layers total}; a
// false return throws qcnn::Cancelled.
KernelChoice choose_kernels(std::shared_ptr<const Network> net, const Shape& sample_shape,
                            const KernelChoiceOptions& options = {}, const ProgressFn& progress = {});

// `net` with the given nodes replaced by their dense twins (nodes that are not quantized weight
// layers are an error: qcnn::Error naming the node).
std::shared_ptr<const Network> with_dense_layers(const Network& net, const std::vector<int>& nodes);

}  // namespace qcnn
