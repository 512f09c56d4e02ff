#include "core/ops/layout.h"

#include <algorithm>
#include <cstring>

#include "core/ops/op_helpers.h"

namespace qcnn {

namespace {

// dst[o] = src[offset + sum_d idx_d(o) * sstride[d]] over the row-major output shape `out`.
template <class T>
void strided_copy(const T* src, int64_t offset, const Shape& out, const std::vector<int64_t>& sstride, T* dst) {
    const int64_t total = numel(out);
    if (total == 0) return;
    const int64_t r = static_cast<int64_t>(out.size());
    if (r == 0) {
        dst[0] = src[offset];
        return;
    }
    const int64_t inner = out[r - 1], is = sstride[r - 1];
    std::vector<int64_t> idx(r, 0);
    int64_t base = offset;
    for (int64_t o = 0; o < total; o += inner) {
        const T* s = src + base;
        T* d = dst + o;
        if (is == 1)
            std::copy(s, s + inner, d);
        else
            for (int64_t k = 0; k < inner; ++k) d[k] = s[k * is];
        for (int64_t dd = r - 2; dd >= 0; --dd) {
            base += sstride[dd];
            if (++idx[dd] < out[dd]) break;
            base -= sstride[dd] * out[dd];
            idx[dd] = 0;
        }
    }
}

// Copies a float input to a float output of the same size (reshape-like ops).
void copy_float(const RunArgs& a) {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    if (x.size() && x.ptr() != y.ptr()) std::memcpy(y.ptr(), x.ptr(), sizeof(float) * x.size());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reshape-like ops

std::vector<ValueInfo> ReshapeLikeOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "data");
    Shape s = output_shape(in);
    if (numel(s) != numel(x.shape))
        fail(type(), ": output shape ", to_string(s), " does not hold the ", numel(x.shape), " elements of ",
             to_string(x.shape));
    if (x.dtype == DType::Float) return {float_value(s)};
    return {int_constant(s, require_int_const(x, type(), "data"))};
}

void ReshapeLikeOp::run(const RunArgs& a) const { copy_float(a); }

Shape resolve_reshape(const Shape& in, const std::vector<int64_t>& target, bool allowzero) {
    Shape out(target.begin(), target.end());
    int infer_at = -1;
    int64_t known = 1;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == 0 && !allowzero) {
            if (i >= in.size())
                fail("Reshape: target ", to_string(out), " copies dimension ", i, " (0), which the input ",
                     to_string(in), " does not have");
            out[i] = in[i];
        }
        if (out[i] == -1) {
            if (infer_at >= 0) fail("Reshape: target has more than one -1 entry");
            infer_at = static_cast<int>(i);
            continue;
        }
        if (out[i] < 0) fail("Reshape: invalid target dimension ", out[i]);
        known *= out[i];
    }
    const int64_t total = numel(in);
    if (infer_at >= 0) {
        if (known == 0 || total % known != 0)
            fail("Reshape: cannot infer the -1 dimension of target [", [&] {
                std::string s;
                for (size_t i = 0; i < target.size(); ++i) s += cat(i ? "," : "", target[i]);
                return s;
            }(), "] for input ", to_string(in));
        out[infer_at] = total / known;
    } else if (known != total) {
        fail("Reshape: input ", to_string(in), " has ", total, " elements, the target ", to_string(out), " has ",
             known);
    }
    return out;
}

Shape ReshapeOp::output_shape(const std::vector<const ValueInfo*>& in) const {
    const Shape& x = need_input(in, 0, type(), "data").shape;
    if (const ValueInfo* s = opt_input(in, 1)) return resolve_reshape(x, require_int_const(*s, type(), "shape"), allowzero_);
    if (!shape_attr_) fail("Reshape needs input 1 (shape)");
    return resolve_reshape(x, *shape_attr_, allowzero_);
}

