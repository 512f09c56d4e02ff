#include "core/quant/quantized_ops.h"

#include <algorithm>
#include <array>

#include "core/util/error.h"

namespace qcnn {
namespace {

// Codebooks M x K x dsub -> M x dsub x K, so LUT rows are built with unit stride over k.
std::vector<float> transpose_codebooks(const PQWeights& w) {
    const int64_t M = w.geo.subspaces(), K = w.geo.K, dsub = w.geo.dsub;
    std::vector<float> dt(M * dsub * K);
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k)
            for (int64_t l = 0; l < dsub; ++l) dt[(m * dsub + l) * K + k] = w.codebooks[(m * K + k) * dsub + l];
    return dt;
}

// One position's LUT {M, K}: lut[m*K + k] = sum_l x[(m*dsub + l) * stride] * D(m)_k[l], l ascending.
void build_lut(const float* x, int64_t stride, const float* dt, int64_t M, int64_t dsub, int64_t K, float* lut) {
    for (int64_t m = 0; m < M; ++m) {
        float* lm = lut + m * K;
        const float* dm = dt + m * dsub * K;
        const float x0 = x[m * dsub * stride];
        for (int64_t k = 0; k < K; ++k) lm[k] = x0 * dm[k];
        for (int64_t l = 1; l < dsub; ++l) {
            const float xv = x[(m * dsub + l) * stride];
            const float* dl = dm + l * K;
            for (int64_t k = 0; k < K; ++k) lm[k] += xv * dl[k];
        }
    }
}

void check_bias(const std::vector<float>& b, int64_t ct, const char* what) {
    if (!b.empty() && static_cast<int64_t>(b.size()) != ct)
        fail(what, " bias has ", b.size(), " values, expected ", ct);
}

}  // namespace

// ---------------------------------------------------------------------------------- QFc --

static LutGeometry lut_geometry(const PQGeometry& g) {
    return LutGeometry{g.out_channels, g.in_channels, g.groups, g.kernel_h, g.kernel_w, g.dsub, g.K};
}

QFcOp::QFcOp(PQWeights w, std::vector<float> bias, std::string source_type)
    : w_(std::move(w)), b_(std::move(bias)), source_type_(std::move(source_type)) {
    if (w_.geo.kind != LayerKind::Fc || w_.geo.groups != 1) fail("QFc: the product-quantized weight is not an FC weight");
    w_.validate("QFc weight");
    check_bias(b_, w_.geo.out_channels, "QFc");
    codes_ = w_.unpacked_codes();
    dt_ = transpose_codebooks(w_);
    fast_ = std::make_shared<const FastFc>(lut_geometry(w_.geo), w_.codebooks, codes_, b_);
}

std::vector<ValueInfo> QFcOp::infer(const std::vector<const ValueInfo*>& in) const {
    if (in.empty() || !in[0]) fail("QFc needs an input");
    const Shape& s = in[0]->shape;
    if (s.size() < 2) fail("QFc expects an input of rank >= 2, got ", to_string(s));
    if (s.back() != w_.geo.in_channels)
        fail("input ", to_string(s), " has ", s.back(), " features, the quantized weight expects ", w_.geo.in_channels);
    ValueInfo out;
    out.shape = s;
    out.shape.back() = w_.geo.out_channels;
    return {out};
}

int64_t QFcOp::params() const {
    return static_cast<int64_t>(w_.codebooks.size()) + w_.codes.count + static_cast<int64_t>(b_.size());
}

int64_t QFcOp::flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const {
    const Shape& s = in.at(0)->shape;
    int64_t rows = 1;
    for (size_t i = 1; i + 1 < s.size(); ++i) rows *= s[i];
    return rows * (w_.geo.in_channels * w_.geo.K + w_.geo.out_channels * w_.geo.subspaces());
}

bool QFcOp::weight_layer(LayerKind* kind) const {
    if (kind) *kind = LayerKind::Fc;
    return true;
}

std::string QFcOp::describe() const {
    return cat(w_.geo.in_channels, "->", w_.geo.out_channels, " PQ ", w_.geo.config_string());
}

void QFcOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    const int64_t cs = w_.geo.in_channels, ct = w_.geo.out_channels;
    const int64_t M = w_.geo.subspaces(), K = w_.geo.K, dsub = w_.geo.dsub;
    const int64_t rows = x.size() / cs;
    const int threads = a.ctx.threads_for(rows * (cs * K + ct * M));
    if (a.ctx.lut_kernel == LutKernel::Fast) {
        fast_->run(x.ptr(), rows, y.ptr(), threads);
        return;
    }
    const float* bias = b_.empty() ? nullptr : b_.data();

    auto accumulate = [&](const float* lut, float* yr, int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            const uint8_t* code = codes_.data() + c * M;
            float acc = bias ? bias[c] : 0.0f;
            for (int64_t m = 0; m < M; ++m) acc += lut[m * K + code[m]];
            yr[c] = acc;
        }
    };

    if (rows >= threads) {
        // Samples in parallel (or one thread), one LUT per thread.
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
            AlignedVector<float> lut(M * K);
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; ++r) {
                build_lut(x.ptr() + r * cs, 1, dt_.data(), M, dsub, K, lut.data());
                accumulate(lut.data(), y.ptr() + r * ct, 0, ct);
            }
        }
        return;
    }
    // Fewer samples than threads: split each sample's LUT (by subspace) and outputs.
    AlignedVector<float> lut(M * K);
    for (int64_t r = 0; r < rows; ++r) {
#pragma omp parallel num_threads(threads)
        {
#pragma omp for schedule(static)
            for (int64_t m = 0; m < M; ++m)
                build_lut(x.ptr() + r * cs + m * dsub, 1, dt_.data() + m * dsub * K, 1, dsub, K, lut.data() + m * K);
#pragma omp for schedule(static)
            for (int64_t c = 0; c < ct; ++c) accumulate(lut.data(), y.ptr() + r * ct, c, c + 1);
        }
    }
}

// --------------------------------------------------------------------------------- QConv --

QConvOp::QConvOp(ConvParams p, PQWeights w, std::vector<float> bias)
    : p_(std::move(p)), w_(std::move(w)), b_(std::move(bias)) {
    if (w_.geo.kind != LayerKind::Conv) fail("QConv: the product-quantized weight is not a conv weight");
    w_.validate("QConv weight");
    if (p_.group != w_.geo.groups)
        fail("QConv: group ", p_.group, " differs from the quantized weight's ", w_.geo.groups);
    if (p_.stride_h < 1 || p_.stride_w < 1 || p_.dilation_h < 1 || p_.dilation_w < 1)
        fail("QConv strides and dilations must be >= 1");
    if (p_.pad_top < 0 || p_.pad_left < 0 || p_.pad_bottom < 0 || p_.pad_right < 0) fail("QConv pads must be >= 0");
    p_.kernel_h = w_.geo.kernel_h;
    p_.kernel_w = w_.geo.kernel_w;
    check_bias(b_, w_.geo.out_channels, "QConv");
    codes_ = w_.unpacked_codes();
    dt_ = transpose_codebooks(w_);
    fast_ = std::make_shared<const FastConv>(lut_geometry(w_.geo), w_.codebooks, codes_, b_);
}

std::vector<ValueInfo> QConvOp::infer(const std::vector<const ValueInfo*>& in) const {
    if (in.empty() || !in[0]) fail("QConv needs an input");
    ValueInfo out;
    out.shape = conv_output_shape(in[0]->shape, p_, w_.geo.weight_shape());
    return {out};
}

int64_t QConvOp::params() const {
    return static_cast<int64_t>(w_.codebooks.size()) + w_.codes.count + static_cast<int64_t>(b_.size());
}

int64_t QConvOp::flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const {
    const Shape& x = in.at(0)->shape;
    const Shape& o = out.at(0).shape;
    const PQGeometry& g = w_.geo;
    return x[2] * x[3] * g.in_channels * g.K + o[2] * o[3] * g.out_channels * g.kernel_size() * g.subspaces_per_group();
}

