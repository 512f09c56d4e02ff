// Shared helpers of the kernel tests: random PQ weights and the float LUT math in double
// precision, written independently of core/kernels.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/fast_conv.h"
#include "core/kernels/lut_tables.h"

namespace qcnn::test {

struct RandomLayer {
    LutGeometry geo;
    std::vector<float> codebooks;  // M x K x dsub
    std::vector<uint8_t> codes;    // C_t x P x Mg
    std::vector<float> bias;       // C_t or empty
};

inline RandomLayer random_layer(const LutGeometry& geo, uint64_t seed, bool with_bias = true) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    RandomLayer l;
    l.geo = geo;
    l.codebooks.resize(geo.subspaces() * geo.K * geo.dsub);
    for (auto& v : l.codebooks) v = nd(rng);
    std::uniform_int_distribution<int> code(0, static_cast<int>(geo.K) - 1);
    l.codes.resize(geo.out_channels * geo.kernel_size() * geo.subspaces_per_group());
    for (auto& c : l.codes) c = static_cast<uint8_t>(code(rng));
    if (with_bias) {
        l.bias.resize(geo.out_channels);
        for (auto& b : l.bias) b = nd(rng);
    }
    return l;
}

inline std::vector<float> random_input(int64_t count, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> x(count);
    for (auto& v : x) v = u(rng);
    return x;
}

// <x(m) at one position, D(m)_k> in double; x has channel stride cstride.
inline double lut_entry(const RandomLayer& l, const float* x, int64_t cstride, int64_t m, int64_t k) {
    const int64_t dsub = l.geo.dsub;
    double s = 0;
    for (int64_t i = 0; i < dsub; ++i)
        s += double(x[(m * dsub + i) * cstride]) * l.codebooks[(m * l.geo.K + k) * dsub + i];
    return s;
}

// Max over m of (max_k - min_k) of the LUT of one position, and the sum over m of max_k |LUT|.
inline void lut_stats(const RandomLayer& l, const float* x, int64_t cstride, double* max_range, double* abs_sum) {
    *max_range = 0;
    *abs_sum = 0;
    for (int64_t m = 0; m < l.geo.subspaces(); ++m) {
        double lo = 1e300, hi = -1e300, amax = 0;
        for (int64_t k = 0; k < l.geo.K; ++k) {
            const double v = lut_entry(l, x, cstride, m, k);
            lo = std::min(lo, v);
            hi = std::max(hi, v);
            amax = std::max(amax, std::abs(v));
        }
        *max_range = std::max(*max_range, hi - lo);
        *abs_sum += amax;
    }
}

// FC float LUT math: y[n, c] = bias[c] + sum_m LUT_n[m][code(c, m)].
inline std::vector<double> fc_lut_math(const RandomLayer& l, const std::vector<float>& x, int64_t rows) {
    const int64_t cs = l.geo.in_channels, ct = l.geo.out_channels, M = l.geo.subspaces();
    std::vector<double> y(rows * ct);
    for (int64_t n = 0; n < rows; ++n)
        for (int64_t c = 0; c < ct; ++c) {
            double s = l.bias.empty() ? 0.0 : l.bias[c];
            for (int64_t m = 0; m < M; ++m) s += lut_entry(l, x.data() + n * cs, 1, m, l.codes[c * M + m]);
            y[n * ct + c] = s;
        }
    return y;
}

// Conv float LUT math (qcnn-method.md section 2), plus per output the number of valid taps.
inline std::vector<double> conv_lut_math(const RandomLayer& l, const std::vector<float>& x, int64_t n, int64_t h,
                                         int64_t w, const ConvWindow& win, std::vector<int>* valid_taps = nullptr) {
    const LutGeometry& g = l.geo;
    const auto [oh, ow] = conv_window_output(h, w, g.kernel_h, g.kernel_w, win);
    const int64_t ct = g.out_channels, ctg = g.outputs_per_group(), Mg = g.subspaces_per_group(), P = g.kernel_size();
    std::vector<double> y(n * ct * oh * ow);
    if (valid_taps) valid_taps->assign(y.size(), 0);
    for (int64_t ni = 0; ni < n; ++ni)
        for (int64_t c = 0; c < ct; ++c) {
            const int64_t gi = c / ctg;
            for (int64_t oy = 0; oy < oh; ++oy)
                for (int64_t ox = 0; ox < ow; ++ox) {
                    double s = l.bias.empty() ? 0.0 : l.bias[c];
                    int taps = 0;
                    for (int64_t ki = 0; ki < g.kernel_h; ++ki)
                        for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
                            const int64_t iy = oy * win.stride_h - win.pad_top + ki * win.dilation_h;
                            const int64_t ix = ox * win.stride_w - win.pad_left + kj * win.dilation_w;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            ++taps;
                            const float* xp = x.data() + ni * g.in_channels * h * w + iy * w + ix;
                            for (int64_t j = 0; j < Mg; ++j)
                                s += lut_entry(l, xp, h * w, gi * Mg + j, l.codes[(c * P + ki * g.kernel_w + kj) * Mg + j]);
                        }
                    const int64_t o = ((ni * ct + c) * oh + oy) * ow + ox;
                    y[o] = s;
                    if (valid_taps) (*valid_taps)[o] = taps;
                }
        }
    return y;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (!(a[i] == b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) return false;
    return true;
}

// Every instruction set this CPU runs; for K > 16 only one per distinct method (the float
// path, and the vpermb path when AVX512-VBMI is present).
inline std::vector<KernelIsa> isas_to_test(int64_t K = 16) {
    if (K <= 16) return supported_isas();
    std::vector<KernelIsa> v{KernelIsa::Portable};
    if (isa_supported(KernelIsa::Avx512) && cpu_features().avx512vbmi) v.push_back(KernelIsa::Avx512);
    return v;
}

}  // namespace qcnn::test
