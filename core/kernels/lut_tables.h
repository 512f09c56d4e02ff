// Lookup tables of the Q-CNN test phase (qcnn-method.md sections 1-2), shared by the fast
// kernels (FastFc, FastConv) and their scalar reference twins, so both see bit-identical
// tables and only the lookup-add scans differ.
//
// Float LUT row (one input position, one subspace m):  L[k] = <x(m), D(m)_k>, k < K.
// Integer quantization of a set of rows that are summed together (the LUT of one FC input
// vector, or of one conv tile), with Q = 255 (LutPrecision::Bits8) or 65535 (Bits16) levels:
//   offset_r = min_k L_r[k]                           (per row)
//   scale    = Q / max_r (max_k L_r[k] - offset_r)    (one per vector / tile)
//   q_r[k]   = floor((L_r[k] - offset_r) * scale + 0.5), in [0, Q]
// Bits16 entries are stored as two 8-bit planes, high byte q >> 8 and low byte q & 255; the
// scans run once per plane and acc = 256 * acc_high + acc_low (exact, uint32).
// An output summing T rows is  acc / scale + sum of the T offsets,  acc = sum of T entries
// q (exact integer arithmetic). Each entry is off by at most 0.5 / scale, so
//   |output - float LUT output| <= T * 0.5 / scale   (+ float rounding of the two sums)
// with T = M for FC and T = (valid kernel taps) * Mg for conv. The scale is set by the LARGEST
// row range of the vector / tile, so the step (range / Q) is coarse for the other rows: with
// 8 bits the output error of a conv layer is ~1% of its spread (measured on the VGG-style
// network); Bits16 makes it 256x smaller for twice the scan work.
// Accumulators: the vpshufb / vpermb scans add 8-bit entries as uint16 and widen to 32 bits
// every <= 256 terms (256 * 255 < 2^16); the VNNI scan adds 4 entries at a time into int32; so
// no accumulator overflows for any T <= kMaxLutTerms (Bits8) or kMaxLutTerms16 (Bits16, where
// 65535 * T must fit the uint32 combination).
// Non-finite LUT entries (from non-finite inputs) make every output of that vector / tile NaN.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "core/kernels/isa.h"

namespace qcnn {

// How a prepared layer looks its tables up.
enum class LutMethod {
    Shuffle16,  // K <= 16: 4-bit codes, 8-bit tables, vpshufb / vpermb+vpdpbusd / portable scan
    Perm64,     // 16 < K <= 64: 8-bit codes and tables, vpermb (AVX512-VBMI)
    Perm128,    // K <= 128: vpermi2b
    Perm256,    // K <= 256: two vpermi2b + blend on the code's top bit
    Float,      // exact float tables and a scalar gather (K > 16 without AVX512-VBMI)
};
const char* lut_method_name(LutMethod m);  // "shuffle16", "perm64", ...

// Entry precision of the integer methods (see the top of this file).
enum class LutPrecision {
    Auto,    // Bits8 for K <= 16 (the in-register vpshufb / VNNI path), Bits16 for K > 16
    Bits8,   // one 8-bit plane
    Bits16,  // 16-bit entries as two 8-bit planes, each scanned
};
const char* lut_precision_name(LutPrecision p);  // "auto", "8", "16"
// Auto resolved for K codewords and T terms per output (Bits16 only when T <= kMaxLutTerms16).
LutPrecision resolve_lut_precision(LutPrecision p, int64_t K, int64_t terms);
inline int lut_planes(LutPrecision resolved) { return resolved == LutPrecision::Bits16 ? 2 : 1; }
inline float lut_levels(LutPrecision resolved) { return resolved == LutPrecision::Bits16 ? 65535.0f : 255.0f; }

// The best method for K codewords on a resolved instruction set.
LutMethod choose_lut_method(int64_t K, KernelIsa resolved_isa);
// Length of one table row: 16, 64, 128, 256 bytes (8-bit methods) or K floats (Float).
int64_t lut_row_length(LutMethod m, int64_t K);

// More terms per output than this could overflow an int32 accumulator of 8-bit entries.
inline constexpr int64_t kMaxLutTerms = (int64_t(1) << 31) / 255 - 1;
// With 16-bit entries: 65535 * T must fit the uint32 combination 256 * acc_high + acc_low.
inline constexpr int64_t kMaxLutTerms16 = int64_t(UINT32_MAX) / 65535;
// Ranges below this are treated as this (scale stays finite; entries are then all 0).
inline constexpr float kMinLutRange = 1e-30f;

// Code i of codes stored LSB-first at `bits` bits each (core/quant/bitpack.h's format; bits = 8
// is one byte per code): bits [i*bits, (i+1)*bits) of the byte stream.
inline uint8_t read_packed_code(const uint8_t* bytes, int64_t i, int bits) {
    if (bits == 8) return bytes[i];
    const int64_t pos = i * bits;
    const int shift = static_cast<int>(pos & 7);
    unsigned window = bytes[pos >> 3];
    if (shift + bits > 8) window |= static_cast<unsigned>(bytes[(pos >> 3) + 1]) << 8;
    return static_cast<uint8_t>((window >> shift) & ((1u << bits) - 1u));
}

// A read-only view of C_t x P x Mg codes as a layer is given them: one byte per code
// (bits = 8, e.g. PQWeights::unpacked_codes()) or bit-packed (PackedCodes' bytes), so a
// prepared layer can be built straight from a model file's packed codes without unpacking
// them all first.
struct CodeView {
    const uint8_t* data = nullptr;
    int64_t count = 0;
    int bits = 8;  // 1..8
    CodeView() = default;
    CodeView(std::span<const uint8_t> bytes) : data(bytes.data()), count(static_cast<int64_t>(bytes.size())) {}
    CodeView(const std::vector<uint8_t>& bytes) : CodeView(std::span<const uint8_t>(bytes)) {}
    CodeView(const uint8_t* d, int64_t n, int b) : data(d), count(n), bits(b) {}
    uint8_t operator[](int64_t i) const { return read_packed_code(data, i, bits); }
};

// The shape a prepared layer computes, with PQGeometry's names (core/quant/product_quantizer.h).
// FC: groups = 1, kernel 1x1. Subspace m = gi*Mg + j covers input channels [m*dsub, (m+1)*dsub).
struct LutGeometry {
    int64_t out_channels = 0;  // C_t
    int64_t in_channels = 0;   // C_s, all groups
    int64_t groups = 1;        // g
    int64_t kernel_h = 1, kernel_w = 1;
    int64_t dsub = 0;          // C_s'
    int64_t K = 0;             // codewords per subspace, 1..256

