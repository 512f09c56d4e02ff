// AVX2 scan: vpshufb over 4-bit codes, 32 output channels per block. Compiled with a
// function-level target attribute; run only after CPU detection (core/kernels/isa.h).
// Entries are added as uint16 and widened to uint32 every <= 256 terms (see scan_avx512.cpp);
// the sums are written channel-major.
// GCC 12 reports its own _mm*_undefined_* helpers as uninitialised (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "core/kernels/scan.h"

#define QCNN_AVX2 __attribute__((target("avx2")))
#define QCNN_ALWAYS_INLINE inline __attribute__((always_inline))

namespace qcnn::lut_scan {
namespace {

constexpr int kChunk = 256;
constexpr int kRows = 4;

QCNN_AVX2 QCNN_ALWAYS_INLINE void accumulate(__m256i& words, __m256i& odd, __m256i s) {
    words = _mm256_add_epi16(words, s);
    odd = _mm256_add_epi16(odd, _mm256_srli_epi16(s, 8));
}

QCNN_AVX2 QCNN_ALWAYS_INLINE void add_u32(uint32_t* a, __m128i v16) {
    __m256i* p = reinterpret_cast<__m256i*>(a);
    _mm256_storeu_si256(p, _mm256_add_epi32(_mm256_loadu_si256(p), _mm256_cvtepu16_epi32(v16)));
}

// Adds the uint16 chunk sums of R rows to totals (rows of 32 channels) and clears them. Word
// lane i holds channels i (even byte) and 16 + i (odd byte).
template <int R>
QCNN_AVX2 QCNN_ALWAYS_INLINE void flush(__m256i (&words)[R], __m256i (&odd)[R], uint32_t* totals) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
        const __m256i even = _mm256_sub_epi16(words[r], _mm256_slli_epi16(odd[r], 8));
        uint32_t* a = totals + r * 32;
        add_u32(a, _mm256_castsi256_si128(even));
        add_u32(a + 8, _mm256_extracti128_si256(even, 1));
        add_u32(a + 16, _mm256_castsi256_si128(odd[r]));
        add_u32(a + 24, _mm256_extracti128_si256(odd[r], 1));
        words[r] = _mm256_setzero_si256();
        odd[r] = _mm256_setzero_si256();
    }
}

// Writes the totals of R <= 4 rows channel-major: out[c*stride + r] = totals[r*32 + c]. A 4x4
// transpose per 128-bit lane leaves channel 8g + 4L + k of rows 0..3 in lane L of u[k].
template <int R>
QCNN_AVX2 QCNN_ALWAYS_INLINE void store_transposed(const uint32_t* totals, uint32_t* out, int64_t stride) {
    const __m128i mask = _mm_setr_epi32(-1, R > 1 ? -1 : 0, R > 2 ? -1 : 0, R > 3 ? -1 : 0);
    for (int g = 0; g < 4; ++g) {
        __m256i row[4];
        for (int r = 0; r < 4; ++r)
            row[r] = r < R ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(totals + r * 32 + 8 * g))
                           : _mm256_setzero_si256();
        const __m256i t0 = _mm256_unpacklo_epi32(row[0], row[1]), t1 = _mm256_unpackhi_epi32(row[0], row[1]);
        const __m256i t2 = _mm256_unpacklo_epi32(row[2], row[3]), t3 = _mm256_unpackhi_epi32(row[2], row[3]);
        const __m256i u[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                              _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
        for (int k = 0; k < 4; ++k) {
            _mm_maskstore_epi32(reinterpret_cast<int*>(out + (8 * g + k) * stride), mask, _mm256_castsi256_si128(u[k]));
            _mm_maskstore_epi32(reinterpret_cast<int*>(out + (8 * g + 4 + k) * stride), mask,
                                _mm256_extracti128_si256(u[k], 1));
        }
    }
}

QCNN_AVX2 QCNN_ALWAYS_INLINE __m256i table16(const uint8_t* p) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

template <int R>
QCNN_AVX2 void scan16_rows(const ScanJob& job, int64_t r0) {
    const __m256i nib = _mm256_set1_epi8(0x0F);
    __m256i words[R], odd[R];
    alignas(32) uint32_t acc[R * 32] = {};  // 32-bit totals of the R rows
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
        words[r] = _mm256_setzero_si256();
        odd[r] = _mm256_setzero_si256();
    }
    const int64_t pairs = job.terms / 2;
    int pending = 0;
    const uint8_t* code = job.codes;
    for (int64_t p = 0; p < job.taps; ++p) {
        const uint8_t* L[R];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) L[r] = job.luts[(r0 + r) * job.taps + p] + job.lut_offset;
        for (int64_t v = 0; v < pairs; ++v, code += 32) {
            if (pending > kChunk - 2) {
                flush<R>(words, odd, acc);
                pending = 0;
            }
            pending += 2;
            const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(code));
            const __m256i lo = _mm256_and_si256(c, nib);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), nib);
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) {
                accumulate(words[r], odd[r], _mm256_shuffle_epi8(table16(L[r] + 32 * v), lo));
                accumulate(words[r], odd[r], _mm256_shuffle_epi8(table16(L[r] + 32 * v + 16), hi));
            }
        }
        if (job.terms % 2 != 0) {
            if (pending > kChunk - 1) {
                flush<R>(words, odd, acc);
                pending = 0;
            }
            pending += 1;
            const __m256i lo = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(code)), nib);
            code += 32;
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r)
                accumulate(words[r], odd[r], _mm256_shuffle_epi8(table16(L[r] + 32 * pairs), lo));
        }
    }
    flush<R>(words, odd, acc);
    store_transposed<R>(acc, job.acc + r0, job.acc_stride);
}

}  // namespace

void scan16_avx2(const ScanJob& job) {
    int64_t r = 0;
    for (; r + kRows <= job.rows; r += kRows) scan16_rows<kRows>(job, r);
    switch (job.rows - r) {
        case 3: scan16_rows<3>(job, r); break;
        case 2: scan16_rows<2>(job, r); break;
        case 1: scan16_rows<1>(job, r); break;
        default: break;
    }
}

}  // namespace qcnn::lut_scan

#pragma GCC diagnostic pop
