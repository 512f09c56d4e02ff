// AVX-512 scans, compiled with function-level target attributes and run only after CPU
// detection (core/kernels/isa.h):
//  - scan16_avx512 (F/BW/VL): vpshufb over 4-bit codes (NibblePairs), entries added as uint16
//    (the "even byte + 256 * odd byte" word and the odd byte separately) and widened to 32 bits
//    every <= 256 terms;
//  - scan_perm_avx512 (+VBMI): vpermb / vpermi2b over 8-bit codes (Bytes), same accumulation;
//  - scan16_avx512_vnni (+VBMI +VNNI): four consecutive 16-entry LUT rows (terms j .. j+3 of one
//    row and tap) form one 64-byte table; for 16 channels at a time one vpermb looks up the 4
//    terms of each channel (index byte 4i + t = 16t + code, NibbleQuads; the vpermb mask
//    zeroes terms past Mg) and one vpdpbusd adds them into the channel's int32 lane.
// Every scan keeps kRows rows in registers and writes their sums transposed (channel-major).
// Check the hot loops' object code after changing them: GCC 12 spilled these accumulators for
// small reasons (see load_table, store_sums and Sums16), and on Zen 5 that halved the rate.
// GCC 12 reports its own _mm*_undefined_* helpers as uninitialised (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstring>

#include "core/kernels/scan.h"

#define QCNN_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#define QCNN_AVX512VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi")))
#define QCNN_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi,avx512vnni")))
#define QCNN_ALWAYS_INLINE inline __attribute__((always_inline))

namespace qcnn::lut_scan {
namespace {

constexpr int kChunk = 256;  // terms per uint16 chunk: 256 * 255 < 2^16
constexpr int kRows = 4;     // rows sharing one code load

// Writes R <= 4 rows a, b, c, d of 16 int32 lanes (lane i = channel c0 + i) channel-major:
// out[(c0 + i)*stride + r] = row r's lane i; rows past R are not written (pass any value). A 4x4
// transpose per 128-bit lane leaves channel 4L + k of rows 0..3 in lane L of u[k]. The rows come
// by value: a pointer to the caller's accumulator array kept GCC from holding it in registers.
template <int R>
QCNN_AVX512 QCNN_ALWAYS_INLINE void store_transposed(__m512i a, __m512i b, __m512i c, __m512i d, uint32_t* out,
                                                     int64_t stride) {
    const __m512i t0 = _mm512_unpacklo_epi32(a, b), t1 = _mm512_unpackhi_epi32(a, b);
    const __m512i t2 = _mm512_unpacklo_epi32(c, d), t3 = _mm512_unpackhi_epi32(c, d);
    const __m512i u[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2), _mm512_unpacklo_epi64(t1, t3),
                          _mm512_unpackhi_epi64(t1, t3)};
    const __mmask8 m = static_cast<__mmask8>((1 << R) - 1);
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
        _mm_mask_storeu_epi32(out + k * stride, m, _mm512_castsi512_si128(u[k]));
        _mm_mask_storeu_epi32(out + (4 + k) * stride, m, _mm512_extracti32x4_epi32(u[k], 1));
        _mm_mask_storeu_epi32(out + (8 + k) * stride, m, _mm512_extracti32x4_epi32(u[k], 2));
        _mm_mask_storeu_epi32(out + (12 + k) * stride, m, _mm512_extracti32x4_epi32(u[k], 3));
    }
}

// Writes the sums of R rows (sums[q][r]: channels 16q .. 16q+15 of row r) channel-major. Out of
// line on purpose: with the transposed stores inlined after the scan loop, GCC 12 spilled and
// shuffled the accumulators on every quad of the loop.
template <int R>
QCNN_AVX512 __attribute__((noinline)) void store_sums(const uint32_t (&sums)[4][R][16], uint32_t* out,
                                                      int64_t stride) {
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
        const __m512i a = _mm512_load_si512(sums[q][0]), b = _mm512_load_si512(sums[q][R > 1 ? 1 : 0]);
        const __m512i c = _mm512_load_si512(sums[q][R > 2 ? 2 : 0]), d = _mm512_load_si512(sums[q][R > 3 ? 3 : 0]);
        store_transposed<R>(a, b, c, d, out + 16 * q * stride, stride);
    }
}

// ------------------------------------------------- uint16 accumulation (vpshufb, vpermb) --

QCNN_AVX512 QCNN_ALWAYS_INLINE void accumulate(__m512i& words, __m512i& odd, __m512i s) {
    words = _mm512_add_epi16(words, s);
    odd = _mm512_add_epi16(odd, _mm512_srli_epi16(s, 8));
}

// R rows of uint16 chunk sums and their 32-bit totals (total[q][r]: channels 16q .. 16q+15 of
// row r). The totals live in memory: they are touched once per 256 terms, and held in
// registers beside the chunk sums they made GCC spill inside the perm scans' loop.
template <int R>
struct Sums16 {
    __m512i words[R], odd[R];
    alignas(64) uint32_t total[4][R][16];

