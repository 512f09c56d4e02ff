#include "core/ops/conv_direct.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/tensor.h"
#include "core/util/error.h"

// The 64-byte vectors below never cross a function boundary that other code sees; without
// AVX-512 GCC notes their ABI, which does not matter here.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace qcnn {

namespace {

#ifdef __AVX512F__
constexpr int64_t kVec = 16;
constexpr bool kDirectBuilt = true;
#else
constexpr int64_t kVec = 8;
constexpr bool kDirectBuilt = false;
#endif
using Vec = float __attribute__((vector_size(kVec * sizeof(float))));
constexpr int kCo = 4;  // output channels per register block

// The per-thread buffers: two output rows' patches (kk taps x ws columns each), and with the
// pool two conv rows of one block of kCo channels.
int64_t patch_floats(int64_t kk, int64_t ws) { return 2 * kk * ws; }
int64_t conv_row_floats(int64_t ws) { return 2 * kCo * ws; }
int64_t vector_columns(int64_t ow) { return (ow + kVec - 1) / kVec * kVec; }

struct DirectBuffers {
    AlignedVector<float> patches, conv_rows;
};
DirectBuffers& direct_buffers() {
    static thread_local DirectBuffers b;
    return b;
}

// Every lane = v, as one broadcast (Vec{} + v would be an addition, since 0 + v is not v
// for v = -0: GCC then adds and broadcasts from a register, two FP-pipe operations per use).
inline Vec splat(float v) {
#if defined(__AVX512F__)
    return (Vec)_mm512_set1_ps(v);
#elif defined(__AVX__)
    return (Vec)_mm256_set1_ps(v);
#else
    Vec r;
    for (int64_t l = 0; l < kVec; ++l) r[l] = v;
    return r;
#endif
}

inline Vec load(const float* p) {
    Vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// PostOp::operator() lane by lane, with the same comparisons (so the same bits).
inline Vec activate(Vec v, const PostOp* post) {
    if (!post) return v;
    const Vec zero{};
    switch (post->kind) {
        case PostOp::Kind::Relu: return v > zero ? v : zero;
        case PostOp::Kind::Clip: {
            const Vec lo = splat(post->lo), hi = splat(post->hi);
            const Vec m = v < lo ? lo : v;  // std::max(v, lo)
            return hi < m ? hi : m;         // std::min(m, hi)
        }
        case PostOp::Kind::LeakyRelu: return v >= zero ? v : post->alpha * v;
    }
    return v;
}

// Channels co0 .. co0+nco-1 (nco <= kCo) x NV vectors from column x0 of the patch matrix
// (kk rows of stride ws). `valid` = output floats left from x0 (the last vector may be partial).
template <int NV>
inline void block(const float* patches, int64_t ws, int64_t kk, int64_t x0, int64_t valid, const float* weight,
                  int64_t co0, int nco, const float* bias, const PostOp* post, float* const* yrow) {
    const float* wr[kCo];
    for (int i = 0; i < kCo; ++i) wr[i] = weight + (co0 + std::min(i, nco - 1)) * kk;
    Vec acc[kCo][NV];
#pragma GCC unroll 4
    for (int i = 0; i < kCo; ++i) {
        const float b = bias ? bias[co0 + std::min(i, nco - 1)] : 0.0f;
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = splat(b);
    }
    const float* col = patches + x0;
    for (int64_t k = 0; k < kk; ++k, col += ws) {
        Vec wv[kCo];
#pragma GCC unroll 4
        for (int i = 0; i < kCo; ++i) wv[i] = splat(wr[i][k]);
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
            Vec xj = load(col + j * kVec);
            // Keep xj in a register: GCC would otherwise fold the load into each of the kCo
            // FMAs that read it, and the loop would be bound by loads (measured 1.5x slower).
            asm("" : "+v"(xj));
#pragma GCC unroll 4
            for (int i = 0; i < kCo; ++i) acc[i][j] += wv[i] * xj;
        }
    }
    for (int i = 0; i < nco; ++i)
        for (int j = 0; j < NV; ++j) {
            const Vec v = activate(acc[i][j], post);
            const int64_t left = valid - j * kVec;
            if (left >= kVec) std::memcpy(yrow[i] + x0 + j * kVec, &v, sizeof v);  // a fixed-size store
            else if (left > 0) std::memcpy(yrow[i] + x0 + j * kVec, &v, sizeof(float) * static_cast<size_t>(left));
        }
}

}  // namespace

bool conv_direct_applies(const ConvParams& p, int64_t in_channels) {
    return kDirectBuilt && p.group == 1 && in_channels <= kConvDirectMaxChannels && p.stride_h == 1 && p.stride_w == 1;
}

int64_t conv_direct_work_bytes(int64_t cin, int64_t kh, int64_t kw, int64_t ow, bool max_pool2) {
    const int64_t ws = vector_columns(ow);
    return 4 * (patch_floats(cin * kh * kw, ws) + (max_pool2 ? conv_row_floats(ws) : 0));
}

int64_t conv_direct_thread_bytes() {
    const DirectBuffers& b = direct_buffers();
    return 4 * static_cast<int64_t>(b.patches.size() + b.conv_rows.size());
}

