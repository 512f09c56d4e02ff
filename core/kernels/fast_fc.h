// FastFc: a product-quantized fully-connected layer prepared for the fast lookup-table scans
// (qcnn-method.md section 1; the float reference is QFcOp in core/quant/quantized_ops.h).
//
//   y[n, c] = bias[c] + sum_m LUT_n[m][code(c, m)],   LUT_n[m][k] = <x_n(m), D(m)_k>
//
// Inputs:  x {rows, C_s} row-major; output y {rows, C_t} row-major.
// Weights: codebooks M x K x dsub row-major (PQWeights::codebooks), codes C_t x M bytes
//          (PQWeights::unpacked_codes()), bias C_t floats or empty.
// Method (lut_tables.h): K <= 16 -> 8-bit tables scanned with vpermb + vpdpbusd (AVX-512 VBMI +
// VNNI), vpshufb (AVX-512BW / AVX2) or the portable scan; K <= 256 with AVX512-VBMI -> vpermb /
// vpermi2b; otherwise exact float tables.
// The integer methods quantize each input vector's LUT with one scale, to 8-bit entries or (the
// default for K > 16, LutPrecision) 16-bit entries scanned as two 8-bit planes (lut_tables.h), so
//   |y - float LUT y| <= M * 0.5 / scale_n  (+ float rounding),  scale_n = Q / (largest row range).
// run() threads over input vectors (LUT build; with fewer vectors than threads the calling thread
// builds them first) and 32/64-channel output blocks (scan); the result is bit-identical for
// every thread count and equal to run_reference(), the scalar twin over the unpacked codes and
// the same tables. run() keeps its scratch buffers per calling/worker thread across calls and
// may be called concurrently on one object.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/kernels/isa.h"
#include "core/kernels/lut_tables.h"

namespace qcnn {

class FastFc {
public:
    FastFc() = default;
    // geo.groups must be 1 and the kernel 1x1. Throws qcnn::Error naming the field when sizes
    // disagree with geo, a code is >= K, or an explicit isa is not supported by this CPU.
    // precision: Auto = resolve_lut_precision(Auto, K, M); an explicit Bits16 with more than
    // kMaxLutTerms16 terms is an error.
    FastFc(const LutGeometry& geo, std::span<const float> codebooks, std::span<const uint8_t> codes,
           std::span<const float> bias, KernelIsa isa = KernelIsa::Auto,
           LutPrecision precision = LutPrecision::Auto);

    // threads >= 1 (values < 1 count as 1). trace (optional) receives the integer sums and the
    // per-vector scales.
    void run(const float* x, int64_t rows, float* y, int threads, LutTrace* trace = nullptr) const;
    // The scalar twin: one thread, plain loops over the unpacked codes, same tables.
    void run_reference(const float* x, int64_t rows, float* y, LutTrace* trace = nullptr) const;

    const LutGeometry& geometry() const { return geo_; }
    KernelIsa isa() const { return isa_; }
    LutMethod method() const { return method_; }
    LutPrecision precision() const { return precision_; }  // resolved (Bits8 / Bits16)
    const std::vector<uint8_t>& codes() const { return codes_; }  // unpacked, C_t x M
    // Bytes of the weights run() reads: packed codes (or, for Float, the unpacked codes), the
    // codebooks in their two run-time layouts, and the bias. The object also keeps the unpacked
    // codes (C_t x M bytes) for run_reference() and codes().
    int64_t weight_bytes() const;
    // Bytes of the LUT buffers a run of `rows` vectors allocates.
    int64_t lut_bytes(int64_t rows) const;

private:
    // Integer LUT of one vector: rows q (and the low plane lo for Bits16, else nullptr), scale
    // and offset sum; xt (C_s) and off (M) are scratch.
    void sample_lut(const float* x, float* xt, float* off, uint8_t* q, uint8_t* lo, float* scale,
                    float* offset_sum) const;
    // Subspaces [m0, m1) of xt = x transposed to dsub x M.
    void transpose_input(const float* x, int64_t m0, int64_t m1, float* xt) const;
    void run_float(const float* x, int64_t rows, float* y, int threads) const;

    LutGeometry geo_;
    KernelIsa isa_ = KernelIsa::Portable;
    LutMethod method_ = LutMethod::Float;
    LutPrecision precision_ = LutPrecision::Bits8;
    int64_t kp_ = 0;     // table row length
    int64_t block_ = 0;  // channels per scan block
    std::vector<float> dt_;        // M x dsub x Kp
    std::vector<float> dk_;        // K x dsub x M (8-bit methods: the row minima pass)
    std::vector<uint8_t> codes_;   // C_t x M
    std::vector<uint8_t> packed_;  // scan layout (scan.h), 8-bit methods only
    std::vector<float> bias_;      // C_t (zeros without bias)
};

}  // namespace qcnn