Shape FlattenOp::output_shape(const std::vector<const ValueInfo*>& in) const {
    const Shape& x = need_input(in, 0, type(), "input").shape;
    const int64_t r = static_cast<int64_t>(x.size());
    if (axis_ < -r || axis_ > r) fail("Flatten axis ", axis_, " is out of range for rank ", r);
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    int64_t a = 1, b = 1;
    for (int64_t i = 0; i < r; ++i) (i < axis ? a : b) *= x[i];
    return {a, b};
}

Shape SqueezeOp::output_shape(const std::vector<const ValueInfo*>& in) const {
    const Shape& x = need_input(in, 0, type(), "data").shape;
    const int64_t r = static_cast<int64_t>(x.size());
    std::vector<char> drop(r, 0);
    const ValueInfo* ai = opt_input(in, 1);
    if (ai || axes_) {
        const std::vector<int64_t>& axes = ai ? require_int_const(*ai, type(), "axes") : *axes_;
        for (int64_t a : axes) {
            const int64_t ax = normalize_axis(a, r, "Squeeze axis");
            if (x[ax] != 1) fail("Squeeze: axis ", a, " of ", to_string(x), " has size ", x[ax], ", not 1");
            drop[ax] = 1;
        }
    } else {
        for (int64_t i = 0; i < r; ++i) drop[i] = x[i] == 1;
    }
    Shape out;
    for (int64_t i = 0; i < r; ++i)
        if (!drop[i]) out.push_back(x[i]);
    return out;
}

Shape UnsqueezeOp::output_shape(const std::vector<const ValueInfo*>& in) const {
    const Shape& x = need_input(in, 0, type(), "data").shape;
    const ValueInfo* ai = opt_input(in, 1);
    if (!ai && !axes_) fail("Unsqueeze needs axes (attribute or input 1)");
    const std::vector<int64_t>& axes = ai ? require_int_const(*ai, type(), "axes") : *axes_;
    const int64_t r = static_cast<int64_t>(x.size() + axes.size());
    std::vector<char> added(r, 0);
    for (int64_t a : axes) {
        const int64_t ax = normalize_axis(a, r, "Unsqueeze axis");
        if (added[ax]) fail("Unsqueeze: axis ", a, " is given twice");
        added[ax] = 1;
    }
    Shape out;
    size_t k = 0;
    for (int64_t i = 0; i < r; ++i) out.push_back(added[i] ? 1 : x[k++]);
    return out;
}

Shape IdentityOp::output_shape(const std::vector<const ValueInfo*>& in) const {
    return need_input(in, 0, type(), "input").shape;
}

// ---------------------------------------------------------------------------------------------
// Transpose

namespace {

template <class T>
void transpose_impl(const T* x, const Shape& in, const std::vector<int64_t>& perm, T* y) {
    const auto st = strides_of(in);
    Shape out(in.size());
    std::vector<int64_t> ss(in.size());
    for (size_t d = 0; d < in.size(); ++d) {
        out[d] = in[perm[d]];
        ss[d] = st[perm[d]];
    }
    strided_copy(x, 0, out, ss, y);
}

}  // namespace

std::vector<int64_t> TransposeOp::resolved_perm(size_t rank) const {
    std::vector<int64_t> p = perm_;
    if (p.empty())
        for (size_t i = 0; i < rank; ++i) p.push_back(static_cast<int64_t>(rank - 1 - i));
    if (p.size() != rank) fail("Transpose: perm has ", p.size(), " entries, the input has rank ", rank);
    std::vector<char> seen(rank, 0);
    for (int64_t v : p) {
        if (v < 0 || v >= static_cast<int64_t>(rank) || seen[v]) fail("Transpose: perm is not a permutation");
        seen[v] = 1;
    }
    return p;
}

std::vector<ValueInfo> TransposeOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "data");
    const auto p = resolved_perm(x.shape.size());
    Shape out;
    for (int64_t v : p) out.push_back(x.shape[v]);
    if (x.dtype == DType::Float) return {float_value(out)};
    const auto& v = require_int_const(x, type(), "data");
    std::vector<int64_t> y(v.size());
    transpose_impl(v.data(), x.shape, p, y.data());
    return {int_constant(out, std::move(y))};
}

void TransposeOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    transpose_impl(x.ptr(), x.shape, resolved_perm(x.shape.size()), a.out[0]->ptr());
}

std::string TransposeOp::describe() const {
    std::string s = "perm";
    for (int64_t v : perm_) s += cat(" ", v);
    return s;
}

Tensor transpose_reference(const Tensor& x, const std::vector<int64_t>& perm) {
    const size_t r = x.shape.size();
    Shape out(r);
    for (size_t d = 0; d < r; ++d) out[d] = x.shape[perm[d]];
    Tensor y(out);
    const auto st = strides_of(x.shape);
    std::vector<int64_t> idx(r);
    for (int64_t e = 0; e < y.size(); ++e) {
        int64_t rem = e, off = 0;
        for (size_t d = r; d-- > 0;) {
            idx[d] = rem % out[d];
            rem /= out[d];
        }
        for (size_t d = 0; d < r; ++d) off += idx[d] * st[perm[d]];
        y.data[e] = x.data[off];
    }
    return y;
}

// ---------------------------------------------------------------------------------------------
// Concat

namespace {

template <class T>
void concat_impl(const std::vector<const T*>& xs, const std::vector<Shape>& shapes, int64_t axis, T* y) {
    int64_t outer = 1, inner = 1, total_axis = 0;
    for (int64_t i = 0; i < axis; ++i) outer *= shapes[0][i];
    for (size_t i = axis + 1; i < shapes[0].size(); ++i) inner *= shapes[0][i];
    for (const auto& s : shapes) total_axis += s[axis];
    int64_t col = 0;
    for (size_t k = 0; k < xs.size(); ++k) {
        const int64_t blk = shapes[k][axis] * inner;
        for (int64_t o = 0; o < outer; ++o) std::copy(xs[k] + o * blk, xs[k] + (o + 1) * blk, y + o * total_axis * inner + col);
        col += blk;
    }
}

}  // namespace

std::vector<ValueInfo> ConcatOp::infer(const std::vector<const ValueInfo*>& in) const {
    if (in.empty()) fail("Concat needs at least one input");
    for (size_t k = 0; k < in.size(); ++k) need_input(in, k, type(), cat("input ", k));
    const ValueInfo& first = *in[0];
    const int64_t r = static_cast<int64_t>(first.shape.size());
    if (r == 0) fail("Concat inputs must have rank >= 1");
    const int64_t axis = normalize_axis(axis_, r, "Concat axis");
    Shape out = first.shape;
    out[axis] = 0;
    std::vector<Shape> shapes;
    for (const ValueInfo* v : in) {
        if (v->dtype != first.dtype) fail("Concat inputs have different types");
        bool ok = static_cast<int64_t>(v->shape.size()) == r;
        for (int64_t d = 0; ok && d < r; ++d) ok = d == axis || v->shape[d] == first.shape[d];
        if (!ok)
            fail("Concat: input ", to_string(v->shape), " does not match ", to_string(first.shape), " outside axis ",
                 axis);
        out[axis] += v->shape[axis];
        shapes.push_back(v->shape);
    }
    if (first.dtype == DType::Float) return {float_value(out)};
    std::vector<const int64_t*> xs;
    for (const ValueInfo* v : in) xs.push_back(require_int_const(*v, type(), "input").data());
    std::vector<int64_t> y(numel(out));
    concat_impl(xs, shapes, axis, y.data());
    return {int_constant(out, std::move(y))};
}

std::string ConcatOp::describe() const { return cat("axis ", axis_); }

void ConcatOp::run(const RunArgs& a) const {
    std::vector<const float*> xs;
    std::vector<Shape> shapes;
    for (const Tensor* t : a.in) {
        xs.push_back(t->ptr());
        shapes.push_back(t->shape);
    }
    concat_impl(xs, shapes, normalize_axis(axis_, static_cast<int64_t>(shapes[0].size()), "Concat axis"),
                a.out[0]->ptr());
}

