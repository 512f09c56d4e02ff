// FastFc: a product-quantized fully-connected layer prepared for the fast lookup-table scans
// (qcnn-method.md section 1; the float reference is QFcOp in core/quant/quantized_ops.h).
//
//   y[n, c] = bias[c] + sum_m LUT_n[m][code(c, m)],   LUT_n[m][k] = <x_n(m), D(m)_k>
//
// Inputs:  x {rows, C_s} row-major; output y {rows, C_t} row-major.
// Weights: codebooks M x K x dsub row-major (PQWeights::codebooks), codes C_t x M (one byte
//          each, PQWeights::unpacked_codes(), or bit-packed: CodeView), bias C_t floats or empty.
// Held once (weight_bytes()): the codes in the scan's layout (lut_scan::CodeStore: 4-bit nibbles
// for K <= 16, bytes otherwise), the codebooks transposed to M x dsub x Kp (transpose_codebooks,
// read by every table function), and the bias. QFcOp's float reference path reads the same
// store through codes() / codebook_rows().
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
#include "core/kernels/scan.h"

namespace qcnn {

class FastFc {
public:
    FastFc() = default;
    // geo.groups must be 1 and the kernel 1x1. Throws qcnn::Error naming the field when sizes
    // disagree with geo, a code is >= K, or an explicit isa is not supported by this CPU.
    // precision: Auto = resolve_lut_precision(Auto, K, M); an explicit Bits16 with more than
    // kMaxLutTerms16 terms is an error.
    FastFc(const LutGeometry& geo, std::span<const float> codebooks, CodeView codes,
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
    const lut_scan::CodeStore& codes() const { return codes_; }  // the store; unpack() for C_t x M bytes
    // The codebooks as held: M x dsub x kp() floats (transpose_codebooks).
    const float* codebook_rows() const { return dt_.data(); }
    int64_t kp() const { return kp_; }
    std::vector<float> codebooks() const;  // M x K x dsub, rebuilt from the store
    // C_t floats as given, or empty for a layer without a bias.
    std::span<const float> bias() const { return has_bias_ ? std::span<const float>(bias_) : std::span<const float>(); }
    // Bytes held for the weights: codes (codes().bytes()), codebook rows and bias, C_t floats.
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
    lut_scan::CodeStore codes_;    // scan layout (scan.h); Plain for Float
    std::vector<float> bias_;      // C_t (zeros without bias)
    bool has_bias_ = false;
};

}  // namespace qcnn
