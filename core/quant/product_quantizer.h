// Product quantization of FC and conv weights (Q-CNN, qcnn-method.md sections 1-2).
//
// A weight is viewed as {C_t, C_s/g, P} with P = kh*kw kernel offsets (FC: g = 1, P = 1):
//   FC   weight {C_t, C_s}           (row c = output c, core/ops/fc.h)
//   Conv weight {C_t, C_s/g, kh, kw} (core/ops/conv.h)
// The input channels of each group are split into Mg = (C_s/g) / dsub contiguous subspaces
// of dsub = C_s' channels; M = g * Mg subspaces in all. Subspace m = gi*Mg + j covers the
// global input channels [m*dsub, (m+1)*dsub) (those of group gi). Its training set is the
// (C_t/g) * P sub-vectors W[c, j*dsub : (j+1)*dsub, p] of the group's outputs c and every
// offset p (row order: c, then p), clustered by k-means into K codewords.
//
// Storage:
//   codebooks: M x K x dsub floats, row-major (codebooks[(m*K + k)*dsub + l]).
//   codes:     C_t x P x Mg indices, row-major; code (c, p, j) selects a codeword of
//              subspace (c / (C_t/g)) * Mg + j. Stored packed at code_bits(K) bits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/graph/op.h"
#include "core/quant/bitpack.h"
#include "core/tensor.h"
#include "core/util/progress.h"

namespace qcnn {

// A quantization setting "C_s'/K".
struct PQConfig {
    int64_t dsub = 0;  // C_s': input channels per subspace, >= 1
    int64_t K = 0;     // codewords per subspace, 2..256
    bool operator==(const PQConfig&) const = default;
};

inline constexpr int64_t kMinCodewords = 2;
inline constexpr int64_t kMaxCodewords = 256;

struct PQGeometry {
    LayerKind kind = LayerKind::Fc;
    int64_t out_channels = 0;  // C_t
    int64_t in_channels = 0;   // C_s, all groups
    int64_t groups = 1;        // g (1 for FC)
    int64_t kernel_h = 1, kernel_w = 1;
    int64_t dsub = 0;          // C_s'
    int64_t K = 0;

    int64_t kernel_size() const { return kernel_h * kernel_w; }                      // P
    int64_t channels_per_group() const { return in_channels / groups; }              // C_s/g
    int64_t outputs_per_group() const { return out_channels / groups; }              // C_t/g
    int64_t subspaces_per_group() const { return channels_per_group() / dsub; }      // Mg
    int64_t subspaces() const { return in_channels / dsub; }                         // M
    int64_t vectors_per_subspace() const { return outputs_per_group() * kernel_size(); }
    int64_t num_codes() const { return out_channels * kernel_size() * subspaces_per_group(); }
    int bits() const { return code_bits(K); }
    // The dense weight's shape: {C_t, C_s} (FC) or {C_t, C_s/g, kh, kw} (conv).
    Shape weight_shape() const;
    std::string config_string() const;  // "C_s'/K", e.g. "8/128"
    bool operator==(const PQGeometry&) const = default;
};

// Valid C_s' values for a layer with this many input channels per group (its divisors).
std::vector<int64_t> valid_dsub(int64_t channels_per_group);
// "1, 2, 4, 8" for messages.
std::string valid_dsub_list(int64_t channels_per_group);

// Geometry for a weight of `weight_shape` ({C_t, C_s} for Fc, {C_t, C_s/g, kh, kw} for Conv).
// Throws qcnn::Error naming `layer` when cfg does not fit: K outside 2..256, or C_s' not a
// divisor of the input channels per group (the message lists the valid C_s' values).
PQGeometry pq_geometry(LayerKind kind, const Shape& weight_shape, int64_t groups, PQConfig cfg,
                       const std::string& layer);
// Why cfg does not fit such a weight ("C_s' = 8 does not divide its 3 input channels; valid
// C_s' values: 1, 3"), or "" when it fits.
std::string pq_fit_problem(LayerKind kind, const Shape& weight_shape, int64_t groups, PQConfig cfg);

struct PQWeights {
    PQGeometry geo;
    std::vector<float> codebooks;  // M x K x dsub, row-major
    PackedCodes codes;             // C_t x P x Mg, packed at geo.bits() bits

    // Throws qcnn::Error (prefixed by `what`) when sizes disagree with geo or a code >= K.
    void validate(const std::string& what) const;
    // The unpacked code view: C_t x P x Mg bytes.
    std::vector<uint8_t> unpacked_codes() const;
    // W_hat in the dense weight layout (geo.weight_shape()).
    Tensor decode() const;
    // Pointer to codeword k of subspace m (dsub floats).
    const float* codeword(int64_t m, int64_t k) const { return codebooks.data() + (m * geo.K + k) * geo.dsub; }
};

struct PQTrainOptions {
    int max_iter = 25;      // k-means iterations per subspace
    double tol = 0.0;       // k-means relative-decrease tolerance (0: run max_iter)
    int64_t max_train = 0;  // > 0: subsample each subspace's training set to this many vectors
    uint64_t seed = 0;      // subspace m uses derive_seed(seed, m)
    int threads = 1;        // does not change the result
    int restarts = 0;       // k-means runs per subspace, best kept (0: pq_restarts(vectors, K))
};

// Restarts for a subspace of `vectors` training vectors and K codewords: small training sets
// land in poor local minima from one seed and restarts cost next to nothing there, so runs
// fill a budget of vectors x K x runs = 2^18, between 1 and 16 runs.
int pq_restarts(int64_t vectors, int64_t K);

struct PQTrainStats {
    double mse = 0;              // mean over weight elements of (W - W_hat)^2
    double weight_mean_square = 0;  // mean of W^2 (mse / this = relative error)
    int64_t iterations = 0;      // k-means iterations summed over subspaces
    double seconds = 0;          // wall time of the training (without computing these stats)
};

// Product-quantizes a dense weight. Progress: stage "kmeans", layer `layer`, done/total in
// k-means iterations over all subspaces; cancellation throws qcnn::Cancelled. Throws
// qcnn::Error for a config that does not fit (see pq_geometry) or non-finite weights.
// Threads: subspaces run in parallel when there are at least as many as threads, otherwise
// k-means parallelises its assignment step; the result is the same for any thread count.
PQWeights train_pq(const Tensor& weight, LayerKind kind, int64_t groups, PQConfig cfg, const PQTrainOptions& opt,
                   const std::string& layer = {}, const ProgressFn& progress = {}, PQTrainStats* stats = nullptr);

// The training matrix of subspace m ((C_t/g)*P rows x dsub), as train_pq builds it.
RowMatrixXf pq_training_set(const Tensor& weight, const PQGeometry& geo, int64_t m);

}  // namespace qcnn
