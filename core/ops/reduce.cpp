#include "core/ops/reduce.h"

#include <algorithm>

#include "core/ops/op_helpers.h"

namespace qcnn {

std::vector<int64_t> ReduceOp::resolve_axes(int64_t rank, const ValueInfo* axes_input) const {
    std::vector<int64_t> axes;
    bool given = false;
    if (p_.axes_from_input) {
        if (axes_input) {
            axes = require_int_const(*axes_input, type(), "axes");
            given = true;
        }
    } else if (p_.axes) {
        axes = *p_.axes;
        given = true;
    }
    if (!given || axes.empty()) {
        if (p_.noop_with_empty_axes) return {};
        axes.resize(rank);
        for (int64_t i = 0; i < rank; ++i) axes[i] = i;
        return axes;
    }
    for (int64_t& a : axes) a = normalize_axis(a, rank, cat(type(), " axes"));
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
        fail(type(), ": axis ", *std::adjacent_find(axes.begin(), axes.end()), " is listed twice");
    return axes;
}

Shape reduce_shape(const Shape& x, const std::vector<int64_t>& axes, bool keepdims) {
    Shape out;
    for (int64_t d = 0; d < static_cast<int64_t>(x.size()); ++d) {
        const bool red = std::binary_search(axes.begin(), axes.end(), d);
        if (!red)
            out.push_back(x[d]);
        else if (keepdims)
            out.push_back(1);
    }
    return out;
}

std::vector<ValueInfo> ReduceOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "data");
    require_float(x, type(), "data");
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const std::vector<int64_t> axes = resolve_axes(rank, opt_input(in, 1));
    if (axes.empty()) return {float_value(x.shape)};
    if (p_.kind == ReduceKind::Mean)
        for (int64_t a : axes)
            if (x.shape[a] == 0) fail(type(), ": the mean over axis ", a, " of ", to_string(x.shape), " is empty");
    return {float_value(reduce_shape(x.shape, axes, p_.keepdims))};
}

std::string ReduceOp::describe() const {
    std::string s = p_.keepdims ? "keepdims" : "";
    if (p_.axes) {
        s += s.empty() ? "axes" : " axes";
        for (int64_t a : *p_.axes) s += cat(" ", a);
    }
    return s;
}

void ReduceOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    const std::vector<int64_t> axes =
        resolve_axes(static_cast<int64_t>(x.shape.size()), a.in_info.size() > 1 ? a.in_info[1] : nullptr);
    Tensor& y = *a.out[0];
    if (axes.empty()) {
        std::copy(x.data.begin(), x.data.end(), y.data.begin());
        return;
    }
    reduce_float(p_.kind, x, axes, y, a.ctx.threads);
}

void reduce_float(ReduceKind kind, const Tensor& x, const std::vector<int64_t>& axes, Tensor& y, int threads) {
    // Merge adjacent axes of the same kind (size-1 axes join either side).
    std::vector<int64_t> dims;
    std::vector<char> red;
    int64_t count = 1;
    for (int64_t d = 0; d < static_cast<int64_t>(x.shape.size()); ++d) {
        const char r = std::binary_search(axes.begin(), axes.end(), d) ? 1 : 0;
        if (r) count *= x.shape[d];
        if (x.shape[d] == 1) continue;
        if (!dims.empty() && red.back() == r)
            dims.back() *= x.shape[d];
        else {
            dims.push_back(x.shape[d]);
            red.push_back(r);
        }
    }
    const double scale = kind == ReduceKind::Mean ? 1.0 / static_cast<double>(count) : 1.0;
    const int64_t ny = y.size();
    if (x.size() == 0) {
        std::fill(y.data.begin(), y.data.end(), 0.0f);
        return;
    }
    const int reduced_blocks = static_cast<int>(std::count(red.begin(), red.end(), 1));
    if (reduced_blocks <= 1) {
        // outer x reduced x inner
        int64_t outer = 1, n = 1, inner = 1;
        size_t i = 0;
        for (; i < dims.size() && !red[i]; ++i) outer *= dims[i];
        if (i < dims.size()) n = dims[i++];
        for (; i < dims.size(); ++i) inner *= dims[i];
        const float* px = x.ptr();
        float* py = y.ptr();
        parallel_chunks(outer, threads, std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, n * inner)),
                        [&](int64_t o0, int64_t o1) {
                            std::vector<double> acc(inner);
                            for (int64_t o = o0; o < o1; ++o) {
                                std::fill(acc.begin(), acc.end(), 0.0);
                                const float* row = px + o * n * inner;
                                for (int64_t k = 0; k < n; ++k)
                                    for (int64_t j = 0; j < inner; ++j) acc[j] += row[k * inner + j];
                                for (int64_t j = 0; j < inner; ++j) py[o * inner + j] = static_cast<float>(acc[j] * scale);
                            }
                        });
        return;
    }
    // Several reduced blocks: walk the input once, accumulating into the output element.
    std::vector<double> acc(ny, 0.0);
    const size_t r = dims.size();
    std::vector<int64_t> ystride(r, 0);
    for (int64_t s = 1, k = static_cast<int64_t>(r) - 1; k >= 0; --k)
        if (!red[k]) {
            ystride[k] = s;
            s *= dims[k];
        }
    std::vector<int64_t> idx(r, 0);
    int64_t yo = 0;
    for (int64_t e = 0; e < x.size(); ++e) {
        acc[yo] += x.data[e];
        for (size_t k = r; k-- > 0;) {
            yo += ystride[k];
            if (++idx[k] < dims[k]) break;
            yo -= ystride[k] * dims[k];
            idx[k] = 0;
        }
    }
    for (int64_t j = 0; j < ny; ++j) y.data[j] = static_cast<float>(acc[j] * scale);
}

void reduce_reference(ReduceKind kind, const Tensor& x, const std::vector<int64_t>& axes, bool keepdims, Tensor& y) {
    const Shape ys = reduce_shape(x.shape, axes, true);
    std::vector<double> acc(numel(ys), 0.0);
    const auto xs = strides_of(x.shape), os = strides_of(ys);
    int64_t count = 1;
    for (int64_t a : axes) count *= x.shape[a];
    for (int64_t e = 0; e < x.size(); ++e) {
        int64_t rem = e, o = 0;
        for (size_t d = 0; d < x.shape.size(); ++d) {
            const int64_t i = rem / xs[d];
            rem %= xs[d];
            if (!std::binary_search(axes.begin(), axes.end(), static_cast<int64_t>(d))) o += i * os[d];
        }
        acc[o] += x.data[e];
    }
    y.resize(reduce_shape(x.shape, axes, keepdims));
    for (int64_t j = 0; j < y.size(); ++j)
        y.data[j] = static_cast<float>(kind == ReduceKind::Mean ? acc[j] / static_cast<double>(count) : acc[j]);
}

}  // namespace qcnn