void conv_direct(const float* x, int64_t n, int64_t cin, int64_t h, int64_t w, const ConvParams& p,
                 const float* weight, const float* bias, int64_t cout, const PostOp* post, float* y, int threads,
                 bool max_pool2) {
    const int64_t kh = p.kernel_h, kw = p.kernel_w, kk = cin * kh * kw;
    const int64_t ekh = p.dilation_h * (kh - 1) + 1, ekw = p.dilation_w * (kw - 1) + 1;
    const int64_t oh = (h + p.pad_top + p.pad_bottom - ekh) / p.stride_h + 1;
    const int64_t ow = (w + p.pad_left + p.pad_right - ekw) / p.stride_w + 1;
    QCNN_ASSERT(oh >= 1 && ow >= 1 && p.group == 1, "conv_direct: invalid window");
    QCNN_ASSERT(!max_pool2 || (oh >= 2 && ow >= 2), "conv_direct: a 2x2 pool needs at least 2x2 outputs");
    const int64_t ws = vector_columns(ow);  // patch row stride: whole vectors
    const int64_t ph = oh / 2, pw = ow / 2;             // pooled size (floor)
    const int64_t rows = max_pool2 ? ph : oh;           // work items per image: output rows written
    const int64_t items = n * rows;
    const int team = static_cast<int>(std::clamp<int64_t>(items, 1, std::max(threads, 1)));

#pragma omp parallel num_threads(team) if (team > 1)
    {
        // Patches of one conv row (two with the pool), and with the pool the conv rows of one
        // block of kCo channels before pooling.
        // (Sizes: conv_direct_work_bytes.)
        AlignedVector<float>& patches = direct_buffers().patches;
        AlignedVector<float>& conv_rows = direct_buffers().conv_rows;
        const int64_t pbytes = kk * ws;
        if (static_cast<int64_t>(patches.size()) < patch_floats(kk, ws)) patches.resize(patch_floats(kk, ws));
        if (max_pool2 && static_cast<int64_t>(conv_rows.size()) < conv_row_floats(ws))
            conv_rows.resize(conv_row_floats(ws));
        // patches[(ci*kh + ki)*kw + kj][ox] = x[ci, iy, ix] or 0 outside.
        auto gather = [&](const float* xn, int64_t oy, float* pt) {
            for (int64_t ci = 0; ci < cin; ++ci)
                for (int64_t ki = 0; ki < kh; ++ki) {
                    const int64_t iy = oy * p.stride_h - p.pad_top + ki * p.dilation_h;
                    for (int64_t kj = 0; kj < kw; ++kj) {
                        float* row = pt + ((ci * kh + ki) * kw + kj) * ws;
                        if (iy < 0 || iy >= h) {
                            std::fill(row, row + ws, 0.0f);
                            continue;
                        }
                        // ix = ox * s + off lies in [0, w) for ox in [lo, hi).
                        const int64_t sw = p.stride_w, off = kj * p.dilation_w - p.pad_left;
                        const int64_t lo = std::min(ow, off >= 0 ? 0 : (-off + sw - 1) / sw);
                        const int64_t hi = std::clamp<int64_t>(w - off > 0 ? (w - off + sw - 1) / sw : 0, lo, ow);
                        const float* xr = xn + (ci * h + iy) * w;
                        std::fill(row, row + lo, 0.0f);
                        if (lo < hi && sw == 1) std::copy(xr + lo + off, xr + hi + off, row + lo);
                        else
                            for (int64_t ox = lo; ox < hi; ++ox) row[ox] = xr[ox * sw + off];
                        std::fill(row + hi, row + ws, 0.0f);
                    }
                }
        };
        // One conv row of channels co0 .. co0+nco-1 from its patches into yrow[i] (ow floats).
        auto conv_row = [&](const float* pt, int64_t co0, int nco, float* const* yrow) {
            int64_t x0 = 0;
            for (; x0 + 4 * kVec <= ws; x0 += 4 * kVec) block<4>(pt, ws, kk, x0, ow - x0, weight, co0, nco, bias, post, yrow);
            switch ((ws - x0) / kVec) {
                case 3: block<3>(pt, ws, kk, x0, ow - x0, weight, co0, nco, bias, post, yrow); break;
                case 2: block<2>(pt, ws, kk, x0, ow - x0, weight, co0, nco, bias, post, yrow); break;
                case 1: block<1>(pt, ws, kk, x0, ow - x0, weight, co0, nco, bias, post, yrow); break;
                default: break;
            }
        };
#pragma omp for schedule(static)
        for (int64_t item = 0; item < items; ++item) {
            const int64_t ni = item / rows, r = item % rows;
            const float* xn = x + ni * cin * h * w;
            if (!max_pool2) {
                gather(xn, r, patches.data());
                float* yn = y + ni * cout * oh * ow + r * ow;
                for (int64_t co0 = 0; co0 < cout; co0 += kCo) {
                    const int nco = static_cast<int>(std::min<int64_t>(kCo, cout - co0));
                    float* yrow[kCo];
                    for (int i = 0; i < kCo; ++i) yrow[i] = yn + (co0 + std::min(i, nco - 1)) * oh * ow;
                    conv_row(patches.data(), co0, nco, yrow);
                }
                continue;
            }
            gather(xn, 2 * r, patches.data());
            gather(xn, 2 * r + 1, patches.data() + pbytes);
            float* yn = y + ni * cout * ph * pw + r * pw;
            for (int64_t co0 = 0; co0 < cout; co0 += kCo) {
                const int nco = static_cast<int>(std::min<int64_t>(kCo, cout - co0));
                float* top[kCo];
                float* bottom[kCo];
                for (int i = 0; i < kCo; ++i) {
                    top[i] = conv_rows.data() + i * ws;
                    bottom[i] = conv_rows.data() + (kCo + i) * ws;
                }
                conv_row(patches.data(), co0, nco, top);
                conv_row(patches.data() + pbytes, co0, nco, bottom);
                for (int i = 0; i < nco; ++i) {
                    const float *a = top[i], *b = bottom[i];
                    max_pool2_row(a, b, pw, yn + (co0 + i) * ph * pw);
                }
            }
        }
    }
}

}  // namespace qcnn
