// Product quantization of a whole network: every weight layer whose resolved setting is
// "C_s'/K" gets its weight product-quantized by k-means and its node's op replaced by a
// QConvOp / QFcOp; every other node shares the original op.
//
// Error correction (qcnn-method.md section 3, core/quant/error_correction.h) then refits each
// quantized layer's codebooks and codes to the layer's response on calibration images:
//   EcMode::Layer    each layer on its own: inputs S_n and targets T_n from the float network.
//   EcMode::Network  bottom-up: layer l's inputs come from the network whose layers below l are
//                    already quantized (and corrected), its targets from the float network, so
//                    it learns to cancel the error accumulated below it.
//                    (The layers below run as dense layers with their decoded weights W_hat:
//                    the quantized function, up to float rounding, on the fast dense kernels.)
// Calibration images are passed in as one tensor {N, ...sample shape}, already preprocessed;
// pick them with calibration_indices() (core/quant/calibration.h) from the training split, never
// the evaluation set unless asked. Conv layers use the first min(N, ec_conv_images) of them and
// ec_positions sampled output positions per image; FC layers the first min(N, ec_fc_images).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/graph/network.h"
#include "core/quant/settings.h"
#include "core/tensor.h"
#include "core/util/progress.h"

namespace qcnn {

enum class EcMode { None, Layer, Network };

// "none", "layer", "network": the one spelling shared by the CLI (--ec), the GUI and sweep files.
std::string to_string(EcMode mode);
// Parses the spelling above; throws qcnn::Error quoting the text and listing the valid values.
EcMode parse_ec_mode(const std::string& text);

struct QuantizeOptions {
    uint64_t seed = 0;      // layer i (position in Network::weight_layers()) uses derive_seed(seed, i)
    int threads = 0;        // 0: all cores; does not change the result
    int max_iter = 25;      // k-means iterations per subspace
    double tol = 0.0;       // k-means relative-decrease tolerance (0: run max_iter)
    int64_t max_train = 0;  // > 0: k-means trains on at most this many sub-vectors per subspace

    // Error correction (needs calibration images, see the top of this file). Defaults at the
    // paper's scale, bounded by the images given: it used ~250-500 images per conv layer with
    // every output position and ~25,000 per FC layer; sampling 64 of a conv layer's positions
    // per image, 1000 images give 64,000 rows (rows are what the Gram statistics cost, image
    // diversity is what generalises). On the bundled VGG-7 these settings keep network EC within
    // 1 pp of the float top-1 at 15.9x compression / 4.9x speed-up (bench/ec_table).
    EcMode ec = EcMode::None;
    int64_t ec_conv_images = 1000;  // calibration images per conv layer
    int64_t ec_fc_images = 20000;   // calibration images per FC layer
    int64_t ec_positions = 64;      // conv: output positions per image, seeded subset (0: all);
                                    // layer i's subset of image n uses derive_seed(derive_seed(
                                    // derive_seed(seed, i), kEcPositionStream), n)
    int ec_iterations = 6;          // sweeps over the subspaces (EcOptions::iterations)
    double ec_tol = 1e-5;           // EcOptions::tol
    bool ec_bias = false;           // EcOptions::fit_bias: also refit the float biases (not in
                                    // the paper, which keeps them)
    int64_t ec_batch = 64;          // calibration images per forward pass (per thread)
};

inline constexpr uint64_t kEcPositionStream = 0x4543'5f50'4f53'0000ULL;  // "EC_POS"

struct LayerQuantInfo {
    int node = -1;
    std::string name, alias;
    LayerKind kind = LayerKind::Conv;
    QuantSetting setting;   // applied setting (dense: layer unchanged)
    std::string note;       // from resolve_settings
    bool quantized = false; // quantized by this call
    double weight_mse = 0;            // mean (W - W_hat)^2 over the layer's weights (final W_hat)
    double weight_mean_square = 0;    // mean W^2 (weight_mse / this = relative error)
    int64_t kmeans_iterations = 0;    // summed over subspaces
    double seconds = 0;               // k-means wall time

    // Error correction (EcMode Layer / Network); false / zero / empty otherwise.
    bool error_corrected = false;
    int64_t calibration_images = 0;   // images the layer was calibrated on
    int64_t calibration_rows = 0;     // rows: images (FC) or sampled (image, position) pairs (conv)
    // Relative response error ||T - T_hat|| / ||T|| of the layer on its calibration rows (inputs
    // as the EC mode defines them), with the k-means weights and after error correction.
    double response_error_before = 0;
    double response_error_after = 0;
    int ec_iterations = 0;             // sweeps run
    int64_t ec_code_changes = 0;
    std::vector<double> ec_objective;  // EcResult::objective
    double ec_seconds = 0;             // calibration + error correction wall time
};

struct QuantizedNetwork {
    Network network;                   // copy of the input; quantized nodes hold QConvOp/QFcOp
    std::vector<LayerQuantInfo> layers;  // one per resolved layer, in network order
};

// `resolved` must come from resolve_settings(net, ...) (checked: qcnn::Error otherwise).
// Progress: stage "quantize" per layer (done/total = quantized layers), then stage "kmeans"
// per k-means iteration inside a layer, and with error correction stage "calibration" (done/
// total in images) and "error-correction" (subspace visits) per layer; a false return throws
// qcnn::Cancelled. Without calibration images opt.ec must be EcMode::None (qcnn::Error
// otherwise).
QuantizedNetwork quantize_network(const Network& net, const ResolvedSettings& resolved, const QuantizeOptions& opt,
                                  const ProgressFn& progress = {});
// The same with calibration images {N, ...sample shape} for error correction (unused when
// opt.ec is EcMode::None).
QuantizedNetwork quantize_network(const Network& net, const ResolvedSettings& resolved, const QuantizeOptions& opt,
                                  const Tensor& calibration, const ProgressFn& progress = {});

}  // namespace qcnn
