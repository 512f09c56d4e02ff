// LayerNormalization (ONNX opset 17; the importer also fuses PyTorch's opset < 17 export,
// ReduceMean / Sub / Pow / ReduceMean / Add / Sqrt / Div [/ Mul / Add], into it).
//   X of rank r, axis a (negative counts from the end): each row of X viewed as
//   {prod(shape[:a]), prod(shape[a:])} is normalised on its own:
//     mean = sum(x) / n, var = sum((x - mean)^2) / n, inv = 1 / sqrt(var + epsilon)
//     y = (x - mean) * inv * scale + bias
//   scale and bias are constants with prod(shape[a:]) elements (any leading 1s) or one value;
//   bias may be absent. Optional outputs 1 (Mean) and 2 (InvStdDev) have shape
//   shape[:a] + [1] * (r - a).
// The kernel makes two passes over each row with double accumulators, threaded over rows;
// layer_norm_reference() is the plain twin in double precision.
#pragma once

#include "core/graph/op.h"

namespace qcnn {

class LayerNormOp : public Op {
public:
    // Throws qcnn::Error when bias and scale differ in size, epsilon is negative or not finite.
    LayerNormOp(int64_t axis, float epsilon, Tensor scale, std::vector<float> bias, int outputs = 1);
    std::string type() const override { return "LayerNormalization"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;

    int64_t axis() const { return axis_; }
    float epsilon() const { return eps_; }
    const Tensor& scale() const { return scale_; }
    const std::vector<float>& bias() const { return bias_; }

private:
    int64_t axis_;
    float eps_;
    Tensor scale_;
    std::vector<float> bias_;
    int outputs_;
};

// Plain twin: returns Y; Mean and InvStdDev when the pointers are given.
Tensor layer_norm_reference(const Tensor& x, int64_t axis, float epsilon, const Tensor& scale,
                            const std::vector<float>& bias, Tensor* mean = nullptr, Tensor* inv_std = nullptr);

}  // namespace qcnn
