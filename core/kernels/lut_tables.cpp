#include "core/kernels/lut_tables.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

#include "core/util/error.h"

namespace qcnn {

const char* lut_method_name(LutMethod m) {
    switch (m) {
        case LutMethod::Shuffle16: return "shuffle16";
        case LutMethod::Perm64: return "perm64";
        case LutMethod::Perm128: return "perm128";
        case LutMethod::Perm256: return "perm256";
        case LutMethod::Float: return "float";
    }
    return "?";
}

const char* lut_precision_name(LutPrecision p) {
    switch (p) {
        case LutPrecision::Auto: return "auto";
        case LutPrecision::Bits8: return "8";
        case LutPrecision::Bits16: return "16";
    }
    return "?";
}

LutPrecision resolve_lut_precision(LutPrecision p, int64_t K, int64_t terms) {
    if (p != LutPrecision::Auto) return p;
    return K > 16 && terms <= kMaxLutTerms16 ? LutPrecision::Bits16 : LutPrecision::Bits8;
}

LutMethod choose_lut_method(int64_t K, KernelIsa isa) {
    QCNN_ASSERT(isa != KernelIsa::Auto, "choose_lut_method needs a resolved instruction set");
    if (K <= 16) return LutMethod::Shuffle16;
    if ((isa == KernelIsa::Avx512 || isa == KernelIsa::Avx512Vnni) && cpu_features().avx512vbmi)
        return K <= 64 ? LutMethod::Perm64 : K <= 128 ? LutMethod::Perm128 : LutMethod::Perm256;
    return LutMethod::Float;
}

int64_t lut_row_length(LutMethod m, int64_t K) {
    switch (m) {
        case LutMethod::Shuffle16: return 16;
        case LutMethod::Perm64: return 64;
        case LutMethod::Perm128: return 128;
        case LutMethod::Perm256: return 256;
        case LutMethod::Float: return K;
    }
    return K;
}

void LutGeometry::validate(const std::string& what) const {
    if (out_channels < 1 || in_channels < 1) fail(what, ": channel counts must be >= 1, got C_t = ", out_channels,
                                                  ", C_s = ", in_channels);
    if (groups < 1 || in_channels % groups != 0 || out_channels % groups != 0)
        fail(what, ": groups = ", groups, " must divide C_s = ", in_channels, " and C_t = ", out_channels);
    if (kernel_h < 1 || kernel_w < 1) fail(what, ": kernel ", kernel_h, "x", kernel_w, " must be at least 1x1");
    if (dsub < 1 || (in_channels / groups) % dsub != 0)
        fail(what, ": C_s' = ", dsub, " must divide the ", in_channels / groups, " input channels per group");
    if (K < 1 || K > 256) fail(what, ": K = ", K, " codewords; expected 1..256");
    if (kernel_size() * subspaces_per_group() > kMaxLutTerms)
        fail(what, ": ", kernel_size() * subspaces_per_group(), " lookup terms per output exceed the limit ",
             kMaxLutTerms);
}

void LutGeometry::validate(const std::string& what, std::span<const float> codebooks, CodeView codes,
                           std::span<const float> bias) const {
    validate(what);
    const int64_t M = subspaces();
    if (static_cast<int64_t>(codebooks.size()) != M * K * dsub)
        fail(what, ": codebooks have ", codebooks.size(), " floats, expected M x K x dsub = ", M, " x ", K, " x ",
             dsub);
    for (size_t i = 0; i < codebooks.size(); ++i)
        if (!std::isfinite(codebooks[i])) fail(what, ": codebook value ", i, " is not finite");
    const int64_t ncodes = out_channels * kernel_size() * subspaces_per_group();
    if (codes.count != ncodes) fail(what, ": ", codes.count, " codes, expected C_t x P x Mg = ", ncodes);
    for (int64_t i = 0; i < codes.count; ++i)
        if (codes[i] >= K) fail(what, ": code ", int(codes[i]), " at index ", i, " is not below K = ", K);
    if (!bias.empty() && static_cast<int64_t>(bias.size()) != out_channels)
        fail(what, ": bias has ", bias.size(), " values, expected ", out_channels);
}

std::vector<float> transpose_codebooks(std::span<const float> codebooks, int64_t M, int64_t K, int64_t dsub,
                                       int64_t Kp) {
    QCNN_ASSERT(static_cast<int64_t>(codebooks.size()) == M * K * dsub && Kp >= K, "transpose_codebooks sizes");
    std::vector<float> dt(M * dsub * Kp, 0.0f);
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k)
            for (int64_t l = 0; l < dsub; ++l) dt[(m * dsub + l) * Kp + k] = codebooks[(m * K + k) * dsub + l];
    return dt;
}

