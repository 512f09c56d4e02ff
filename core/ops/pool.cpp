#include "core/ops/pool.h"

#include <cmath>
#include <limits>

#include "core/ops/op_helpers.h"

namespace qcnn {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Per output position along one axis: first input position, valid taps [k0, k1) (inside the
// input), and the number of taps inside the padded extent (count_include_pad divisor).
struct AxisTaps {
    std::vector<int64_t> start, k0, k1, incl;
};

AxisTaps axis_taps(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
    AxisTaps t;
    t.start.resize(out);
    t.k0.resize(out);
    t.k1.resize(out);
    t.incl.resize(out);
    for (int64_t o = 0; o < out; ++o) {
        const int64_t st = o * s - pb;
        const int64_t lo = st >= 0 ? 0 : std::min(k, ceil_div(-st, d));
        const int64_t hi = in - st > 0 ? std::min(k, ceil_div(in - st, d)) : 0;
        t.start[o] = st;
        t.k0[o] = lo;
        t.k1[o] = std::max(lo, hi);
        t.incl[o] = in + pe - st > 0 ? std::min(k, ceil_div(in + pe - st, d)) : 0;
    }
    return t;
}

// One kernel row of the interior columns: dst[i] = max(dst[i], src[i*s + kw*d] over kw) or
// dst[i] += sum over kw. Common kernel widths and strides are compile-time constants so the
// taps unroll and the loop over outputs vectorizes.
template <bool Max, int64_t KW, int64_t S>
void accumulate_row(float* __restrict dst, const float* __restrict src, int64_t n, int64_t kw_rt, int64_t s_rt,
                    int64_t d) {
    const int64_t kw_n = KW > 0 ? KW : kw_rt, s = S > 0 ? S : s_rt;
    if (KW > 0 && d == 1) {
        for (int64_t i = 0; i < n; ++i) {
            float v = dst[i];
            for (int64_t k = 0; k < kw_n; ++k) v = Max ? std::max(v, src[i * s + k]) : v + src[i * s + k];
            dst[i] = v;
        }
        return;
    }
    for (int64_t k = 0; k < kw_n; ++k)
        for (int64_t i = 0; i < n; ++i) dst[i] = Max ? std::max(dst[i], src[i * s + k * d]) : dst[i] + src[i * s + k * d];
}

template <bool Max>
void accumulate_row(float* dst, const float* src, int64_t n, int64_t kw, int64_t s, int64_t d) {
    if (d == 1 && kw == 2 && s == 2) return accumulate_row<Max, 2, 2>(dst, src, n, kw, s, d);
    if (d == 1 && kw == 3 && s == 2) return accumulate_row<Max, 3, 2>(dst, src, n, kw, s, d);
    if (d == 1 && kw == 3 && s == 1) return accumulate_row<Max, 3, 1>(dst, src, n, kw, s, d);
    if (d == 1 && kw == 2 && s == 1) return accumulate_row<Max, 2, 1>(dst, src, n, kw, s, d);
    if (s == 1) return accumulate_row<Max, 0, 1>(dst, src, n, kw, s, d);
    accumulate_row<Max, 0, 0>(dst, src, n, kw, s, d);
}

}  // namespace

PoolGeometry pool_geometry(const PoolParams& p, const Shape& x) {
    const size_t r = p.kernel.size();
    if (x.size() != r + 2)
        fail("a ", r, "-D pooling kernel expects a ", r + 2, "-D input (N, C, spatial...), got ", to_string(x));
    PoolGeometry g;
    g.planes = x[0] * x[1];
    for (size_t a = 0; a < r; ++a) {
        const size_t i = 3 - r + a;
        g.in[i] = x[2 + a];
        g.k[i] = p.kernel[a];
        g.s[i] = p.strides.empty() ? 1 : p.strides[a];
        g.d[i] = p.dilations.empty() ? 1 : p.dilations[a];
        const int64_t ek = g.d[i] * (g.k[i] - 1) + 1;
        if (p.auto_pad == "SAME_UPPER" || p.auto_pad == "SAME_LOWER") {
            g.out[i] = ceil_div(g.in[i], g.s[i]);
            const int64_t total = std::max<int64_t>(0, (g.out[i] - 1) * g.s[i] + ek - g.in[i]);
            const int64_t small = total / 2;
            g.pb[i] = p.auto_pad == "SAME_UPPER" ? small : total - small;
            g.pe[i] = total - g.pb[i];
            continue;
        }
        if (p.auto_pad == "VALID") {
            g.pb[i] = g.pe[i] = 0;
        } else if (p.auto_pad == "NOTSET" || p.auto_pad.empty()) {
            g.pb[i] = p.pads.empty() ? 0 : p.pads[a];
            g.pe[i] = p.pads.empty() ? 0 : p.pads[a + r];
        } else {
            fail("unknown auto_pad '", p.auto_pad, "' (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)");
        }
        const int64_t span = g.in[i] + g.pb[i] + g.pe[i] - ek;
        if (span < 0)
            fail("pooling kernel ", g.k[i], " (dilation ", g.d[i], ") does not fit the padded input size ",
                 g.in[i] + g.pb[i] + g.pe[i], " of spatial axis ", a);
        if (p.ceil_mode && p.auto_pad != "VALID") {
            g.out[i] = ceil_div(span, g.s[i]) + 1;
            // The last window must start inside the input or its leading padding.
            if ((g.out[i] - 1) * g.s[i] >= g.in[i] + g.pb[i]) --g.out[i];
        } else {
            g.out[i] = span / g.s[i] + 1;
        }
    }
    return g;
}

Shape pool_output_shape(const PoolParams& p, const Shape& x) {
    const PoolGeometry g = pool_geometry(p, x);
    Shape out{x[0], x[1]};
    for (size_t a = 0; a < p.kernel.size(); ++a) out.push_back(g.out[3 - p.kernel.size() + a]);
    return out;
}

PoolOp::PoolOp(PoolParams p) : p_(std::move(p)) {
    const size_t r = p_.kernel.size();
    const std::string what = type();
    if (r < 1 || r > 3) fail(what, ": kernel_shape must have 1 to 3 entries, got ", r);
    if (!p_.strides.empty() && p_.strides.size() != r)
        fail(what, ": strides has ", p_.strides.size(), " entries, kernel_shape has ", r);
    if (!p_.dilations.empty() && p_.dilations.size() != r)
        fail(what, ": dilations has ", p_.dilations.size(), " entries, kernel_shape has ", r);
    if (!p_.pads.empty() && p_.pads.size() != 2 * r)
        fail(what, ": pads has ", p_.pads.size(), " entries, expected ", 2 * r);
    for (int64_t v : p_.kernel)
        if (v < 1) fail(what, ": kernel_shape entries must be >= 1");
    for (int64_t v : p_.strides)
        if (v < 1) fail(what, ": strides must be >= 1");
    for (int64_t v : p_.dilations)
        if (v < 1) fail(what, ": dilations must be >= 1");
    for (int64_t v : p_.pads)
        if (v < 0) fail(what, ": pads must be >= 0");
}

std::vector<ValueInfo> PoolOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "X");
    require_float(x, type(), "X");
    return {float_value(pool_output_shape(p_, x.shape))};
}

