// One view of a weight layer: what Q-CNN quantizes (conv and fully-connected layers, float or
// product-quantized), read through Op::as_weight_layer() instead of casts to the op classes.
//
// The view points into its op (ops are immutable, so it stays valid while the op lives) and
// copies nothing heavy. Which ops return one: ConvOp (incl. grouped and depthwise), FcOp (from
// Gemm or MatMul by a constant), QConvOp, QFcOp. Ops are made from views, dense <-> quantized,
// by one factory: core/quant/weight_layer_factory.h.
//
// Field layouts (row-major):
//   weight   dense only: conv {C_t, C_s/groups, k_h, k_w}, FC {C_t, C_s}
//   pq       quantized only: the geometry (M, K, dsub, groups, kernel)
//   codes    quantized only: C_t x P x Mg codes in the LUT scan's layout (lut_scan::CodeStore,
//            core/kernels/scan.h; unpack() gives the bytes), P = k_h*k_w, Mg sub-spaces per group
//   codebook_rows  quantized only: the codebooks as M x dsub x Kp floats (Kp = K padded for the
//            scan, codebook_kp); pq_weights() (the factory) rebuilds M x K x dsub codebooks
//   bias     C_t values, or empty (a layer without bias)
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/tensor.h"

namespace qcnn {

// Layers whose weights Q-CNN quantizes.
enum class LayerKind { Conv, Fc };

struct ConvParams;  // core/ops/conv.h
struct PQGeometry;  // core/quant/product_quantizer.h
namespace lut_scan {
class CodeStore;  // core/kernels/scan.h
}

struct WeightLayer {
    LayerKind kind = LayerKind::Conv;
    std::string source_type;       // the ONNX op it came from: "Conv", "Gemm" or "MatMul"
    int64_t in_channels = 0;       // C_s (all groups)
    int64_t out_channels = 0;      // C_t
    int64_t groups = 1;            // conv groups; 1 for FC
    int64_t kernel_h = 1, kernel_w = 1;  // conv kernel; 1 x 1 for FC
    const ConvParams* conv = nullptr;    // conv: kernel, strides, pads, dilations, group; FC: nullptr

    const Tensor* weight = nullptr;      // dense layers

    const PQGeometry* pq = nullptr;      // quantized layers (with codes and codebook rows)
    const lut_scan::CodeStore* codes = nullptr;
    const float* codebook_rows = nullptr;
    int64_t codebook_kp = 0;

    std::span<const float> bias;

    bool quantized() const { return pq != nullptr; }
    // An FC layer imported from MatMul by a constant matrix (no Gemm attributes; kept on save).
    bool from_matmul() const { return kind == LayerKind::Fc && source_type == "MatMul"; }
    bool grouped() const { return groups > 1; }
    // A grouped conv with one input channel per group.
    bool depthwise() const { return kind == LayerKind::Conv && groups > 1 && in_channels == groups; }
    int64_t group_in_channels() const { return in_channels / groups; }  // C_s / groups
    // The dense weight's shape (for a quantized layer: the shape its codes decode to).
    Shape weight_shape() const {
        return kind == LayerKind::Conv ? Shape{out_channels, in_channels / groups, kernel_h, kernel_w}
                                       : Shape{out_channels, in_channels};
    }
};

}  // namespace qcnn
