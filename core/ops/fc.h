// Fully-connected layer: y = x W^T + b (ONNX Gemm with a constant B, or MatMul by a
// constant matrix). x: {N, C_s}; weight: {C_t, C_s} row-major; bias: {C_t} or empty.
// fc_reference() is the plain loop twin.
#pragma once

#include "core/graph/op.h"

namespace qcnn {

class FcOp : public Op {
public:
    // source_type: the ONNX op it came from ("Gemm" or "MatMul"), for display only.
    FcOp(Tensor weight, std::vector<float> bias, std::string source_type = "Gemm");

    std::string type() const override { return source_type_; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    bool applies_post_op() const override { return true; }  // RunArgs::post, per output block
    int64_t params() const override;
    int64_t flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const override;
    std::optional<WeightLayer> as_weight_layer() const override;  // kind Fc, dense weight
    std::string describe() const override;

    const Tensor& weight() const { return w_; }
    const std::vector<float>& bias() const { return b_; }
    int64_t in_features() const { return w_.shape[1]; }
    int64_t out_features() const { return w_.shape[0]; }

private:
    Tensor w_;
    std::vector<float> b_;
    std::string source_type_;
};

Tensor fc_reference(const Tensor& x, const Tensor& weight, const std::vector<float>& bias);

}  // namespace qcnn
