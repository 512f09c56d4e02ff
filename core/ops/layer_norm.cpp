#include "core/ops/layer_norm.h"

#include <cmath>

#include "core/ops/op_helpers.h"

namespace qcnn {

namespace {

struct Rows {
    int64_t axis = 0, rows = 1, cols = 1;
    Shape stat_shape;  // shape[:axis] + 1s
};

Rows rows_of(const Shape& x, int64_t axis_attr, const Tensor& scale, const std::vector<float>& bias) {
    Rows r;
    const int64_t rank = static_cast<int64_t>(x.size());
    if (rank < 1) fail("LayerNormalization: X must have rank >= 1, got ", to_string(x));
    r.axis = normalize_axis(axis_attr, rank, "LayerNormalization axis");
    for (int64_t d = 0; d < rank; ++d) {
        (d < r.axis ? r.rows : r.cols) *= x[d];
        r.stat_shape.push_back(d < r.axis ? x[d] : 1);
    }
    if (scale.size() != 1 && scale.size() != r.cols)
        fail("LayerNormalization: Scale ", to_string(scale.shape), " does not match the normalised shape ",
             to_string(Shape(x.begin() + r.axis, x.end())), " of X ", to_string(x));
    if (!bias.empty() && static_cast<int64_t>(bias.size()) != scale.size())
        fail("LayerNormalization: B has ", bias.size(), " values, Scale has ", scale.size());
    return r;
}

}  // namespace

LayerNormOp::LayerNormOp(int64_t axis, float epsilon, Tensor scale, std::vector<float> bias, int outputs)
    : axis_(axis), eps_(epsilon), scale_(std::move(scale)), bias_(std::move(bias)), outputs_(outputs) {
    if (!std::isfinite(eps_) || eps_ < 0) fail("LayerNormalization: epsilon must be finite and >= 0, got ", eps_);
    if (!bias_.empty() && static_cast<int64_t>(bias_.size()) != scale_.size())
        fail("LayerNormalization: B has ", bias_.size(), " values, Scale ", to_string(scale_.shape), " has ",
             scale_.size());
    if (outputs_ < 1 || outputs_ > 3) fail("LayerNormalization: ", outputs_, " outputs requested (1 to 3)");
}

std::vector<ValueInfo> LayerNormOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "X");
    require_float(x, type(), "X");
    const Rows r = rows_of(x.shape, axis_, scale_, bias_);
    std::vector<ValueInfo> out{float_value(x.shape)};
    for (int k = 1; k < outputs_; ++k) out.push_back(float_value(r.stat_shape));
    return out;
}

void LayerNormOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    const Rows r = rows_of(x.shape, axis_, scale_, bias_);
    const int64_t n = r.cols;
    const float* px = x.ptr();
    float* py = a.out[0]->ptr();
    float* pm = outputs_ > 1 ? a.out[1]->ptr() : nullptr;
    float* pi = outputs_ > 2 ? a.out[2]->ptr() : nullptr;
    const float* sc = scale_.ptr();
    const bool scalar_scale = scale_.size() == 1;
    const float* b = bias_.empty() ? nullptr : bias_.data();
    const int threads = a.ctx.threads_for(r.rows * n * 4);
    parallel_chunks(r.rows, threads, 1, [&](int64_t r0, int64_t r1) {
        for (int64_t row = r0; row < r1; ++row) {
            const float* xr = px + row * n;
            float* yr = py + row * n;
            double s = 0;
            for (int64_t j = 0; j < n; ++j) s += xr[j];
            const float mean = static_cast<float>(s / static_cast<double>(n));
            double v = 0;
            for (int64_t j = 0; j < n; ++j) {
                const double d = xr[j] - mean;
                v += d * d;
            }
            const float inv = static_cast<float>(1.0 / std::sqrt(v / static_cast<double>(n) + eps_));
            for (int64_t j = 0; j < n; ++j) {
                const float g = scalar_scale ? sc[0] : sc[j];
                const float bj = b ? (scalar_scale ? b[0] : b[j]) : 0.0f;
                yr[j] = (xr[j] - mean) * inv * g + bj;
            }
            if (pm) pm[row] = mean;
            if (pi) pi[row] = inv;
        }
    });
}

std::string LayerNormOp::describe() const { return cat("axis ", axis_, " eps ", eps_); }

Tensor layer_norm_reference(const Tensor& x, int64_t axis, float epsilon, const Tensor& scale,
                            const std::vector<float>& bias, Tensor* mean, Tensor* inv_std) {
    const Rows r = rows_of(x.shape, axis, scale, bias);
    Tensor y(x.shape);
    if (mean) mean->resize(r.stat_shape);
    if (inv_std) inv_std->resize(r.stat_shape);
    for (int64_t row = 0; row < r.rows; ++row) {
        double m = 0, v = 0;
        for (int64_t j = 0; j < r.cols; ++j) m += x.data[row * r.cols + j];
        m /= static_cast<double>(r.cols);
        for (int64_t j = 0; j < r.cols; ++j) v += (x.data[row * r.cols + j] - m) * (x.data[row * r.cols + j] - m);
        const double inv = 1.0 / std::sqrt(v / static_cast<double>(r.cols) + epsilon);
        for (int64_t j = 0; j < r.cols; ++j) {
            const double g = scale.data[scale.size() == 1 ? 0 : j];
            const double b = bias.empty() ? 0.0 : bias[bias.size() == 1 ? 0 : j];
            y.data[row * r.cols + j] = static_cast<float>((x.data[row * r.cols + j] - m) * inv * g + b);
        }
        if (mean) mean->data[row] = static_cast<float>(m);
        if (inv_std) inv_std->data[row] = static_cast<float>(inv);
    }
    return y;
}

}  // namespace qcnn