bool PoolOp::is_max_pool2(const std::vector<const ValueInfo*>& in) const {
    auto all = [](const std::vector<int64_t>& v, int64_t x) {
        return std::all_of(v.begin(), v.end(), [x](int64_t e) { return e == x; });
    };
    return p_.kind == PoolKind::Max && p_.kernel == std::vector<int64_t>{2, 2} && p_.strides == std::vector<int64_t>{2, 2} &&
           all(p_.pads, 0) && all(p_.dilations, 1) && !p_.ceil_mode && (p_.auto_pad == "NOTSET" || p_.auto_pad == "VALID") &&
           !in.empty() && in[0] && in[0]->shape.size() == 4 && in[0]->shape[2] >= 2 && in[0]->shape[3] >= 2;
}

void PoolOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    const PoolGeometry g = pool_geometry(p_, x.shape);
    AxisTaps t[3];
    for (int i = 0; i < 3; ++i) t[i] = axis_taps(g.in[i], g.out[i], g.k[i], g.s[i], g.d[i], g.pb[i], g.pe[i]);
    const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
    const int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
    const bool is_max = p_.kind == PoolKind::Max;
    const bool incl = p_.count_include_pad;
    const int64_t H = g.in[1], W = g.in[2], OW = g.out[2];
    const int64_t KW = g.k[2], SW = g.s[2], dd = g.d[0], dh = g.d[1], dw = g.d[2];
    const float init = is_max ? -std::numeric_limits<float>::infinity() : 0.0f;
    // Interior output columns [lo, hi): the whole kernel row lies inside the input, so they
    // are computed row by row with branch-free loops over the output columns.
    int64_t lo = 0;
    while (lo < OW && !(t[2].k0[lo] == 0 && t[2].k1[lo] == KW)) ++lo;
    int64_t hi = lo;
    while (hi < OW && t[2].k0[hi] == 0 && t[2].k1[hi] == KW) ++hi;
    const int64_t n_in = hi - lo;
    const int threads = static_cast<int>(std::clamp<int64_t>(
        g.planes * out_plane * g.k[0] * g.k[1] * g.k[2] / 65536, 1, std::max(a.ctx.threads, 1)));
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t p = 0; p < g.planes; ++p) {
        const float* xp = x.ptr() + p * in_plane;
        float* yp = y.ptr() + p * out_plane;
        for (int64_t od = 0; od < g.out[0]; ++od)
            for (int64_t oh = 0; oh < g.out[1]; ++oh) {
                const int64_t kd0 = t[0].k0[od], kd1 = t[0].k1[od], sd = t[0].start[od];
                const int64_t kh0 = t[1].k0[oh], kh1 = t[1].k1[oh], sh = t[1].start[oh];
                const int64_t rows = (kd1 - kd0) * (kh1 - kh0);
                const int64_t rows_incl = t[0].incl[od] * t[1].incl[oh];
                float* yr = yp + (od * g.out[1] + oh) * OW;
                // Interior columns.
                std::fill(yr + lo, yr + hi, init);
                for (int64_t kd = kd0; kd < kd1; ++kd)
                    for (int64_t kh = kh0; kh < kh1; ++kh) {
                        const float* row = xp + ((sd + kd * dd) * H + sh + kh * dh) * W;
                        const float* src = row + (n_in ? t[2].start[lo] : 0);
                        if (is_max)
                            accumulate_row<true>(yr + lo, src, n_in, KW, SW, dw);
                        else
                            accumulate_row<false>(yr + lo, src, n_in, KW, SW, dw);
                    }
                if (!is_max) {
                    const int64_t cnt = (incl ? rows_incl : rows) * KW;
                    const float inv = cnt > 0 ? 1.0f / static_cast<float>(cnt) : 0.0f;
                    for (int64_t i = lo; i < hi; ++i) yr[i] *= inv;
                }
                // Border columns: per output, clipped to the valid taps.
                for (int64_t ow = 0; ow < OW; ++ow) {
                    if (ow == lo) ow = hi;
                    if (ow >= OW) break;
                    const int64_t kw0 = t[2].k0[ow], kw1 = t[2].k1[ow], sw = t[2].start[ow];
                    float acc = init;
                    for (int64_t kd = kd0; kd < kd1; ++kd)
                        for (int64_t kh = kh0; kh < kh1; ++kh) {
                            const float* row = xp + ((sd + kd * dd) * H + sh + kh * dh) * W + sw;
                            if (is_max)
                                for (int64_t kw = kw0; kw < kw1; ++kw) acc = std::max(acc, row[kw * dw]);
                            else
                                for (int64_t kw = kw0; kw < kw1; ++kw) acc += row[kw * dw];
                        }
                    if (!is_max) {
                        const int64_t cnt = incl ? rows_incl * t[2].incl[ow] : rows * (kw1 - kw0);
                        acc = cnt > 0 ? acc / static_cast<float>(cnt) : 0.0f;
                    }
                    yr[ow] = acc;
                }
            }
    }
}

