// Reductions over chosen axes of a float32 tensor (row-major): ONNX ReduceMean and ReduceSum.
//   axes: from the attribute (ReduceMean before opset 18, ReduceSum before 13) or from the
//   optional INT64 input 1 (later opsets; it must be a plan-time constant). Negative axes
//   count from the end; repeats are an error. No axes reduces every axis, unless
//   noop_with_empty_axes = 1, which passes the input through.
//   keepdims = 1 keeps reduced axes with size 1, 0 drops them.
// The kernel merges runs of adjacent reduced / kept axes; when the reduced axes form one
// block (the usual case: [2, 3] of NCHW, or the last axis) it runs as outer x reduced x inner
// with double accumulators, threaded over the outer rows; other patterns take an odometer
// loop. reduce_reference() is the plain per-element twin (double accumulation).
#pragma once

#include <optional>

#include "core/graph/op.h"

namespace qcnn {

enum class ReduceKind { Mean, Sum };

struct ReduceParams {
    ReduceKind kind = ReduceKind::Mean;
    std::optional<std::vector<int64_t>> axes;  // from the attribute; nullopt = absent
    bool axes_from_input = false;              // opset form: axes are input 1
    bool keepdims = true;
    bool noop_with_empty_axes = false;
};

class ReduceOp : public Op {
public:
    explicit ReduceOp(ReduceParams p) : p_(std::move(p)) {}
    std::string type() const override { return p_.kind == ReduceKind::Mean ? "ReduceMean" : "ReduceSum"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;
    const ReduceParams& reduce_params() const { return p_; }

    // The sorted, non-negative axes reduced for an input of this rank (empty: pass through),
    // given the axes input's plan-time info (nullptr when omitted).
    std::vector<int64_t> resolve_axes(int64_t rank, const ValueInfo* axes_input) const;

private:
    ReduceParams p_;
};

// Output shape of reducing `axes` (sorted, non-negative) of x.
Shape reduce_shape(const Shape& x, const std::vector<int64_t>& axes, bool keepdims);

// The fast kernel: y (already sized) = reduction of x over `axes` (sorted, non-negative).
void reduce_float(ReduceKind kind, const Tensor& x, const std::vector<int64_t>& axes, Tensor& y, int threads);
// Plain twin: every input element decoded to its output element; y is resized.
void reduce_reference(ReduceKind kind, const Tensor& x, const std::vector<int64_t>& axes, bool keepdims, Tensor& y);

}  // namespace qcnn
