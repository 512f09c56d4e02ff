// Calibration for error correction (qcnn-method.md section 3): the response statistics of one
// weight layer over calibration inputs, and per-layer response errors of a quantized network.
//
// A layer's response is linear in its weight, so the EC objective over N calibration inputs
//     sum over rows r, outputs c of (T[r, c] - bias[c] - <W_hat[c, :], X[r, :]>)^2
// only needs the normal-equation statistics of its rows. They are accumulated while the
// calibration images stream through the network and the rows themselves are never stored, so
// memory does not grow with the number of images.
//
// Rows. FC: one row per input vector (an input {N, C_s} gives one row per image, {N, T, C_s}
// gives T). Conv: one row per (image, output position p_t); X[r, :] is the receptive field of
// p_t: the input at p_s(p_t, p_k) for every kernel offset p_k, 0 where p_s falls into the
// padding (qcnn-method.md section 2; strides and dilation only move p_s). With
// `positions_per_image` > 0 only that many output positions per image are used, a seeded
// random subset (sample_positions; the seed of image i is derive_seed(seed, i), i its index in
// the calibration tensor) -- the Gram cost is rows x d^2, and neighbouring positions of one image
// carry little new information, so a few dozen positions of many images beat every position of
// a few images.
//
// Statistics, per group gi (a grouped conv is g independent problems; FC and ungrouped conv
// have one group). With cg = C_s/g input channels per group, Cg = C_t/g outputs per group,
// P = kh*kw kernel offsets, d = cg*P, and the column index of X_g
//     i = ci*P + p        (input channel ci within the group, kernel offset p = ki*kw + kj)
// which is exactly the dense weight's layout {C_t, C_s/g, kh, kw} flattened per output:
//     gram[gi]   d x d, symmetric:  sum_r X_g[r, i] * X_g[r, i']
//     cross[gi]  Cg x d, row-major: sum_r T'[r, gi*Cg + c] * X_g[r, i]   (T' = T - bias)
//     target_sq[gi]                 sum_r sum_c T'[r, gi*Cg + c]^2
//     input_sum[gi]   d:            sum_r X_g[r, i]            (first moments, for a bias refit)
//     target_sum[gi]  Cg:           sum_r T'[r, gi*Cg + c]
// A subspace m = gi*Mg + j (qcnn-method.md: channels [j*dsub, (j+1)*dsub) of group gi) owns
// the contiguous column block [j*dsub*P, (j+1)*dsub*P) of its group. All sums are in double
// (the float inputs and targets are converted; products of floats are exact in double).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "core/graph/network.h"
#include "core/ops/conv.h"
#include "core/tensor.h"
#include "core/util/progress.h"

namespace qcnn {

using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A float weight layer (ConvOp or FcOp) as calibration sees it.
struct CalibLayer {
    LayerKind kind = LayerKind::Fc;
    int64_t in_channels = 0;   // C_s (all groups)
    int64_t out_channels = 0;  // C_t
    int64_t groups = 1;
    ConvParams conv;           // conv only (kernel size, strides, pads, dilation, group)
    std::vector<float> bias;   // C_t values, or empty

    int64_t kernel_size() const { return kind == LayerKind::Conv ? conv.kernel_h * conv.kernel_w : 1; }
    int64_t group_dim() const { return in_channels / groups * kernel_size(); }  // d
};

// Reads a ConvOp or FcOp; throws qcnn::Error naming `layer` for any other op.
CalibLayer calib_layer(const Op& op, const std::string& layer);

struct LayerStats {
    CalibLayer layer;
    int64_t images = 0;  // calibration images accumulated
    int64_t rows = 0;    // calibration rows accumulated (see the top of this file)
    std::vector<Eigen::MatrixXd> gram;  // per group: d x d
    std::vector<RowMatrixXd> cross;     // per group: Cg x d
    std::vector<double> target_sq;      // per group: sum of T'^2
    std::vector<Eigen::VectorXd> input_sum;   // per group: d
    std::vector<Eigen::VectorXd> target_sum;  // per group: Cg
    double response_sq = 0;             // sum of T^2 over all rows and outputs (bias included)

