// Error correction (qcnn-method.md section 3): refit a product-quantized layer's codebooks and
// codes to minimise the error of its RESPONSE on calibration inputs instead of its weight error.
//
// Objective (FC and conv alike, from the LayerStats of core/quant/calibration.h):
//     E(D, B) = sum over calibration rows r, outputs c of (T'[r, c] - <W_hat[c, :], X[r, :]>)^2
// where W_hat is the weight decoded from codebooks D and codes B. For conv, a row is an (image,
// output position) pair and X[r, :] its receptive field, so every (n, p_t, p_k) term is pooled
// exactly; output c sums P = kh*kw terms per subspace, one per kernel offset p_k, each with its
// own code k(c, p_k).
//
// Block coordinate descent over the subspaces, initialised from the k-means solution. Visiting
// subspace m (group gi, block of columns o .. o + dsub*P) keeps every other subspace fixed; the
// residual R_m = T' - sum_{m' != m} X_{m'} W_{m'}^T enters only through
//     U_m = X_m^T R_m       (per output c: a dsub*P vector, index l*P + p)
//     Q   = X_m^T X_m       (dsub*P x dsub*P; Q(p, p') is its dsub x dsub block of offsets p, p')
// both read from the Gram statistics without touching the data again. The visit runs:
//
// D step (codes fixed): the codebook D(m) minimising the objective is the solution of the
// normal equations H d = r over the stacked unknowns d = (d_0, ..., d_{K-1}) (K*dsub values):
//     H[k, k'] = sum_c sum_{p: k(c,p)=k} sum_{p': k(c,p')=k'} Q(p, p')      (dsub x dsub blocks)
//     r[k]     = sum_c sum_{p: k(c,p)=k} U_m[c](p)
// For FC (P = 1) H is block-diagonal, H[k, k] = |L_k| Q, and r[k] = sum_{c in L_k} U_m[c]:
// |L_k| Q d_k = sum_{c in L_k} X^T R(:, c), i.e. the least-squares regression of the mean
// residual over L_k, K independent dsub x dsub solves. For conv, an output's offsets may use
// different codewords, which couples them: one joint solve of the used codewords (codewords no
// (c, p) uses keep their values). Solved by Cholesky (LDLT fallback) with a small proximal
// ridge: (H + lambda I) d = r + lambda d_old, lambda = ridge * trace(H) / n. It makes rank-
// deficient systems (dead ReLU channels, constant inputs) solvable and leaves their null-space
// directions at the k-means values instead of pulling them to zero; it never increases the
// objective (E(d) + lambda ||d - d_old||^2 <= E(d_old)). The new codebook is rounded to float
// and kept only if the objective did not increase.
//
// B step (codebook fixed): every output c picks its codes by exhaustive search over K. FC: code
// k(c) = argmin_k d_k^T Q d_k - 2 d_k^T U_m[c], exact. Conv: the P codes of output c are
// updated one offset at a time (p ascending, repeated until none changes, at most
// kMaxCodeSweeps sweeps), each an exact argmin with the other offsets fixed:
//     k(c, p) = argmin_k d_k^T Q(p,p) d_k - 2 d_k^T a,  a = U_m[c](p) - sum_{p' != p} Q(p, p') d_{k(c,p')}
// A code changes only for a strictly lower value (ties keep the current code), so the
// objective never increases. Outputs are independent: parallel over c.
//
// Bias refit (EcOptions::fit_bias; off by default, as the paper keeps the float biases as they
// are): the biases stay float32 and cost the same either way, so they may as well absorb the mean
// of the residual. With the weights fixed, output c's bias shift delta_c minimising the objective
// is the mean over the calibration rows of T'[r, c] - <W_hat[c, :], X[r, :]> (read from the
// first moments of the statistics); the subspace residuals then include -delta. The bias step
// runs before the first sweep and after every sweep, is exact, and keeps a rounded-to-float bias
// only where that does not increase the objective.
//
// All of this runs in double on the statistics. The tracked objective starts from the Gram
// form E = ||T'||^2 - 2 <W, X^T T'> + <W, W X^T X> and then moves by each step's own computed
// change (never positive), so the recorded sequence is non-increasing exactly; it equals the
// Gram-form objective of the current weights up to rounding (about 1e-15 x ||T'||^2, the
// cancellation in that formula), which tests check.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/quant/calibration.h"
#include "core/quant/product_quantizer.h"
#include "core/util/progress.h"