std::vector<float> untranspose_codebooks(std::span<const float> dt, int64_t M, int64_t K, int64_t dsub, int64_t Kp) {
    QCNN_ASSERT(static_cast<int64_t>(dt.size()) == M * dsub * Kp && Kp >= K, "untranspose_codebooks sizes");
    std::vector<float> codebooks(M * K * dsub);
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k)
            for (int64_t l = 0; l < dsub; ++l) codebooks[(m * K + k) * dsub + l] = dt[(m * dsub + l) * Kp + k];
    return codebooks;
}

// The 64-byte vector helpers below are internal to this file; without AVX-512 GCC notes that
// passing such vectors by value has no stable ABI, which does not matter here.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace {

// Rows of 16 entries (K <= 16) as GCC vector-extension values: always vectorised (one zmm, two
// ymm or four xmm registers, whatever the build targets).
using F16 = float __attribute__((vector_size(64)));
using I16 = int32_t __attribute__((vector_size(64)));
using U16 = uint8_t __attribute__((vector_size(16)));

inline F16 load16(const float* p) {
    F16 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// L(k) for k < 16 from x_l = xm[l*cstride] and d[l*16 + k].
inline F16 row16(const float* xm, int64_t cstride, const float* d, int64_t dsub) {
    F16 r = xm[0] * load16(d);
    for (int64_t l = 1; l < dsub; ++l) r += xm[l * cstride] * load16(d + 16 * l);
    return r;
}

// L(k) for k < n from x_l = xm[l*cstride] and d[l*n + k].
inline void row_any(const float* xm, int64_t cstride, const float* d, int64_t dsub, int64_t n, float* r) {
    const float x0 = xm[0];
    for (int64_t k = 0; k < n; ++k) r[k] = x0 * d[k];
    for (int64_t l = 1; l < dsub; ++l) {
        const float xv = xm[l * cstride];
        const float* dl = d + l * n;
        for (int64_t k = 0; k < n; ++k) r[k] += xv * dl[k];
    }
}

struct MinMax16 {
    F16 mn, mx;
};

// Min / max over k < K of 16 lanes of entries L_lane(k) = sum_l x_l[lane] * d_l(k)[lane], with
// x_l = xv(l) and d_l(k) = dv(k, l) (a 16-lane vector or a scalar for every lane).
// DSUB > 0 fixes dsub at compile time (the x vectors then stay in registers).
template <int DSUB, class XV, class DV>
inline __attribute__((always_inline)) MinMax16 min_max16(XV xv, DV dv, int64_t dsub_rt, int64_t K) {
    const int64_t dsub = DSUB > 0 ? DSUB : dsub_rt;
    F16 xr[DSUB > 0 ? DSUB : 1];
    if constexpr (DSUB > 0)
        for (int l = 0; l < DSUB; ++l) xr[l] = xv(l);
    auto x = [&](int64_t l) { return DSUB > 0 ? xr[l] : xv(l); };
    F16 t = x(0) * dv(0, 0);
    for (int64_t l = 1; l < dsub; ++l) t += x(l) * dv(0, l);
    F16 mn = t, mx = t;
    for (int64_t k = 1; k < K; ++k) {
        t = x(0) * dv(k, 0);
        for (int64_t l = 1; l < dsub; ++l) t += x(l) * dv(k, l);
        mn = t < mn ? t : mn;
        mx = t > mx ? t : mx;
    }
    return {mn, mx};
}

// Accumulates x*0 of the inputs and range*0 into nf, which turns NaN when an input or a range
// is not finite (with finite codebooks an entry is finite or +-inf, and an infinite entry
// makes its row's range inf or NaN), and the lane-wise largest range.
template <class XV>
inline __attribute__((always_inline)) void account16(XV xv, int64_t dsub, const MinMax16& r, F16& range, F16& nf) {
    F16 z = xv(0) * 0.0f;
    for (int64_t l = 1; l < dsub; ++l) z += xv(l) * 0.0f;
    const F16 width = r.mx - r.mn;
    nf += z + width * 0.0f;
    range = width > range ? width : range;
}

LutRange finish_range(F16 range, F16 nf) {
    float r = 0.0f, z = 0.0f;
    for (int i = 0; i < 16; ++i) {
        r = std::max(r, range[i]);
        z += nf[i];
    }
    LutRange out;
    out.finite = std::isfinite(z) && std::isfinite(r);
    out.max_range = out.finite ? r : 0.0f;
    return out;
}

// One position's 16 entries of a subspace from its DSUB codeword vectors dv (x_l = xm[l*cstride]),
// and their 8/16-bit levels: floor((L - off) * scale + 0.5) clamped to [0, hi]. Pass B's two
// loops below share them, so they give the same bits.
template <int DSUB>
inline F16 row16_regs(const float* xm, int64_t cstride, const F16* dv) {
    F16 r = xm[0] * dv[0];
    for (int l = 1; l < DSUB; ++l) r += xm[l * cstride] * dv[l];
    return r;
}
inline I16 level16(F16 r, float off, float scale, I16 hi) {
    // (L - off) * scale + 0.5 lies in [0.5, Q + 0.5] (pass A computes L alike); the integer
    // clamp only guards the conversion.
    I16 v = __builtin_convertvector((r - off) * scale + 0.5f, I16);
    v = v < 0 ? I16{} : v;
    return v > hi ? hi : v;
}

#if defined(__AVX512BW__)
// The 8-bit rows of four subspaces [m, m + 4) at once (K = 16, DSUB fixed): each position's
// 64 bytes leave in one store, instead of four 16-byte stores into one cache line. The entries
// are quantize16's, computed by the same expressions.
template <int DSUB>
void quantize16_quads(const float* x, int64_t cstride, int64_t npos, const float* dt, int64_t m0, int64_t m1,
                      const float* off, int64_t off_stride, float scale, uint8_t* q, int64_t row_stride) {
    const I16 hi = I16{} + 255;
    for (int64_t m = m0; m + 4 <= m1; m += 4) {
        F16 dv[4][DSUB];
        for (int s = 0; s < 4; ++s)
            for (int l = 0; l < DSUB; ++l) dv[s][l] = load16(dt + ((m + s) * DSUB + l) * 16);
        const float* xm = x + m * DSUB * cstride;
        const float* om = off + m * off_stride;
        uint8_t* qm = q + m * 16;
        for (int64_t pos = 0; pos < npos; ++pos) {
            __m128i b[4];
            for (int s = 0; s < 4; ++s) {
                const I16 v = level16(row16_regs<DSUB>(xm + s * DSUB * cstride + pos, cstride, dv[s]),
                                      om[s * off_stride + pos], scale, hi);
                __m512i vi;
                std::memcpy(&vi, &v, sizeof vi);
                b[s] = _mm512_cvtepi32_epi8(vi);
            }
            __m512i row = _mm512_castsi128_si512(b[0]);
            row = _mm512_inserti32x4(row, b[1], 1);
            row = _mm512_inserti32x4(row, b[2], 2);
            row = _mm512_inserti32x4(row, b[3], 3);
            _mm512_storeu_si512(qm + pos * row_stride, row);
        }
    }
}
#endif

// Pass B for rows of 16 entries: subspace-outer, so the dsub codeword vectors stay in registers
// while the positions stream by. DSUB > 0 fixes dsub at compile time.
template <int DSUB>
void quantize16(const float* x, int64_t cstride, int64_t npos, const float* dt, int64_t M, int64_t m0, int64_t m1,
                int64_t dsub_rt, int64_t K, const float* off, int64_t off_stride, float scale, uint8_t* q,
                uint8_t* qlo, int64_t row_stride) {
#if defined(__AVX512BW__)
    if constexpr (DSUB > 0) {
        if (K == 16 && !qlo && m1 - m0 >= 4) {
            quantize16_quads<DSUB>(x, cstride, npos, dt, m0, m1, off, off_stride, scale, q, row_stride);
            m0 += (m1 - m0) / 4 * 4;
        }
    }
#endif
    const int64_t dsub = DSUB > 0 ? DSUB : dsub_rt;
    const I16 hi = I16{} + (qlo ? 65535 : 255);
    U16 keep;  // entries k >= K are 0
    for (int k = 0; k < 16; ++k) keep[k] = k < K ? 0xFF : 0;
    constexpr int kRegs = DSUB > 0 ? DSUB : 1;
    for (int64_t m = m0; m < m1; ++m) {
        const float* d = dt + m * dsub * 16;
        F16 dv[kRegs];
        if (DSUB > 0)
            for (int l = 0; l < DSUB; ++l) dv[l] = load16(d + 16 * l);
        const float* xm = x + m * dsub * cstride;
        const float* om = off + m * off_stride;
        uint8_t* qm = q + m * 16;
        for (int64_t pos = 0; pos < npos; ++pos) {
            F16 r;
            if constexpr (DSUB > 0) r = row16_regs<DSUB>(xm + pos, cstride, dv);
            else r = row16(xm + pos, cstride, d, dsub);
            I16 v = level16(r, om[pos], scale, hi);
            if (qlo) {
                const U16 l = __builtin_convertvector(v & 255, U16) & keep;
                std::memcpy(qlo + m * 16 + pos * row_stride, &l, sizeof l);
                v = v >> 8;
            }
            const U16 b = __builtin_convertvector(v, U16) & keep;
            std::memcpy(qm + pos * row_stride, &b, sizeof b);
        }
    }
}

}  // namespace