    // Zeroed statistics for `layer`.
    static LayerStats empty(CalibLayer layer);
    // sum over rows of ||T - T_hat||^2 for a dense weight w_hat in the layer's weight layout
    // ({C_t, C_s} or {C_t, C_s/g, kh, kw}), with the layer's bias: the EC objective.
    double objective(const Tensor& w_hat) const;
    // The same with the bias replaced by `bias` (C_t values).
    double objective(const Tensor& w_hat, const std::vector<float>& bias) const;
    // sqrt(objective / response_sq): the relative L2 response error ||T - T_hat|| / ||T|| (0 when
    // the targets are all zero).
    double relative_error(double objective) const;
};

// `count` distinct output positions out of `total` (indices in [0, total), ascending), chosen
// with a seeded partial Fisher-Yates shuffle; all of them when count <= 0 or count >= total.
std::vector<int64_t> sample_positions(int64_t total, int64_t count, uint64_t seed);

// `count` distinct sample indices out of [0, dataset_size) in random order (a seeded partial
// Fisher-Yates shuffle), so that every prefix is itself a random subset: callers pick the
// calibration images with it (Dataset::gather) and pass them to quantize_network, whose conv
// layers use the first images and FC layers more of them. count is clamped to dataset_size.
std::vector<int64_t> calibration_indices(int64_t dataset_size, int64_t count, uint64_t seed);

// Adds one batch to `stats`. input: the layer's input for `n` images ({n, C_s, H, W} for conv,
// {n, ..., C_s} for FC); target: the float layer's output for the same images ({n, C_t, H_t,
// W_t} / {n, ..., C_t}); first_image: index of the batch's first image in the calibration set
// (it seeds the position sampling). Throws qcnn::Error when the shapes do not fit the layer.
// Threads: the Gram updates run as fixed column tiles in parallel, each tile one single-threaded
// GEMM, so the statistics have the same bits for any thread count.
void accumulate_stats(LayerStats& stats, const Tensor& input, const Tensor& target, int64_t first_image,
                      int64_t positions_per_image, uint64_t seed, int threads);

struct CalibrationOptions {
    int64_t images = 0;                // use the first `images` calibration images (0: all)
    int64_t positions_per_image = 64;  // conv: output positions sampled per image (0: all)
    uint64_t seed = 0;                 // position sampling
    int64_t batch = 64;                // images per forward pass (one pass per thread at a time)
    int threads = 1;                   // resolved thread count
};

// Statistics of weight layer `node` over calibration images ({N, ...sample shape}): the
// layer's inputs S_n come from `input_net`, its targets T_n from `target_net`. The two are the
// same network in single-layer EC; in network EC `input_net` has the layers below `node`
// already quantized and `target_net` is the float network. Both must have the same node
// structure up to `node`; `target_net`'s node `node` must be a float ConvOp or FcOp. Only the
// nodes up to `node` run. Forward passes: fixed slices of options.batch images, each on one
// thread, `threads` slices at a time, consumed in image order: the statistics do not depend on
// the thread count. Progress: stage "calibration", layer `label`, done/total in images, after
// every `threads` slices; a false return throws qcnn::Cancelled.
LayerStats capture_layer_stats(const Network& input_net, const Network& target_net, int node, const Tensor& images,
                               const CalibrationOptions& options, const std::string& label,
                               const ProgressFn& progress = {});

// Response errors of every weight layer of a quantized network against its float original,
// over all output positions of the calibration images.
struct LayerResponseError {
    int node = -1;
    std::string name, alias;
    LayerKind kind = LayerKind::Conv;
    bool quantized = false;  // the layer holds a QConvOp / QFcOp in the quantized network
    // ||f_q(S) - f(S)|| / ||f(S)|| with S the float network's input of the layer: the error of
    // this layer alone (0 for a layer left dense).
    double layer_error = 0;
    // ||T_q - T|| / ||T||: the quantized network's output of the layer against the float
    // network's, i.e. the error accumulated by this layer and every layer below it.
    double network_error = 0;
};

// `quantized` must be `reference` with some weight layers replaced (quantize_network's output):
// the same nodes, values and weight layers (checked: qcnn::Error otherwise). images: {N, ...},
// run in slices of `batch` images as capture_layer_stats does (results independent of the thread
// count). Progress: stage "response-error", done/total in images; a false return throws
// qcnn::Cancelled. threads: 0 = all cores.
std::vector<LayerResponseError> response_errors(const Network& reference, const Network& quantized,
                                                const Tensor& images, int64_t batch = 64, int threads = 0,
                                                const ProgressFn& progress = {});

}  // namespace qcnn
