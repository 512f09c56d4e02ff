// Pooling over NC + 1..3 spatial dimensions (NCW, NCHW, NCDHW), float32, row-major.
//   PoolOp (MaxPool, AveragePool): kernel, strides, pads {begin..., end...}, dilations,
//   auto_pad, ceil_mode, count_include_pad. Threads over the N*C planes; per output position
//   the valid tap range of every axis is precomputed, so the inner loops do not branch.
//   GlobalAveragePoolOp: mean over all spatial positions, output {N, C, 1, ...}.
// pool_reference() is the plain per-tap twin of PoolOp::run.
#pragma once

#include <array>

#include "core/graph/op.h"

namespace qcnn {

enum class PoolKind { Max, Average };

struct PoolParams {
    PoolKind kind = PoolKind::Max;
    std::vector<int64_t> kernel;     // one entry per spatial axis (1..3 axes)
    std::vector<int64_t> strides;    // empty: all 1
    std::vector<int64_t> pads;       // {begin per axis..., end per axis...}; empty: all 0
    std::vector<int64_t> dilations;  // empty: all 1
    std::string auto_pad = "NOTSET"; // NOTSET, SAME_UPPER, SAME_LOWER, VALID
    bool ceil_mode = false;
    bool count_include_pad = false;  // AveragePool: divide by the taps inside the padded extent
};

// Pooling geometry resolved for one input, widened to 3 spatial axes (missing leading axes
// have size 1, kernel 1). Axis a of the input's spatial dims maps to index 3 - rank + a.
struct PoolGeometry {
    std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1}, k{1, 1, 1}, s{1, 1, 1}, d{1, 1, 1}, pb{0, 0, 0}, pe{0, 0, 0};
    int64_t planes = 0;  // N * C
};

// Throws qcnn::Error when x does not have 2 + kernel.size() dimensions or the kernel does not fit.
PoolGeometry pool_geometry(const PoolParams& p, const Shape& x);
Shape pool_output_shape(const PoolParams& p, const Shape& x);

class PoolOp : public Op {
public:
    // Throws qcnn::Error for inconsistent attribute lengths or non-positive sizes.
    explicit PoolOp(PoolParams p);
    std::string type() const override { return p_.kind == PoolKind::Max ? "MaxPool" : "AveragePool"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;
    bool is_max_pool2(const std::vector<const ValueInfo*>& in) const override;
    const PoolParams& pool_params() const { return p_; }

private:
    PoolParams p_;
};

Tensor pool_reference(const Tensor& x, const PoolParams& p);

class GlobalAveragePoolOp : public Op {
public:
    std::string type() const override { return "GlobalAveragePool"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
};

}  // namespace qcnn
