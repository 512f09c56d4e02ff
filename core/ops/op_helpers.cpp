#include "core/ops/op_helpers.h"

namespace qcnn {

const char* dtype_name(DType t) { return t == DType::Float ? "FLOAT" : "INT64"; }

int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what) {
    if (axis < -rank || axis >= rank) fail(what, " ", axis, " is out of range for rank ", rank);
    return axis < 0 ? axis + rank : axis;
}

const ValueInfo& need_input(const std::vector<const ValueInfo*>& in, size_t k, const std::string& op,
                            const std::string& what) {
    if (k >= in.size() || !in[k]) fail(op, " needs input ", k, " (", what, ")");
    return *in[k];
}

const ValueInfo* opt_input(const std::vector<const ValueInfo*>& in, size_t k) {
    return k < in.size() ? in[k] : nullptr;
}

void require_float(const ValueInfo& v, const std::string& op, const std::string& what) {
    if (v.dtype != DType::Float) fail(op, ": ", what, " must be FLOAT, got ", dtype_name(v.dtype));
}

const std::vector<int64_t>& require_int_const(const ValueInfo& v, const std::string& op, const std::string& what) {
    if (v.dtype != DType::Int64) fail(op, ": ", what, " must be INT64, got ", dtype_name(v.dtype));
    if (!v.iconst)
        fail(op, ": ", what, " must be known at plan time (a constant, or computed from shapes only)");
    return *v.iconst;
}

ValueInfo float_value(Shape s) {
    ValueInfo v;
    v.shape = std::move(s);
    v.dtype = DType::Float;
    return v;
}

ValueInfo int_constant(Shape s, std::vector<int64_t> data) {
    QCNN_ASSERT(numel(s) == static_cast<int64_t>(data.size()), "int constant ", to_string(s), " with ",
                data.size(), " values");
    ValueInfo v;
    v.shape = std::move(s);
    v.dtype = DType::Int64;
    v.iconst = std::make_shared<const std::vector<int64_t>>(std::move(data));
    return v;
}

ValueInfo float_constant(Tensor t) {
    ValueInfo v;
    v.shape = t.shape;
    v.dtype = DType::Float;
    v.fconst = std::make_shared<const Tensor>(std::move(t));
    return v;
}

std::vector<int64_t> strides_of(const Shape& s) {
    std::vector<int64_t> st(s.size(), 1);
    for (int64_t i = static_cast<int64_t>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
    return st;
}

}  // namespace qcnn