void build_lut_rows(const float* x, int64_t cstride, int64_t npos, const float* dt, int64_t M, int64_t m0, int64_t m1,
                    int64_t dsub, int64_t Kp, float* lut) {
    for (int64_t pos = 0; pos < npos; ++pos)
        for (int64_t m = m0; m < m1; ++m) {
            const float* xm = x + m * dsub * cstride + pos;
            const float* d = dt + m * dsub * Kp;
            float* out = lut + (pos * M + m) * Kp;
            if (Kp == 16) {
                const F16 r = row16(xm, cstride, d, dsub);
                std::memcpy(out, &r, sizeof r);
            } else {
                row_any(xm, cstride, d, dsub, Kp, out);
            }
        }
}

void LutRange::merge(const LutRange& o) {
    max_range = std::max(max_range, o.max_range);
    finite = finite && o.finite;
}

namespace {

template <int DSUB>
LutRange minima_positions(const float* x, int64_t cstride, int64_t npos, const float* dt, int64_t M,
                          int64_t dsub, int64_t K, int64_t Kp, float* off, int64_t off_stride) {
    F16 range{}, nf{};
    std::vector<float> tail;  // a last chunk of fewer than 16 positions, zero-padded (zeros add range 0)
    for (int64_t p0 = 0; p0 < npos; p0 += 16) {
        const int64_t n = std::min<int64_t>(16, npos - p0);
        for (int64_t m = 0; m < M; ++m) {
            const float* xm = x + m * dsub * cstride + p0;
            int64_t xs = cstride;
            if (n < 16) {
                tail.assign(dsub * 16, 0.0f);
                for (int64_t l = 0; l < dsub; ++l) std::copy(xm + l * cstride, xm + l * cstride + n, tail.data() + l * 16);
                xm = tail.data();
                xs = 16;
            }
            const float* dm = dt + m * dsub * Kp;
            auto xv = [=](int64_t l) { return load16(xm + l * xs); };
            const MinMax16 r = min_max16<DSUB>(xv, [=](int64_t k, int64_t l) { return dm[l * Kp + k]; }, dsub, K);
            account16(xv, dsub, r, range, nf);
            float* o = off + m * off_stride + p0;
            if (n == 16) std::memcpy(o, &r.mn, sizeof r.mn);
            else for (int64_t i = 0; i < n; ++i) o[i] = r.mn[i];
        }
    }
    return finish_range(range, nf);
}

}  // namespace

