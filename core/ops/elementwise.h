// Elementwise operators on float32 tensors of any rank (row-major).
//   ActivationOp: Relu, LeakyRelu (alpha), Sigmoid, Tanh. y has x's shape.
//   ClipOp:       y = min(max(x, lo), hi). The bounds come from attributes (opset < 11) or
//                 from the optional scalar inputs 1 (min) and 2 (max), read at run time.
//   BinaryOp:     Add, Mul with numpy (multidirectional) broadcasting. Float operands run at
//                 run time; int64 operands (shape arithmetic) must be plan-time constants and
//                 are computed in infer().
// The broadcast kernel merges adjacent dimensions with the same broadcast pattern, so
// bias-like operands ({C,1,1} against {N,C,H,W}) run as contiguous inner loops;
// binary_reference() is its per-element index twin.
#pragma once

#include <limits>

#include "core/graph/op.h"

namespace qcnn {

enum class ActivationKind { Relu, LeakyRelu, Sigmoid, Tanh };

class ActivationOp : public Op {
public:
    explicit ActivationOp(ActivationKind kind, float alpha = 0.01f);
    std::string type() const override;
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;
    ActivationKind kind() const { return kind_; }
    float alpha() const { return alpha_; }

private:
    ActivationKind kind_;
    float alpha_;
};

// y[i] = f(x[i]) for the activation; the plain twin used by tests.
void activation_reference(ActivationKind kind, float alpha, const float* x, float* y, int64_t n);

class ClipOp : public Op {
public:
    // lo/hi apply when inputs 1/2 are omitted.
    ClipOp(float lo = -std::numeric_limits<float>::infinity(), float hi = std::numeric_limits<float>::infinity());
    std::string type() const override { return "Clip"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;

private:
    float lo_, hi_;
};

enum class BinaryKind { Add, Mul };

class BinaryOp : public Op {
public:
    explicit BinaryOp(BinaryKind kind) : kind_(kind) {}
    std::string type() const override { return kind_ == BinaryKind::Add ? "Add" : "Mul"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
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

// y = a (+ or *) b with broadcasting, using the merged-dimension kernel on `threads` threads.
void binary_float(BinaryKind kind, const Tensor& a, const Tensor& b, Tensor& y, int threads);
// The per-element twin: decodes every output index. y is resized to the broadcast shape.
void binary_reference(BinaryKind kind, const Tensor& a, const Tensor& b, Tensor& y);

}  // namespace qcnn
