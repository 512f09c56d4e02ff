#include "core/ops/shape_ops.h"

#include <cstring>

#include "core/ops/op_helpers.h"

namespace qcnn {

std::vector<ValueInfo> ShapeOp::infer(const std::vector<const ValueInfo*>& in) const {
    const Shape& x = need_input(in, 0, type(), "data").shape;
    const int64_t r = static_cast<int64_t>(x.size());
    auto clamp_axis = [r](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + r : a, 0, r); };
    const int64_t s = clamp_axis(start_), e = clamp_axis(end_.value_or(r));
    std::vector<int64_t> dims;
    for (int64_t i = s; i < e; ++i) dims.push_back(x[i]);
    const int64_t n = static_cast<int64_t>(dims.size());
    return {int_constant({n}, std::move(dims))};
}

void ShapeOp::run(const RunArgs&) const {
    QCNN_ASSERT(false, "Shape always folds at plan time");
}

std::vector<ValueInfo> CastOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "input");
    if (x.dtype == to_) {
        ValueInfo out = x;
        return {out};
    }
    if (to_ == DType::Float) {
        const auto& v = require_int_const(x, type(), "input");
        Tensor t(x.shape);
        for (size_t i = 0; i < v.size(); ++i) t.data[i] = static_cast<float>(v[i]);
        return {float_constant(std::move(t))};
    }
    if (!x.fconst) fail("Cast: a FLOAT -> INT64 cast needs a plan-time constant input");
    std::vector<int64_t> v(x.fconst->size());
    for (size_t i = 0; i < v.size(); ++i) {
        const float f = x.fconst->data[i];
        if (!(f > -9.2e18f && f < 9.2e18f)) fail("Cast: ", f, " does not fit INT64");
        v[i] = static_cast<int64_t>(f);
    }
    return {int_constant(x.shape, std::move(v))};
}

void CastOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    if (x.size()) std::memcpy(a.out[0]->ptr(), x.ptr(), sizeof(float) * x.size());
}

std::string CastOp::describe() const { return cat("to ", dtype_name(to_)); }

}  // namespace qcnn
