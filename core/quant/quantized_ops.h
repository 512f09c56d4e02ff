// Quantized weight layers: the paper's test-phase computation with float lookup tables
// (qcnn-method.md sections 1-2). This is the REFERENCE path: plain loops, OpenMP over
// samples or positions; faster kernels are tested against it.
//
// Op types: QFcOp::type() is "QFc" and QConvOp::type() is "QConv" (the project's own op
// types, as core/graph/op.h lists them), so code that dispatches on "Conv"/"Gemm" and
// casts to ConvOp/FcOp never meets a quantized op by surprise. source_type() keeps the
// ONNX type the layer came from ("Conv", "Gemm", "MatMul"); as_weight_layer() reports the
// kind (Conv/Fc) and geometry exactly like the float ops (with the PQ store in place of the
// dense weight), so aliases and weight-layer lists are shared. Code outside the ops makes and
// swaps these layers through core/quant/weight_layer_factory.h, not their constructors.
//
// Buffers (per sample, float32):
//   FC   LUT {M, K}:          LUT[m][k] = <x[m*dsub : (m+1)*dsub], D(m)_k>
//        y[c] = bias[c] + sum_m LUT[m][code(c, m)]                      (m ascending)
//   Conv LUT {H*W, M, K}:     LUT[p_s][m][k] = <x[m*dsub : (m+1)*dsub, p_s], D(m)_k>
//        y[c, p_t] = bias[c] + sum over kernel offsets p_k = (ki, kj) in row-major order
//        whose input position p_s = (oy*s_h - pad_top + ki*d_h, ox*s_w - pad_left + kj*d_w)
//        lies inside the input (zero padding = skipped), sum over j < Mg of
//        LUT[p_s][gi*Mg + j][code(c, p_k, j)]            (gi = group of output c)
// Each output is accumulated in float in this fixed order, so results do not depend on the
// thread count.
//
// Weights are held once, in the fast kernel's store (FastFc / FastConv: codes in the scan's
// layout, 4-bit nibbles for K <= 16; codebooks as M x dsub x Kp rows; the bias): the float
// reference path above reads the same store, pq() rebuilds a PQWeights from it on demand, and
// weight_bytes_held() is what the op keeps for its weights.
//
// With ExecContext::lut_kernel == Fast (the default) run() uses core/kernels' FastFc /
// FastConv instead: integer tables (8-bit entries for K <= 16, 16-bit entries for K > 16,
// LutPrecision::Auto), output error at most (terms) * 0.5 / scale (core/kernels/lut_tables.h);
// Reference selects the float path above. Whether a layer is faster quantized than dense at
// all is decided per layer by core/eval/kernel_choice.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <memory>
#include <span>

#include "core/graph/op.h"
#include "core/kernels/fast_conv.h"
#include "core/kernels/fast_fc.h"
#include "core/ops/conv.h"
#include "core/quant/product_quantizer.h"

namespace qcnn {

class QFcOp : public Op {
public:
    // w.geo.kind must be Fc; throws qcnn::Error if w is inconsistent or the bias length
    // differs from C_t. w is read into the store and not kept.
    QFcOp(const PQWeights& w, std::span<const float> bias, std::string source_type = "Gemm");
    // Straight from stored parts (a model file's payload): codebooks M x K x dsub, codes
    // C_t x M (packed or not). Errors are prefixed by `what`.
    QFcOp(const PQGeometry& geo, std::span<const float> codebooks, CodeView codes, std::span<const float> bias,
          std::string source_type = "Gemm", const std::string& what = "QFc weight");

    std::string type() const override { return "QFc"; }
    // Input {..., C_s} (rank >= 2) -> {..., C_t}, like FcOp.
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    // Codebook floats + codes + bias values.
    int64_t params() const override;
    // Per sample row: C_s*K (LUT) + C_t*M (lookup-adds).
    int64_t flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const override;
    std::optional<WeightLayer> as_weight_layer() const override;  // kind Fc, PQ store
    std::string describe() const override;

    const PQGeometry& geometry() const { return geo_; }
    // The codebooks and packed codes, rebuilt from the store (a copy; for saving and tests).
    PQWeights pq() const;
    std::vector<float> bias() const;  // C_t values, or empty (a copy)
    const std::string& source_type() const { return source_type_; }
    const FastFc& store() const { return *fast_; }
    // Bytes this op holds for its weights: the store's codes, codebook rows and bias.
    int64_t weight_bytes_held() const { return fast_->weight_bytes(); }

private:
    PQGeometry geo_;
    std::string source_type_;
    std::shared_ptr<const FastFc> fast_;  // the weight store and the SIMD path
};

class QConvOp : public Op {
public:
    // w.geo.kind must be Conv and agree with p (group); p's kernel size is taken from w.
    // Throws qcnn::Error on inconsistent weights, parameters or bias length.
    // w is read into the store and not kept.
    QConvOp(ConvParams p, const PQWeights& w, std::span<const float> bias);
    // Straight from stored parts (a model file's payload): codebooks M x K x dsub, codes
    // C_t x P x Mg (packed or not). Errors are prefixed by `what`.
    QConvOp(ConvParams p, const PQGeometry& geo, std::span<const float> codebooks, CodeView codes,
            std::span<const float> bias, const std::string& what = "QConv weight");

    std::string type() const override { return "QConv"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    // The 2x2 max pool of its activated output (RunArgs::max_pool2): inside the fast kernel's
    // tiles (FastConv::run_max_pool2); the float reference tables pool the whole map after it.
    bool applies_max_pool2(const std::vector<const ValueInfo*>& in) const override {
        return !in.empty() && in[0] && in[0]->shape.size() == 4;
    }
    // Codebook floats + codes + bias values.
    int64_t params() const override;
    // Per sample: H*W*C_s*K (LUT) + H_t*W_t*C_t*kh*kw*Mg (lookup-adds).
    int64_t flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const override;
    std::optional<WeightLayer> as_weight_layer() const override;  // kind Conv, PQ store
    std::string describe() const override;

    const ConvParams& conv_params() const { return p_; }
    const PQGeometry& geometry() const { return geo_; }
    // The codebooks and packed codes, rebuilt from the store (a copy; for saving and tests).
    PQWeights pq() const;
    std::vector<float> bias() const;  // C_t values, or empty (a copy)
    std::string source_type() const { return "Conv"; }
    const FastConv& store() const { return *fast_; }
    // Bytes this op holds for its weights: the store's codes, codebook rows and bias.
    int64_t weight_bytes_held() const { return fast_->weight_bytes(); }

private:
    ConvParams p_;
    PQGeometry geo_;
    std::shared_ptr<const FastConv> fast_;  // the weight store and the SIMD path
};

}  // namespace qcnn