    int64_t kernel_size() const { return kernel_h * kernel_w; }                  // P
    int64_t outputs_per_group() const { return out_channels / groups; }          // C_t/g
    int64_t subspaces_per_group() const { return in_channels / groups / dsub; }  // Mg
    int64_t subspaces() const { return in_channels / dsub; }                     // M
    // Throws qcnn::Error prefixed by `what` when the fields are inconsistent.
    void validate(const std::string& what) const;
    // Also checks the weights: codebooks M x K x dsub finite floats, codes C_t x P x Mg with
    // values < K, bias C_t values or empty.
    void validate(const std::string& what, std::span<const float> codebooks, CodeView codes,
                  std::span<const float> bias) const;
};

// Integer view of a run, for tests and diagnostics (filled only when requested).
struct LutTrace {
    // Sum of the integer entries of every output (empty for LutMethod::Float; Bits16: the
    // combined 16-bit sums):
    // FC rows x C_t, conv N x C_t x H_t x W_t (the output's layout).
    std::vector<uint32_t> acc;
    // The quantization scale of every input vector (FC, rows) or tile (conv, N x tiles).
    std::vector<float> scale;
};

// Uninitialised 64-byte-aligned scratch memory.
template <class T>
class Scratch {
public:
    Scratch() = default;
    explicit Scratch(int64_t n) { resize(n); }
    void resize(int64_t n) {
        if (n <= size_) return;
        p_.reset(static_cast<T*>(::operator new(sizeof(T) * static_cast<size_t>(n), std::align_val_t(64))));
        size_ = n;
    }
    T* data() { return p_.get(); }
    const T* data() const { return p_.get(); }
    T& operator[](int64_t i) { return p_.get()[i]; }

private:
    struct Free {
        void operator()(T* p) const { ::operator delete(p, std::align_val_t(64)); }
    };
    std::unique_ptr<T, Free> p_;
    int64_t size_ = 0;
};

// Codebooks (M x K x dsub, row-major) transposed per subspace and zero-padded to rows of Kp:
// dt[(m*dsub + l)*Kp + k] = D(m)_k[l] for k < K, 0 for K <= k < Kp. This is the one layout a
// prepared layer keeps its codebooks in (FastFc / FastConv); every table function reads it.
std::vector<float> transpose_codebooks(std::span<const float> codebooks, int64_t M, int64_t K, int64_t dsub,
                                       int64_t Kp);
// The inverse: M x K x dsub codebooks from dt (transpose_codebooks' layout).
std::vector<float> untranspose_codebooks(std::span<const float> dt, int64_t M, int64_t K, int64_t dsub, int64_t Kp);

// Every function below computes a table entry with the same arithmetic,
//   L = x_0*D_k[0], then L += x_l*D_k[l] for l = 1..dsub-1,
// where x_l = x[(m*dsub + l)*cstride + pos] (input channel stride cstride, position stride 1).

// Float LUT rows of npos positions and the subspaces [m0, m1):
//   lut[(pos*M + m)*Kp + k] = L(pos, m, k) for every k < Kp (0 for k >= K).
void build_lut_rows(const float* x, int64_t cstride, int64_t npos, const float* dt, int64_t M, int64_t m0, int64_t m1,
                    int64_t dsub, int64_t Kp, float* lut);

struct LutRange {
    float max_range = 0;  // max over rows of (max_k L - min_k L)
    bool finite = true;   // every input and every row range was finite (so every entry was)
    void merge(const LutRange& o);
};

// Row minima, vectorised over positions (conv): off[m*off_stride + pos] = min_{k<K} L(pos, m, k)
// for every position and subspace (dt: transpose_codebooks() with rows of Kp). Returns the
// largest row range.
LutRange lut_minima_positions(const float* x, int64_t cstride, int64_t npos, const float* dt, int64_t M,
                              int64_t dsub, int64_t K, int64_t Kp, float* off, int64_t off_stride);
// Row minima of one position, vectorised over subspaces (FC): off[m] = min_{k<K} L(m, k) for
// m in [m0, m1). xt: the input transposed to dsub x M (xt[l*M + m] = x[m*dsub + l]);
// dt: transpose_codebooks() with rows of Kp (gathered 16 subspaces at a time).
LutRange lut_minima_subspaces(const float* xt, const float* dt, int64_t M, int64_t m0, int64_t m1, int64_t dsub,
                              int64_t K, int64_t Kp, float* off);

// levels / max(max_range, kMinLutRange); levels = lut_levels(precision).
float lut_scale(float max_range, float levels = 255.0f);

// Integer rows of npos positions and the subspaces [m0, m1) (the entries are rebuilt, not stored):
//   e(pos, m, k) = floor((L(pos, m, k) - off[m*off_stride + pos]) * scale + 0.5) clamped to
// [0, Q] for k < K, and 0 for K <= k < Kp. Without `lo`: Q = 255 and q[pos*S + m*Kp + k] = e.
// With `lo` (Bits16): Q = 65535, q[...] = e >> 8 and lo[pos*S + m*Kp + k] = e & 255.
// S = row_stride, the bytes between two positions' rows: M * Kp when 0, else >= M * Kp
// (lut_row_stride(): a padded stride keeps a tile's rows off one cache set).
void quantize_lut_rows(const float* x, int64_t cstride, int64_t npos, const float* dt, int64_t M, int64_t m0,
                       int64_t m1, int64_t dsub, int64_t K, int64_t Kp, const float* off, int64_t off_stride,
                       float scale, uint8_t* q, uint8_t* lo = nullptr, int64_t row_stride = 0);
// The stride a conv tile's 8-bit rows are stored at: M * Kp bytes, plus 64 when M * Kp is a
// multiple of 1 KiB. Rows a multiple of 1 KiB apart fall on 16 or fewer of the L1's 64 sets
// (a single set from 4 KiB on), and the quantize pass, which stores one subspace of every
// position of the tile before the next, then misses L1 on almost every store (measured on
// AMD Zen: 4.7 ns against 1.2 ns per position and subspace for M = 128 and 256).
int64_t lut_row_stride(int64_t M, int64_t Kp);

// Bits16: acc[i] = 256 * acc[i] + lo[i] for i < n (the high plane's sums become the entries').
void combine_lut_planes(uint32_t* acc, const uint32_t* lo, int64_t n);

// Sum of n offsets in index order (one loop for every path, so every path rounds alike).
float sum_lut_offsets(const float* off, int64_t n);

// Epilogues (one compiled copy each, used by the fast paths and the twins alike):
// y[i] = float(acc[i*acc_stride]) * inv_scale + offset_sum + bias[i], i < count.
void finish_lut_row(const uint32_t* acc, int64_t acc_stride, int64_t count, float inv_scale, float offset_sum,
                    const float* bias, float* y);
// A tile of th x tw output positions t = ty*tw + tx and `channels` channels c (sums
// channel-major): y[c*y_cstride + ty*y_rstride + tx] =
//   float(acc[c*acc_stride + t]) * inv_scale + offsets[t] + bias[c].
void finish_lut_tile(const uint32_t* acc, int64_t acc_stride, int64_t channels, int64_t th, int64_t tw,
                     float inv_scale, const float* offsets, const float* bias, float* y, int64_t y_cstride,
                     int64_t y_rstride);

}  // namespace qcnn
