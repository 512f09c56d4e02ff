// 2-D convolution (ONNX Conv), NCHW.
// weight: {C_t, C_s/group, k_h, k_w} row-major (ONNX/PyTorch layout); bias: {C_t} or empty.
// Dense path: im2col per group + Eigen GEMM, threads over the batch (batch > 1) or inside
// the GEMM (batch 1). conv_reference() is the plain loop nest it is tested against.
#pragma once

#include <array>

#include "core/graph/op.h"

namespace qcnn {

struct ConvParams {
    int64_t kernel_h = 1, kernel_w = 1;
    int64_t stride_h = 1, stride_w = 1;
    int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
    int64_t dilation_h = 1, dilation_w = 1;
    int64_t group = 1;
    // ONNX auto_pad: "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID". Resolved per input size.
    std::string auto_pad = "NOTSET";

    // Output spatial size for an input size; resolves auto_pad into the pads it returns.
    // Throws qcnn::Error when the kernel does not fit.
    std::array<int64_t, 2> output_hw(int64_t in_h, int64_t in_w, ConvParams* resolved = nullptr) const;
    std::string describe() const;
};

class ConvOp : public Op {
public:
    // Throws qcnn::Error if shapes do not fit (bias length, C_t divisible by group, ...).
    ConvOp(ConvParams p, Tensor weight, std::vector<float> bias);

    std::string type() const override { return "Conv"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    int64_t params() const override;
    int64_t flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const override;
    bool weight_layer(LayerKind* kind) const override;
    std::string describe() const override;

    const ConvParams& conv_params() const { return p_; }
    const Tensor& weight() const { return w_; }
    const std::vector<float>& bias() const { return b_; }
    int64_t in_channels() const { return w_.shape[1] * p_.group; }
    int64_t out_channels() const { return w_.shape[0]; }

private:
    ConvParams p_;
    Tensor w_;
    std::vector<float> b_;
};

// Plain loop-nest convolution: the reference twin of ConvOp::run. x: {N,C_s,H,W}.
Tensor conv_reference(const Tensor& x, const ConvParams& p, const Tensor& weight,
                      const std::vector<float>& bias);

// Checks a conv input against the weights and returns the output shape.
Shape conv_output_shape(const Shape& x, const ConvParams& p, const Shape& weight_shape);

}  // namespace qcnn
