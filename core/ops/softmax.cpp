#include "core/ops/softmax.h"

#include <cmath>
#include <limits>

#include "core/ops/op_helpers.h"

namespace qcnn {

namespace {

// The softmax as {outer, n, inner}: normalize over n for each (outer, inner) pair.
struct SoftmaxDims {
    int64_t outer = 1, n = 1, inner = 1;
};

SoftmaxDims softmax_dims(const Shape& s, int64_t axis_attr, bool coerce_2d) {
    const int64_t r = static_cast<int64_t>(s.size());
    SoftmaxDims d;
    if (r == 0) return d;
    const int64_t axis = normalize_axis(axis_attr, r, "Softmax axis");
    for (int64_t i = 0; i < axis; ++i) d.outer *= s[i];
    if (coerce_2d) {
        for (int64_t i = axis; i < r; ++i) d.n *= s[i];
    } else {
        d.n = s[axis];
        for (int64_t i = axis + 1; i < r; ++i) d.inner *= s[i];
    }
    return d;
}

}  // namespace

std::vector<ValueInfo> SoftmaxOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "input");
    require_float(x, type(), "input");
    softmax_dims(x.shape, axis_, coerce_2d_);
    return {float_value(x.shape)};
}

void SoftmaxOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    const SoftmaxDims d = softmax_dims(x.shape, axis_, coerce_2d_);
    const int64_t rows = d.outer;
    const int threads = static_cast<int>(std::clamp<int64_t>(x.size() / 16384, 1, std::max(a.ctx.threads, 1)));
#pragma omp parallel num_threads(threads)
    {
        std::vector<float> mx(d.inner), sum(d.inner);
#pragma omp for schedule(static)
        for (int64_t o = 0; o < rows; ++o) {
            const float* xp = x.ptr() + o * d.n * d.inner;
            float* yp = y.ptr() + o * d.n * d.inner;
            if (d.inner == 1) {
                float m = -std::numeric_limits<float>::infinity();
                for (int64_t k = 0; k < d.n; ++k) m = std::max(m, xp[k]);
                float s = 0.0f;
                for (int64_t k = 0; k < d.n; ++k) {
                    yp[k] = std::exp(xp[k] - m);
                    s += yp[k];
                }
                const float inv = 1.0f / s;
                for (int64_t k = 0; k < d.n; ++k) yp[k] *= inv;
                continue;
            }
            std::fill(mx.begin(), mx.end(), -std::numeric_limits<float>::infinity());
            std::fill(sum.begin(), sum.end(), 0.0f);
            for (int64_t k = 0; k < d.n; ++k)
                for (int64_t i = 0; i < d.inner; ++i) mx[i] = std::max(mx[i], xp[k * d.inner + i]);
            for (int64_t k = 0; k < d.n; ++k)
                for (int64_t i = 0; i < d.inner; ++i) {
                    const float e = std::exp(xp[k * d.inner + i] - mx[i]);
                    yp[k * d.inner + i] = e;
                    sum[i] += e;
                }
            for (int64_t i = 0; i < d.inner; ++i) sum[i] = 1.0f / sum[i];
            for (int64_t k = 0; k < d.n; ++k)
                for (int64_t i = 0; i < d.inner; ++i) yp[k * d.inner + i] *= sum[i];
        }
    }
}

std::string SoftmaxOp::describe() const { return cat("axis ", axis_, coerce_2d_ ? " (2-D)" : ""); }

Tensor softmax_reference(const Tensor& x, int64_t axis, bool coerce_2d) {
    const SoftmaxDims d = softmax_dims(x.shape, axis, coerce_2d);
    Tensor y(x.shape);
    for (int64_t o = 0; o < d.outer; ++o)
        for (int64_t i = 0; i < d.inner; ++i) {
            auto at = [&](int64_t k) { return (o * d.n + k) * d.inner + i; };
            double m = -std::numeric_limits<double>::infinity(), s = 0.0;
            for (int64_t k = 0; k < d.n; ++k) m = std::max<double>(m, x.data[at(k)]);
            for (int64_t k = 0; k < d.n; ++k) s += std::exp(x.data[at(k)] - m);
            for (int64_t k = 0; k < d.n; ++k) y.data[at(k)] = static_cast<float>(std::exp(x.data[at(k)] - m) / s);
        }
    return y;
}

}  // namespace qcnn