LutRange lut_minima_positions(const float* x, int64_t cstride, int64_t npos, const float* dt, int64_t M,
                              int64_t dsub, int64_t K, int64_t Kp, float* off, int64_t off_stride) {
    switch (dsub) {
        case 1: return minima_positions<1>(x, cstride, npos, dt, M, dsub, K, Kp, off, off_stride);
        case 2: return minima_positions<2>(x, cstride, npos, dt, M, dsub, K, Kp, off, off_stride);
        case 4: return minima_positions<4>(x, cstride, npos, dt, M, dsub, K, Kp, off, off_stride);
        case 8: return minima_positions<8>(x, cstride, npos, dt, M, dsub, K, Kp, off, off_stride);
        default: return minima_positions<0>(x, cstride, npos, dt, M, dsub, K, Kp, off, off_stride);
    }
}

LutRange lut_minima_subspaces(const float* xt, const float* dt, int64_t M, int64_t m0, int64_t m1, int64_t dsub,
                              int64_t K, int64_t Kp, float* off) {
    F16 range{}, nf{};
    // Per chunk of 16 subspaces: their codewords gathered from dt to K x dsub x 16 (zero past
    // the last subspace), and a last chunk's inputs zero-padded.
    static thread_local std::vector<float> tx, td;
    td.resize(K * dsub * 16);
    for (int64_t c0 = m0; c0 < m1; c0 += 16) {
        const int64_t n = std::min<int64_t>(16, m1 - c0);
        const float* xb = xt + c0;
        int64_t xs = M;
        if (n < 16) {
            tx.assign(dsub * 16, 0.0f);
            for (int64_t l = 0; l < dsub; ++l) std::copy(xb + l * M, xb + l * M + n, tx.data() + l * 16);
            xb = tx.data();
            xs = 16;
            std::fill(td.begin(), td.end(), 0.0f);
        }
        for (int64_t i = 0; i < n; ++i)
            for (int64_t l = 0; l < dsub; ++l) {
                const float* d = dt + ((c0 + i) * dsub + l) * Kp;
                for (int64_t k = 0; k < K; ++k) td[(k * dsub + l) * 16 + i] = d[k];
            }
        const float* db = td.data();
        auto xv = [=](int64_t l) { return load16(xb + l * xs); };
        const MinMax16 r =
            min_max16<0>(xv, [=](int64_t k, int64_t l) { return load16(db + (k * dsub + l) * 16); }, dsub, K);
        account16(xv, dsub, r, range, nf);
        if (n == 16) std::memcpy(off + c0, &r.mn, sizeof r.mn);
        else for (int64_t i = 0; i < n; ++i) off[c0 + i] = r.mn[i];
    }
    return finish_range(range, nf);
}

