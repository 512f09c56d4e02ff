// General matrix products whose second operand is not a constant weight (constant-weight
// Gemm/MatMul become FcOp in the importer).
//   MatMulOp: numpy matmul. A {..., M, K}, B {..., K, N} -> {..., M, N}; batch dimensions
//     broadcast; a 1-D A is {K} -> row, a 1-D B is {K} -> column, and the added axis is
//     removed from the output. One Eigen GEMM per batch matrix; threads over batches when
//     there are enough of them, else inside the GEMM.
//   GemmOp: Y = alpha * op(A) * op(B) + beta * C, A and B 2-D (op = transpose when transA /
//     transB), C optional and unidirectionally broadcast to {M, N}.
// matmul_reference() / gemm_reference() are the plain triple-loop twins (double accumulation).
#pragma once

#include "core/graph/op.h"

namespace qcnn {

// Output shape of numpy matmul; throws qcnn::Error naming both shapes when they do not fit.
Shape matmul_shape(const Shape& a, const Shape& b);

class MatMulOp : public Op {
public:
    std::string type() const override { return "MatMul"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    int64_t flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const override;
};

Tensor matmul_reference(const Tensor& a, const Tensor& b);

struct GemmParams {
    float alpha = 1.0f, beta = 1.0f;
    bool trans_a = false, trans_b = false;
};

class GemmOp : public Op {
public:
    explicit GemmOp(GemmParams p) : p_(p) {}
    std::string type() const override { return "Gemm"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    int64_t flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const override;
    std::string describe() const override;
    const GemmParams& gemm_params() const { return p_; }

private:
    GemmParams p_;
};

// c may be nullptr (no C input).
Tensor gemm_reference(const Tensor& a, const Tensor& b, const Tensor* c, const GemmParams& p);

}  // namespace qcnn