    QCNN_AVX512 QCNN_ALWAYS_INLINE void clear() {
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) words[r] = odd[r] = _mm512_setzero_si512();
        std::memset(total, 0, sizeof total);
    }
    // Adds the chunk sums to the totals and clears them. Word lane i holds channels i (even
    // byte) and 32 + i (odd byte).
    QCNN_AVX512 QCNN_ALWAYS_INLINE void flush() {
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            const __m512i even = _mm512_sub_epi16(words[r], _mm512_slli_epi16(odd[r], 8));
            add(total[0][r], _mm512_cvtepu16_epi32(_mm512_castsi512_si256(even)));
            add(total[1][r], _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(even, 1)));
            add(total[2][r], _mm512_cvtepu16_epi32(_mm512_castsi512_si256(odd[r])));
            add(total[3][r], _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(odd[r], 1)));
            words[r] = odd[r] = _mm512_setzero_si512();
        }
    }
    QCNN_AVX512 QCNN_ALWAYS_INLINE void store(const ScanJob& job, int64_t r0) {
        flush();
        store_sums<R>(total, job.acc + r0, job.acc_stride);
    }

private:
    QCNN_AVX512 QCNN_ALWAYS_INLINE static void add(uint32_t* t, __m512i v) {
        _mm512_store_si512(t, _mm512_add_epi32(_mm512_load_si512(t), v));
    }
};

QCNN_AVX512 QCNN_ALWAYS_INLINE __m512i table16(const uint8_t* p) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

template <int R>
QCNN_AVX512 void scan16_rows(const ScanJob& job, int64_t r0) {
    const __m512i nib = _mm512_set1_epi8(0x0F);
    Sums16<R> s;
    s.clear();
    const int64_t pairs = job.terms / 2;
    int pending = 0;
    const uint8_t* code = job.codes;
    for (int64_t p = 0; p < job.taps; ++p) {
        const uint8_t* L[R];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) L[r] = job.luts[(r0 + r) * job.taps + p] + job.lut_offset;
        for (int64_t v = 0; v < pairs; ++v, code += 64) {
            if (pending > kChunk - 2) {
                s.flush();
                pending = 0;
            }
            pending += 2;
            const __m512i c = _mm512_loadu_si512(code);
            const __m512i lo = _mm512_and_si512(c, nib);
            const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(c, 4), nib);
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) {
                accumulate(s.words[r], s.odd[r], _mm512_shuffle_epi8(table16(L[r] + 32 * v), lo));
                accumulate(s.words[r], s.odd[r], _mm512_shuffle_epi8(table16(L[r] + 32 * v + 16), hi));
            }
        }
        if (job.terms % 2 != 0) {
            if (pending > kChunk - 1) {
                s.flush();
                pending = 0;
            }
            pending += 1;
            const __m512i lo = _mm512_and_si512(_mm512_loadu_si512(code), nib);
            code += 64;
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r)
                accumulate(s.words[r], s.odd[r], _mm512_shuffle_epi8(table16(L[r] + 32 * pairs), lo));
        }
    }
    s.store(job, r0);
}

// One 8-bit lookup of 64 codes in a table of KP bytes.
template <int KP>
QCNN_AVX512VBMI QCNN_ALWAYS_INLINE __m512i lookup(const uint8_t* t, __m512i c, __mmask64 top) {
    if constexpr (KP == 64) {
        return _mm512_permutexvar_epi8(c, _mm512_loadu_si512(t));
    } else if constexpr (KP == 128) {
        return _mm512_permutex2var_epi8(_mm512_loadu_si512(t), c, _mm512_loadu_si512(t + 64));
    } else {
        const __m512i s0 = _mm512_permutex2var_epi8(_mm512_loadu_si512(t), c, _mm512_loadu_si512(t + 64));
        const __m512i s1 = _mm512_permutex2var_epi8(_mm512_loadu_si512(t + 128), c, _mm512_loadu_si512(t + 192));
        return _mm512_mask_blend_epi8(top, s0, s1);
    }
}

template <int R, int KP>
QCNN_AVX512VBMI void scan_perm_rows(const ScanJob& job, int64_t r0) {
    Sums16<R> s;
    s.clear();
    int pending = 0;
    const uint8_t* code = job.codes;
    for (int64_t p = 0; p < job.taps; ++p) {
        const uint8_t* L[R];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) L[r] = job.luts[(r0 + r) * job.taps + p] + job.lut_offset;
        for (int64_t j = 0; j < job.terms; ++j, code += 64) {
            if (pending == kChunk) {
                s.flush();
                pending = 0;
            }
            ++pending;
            const __m512i c = _mm512_loadu_si512(code);
            const __mmask64 top = KP == 256 ? _mm512_movepi8_mask(c) : 0;
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) accumulate(s.words[r], s.odd[r], lookup<KP>(L[r] + j * KP, c, top));
        }
    }
    s.store(job, r0);
}

// ------------------------------------------------------------- int32 accumulation (VNNI) --

