// Backward passes of the graph's operators (issue 19 section 1): one registry, keyed by what an
// op is (not by its type string alone: a dense FC from Gemm and a general GemmOp both say
// "Gemm"), that gives per op kind
//   - its trainable parameters (named tensors in the op's own layouts) and how to rebuild the
//     op from new parameter values (ops are immutable, core/graph/op.h);
//   - its backward function: given the forward inputs and outputs and dL/d(outputs), it
//     ACCUMULATES dL/d(inputs) and dL/d(parameters) (+=, never overwrites), so a value read by
//     several nodes (a residual Add) sums the contributions of all of them.
// The list of supported kinds, the refusal message for an op without one and the parameter
// list all read this registry (backward_entry(), backward_supported_list()).
//
// Parameters per op (row-major):
//   Conv      weight {C_t, C_s/g, kh, kw}, bias {C_t} (when the layer has one)
//   FC        weight {C_t, C_s}, bias {C_t} (when present)        (Gemm / MatMul by a constant)
//   QConv/QFc codebooks {M, K, dsub}, bias {C_t} (when present); the codes are fixed:
//             dL/d codeword(m, k) = sum of dL/dW over the sub-vectors whose code is k.
//             A training loop that re-assigns codes (TrainableNetwork with latent codes) also
//             asks for dL/dW itself (BackwardArgs::grad_weight, the straight-through gradient
//             of the layer's dense latent weight) and rebuilds with rebuild_quantized().
//   BatchNormalization (inference form y = x scale[c] + shift[c]): scale {C}, shift {C}
// Threads: ExecContext::threads, static partitions whose partial sums are added in a fixed
// order, so results are deterministic for a given thread count.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/graph/op.h"
#include "core/quant/product_quantizer.h"

namespace qcnn {

struct BackwardArgs {
    const std::vector<const Tensor*>& in;          // forward float inputs (nullptr: int64 / omitted)
    const std::vector<const ValueInfo*>& in_info;  // plan-time infos (nullptr: omitted)
    const std::vector<const Tensor*>& out;         // forward outputs
    const std::vector<const Tensor*>& grad_out;    // dL/d out, shaped like out (never nullptr)
    const std::vector<Tensor*>& grad_in;           // dL/d in, += ; nullptr: not wanted
    const std::vector<Tensor*>& grad_params;       // dL/d params in params() order, += ; nullptr: frozen
    const ExecContext& ctx;
    // Quantized layers only: dL/dW of the decoded weight W_hat (weight layout), += ; nullptr: not
    // wanted. Other ops ignore it.
    Tensor* grad_weight;
};

// What a parameter is, so a training loop can choose which to train (codebooks, biases,
// BatchNorm, dense weights of layers left float). Codes: the dense latent weight of a quantized
// layer whose nearest codewords are its codes (not an op parameter: TrainableNetwork adds it).
enum class ParamRole { Weight, Codebooks, Bias, BnScale, BnShift, Codes };
const char* param_role_name(ParamRole r);  // "weight", "codebooks", "bias", "scale", "shift", "codes"

struct NamedParam {
    ParamRole role;
    Tensor value;
};

struct BackwardEntry {
    std::string name;                             // "Conv", "Relu", ... (messages, docs)
    std::function<bool(const Op&)> accepts;
    std::function<void(const Op&, const BackwardArgs&)> backward;
    // Ops with parameters: their current values, and the op rebuilt from new values (same
    // order and shapes). Both empty for ops without parameters.
    std::function<std::vector<NamedParam>(const Op&)> params;
    std::function<OpPtr(const Op&, const std::vector<Tensor>&)> rebuild;
};

const std::vector<BackwardEntry>& backward_registry();
// The entry for op, or nullptr when the op has no backward pass.
const BackwardEntry* backward_entry(const Op& op);
// "Conv, QConv, Gemm, ..." for messages and docs.
std::string backward_supported_list();

// Code re-assignment (straight-through training of the codes): per sub-vector of `latent` (the
// dense weight layout of q.geo), the index of the nearest codeword of its subspace in q's
// codebooks by squared Euclidean distance, ties to the lower index; C_t x P x Mg codes as
// PQWeights::unpacked_codes() orders them. Throws qcnn::Error on a shape mismatch.
std::vector<uint8_t> nearest_codes(const PQWeights& q, const Tensor& latent);
// A quantized layer (QConv/QFc) rebuilt from its parameter values in params() order (codebooks
// {M, K, dsub}, then the bias when it has one): the registry's rebuild, with the codes re-assigned
// to the codewords nearest `latent` when given, kept otherwise.
OpPtr rebuild_quantized(const Op& op, const std::vector<Tensor>& values, const Tensor* latent);

// The pieces the registry is made of, public for the tests and for reuse.
// Dense conv backward via im2col GEMM: dx += conv^T(dy), dw += dy * cols^T, db += sum dy.
// Any of dx, dw, db may be nullptr. x {N, C_s, H, W}, w {C_t, C_s/g, kh, kw}, dy {N, C_t, OH, OW}.
struct ConvParams;
void conv_backward(const Tensor& x, const ConvParams& p, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor* dw,
                   Tensor* db, int threads);
// FC backward: x {..., C_s}, w {C_t, C_s}, dy {..., C_t}; dx += dy w, dw += dy^T x, db += sum dy.
void fc_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor* dw, Tensor* db, int threads);

// Softmax cross-entropy averaged over the batch: logits {N, C}, labels N values in [0, C).
// Returns the loss; when dlogits is given it is set (not accumulated) to dL/dlogits.
// Throws qcnn::Error naming the sample when a label is out of range.
double softmax_cross_entropy(const Tensor& logits, const std::vector<int>& labels, Tensor* dlogits);

// Knowledge distillation (Hinton et al. 2015) against a teacher's logits, averaged over the batch:
//   L = T^2 * mean_i KL(softmax(t_i / T) || softmax(z_i / T)),  dL/dz_i = T (softmax(z_i/T) - softmax(t_i/T)) / N
// logits z and teacher t {N, C}, temperature T > 0. The T^2 factor keeps the gradient's scale
// independent of T, so one learning rate serves every temperature. L >= 0, and 0 exactly when the
// two distributions agree. When dlogits is given it is set (not accumulated). Throws qcnn::Error on
// a shape mismatch or a temperature that is not a finite number > 0.
double softmax_distillation(const Tensor& logits, const Tensor& teacher, double temperature, Tensor* dlogits);

}  // namespace qcnn