// ---------------------------------------------------------------------------------------------
// Gather

namespace {

struct GatherGeometry {
    Shape out;
    int64_t outer = 1, axis_len = 0, inner = 1;
    std::vector<int64_t> idx;  // normalized indices
};

GatherGeometry gather_geometry(const ValueInfo& data, const ValueInfo& indices, int64_t axis_attr) {
    const int64_t r = static_cast<int64_t>(data.shape.size());
    if (r == 0) fail("Gather data must have rank >= 1");
    const int64_t axis = normalize_axis(axis_attr, r, "Gather axis");
    const auto& ind = require_int_const(indices, "Gather", "indices");
    GatherGeometry g;
    g.axis_len = data.shape[axis];
    for (int64_t i = 0; i < axis; ++i) g.outer *= data.shape[i];
    for (int64_t i = axis + 1; i < r; ++i) g.inner *= data.shape[i];
    for (int64_t v : ind) {
        if (v < -g.axis_len || v >= g.axis_len)
            fail("Gather index ", v, " is out of range for axis ", axis, " of size ", g.axis_len);
        g.idx.push_back(v < 0 ? v + g.axis_len : v);
    }
    g.out.assign(data.shape.begin(), data.shape.begin() + axis);
    g.out.insert(g.out.end(), indices.shape.begin(), indices.shape.end());
    g.out.insert(g.out.end(), data.shape.begin() + axis + 1, data.shape.end());
    return g;
}

template <class T>
void gather_impl(const T* x, const GatherGeometry& g, T* y) {
    const int64_t n = static_cast<int64_t>(g.idx.size());
    for (int64_t o = 0; o < g.outer; ++o)
        for (int64_t j = 0; j < n; ++j) {
            const T* src = x + (o * g.axis_len + g.idx[j]) * g.inner;
            std::copy(src, src + g.inner, y + (o * n + j) * g.inner);
        }
}

}  // namespace

std::vector<ValueInfo> GatherOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& data = need_input(in, 0, type(), "data");
    const ValueInfo& ind = need_input(in, 1, type(), "indices");
    const GatherGeometry g = gather_geometry(data, ind, axis_);
    if (data.dtype == DType::Float) return {float_value(g.out)};
    const auto& v = require_int_const(data, type(), "data");
    std::vector<int64_t> y(numel(g.out));
    gather_impl(v.data(), g, y.data());
    return {int_constant(g.out, std::move(y))};
}

void GatherOp::run(const RunArgs& a) const {
    const GatherGeometry g = gather_geometry(*a.in_info[0], *a.in_info[1], axis_);
    gather_impl(a.in[0]->ptr(), g, a.out[0]->ptr());
}

// ---------------------------------------------------------------------------------------------
// Slice

