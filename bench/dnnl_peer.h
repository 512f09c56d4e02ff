// The oneDNN peers of qcnn_bench (issue 14, section 2): the same imported Network run with
// oneDNN's fp32 or int8 (u8s8 / s8s8, VNNI where the CPU has it: oneDNN picks the kernel)
// convolution and inner product, every other node on our engine's ops.
//
// dnnl_network() copies a Network and replaces each ConvOp / FcOp node by an op that runs it
// on oneDNN; a Relu whose input is only that layer's output is fused into it (oneDNN eltwise
// post-op), as an int8 runtime does. The copy runs on our Engine / Plan like any network.
//
// int8 (static post-training quantization):
//   - weights: per output channel symmetric, s8 = round(w / s_w[c]), s_w[c] = max|w[c,:]| / 127;
//   - activations: per tensor, calibrated on given inputs: a layer input that is never
//     negative is u8 with scale max / 255 (zero point 0), otherwise s8 with max|x| / 127;
//   - bias stays f32 (passed in the accumulator's units), the output is f32:
//     y = s_x * s_w[c] * sum(x_q * w_q) + b[c].
// Each layer's f32 NCHW input goes through one quantizing reorder into the primitive's layout
// and the output through one reorder back to NCHW f32 when oneDNN chose another layout: a
// graph kept in int8 end to end would skip those. DnnlLayerStats separates the primitives'
// time from those reorders so the tables can give both.
// Primitives, weight reorders and quantized weights are made once per input shape; the
// activation buffers and scratchpads once per (shape, thread), so an Engine may run the ops
// from several threads (batch slices). Thread count: oneDNN's OpenMP runtime uses
// omp_get_max_threads() (1 inside our engine's parallel batch slices).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <vector>

#include "core/graph/network.h"

namespace qcnn::bench {

enum class PeerPrecision { Fp32, Int8 };
const char* precision_name(PeerPrecision p);

// Range of every weight layer's input over the calibration inputs, by node index.
struct InputRange {
    float min = 0, max = 0;
};
using Calibration = std::map<int, InputRange>;

// Runs `net` (float) on each input (threads: our engine's) and records min / max of every
// Conv / Fc node's input. Throws qcnn::Error when inputs is empty.
Calibration calibrate(const Network& net, const std::vector<Tensor>& inputs, int threads);

// Time spent inside the peer's ops since the last reset, summed over calls (all threads).
struct DnnlLayerStats {
    std::atomic<int64_t> primitive_ns{0};  // conv / inner-product primitives
    std::atomic<int64_t> reorder_ns{0};    // input quantization / layout and output layout reorders
    void reset() {
        primitive_ns = 0;
        reorder_ns = 0;
    }
};

// The copy of `net` with Conv / Fc on oneDNN. Int8 needs `calib` to hold every weight layer
// (throws qcnn::Error naming the layer otherwise). `stats`, when given, receives the timings
// (it must outlive the network's ops).
std::shared_ptr<Network> dnnl_network(const Network& net, PeerPrecision precision, const Calibration* calib,
                                      DnnlLayerStats* stats = nullptr);

}  // namespace qcnn::bench