std::string PoolOp::describe() const {
    std::string s;
    for (size_t i = 0; i < p_.kernel.size(); ++i) s += cat(i ? "x" : "", p_.kernel[i]);
    if (!p_.strides.empty()) s += cat(" s", p_.strides[0]);
    bool padded = false;
    for (int64_t v : p_.pads) padded = padded || v != 0;
    if (padded) s += cat(" p", p_.pads[0]);
    if (p_.auto_pad != "NOTSET" && !p_.auto_pad.empty()) s += " " + p_.auto_pad;
    if (p_.ceil_mode) s += " ceil";
    return s;
}

Tensor pool_reference(const Tensor& x, const PoolParams& p) {
    const PoolGeometry g = pool_geometry(p, x.shape);
    Tensor y(pool_output_shape(p, x.shape));
    int64_t e = 0;
    for (int64_t pl = 0; pl < g.planes; ++pl)
        for (int64_t od = 0; od < g.out[0]; ++od)
            for (int64_t oh = 0; oh < g.out[1]; ++oh)
                for (int64_t ow = 0; ow < g.out[2]; ++ow) {
                    double mx = -std::numeric_limits<double>::infinity(), sum = 0.0;
                    int64_t valid = 0, inside_pad = 0;
                    for (int64_t kd = 0; kd < g.k[0]; ++kd)
                        for (int64_t kh = 0; kh < g.k[1]; ++kh)
                            for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                                const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
                                const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
                                const int64_t iw = ow * g.s[2] - g.pb[2] + kw * g.d[2];
                                if (id < g.in[0] + g.pe[0] && ih < g.in[1] + g.pe[1] && iw < g.in[2] + g.pe[2])
                                    ++inside_pad;
                                if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 || iw >= g.in[2])
                                    continue;
                                const float v = x.data[((pl * g.in[0] + id) * g.in[1] + ih) * g.in[2] + iw];
                                mx = std::max<double>(mx, v);
                                sum += v;
                                ++valid;
                            }
                    double r;
                    if (p.kind == PoolKind::Max) {
                        r = mx;
                    } else {
                        const int64_t cnt = p.count_include_pad ? inside_pad : valid;
                        r = cnt > 0 ? sum / cnt : 0.0;
                    }
                    y.data[e++] = static_cast<float>(r);
                }
    return y;
}

std::vector<ValueInfo> GlobalAveragePoolOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "X");
    require_float(x, type(), "X");
    if (x.shape.size() < 3)
        fail("GlobalAveragePool expects an input of rank >= 3 (N, C, spatial...), got ", to_string(x.shape));
    Shape out(x.shape.size(), 1);
    out[0] = x.shape[0];
    out[1] = x.shape[1];
    return {float_value(out)};
}

void GlobalAveragePoolOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    const int64_t planes = x.shape[0] * x.shape[1];
    const int64_t hw = planes ? x.size() / planes : 0;
    const float inv = hw ? 1.0f / static_cast<float>(hw) : 0.0f;
    const int threads = static_cast<int>(std::clamp<int64_t>(x.size() / 32768, 1, std::max(a.ctx.threads, 1)));
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t p = 0; p < planes; ++p) {
        y.data[p] = Eigen::Map<const Eigen::VectorXf>(x.ptr() + p * hw, hw).sum() * inv;
    }
}

}  // namespace qcnn
