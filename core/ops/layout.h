// Operators that only move data (shape changes, permutations, slices, padding, joins).
// Every one accepts FLOAT values (copied at run time, or folded by the planner when constant)
// and INT64 plan-time constants (computed in infer(), which is how PyTorch's shape chains
// such as Shape -> Gather -> Unsqueeze -> Concat -> Reshape fold at plan time).
// INT64 operands that are not plan-time constants are refused with an error.
// Index-valued inputs (Reshape's shape, Gather's indices, Slice's starts/ends/axes/steps,
// Pad's pads, Squeeze/Unsqueeze axes) must be INT64 plan-time constants.
#pragma once

#include <optional>

#include "core/graph/op.h"

namespace qcnn {

// Ops whose output is the input's elements in the same order under a new shape.
class ReshapeLikeOp : public Op {
public:
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;

protected:
    virtual Shape output_shape(const std::vector<const ValueInfo*>& in) const = 0;
};

// ONNX Reshape: shape from input 1 (opset >= 5) or the attribute (opset < 5). A 0 entry copies
// the input dimension unless allowzero; one -1 entry is inferred.
class ReshapeOp : public ReshapeLikeOp {
public:
    explicit ReshapeOp(bool allowzero = false, std::optional<Shape> shape_attr = std::nullopt)
        : allowzero_(allowzero), shape_attr_(std::move(shape_attr)) {}
    std::string type() const override { return "Reshape"; }

protected:
    Shape output_shape(const std::vector<const ValueInfo*>& in) const override;

private:
    bool allowzero_;
    std::optional<Shape> shape_attr_;
};

// Resolves an ONNX Reshape target against an input shape (0 and -1 rules); throws on mismatch.
Shape resolve_reshape(const Shape& in, const std::vector<int64_t>& target, bool allowzero);

// {prod(d[:axis]), prod(d[axis:])}; axis in [-rank, rank].
class FlattenOp : public ReshapeLikeOp {
public:
    explicit FlattenOp(int64_t axis) : axis_(axis) {}
    std::string type() const override { return "Flatten"; }

protected:
    Shape output_shape(const std::vector<const ValueInfo*>& in) const override;

private:
    int64_t axis_;
};

// Axes from the attribute (opset < 13) or input 1; Squeeze without axes drops every 1.
class SqueezeOp : public ReshapeLikeOp {
public:
    explicit SqueezeOp(std::optional<std::vector<int64_t>> axes_attr = std::nullopt) : axes_(std::move(axes_attr)) {}
    std::string type() const override { return "Squeeze"; }

protected:
    Shape output_shape(const std::vector<const ValueInfo*>& in) const override;

private:
    std::optional<std::vector<int64_t>> axes_;
};

class UnsqueezeOp : public ReshapeLikeOp {
public:
    explicit UnsqueezeOp(std::optional<std::vector<int64_t>> axes_attr = std::nullopt)
        : axes_(std::move(axes_attr)) {}
    std::string type() const override { return "Unsqueeze"; }

protected:
    Shape output_shape(const std::vector<const ValueInfo*>& in) const override;

private:
    std::optional<std::vector<int64_t>> axes_;
};

// Identity (also inference-mode Dropout where the graph needs a distinct output value).
class IdentityOp : public ReshapeLikeOp {
public:
    std::string type() const override { return "Identity"; }

protected:
    Shape output_shape(const std::vector<const ValueInfo*>& in) const override;
};

// Transpose by perm (empty: reverse the axes).
class TransposeOp : public Op {
public:
    explicit TransposeOp(std::vector<int64_t> perm) : perm_(std::move(perm)) {}
    std::string type() const override { return "Transpose"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;

private:
    std::vector<int64_t> perm_;
    std::vector<int64_t> resolved_perm(size_t rank) const;
};

class ConcatOp : public Op {
public:
    explicit ConcatOp(int64_t axis) : axis_(axis) {}
    std::string type() const override { return "Concat"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;
    int64_t axis() const { return axis_; }  // as given (may be negative)

private:
    int64_t axis_;
};

// Gather along axis with INT64 constant indices (negative indices count from the end).
class GatherOp : public Op {
public:
    explicit GatherOp(int64_t axis) : axis_(axis) {}
    std::string type() const override { return "Gather"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;

private:
    int64_t axis_;
};

// Slice: starts/ends/axes from attributes (opset < 10) or inputs 1..4 (starts, ends, axes,
// steps) as INT64 constants. Negative starts/ends count from the end; out-of-range values
// clamp as in ONNX; negative steps run backwards.
struct SliceAttrs {
    std::vector<int64_t> starts, ends, axes;
};

class SliceOp : public Op {
public:
    explicit SliceOp(std::optional<SliceAttrs> attrs = std::nullopt) : attrs_(std::move(attrs)) {}
    std::string type() const override { return "Slice"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;

private:
    std::optional<SliceAttrs> attrs_;
    // Per input axis: first index, step, output length.
    struct Plan1 {
        std::vector<int64_t> start, step, count;
    };
    Plan1 plan(const std::vector<const ValueInfo*>& in) const;
};

// Pad: pads {begin per axis..., end per axis...} from the attribute (opset < 11) or input 1
// (INT64 constant); constant value from the attribute or the optional scalar input 2.
// Modes: constant, reflect (mirror without repeating the edge), edge (replicate). Negative
// pads crop.
enum class PadMode { Constant, Reflect, Edge };

class PadOp : public Op {
public:
    PadOp(PadMode mode, std::optional<std::vector<int64_t>> pads_attr, float value)
        : mode_(mode), pads_(std::move(pads_attr)), value_(value) {}
    std::string type() const override { return "Pad"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;
    PadMode mode() const { return mode_; }
    // The pads in effect for these input infos (attribute or input 1).
    const std::vector<int64_t>& pads(const std::vector<const ValueInfo*>& in) const;

private:
    PadMode mode_;
    std::optional<std::vector<int64_t>> pads_;
    float value_;
};

// Plain per-element twin of PadOp for float tensors.
Tensor pad_reference(const Tensor& x, PadMode mode, const std::vector<int64_t>& pads, float value);
// Plain per-element twin of TransposeOp.
Tensor transpose_reference(const Tensor& x, const std::vector<int64_t>& perm);

}  // namespace qcnn