// A row's 64-byte table, loaded once into a register. Without the empty asm GCC folds the load
// into each of the four vpermb that read it (four loads of one table per row and quad); on Zen 5
// that form scans at about half the rate (128 against 231 G lookup-adds/s on a VGG-11 conv tile,
// docs/results.md, session 19).
QCNN_AVX512 QCNN_ALWAYS_INLINE __m512i load_table(const uint8_t* p) {
    __m512i t = _mm512_loadu_si512(p);
    asm("" : "+v"(t));
    return t;
}

// Terms past Mg (the last quad when Mg is not a multiple of 4) are zeroed by the vpermb mask.
// The body is written out in the loop: with it in a helper taking the accumulators by
// reference, or with a per-quad choice of vpdpbusd weights, GCC 12 also spilled them.
template <int R>
QCNN_AVX512VNNI void scan16_vnni_rows(const ScanJob& job, int64_t r0) {
    const __m512i nib = _mm512_set1_epi8(0x0F);
    const __m512i term_offset = _mm512_set1_epi32(0x30201000);  // byte 4i + t: 16t
    const __m512i ones = _mm512_set1_epi8(1);
    const int64_t quads = (job.terms + 3) / 4, rem = job.terms % 4;
    const __mmask64 all = ~__mmask64(0);
    const __mmask64 last = rem == 0 ? all : __mmask64(0x1111111111111111ull * ((1u << rem) - 1));  // bytes 4i + t, t < rem
    __m512i acc[4][R];  // acc[q][r]: channels 16q .. 16q+15 of row r
#pragma GCC unroll 16
    for (int i = 0; i < 4 * R; ++i) acc[i / R][i % R] = _mm512_setzero_si512();
    const uint8_t* code = job.codes;
    for (int64_t p = 0; p < job.taps; ++p) {
        const uint8_t* L[R];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) L[r] = job.luts[(r0 + r) * job.taps + p] + job.lut_offset;
        for (int64_t v = 0; v < quads; ++v, code += 128) {
            const __mmask64 m = v + 1 == quads ? last : all;
            const __m512i c01 = _mm512_loadu_si512(code), c23 = _mm512_loadu_si512(code + 64);
            // (nibble & 0x0F) | 16t
            const __m512i i0 = _mm512_ternarylogic_epi32(c01, nib, term_offset, 0xEA);
            const __m512i i1 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(c01, 4), nib, term_offset, 0xEA);
            const __m512i i2 = _mm512_ternarylogic_epi32(c23, nib, term_offset, 0xEA);
            const __m512i i3 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(c23, 4), nib, term_offset, 0xEA);
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) {
                const __m512i t = load_table(L[r] + 64 * v);
                acc[0][r] = _mm512_dpbusd_epi32(acc[0][r], _mm512_maskz_permutexvar_epi8(m, i0, t), ones);
                acc[1][r] = _mm512_dpbusd_epi32(acc[1][r], _mm512_maskz_permutexvar_epi8(m, i1, t), ones);
                acc[2][r] = _mm512_dpbusd_epi32(acc[2][r], _mm512_maskz_permutexvar_epi8(m, i2, t), ones);
                acc[3][r] = _mm512_dpbusd_epi32(acc[3][r], _mm512_maskz_permutexvar_epi8(m, i3, t), ones);
            }
        }
    }
    alignas(64) uint32_t sums[4][R][16];
#pragma GCC unroll 16
    for (int i = 0; i < 4 * R; ++i) _mm512_store_si512(sums[i / R][i % R], acc[i / R][i % R]);
    store_sums<R>(sums, job.acc + r0, job.acc_stride);
}

template <template <int> class F>
void rows_in_groups(const ScanJob& job) {
    int64_t r = 0;
    for (; r + kRows <= job.rows; r += kRows) F<kRows>::run(job, r);
    switch (job.rows - r) {
        case 3: F<3>::run(job, r); break;
        case 2: F<2>::run(job, r); break;
        case 1: F<1>::run(job, r); break;
        default: break;
    }
}

template <int R>
struct Scan16 {
    static void run(const ScanJob& job, int64_t r0) { scan16_rows<R>(job, r0); }
};
template <int R>
struct Scan16Vnni {
    static void run(const ScanJob& job, int64_t r0) { scan16_vnni_rows<R>(job, r0); }
};
template <int KP>
struct Perm {
    template <int R>
    struct Rows {
        static void run(const ScanJob& job, int64_t r0) { scan_perm_rows<R, KP>(job, r0); }
    };
};

}  // namespace

void scan16_avx512(const ScanJob& job) { rows_in_groups<Scan16>(job); }

void scan16_avx512_vnni(const ScanJob& job) { rows_in_groups<Scan16Vnni>(job); }

void scan_perm_avx512(const ScanJob& job, int64_t kp) {
    if (kp == 64) rows_in_groups<Perm<64>::Rows>(job);
    else if (kp == 128) rows_in_groups<Perm<128>::Rows>(job);
    else rows_in_groups<Perm<256>::Rows>(job);
}

}  // namespace qcnn::lut_scan

#pragma GCC diagnostic pop