namespace qcnn {

inline constexpr int kMaxCodeSweeps = 8;

struct EcOptions {
    int iterations = 6;   // sweeps over all subspaces (each subspace visit: one D step, one B step)
    double tol = 1e-5;    // stop after a sweep lowering the objective by less than tol x its value
                          // before the sweep; 0: run every sweep
    double ridge = 1e-6;  // proximal weight of the D step relative to trace(H) / n (> 0)
    bool fit_bias = false;  // also refit every output's float bias (see the top of this file)
    int threads = 1;      // resolved thread count; the result does not depend on it
};

struct EcResult {
    PQWeights weights;
    std::vector<float> bias;  // the layer's bias after EC (refit with fit_bias, else unchanged)
    // objective[0]: the initial (k-means) objective; then one value after every step, in order:
    // with fit_bias the first bias step; then per sweep the D and B step of every subspace
    // visit and, with fit_bias, the sweep's bias step. Non-increasing.
    std::vector<double> objective;
    int iterations = 0;         // sweeps run
    int64_t code_changes = 0;   // codes changed by the B steps, summed
    double error_before = 0;    // relative response error ||T - T_hat|| / ||T||, initial weights
    double error_after = 0;     // the same after error correction
    double seconds = 0;
};

// The block coordinate descent state of one layer. Steps can be run one by one (tests, or a
// caller with its own schedule); error_correct() runs the standard schedule.
class EcSolver {
public:
    // init: the layer's product-quantized weights (k-means), geometry matching stats.layer.
    // Throws qcnn::Error naming `layer` when they do not fit. ridge > 0. `stats` is referenced,
    // not copied: it must outlive the solver.
    EcSolver(const LayerStats& stats, PQWeights init, double ridge, int threads, std::string layer = {},
             bool fit_bias = false);

    int64_t subspaces() const { return geo_.subspaces(); }
    // Current objective E(D, B) (sum of squared response errors over the calibration rows), as
    // tracked through the steps (see the top of this file).
    double objective() const { return obj_; }
    // One D step / B step on subspace m; each returns the objective after it. b_step adds the
    // number of changed codes to *changes when given.
    double d_step(int64_t m);
    double b_step(int64_t m, int64_t* changes = nullptr);
    // The bias step (fit_bias only, asserted); returns the objective after it.
    double bias_step();
    // Current codebooks and codes.
    PQWeights weights() const;
    // Current bias: the layer's own, or with fit_bias its refit values (C_t floats).
    std::vector<float> bias() const;

private:
    struct Subspace;  // the per-visit quantities of one subspace (U_m, Q, codewords in double)
    Subspace prepare(int64_t m) const;
    RowMatrixXd block_weight(int64_t m) const;   // W_m: Cg x dsub*P from codebook and codes
    void apply_block(int64_t m, const RowMatrixXd& w_new);
    double recompute_objective() const;

    const LayerStats& stats_;
    PQGeometry geo_;
    std::vector<float> codebooks_;      // M x K x dsub
    std::vector<uint8_t> codes_;        // C_t x P x Mg
    std::vector<RowMatrixXd> w_, wa_;   // per group: W (Cg x d) and W * gram (Cg x d)
    double ridge_;
    int threads_;
    std::string layer_;
    bool fit_bias_;
    Eigen::VectorXd delta_;  // C_t bias shifts (exact differences of the float biases)
    double obj_ = 0;
};

// Runs `options.iterations` sweeps (stopping early by options.tol) from `init`. Progress: stage
// "error-correction", layer `layer`, done/total in subspace visits; a false return throws
// qcnn::Cancelled.
EcResult error_correct(const LayerStats& stats, PQWeights init, const EcOptions& options,
                       const std::string& layer = {}, const ProgressFn& progress = {});

}  // namespace qcnn