SliceOp::Plan1 SliceOp::plan(const std::vector<const ValueInfo*>& in) const {
    const Shape& x = need_input(in, 0, type(), "data").shape;
    const int64_t r = static_cast<int64_t>(x.size());
    std::vector<int64_t> starts, ends, axes, steps;
    if (attrs_) {
        starts = attrs_->starts;
        ends = attrs_->ends;
        axes = attrs_->axes;
    } else {
        starts = require_int_const(need_input(in, 1, type(), "starts"), type(), "starts");
        ends = require_int_const(need_input(in, 2, type(), "ends"), type(), "ends");
        if (const ValueInfo* v = opt_input(in, 3)) axes = require_int_const(*v, type(), "axes");
        if (const ValueInfo* v = opt_input(in, 4)) steps = require_int_const(*v, type(), "steps");
    }
    const size_t n = starts.size();
    if (axes.empty())
        for (size_t i = 0; i < n; ++i) axes.push_back(static_cast<int64_t>(i));
    if (steps.empty()) steps.assign(n, 1);
    if (ends.size() != n || axes.size() != n || steps.size() != n)
        fail("Slice: starts, ends, axes and steps differ in length (", n, ", ", ends.size(), ", ", axes.size(), ", ",
             steps.size(), ")");
    Plan1 p;
    p.start.assign(r, 0);
    p.step.assign(r, 1);
    p.count = x;
    std::vector<char> seen(r, 0);
    for (size_t i = 0; i < n; ++i) {
        const int64_t ax = normalize_axis(axes[i], r, "Slice axis");
        if (seen[ax]) fail("Slice: axis ", axes[i], " is given twice");
        seen[ax] = 1;
        const int64_t dim = x[ax], st = steps[i];
        if (st == 0) fail("Slice: step 0 on axis ", axes[i]);
        int64_t s = starts[i], e = ends[i];
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        int64_t cnt = 0;
        if (dim == 0) {
            s = 0;
        } else if (st > 0) {
            s = std::clamp<int64_t>(s, 0, dim);
            e = std::clamp<int64_t>(e, 0, dim);
            cnt = e > s ? (e - s + st - 1) / st : 0;
        } else {
            s = std::clamp<int64_t>(s, 0, dim - 1);
            e = std::clamp<int64_t>(e, -1, dim - 1);
            cnt = s > e ? (s - e + (-st) - 1) / (-st) : 0;
        }
        p.start[ax] = cnt ? s : 0;
        p.step[ax] = st;
        p.count[ax] = cnt;
    }
    return p;
}

namespace {

template <class T>
void slice_impl(const T* x, const Shape& in, const std::vector<int64_t>& start, const std::vector<int64_t>& step,
                const Shape& count, T* y) {
    const auto st = strides_of(in);
    int64_t off = 0;
    std::vector<int64_t> ss(in.size());
    for (size_t d = 0; d < in.size(); ++d) {
        off += start[d] * st[d];
        ss[d] = step[d] * st[d];
    }
    strided_copy(x, off, count, ss, y);
}

}  // namespace

std::vector<ValueInfo> SliceOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "data");
    const Plan1 p = plan(in);
    if (x.dtype == DType::Float) return {float_value(p.count)};
    const auto& v = require_int_const(x, type(), "data");
    std::vector<int64_t> y(numel(p.count));
    slice_impl(v.data(), x.shape, p.start, p.step, p.count, y.data());
    return {int_constant(p.count, std::move(y))};
}

void SliceOp::run(const RunArgs& a) const {
    const Plan1 p = plan(a.in_info);
    slice_impl(a.in[0]->ptr(), a.in[0]->shape, p.start, p.step, p.count, a.out[0]->ptr());
}

// ---------------------------------------------------------------------------------------------
// Pad

namespace {

// Input index feeding output index o along one axis, or -1 for the constant value.
int64_t pad_source(PadMode mode, int64_t o, int64_t begin, int64_t n) {
    const int64_t i = o - begin;
    if (i >= 0 && i < n) return i;
    switch (mode) {
        case PadMode::Constant: return -1;
        case PadMode::Edge: return i < 0 ? 0 : n - 1;
        case PadMode::Reflect: {
            if (n == 1) return 0;
            const int64_t period = 2 * (n - 1);
            int64_t m = i % period;
            if (m < 0) m += period;
            return m < n ? m : period - m;
        }
    }
    return -1;
}

Shape pad_output(const Shape& x, const std::vector<int64_t>& pads, PadMode mode) {
    const size_t r = x.size();
    if (pads.size() != 2 * r) fail("Pad: pads has ", pads.size(), " entries, expected ", 2 * r, " for ", to_string(x));
    Shape out(r);
    for (size_t d = 0; d < r; ++d) {
        out[d] = x[d] + pads[d] + pads[d + r];
        if (out[d] < 0) fail("Pad: pads crop axis ", d, " of ", to_string(x), " below zero");
        if (mode != PadMode::Constant && x[d] == 0 && out[d] > 0)
            fail("Pad: cannot ", mode == PadMode::Edge ? "edge" : "reflect", "-pad the empty axis ", d);
    }
    return out;
}

template <class T>
void pad_impl(const T* x, const Shape& in, const std::vector<int64_t>& pads, PadMode mode, T value, T* y) {
    const size_t r = in.size();
    const Shape out = pad_output(in, pads, mode);
    const int64_t total = numel(out);
    if (total == 0) return;
    if (r == 0) {
        y[0] = x[0];
        return;
    }
    std::vector<std::vector<int64_t>> src(r);
    for (size_t d = 0; d < r; ++d)
        for (int64_t o = 0; o < out[d]; ++o) src[d].push_back(pad_source(mode, o, pads[d], in[d]));
    const auto st = strides_of(in);
    const int64_t inner = out[r - 1];
    std::vector<int64_t> idx(r, 0);
    for (int64_t o = 0; o < total; o += inner) {
        int64_t base = 0;
        bool constant_row = false;
        for (size_t d = 0; d + 1 < r; ++d) {
            const int64_t s = src[d][idx[d]];
            if (s < 0) constant_row = true;
            base += s * st[d];
        }
        T* yr = y + o;
        if (constant_row) {
            std::fill(yr, yr + inner, value);
        } else {
            const std::vector<int64_t>& sl = src[r - 1];
            for (int64_t k = 0; k < inner; ++k) yr[k] = sl[k] < 0 ? value : x[base + sl[k]];
        }
        for (int64_t d = static_cast<int64_t>(r) - 2; d >= 0; --d) {
            if (++idx[d] < out[d]) break;
            idx[d] = 0;
        }
    }
}

}  // namespace

