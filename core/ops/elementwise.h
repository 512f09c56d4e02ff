// Elementwise operators on float32 tensors of any rank (row-major).
//   ActivationOp: unary y = f(x), y has x's shape:
//                 Relu, LeakyRelu (alpha), Sigmoid, Tanh, Sqrt, Erf,
//                 HardSigmoid   y = max(0, min(1, alpha x + beta))   (ONNX defaults 0.2, 0.5)
//                 HardSwish     y = x max(0, min(1, x / 6 + 1/2))
//                 Gelu          y = x (1 + erf(x / sqrt 2)) / 2     (exact form; the importer
//                               fuses PyTorch's Div/Erf/Add/Mul/Mul export into it)
//   ClipOp:       y = min(max(x, lo), hi). The bounds come from attributes (opset < 11) or
//                 from the optional scalar inputs 1 (min) and 2 (max), read at run time.
//   BinaryOp:     Add, Sub, Mul, Div, Pow with numpy (multidirectional) broadcasting. Float
//                 operands run at run time; int64 operands (shape arithmetic) must be plan-time
//                 constants and are computed in infer() (Div truncates toward zero, as C and
//                 ONNX Runtime do; division by zero is an error). Pow takes a FLOAT base
//                 and a FLOAT or INT64 (plan-time constant) exponent.
// The broadcast kernel merges adjacent dimensions with the same broadcast pattern, so
// bias-like operands ({C,1,1} against {N,C,H,W}) run as contiguous inner loops;
// binary_reference() is its per-element index twin.
#pragma once

#include <limits>

#include "core/graph/op.h"

namespace qcnn {

enum class ActivationKind { Relu, LeakyRelu, Sigmoid, Tanh, Sqrt, Erf, HardSigmoid, HardSwish, Gelu };

class ActivationOp : public Op {
public:
    // alpha: LeakyRelu's slope or HardSigmoid's alpha; beta: HardSigmoid's beta.
    explicit ActivationOp(ActivationKind kind, float alpha = 0.01f, float beta = 0.0f);
    std::string type() const override;
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;
    std::optional<PostOp> as_post_op(const std::vector<const ValueInfo*>& in) const override;  // Relu, LeakyRelu
    ActivationKind kind() const { return kind_; }
    float alpha() const { return alpha_; }
    float beta() const { return beta_; }

private:
    ActivationKind kind_;
    float alpha_, beta_;
};

// y[i] = f(x[i]) for the activation, computed in double; the plain twin used by tests.
void activation_reference(ActivationKind kind, float alpha, float beta, const float* x, float* y, int64_t n);

class ClipOp : public Op {
public:
    // lo/hi apply when inputs 1/2 are omitted.
    ClipOp(float lo = -std::numeric_limits<float>::infinity(), float hi = std::numeric_limits<float>::infinity());
    std::string type() const override { return "Clip"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;
    // Fusable when the bounds are attributes or plan-time constants.
    std::optional<PostOp> as_post_op(const std::vector<const ValueInfo*>& in) const override;
    // The attribute bounds (inputs 1/2, when given, override them at run time).
    float lo() const { return lo_; }
    float hi() const { return hi_; }

private:
    float lo_, hi_;
};

enum class BinaryKind { Add, Sub, Mul, Div, Pow };

const char* binary_name(BinaryKind kind);

class BinaryOp : public Op {
public:
    explicit BinaryOp(BinaryKind kind) : kind_(kind) {}
    std::string type() const override { return binary_name(kind_); }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    // A fused activation (a ResNet block's ReLU after its residual Add) is applied to each
    // thread's part of the output as soon as it is written: one pass over the map, not two.
    bool applies_post_op() const override { return true; }
    BinaryKind kind() const { return kind_; }

private:
    BinaryKind kind_;
};

// Numpy broadcast of two shapes; throws qcnn::Error naming both shapes when they do not fit.
Shape broadcast_shape(const Shape& a, const Shape& b);

// Broadcast iteration over the output: merged dimensions `dims` and per-operand element
// strides (0 where the operand is broadcast). Empty dims means a single element.
struct BroadcastLoop {
    Shape out_shape;
    std::vector<int64_t> dims, stride_a, stride_b;
};
BroadcastLoop make_broadcast_loop(const Shape& a, const Shape& b);

// y = a (op) b with broadcasting, using the merged-dimension kernel on `threads` threads;
// then post (if given) on every element, each part right after it is written.
void binary_float(BinaryKind kind, const Tensor& a, const Tensor& b, Tensor& y, int threads,
                  const PostOp* post = nullptr);
// The per-element twin: decodes every output index. y is resized to the broadcast shape.
void binary_reference(BinaryKind kind, const Tensor& a, const Tensor& b, Tensor& y);

}  // namespace qcnn