float lut_scale(float max_range, float levels) { return levels / std::max(max_range, kMinLutRange); }

void quantize_lut_rows(const float* x, int64_t cstride, int64_t npos, const float* dt, int64_t M, int64_t m0,
                       int64_t m1, int64_t dsub, int64_t K, int64_t Kp, const float* off, int64_t off_stride,
                       float scale, uint8_t* q, uint8_t* lo, int64_t row_stride) {
    QCNN_ASSERT(Kp <= 256, "quantize_lut_rows: rows of at most 256 entries");
    if (row_stride == 0) row_stride = M * Kp;
    QCNN_ASSERT(row_stride >= M * Kp, "quantize_lut_rows: row stride below M * Kp");
    if (Kp == 16) {
        switch (dsub) {
            case 1: quantize16<1>(x, cstride, npos, dt, M, m0, m1, dsub, K, off, off_stride, scale, q, lo, row_stride); return;
            case 2: quantize16<2>(x, cstride, npos, dt, M, m0, m1, dsub, K, off, off_stride, scale, q, lo, row_stride); return;
            case 4: quantize16<4>(x, cstride, npos, dt, M, m0, m1, dsub, K, off, off_stride, scale, q, lo, row_stride); return;
            case 8: quantize16<8>(x, cstride, npos, dt, M, m0, m1, dsub, K, off, off_stride, scale, q, lo, row_stride); return;
            default: quantize16<0>(x, cstride, npos, dt, M, m0, m1, dsub, K, off, off_stride, scale, q, lo, row_stride); return;
        }
    }
    const float top = lo ? 65535.0f : 255.0f;
    float buf[256];
    for (int64_t pos = 0; pos < npos; ++pos)
        for (int64_t m = m0; m < m1; ++m) {
            const float o = off[m * off_stride + pos];
            uint8_t* qr = q + pos * row_stride + m * Kp;
            uint8_t* lr = lo ? lo + pos * row_stride + m * Kp : nullptr;
            row_any(x + m * dsub * cstride + pos, cstride, dt + m * dsub * Kp, dsub, Kp, buf);
            for (int64_t k = 0; k < K; ++k) {
                const int32_t e = static_cast<int32_t>(std::clamp((buf[k] - o) * scale + 0.5f, 0.0f, top));
                qr[k] = static_cast<uint8_t>(lr ? e >> 8 : e);
                if (lr) lr[k] = static_cast<uint8_t>(e & 255);
            }
            for (int64_t k = K; k < Kp; ++k) qr[k] = 0;
            if (lr)
                for (int64_t k = K; k < Kp; ++k) lr[k] = 0;
        }
}