const std::vector<int64_t>& PadOp::pads(const std::vector<const ValueInfo*>& in) const {
    if (const ValueInfo* p = opt_input(in, 1)) return require_int_const(*p, type(), "pads");
    if (!pads_) fail("Pad needs pads (attribute or input 1)");
    return *pads_;
}

std::vector<ValueInfo> PadOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "data");
    if (opt_input(in, 3)) fail("Pad: the axes input (opset 18) is not supported");
    const Shape out = pad_output(x.shape, pads(in), mode_);
    if (const ValueInfo* v = opt_input(in, 2)) {
        if (v->dtype != x.dtype) fail("Pad: constant_value type differs from the data type");
        if (numel(v->shape) != 1) fail("Pad: constant_value must be a scalar, got ", to_string(v->shape));
    }
    if (x.dtype == DType::Float) return {float_value(out)};
    const auto& xv = require_int_const(x, type(), "data");
    int64_t value = static_cast<int64_t>(value_);
    if (const ValueInfo* v = opt_input(in, 2)) value = require_int_const(*v, type(), "constant_value")[0];
    std::vector<int64_t> y(numel(out));
    pad_impl(xv.data(), x.shape, pads(in), mode_, value, y.data());
    return {int_constant(out, std::move(y))};
}

void PadOp::run(const RunArgs& a) const {
    const float value = a.in.size() > 2 && a.in[2] ? a.in[2]->data[0] : value_;
    pad_impl(a.in[0]->ptr(), a.in[0]->shape, pads(a.in_info), mode_, value, a.out[0]->ptr());
}

std::string PadOp::describe() const {
    return mode_ == PadMode::Constant ? cat("constant ", value_) : mode_ == PadMode::Edge ? "edge" : "reflect";
}

Tensor pad_reference(const Tensor& x, PadMode mode, const std::vector<int64_t>& pads, float value) {
    const size_t r = x.shape.size();
    const Shape out = pad_output(x.shape, pads, mode);
    Tensor y(out);
    const auto st = strides_of(x.shape);
    for (int64_t e = 0; e < y.size(); ++e) {
        int64_t rem = e, off = 0;
        bool constant = false;
        for (size_t d = r; d-- > 0;) {
            const int64_t o = rem % out[d];
            rem /= out[d];
            const int64_t s = pad_source(mode, o, pads[d], x.shape[d]);
            if (s < 0) constant = true;
            off += s * st[d];
        }
        y.data[e] = constant ? value : x.data[off];
    }
    return y;
}

}  // namespace qcnn