bool QConvOp::weight_layer(LayerKind* kind) const {
    if (kind) *kind = LayerKind::Conv;
    return true;
}

std::string QConvOp::describe() const {
    return cat(w_.geo.in_channels, "->", w_.geo.out_channels, " ", p_.describe(), " PQ ", w_.geo.config_string());
}

void QConvOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    ConvParams p;
    const std::array<int64_t, 2> out_hw = p_.output_hw(x.shape[2], x.shape[3], &p);
    const int64_t oh = out_hw[0], ow = out_hw[1];
    const PQGeometry& g = w_.geo;
    const int64_t n = x.shape[0], cs = g.in_channels, h = x.shape[2], w = x.shape[3], hw = h * w;
    const int64_t ct = g.out_channels, ctg = g.outputs_per_group();
    const int64_t M = g.subspaces(), Mg = g.subspaces_per_group(), K = g.K, dsub = g.dsub;
    const int64_t kh = p.kernel_h, kw = p.kernel_w, P = kh * kw;
    const int threads = a.ctx.threads_for(n * (hw * cs * K + oh * ow * ct * P * Mg));
    if (a.ctx.lut_kernel == LutKernel::Fast) {
        fast_->run(x.ptr(), n, h, w,
                   ConvWindow{p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right, p.dilation_h,
                              p.dilation_w},
                   y.ptr(), threads);
        return;
    }

    // LUT {hw, M, K} for positions [p0, p1) of sample xs.
    auto build = [&](const float* xs, float* lut, int64_t p0, int64_t p1) {
        for (int64_t ps = p0; ps < p1; ++ps) build_lut(xs + ps, hw, dt_.data(), M, dsub, K, lut + ps * M * K);
    };
    // Output rows [r0, r1) of the flattened (c, oy) index of one sample.
    auto accumulate = [&](const float* lut, float* ys, int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t c = r / oh, oy = r % oh;
            const float* lut_g = lut + (c / ctg) * Mg * K;
            const uint8_t* code_c = codes_.data() + c * P * Mg;
            const float b = b_.empty() ? 0.0f : b_[c];
            float* yrow = ys + (c * oh + oy) * ow;
            for (int64_t ox = 0; ox < ow; ++ox) {
                float acc = b;
                for (int64_t ki = 0; ki < kh; ++ki) {
                    const int64_t iy = oy * p.stride_h - p.pad_top + ki * p.dilation_h;
                    if (iy < 0 || iy >= h) continue;
                    for (int64_t kj = 0; kj < kw; ++kj) {
                        const int64_t ix = ox * p.stride_w - p.pad_left + kj * p.dilation_w;
                        if (ix < 0 || ix >= w) continue;
                        const float* lrow = lut_g + (iy * w + ix) * M * K;
                        const uint8_t* code = code_c + (ki * kw + kj) * Mg;
                        for (int64_t j = 0; j < Mg; ++j) acc += lrow[j * K + code[j]];
                    }
                }
                yrow[ox] = acc;
            }
        }
    };

    const int64_t out_rows = ct * oh;
    if (n >= threads) {
        // Samples in parallel (or one thread), one LUT per thread.
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
            AlignedVector<float> lut(hw * M * K);
#pragma omp for schedule(static)
            for (int64_t i = 0; i < n; ++i) {
                build(x.ptr() + i * cs * hw, lut.data(), 0, hw);
                accumulate(lut.data(), y.ptr() + i * ct * oh * ow, 0, out_rows);
            }
        }
        return;
    }
    // Fewer samples than threads: split the LUT by position and the outputs by row.
    AlignedVector<float> lut(hw * M * K);
    for (int64_t i = 0; i < n; ++i) {
#pragma omp parallel num_threads(threads)
        {
#pragma omp for schedule(static)
            for (int64_t ps = 0; ps < hw; ++ps) build(x.ptr() + i * cs * hw, lut.data(), ps, ps + 1);
#pragma omp for schedule(static)
            for (int64_t r = 0; r < out_rows; ++r) accumulate(lut.data(), y.ptr() + i * ct * oh * ow, r, r + 1);
        }
    }
}

}  // namespace qcnn