int64_t lut_row_stride(int64_t M, int64_t Kp) {
    const int64_t bytes = M * Kp;
    return bytes % 1024 == 0 ? bytes + 64 : bytes;
}

void combine_lut_planes(uint32_t* acc, const uint32_t* lo, int64_t n) {
    for (int64_t i = 0; i < n; ++i) acc[i] = (acc[i] << 8) + lo[i];
}

float sum_lut_offsets(const float* off, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += off[i];
    return s;
}

void finish_lut_row(const uint32_t* acc, int64_t acc_stride, int64_t count, float inv_scale, float offset_sum,
                    const float* bias, float* y) {
    for (int64_t i = 0; i < count; ++i)
        y[i] = static_cast<float>(acc[i * acc_stride]) * inv_scale + offset_sum + bias[i];
}

void finish_lut_tile(const uint32_t* acc, int64_t acc_stride, int64_t channels, int64_t th, int64_t tw,
                     float inv_scale, const float* offsets, const float* bias, float* y, int64_t y_cstride,
                     int64_t y_rstride) {
    for (int64_t c = 0; c < channels; ++c) {
        const float b = bias[c];
        for (int64_t ty = 0; ty < th; ++ty) {
            const uint32_t* a = acc + c * acc_stride + ty * tw;
            const float* o = offsets + ty * tw;
            float* yr = y + c * y_cstride + ty * y_rstride;
            for (int64_t tx = 0; tx < tw; ++tx) yr[tx] = static_cast<float>(a[tx]) * inv_scale + o[tx] + b;
        }
    }
}

}  // namespace qcnn
