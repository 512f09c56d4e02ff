// FastConv: a product-quantized convolution prepared for the fast lookup-table scans
// (qcnn-method.md section 2; the float reference is QConvOp in core/quant/quantized_ops.h).
//
//   y[n, c, oy, ox] = bias[c] + sum over kernel taps p = (ki, kj) (row-major) whose input
//                     position (iy, ix) = (oy*s_h - pad_top + ki*d_h, ox*s_w - pad_left + kj*d_w)
//                     lies inside the input (zero padding = skipped), sum over j < Mg of
//                     LUT_n[iy, ix][gi*Mg + j][code(c, p, j)]          (gi = c / (C_t/g))
//   LUT_n[iy, ix][m][k] = <x[n, m*dsub : (m+1)*dsub, iy, ix], D(m)_k>
//
// Input x {N, C_s, H, W} and output y {N, C_t, H_t, W_t}, NCHW row-major.
// Weights: codebooks M x K x dsub row-major, codes C_t x P x Mg (P = kh*kw, row-major over
// (ki, kj); one byte each, PQWeights::unpacked_codes(), or bit-packed: CodeView), bias C_t
// floats or empty. Held once (weight_bytes()): the codes in the scan's layout
// (lut_scan::CodeStore: 4-bit nibbles for K <= 16, bytes otherwise, blocks of B channels per
// group), the codebooks transposed to M x dsub x Kp (read by every table function) and the
// bias. QConvOp's float reference path reads the same store (codes() / codebook_rows()).
//
// The output plane is cut into tiles of up to ~400 positions (conv_tiling(); fixed by the
// layer's shape, never by the thread count). Per tile and sample, the LUT of the input
// positions the tile reads is built once (float, then integer with one scale per tile: 8-bit
// entries, or for K > 16 by default 16-bit entries scanned as two 8-bit planes, lut_tables.h)
// and reused by every kernel tap and every output channel:
//   |y - float LUT y| <= (valid taps) * Mg * 0.5 / scale_tile  (+ float rounding).
// Threads take (sample, tile) items; with fewer items than threads, an item is also split
// over output-channel blocks (each part builds the tile's LUT itself). Results are
// bit-identical for every thread count and equal to run_reference(), the scalar twin. run()
// keeps one set of tile buffers per thread across calls and may be called concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/graph/op.h"
#include "core/kernels/isa.h"
#include "core/kernels/lut_tables.h"
#include "core/kernels/scan.h"

namespace qcnn {

// Strides, explicit (resolved) zero padding and dilation of a convolution window.
struct ConvWindow {
    int64_t stride_h = 1, stride_w = 1;
    int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
    int64_t dilation_h = 1, dilation_w = 1;
};

// Output size {H_t, W_t} of a kh x kw window over an h x w input. Throws qcnn::Error when the
// window is invalid (stride/dilation < 1, negative pads) or the kernel does not fit.
std::array<int64_t, 2> conv_window_output(int64_t h, int64_t w, int64_t kh, int64_t kw, const ConvWindow& win);

// Tiles of an H_t x W_t output plane: th x tw positions (the last row/column of tiles may be
// smaller); tile t covers tile row t / tiles_x, tile column t % tiles_x.
struct ConvTiling {
    int64_t th = 1, tw = 1;
    int64_t tiles_y = 1, tiles_x = 1;
    int64_t count() const { return tiles_y * tiles_x; }
};
// `lut_row_bytes` = M * Kp (bytes of one position's 8-bit LUT): larger tables get smaller tiles.
// E.g. a 56x56 plane with M * Kp = 256 gets 7 bands of 8 x 56. A tile smaller than the plane
// has an even height and width (tiles start on even rows and columns: a fused 2x2 pool stays
// inside a tile).
ConvTiling conv_tiling(int64_t out_h, int64_t out_w, int64_t lut_row_bytes);

class FastConv {
public:
    FastConv() = default;
    // Throws qcnn::Error naming the field when sizes disagree with geo, a code is >= K, or an
    // explicit isa is not supported by this CPU.
    // precision: Auto = resolve_lut_precision(Auto, K, P * Mg); an explicit Bits16 with more
    // than kMaxLutTerms16 terms per output is an error.
    FastConv(const LutGeometry& geo, std::span<const float> codebooks, CodeView codes,
             std::span<const float> bias, KernelIsa isa = KernelIsa::Auto,
             LutPrecision precision = LutPrecision::Auto);

    // x {n, C_s, h, w}; y {n, C_t, H_t, W_t} with {H_t, W_t} = conv_window_output(...).
    // threads >= 1 (values < 1 count as 1). Throws qcnn::Error for an invalid window.
    void run(const float* x, int64_t n, int64_t h, int64_t w, const ConvWindow& win, float* y, int threads,
             LutTrace* trace = nullptr) const;
    // The same outputs with `post` (may be null) applied and the 2x2 stride-2 max pool (floor)
    // taken inside each output tile: y {n, C_t, H_t/2, W_t/2}, the bits of run() followed by
    // PostOp::apply and PoolOp's MaxPool (max in its order: -inf, then the window row by row).
    void run_max_pool2(const float* x, int64_t n, int64_t h, int64_t w, const ConvWindow& win, float* y,
                       int threads, const PostOp* post) const;
    // The scalar twin: one thread, same tiles and tables, plain loops over the unpacked codes
    // that skip out-of-range taps.
    void run_reference(const float* x, int64_t n, int64_t h, int64_t w, const ConvWindow& win, float* y,
                       LutTrace* trace = nullptr) const;

    const LutGeometry& geometry() const { return geo_; }
    KernelIsa isa() const { return isa_; }
    LutMethod method() const { return method_; }
    LutPrecision precision() const { return precision_; }  // resolved (Bits8 / Bits16)
    const lut_scan::CodeStore& codes() const { return codes_; }  // the store; unpack(): C_t x P x Mg
    // The codebooks as held: M x dsub x kp() floats (transpose_codebooks).
    const float* codebook_rows() const { return dt_.data(); }
    int64_t kp() const { return kp_; }
    std::vector<float> codebooks() const;  // M x K x dsub, rebuilt from the store
    // C_t floats as given, or empty for a layer without a bias.
    std::span<const float> bias() const { return has_bias_ ? std::span<const float>(bias_) : std::span<const float>(); }
    ConvTiling tiling(int64_t out_h, int64_t out_w) const;
    // Bytes held for the weights: codes (codes().bytes()), codebook rows and bias, C_t floats.
    int64_t weight_bytes() const;
    // Bytes of one thread's tile buffers for an H_t x W_t output (tables, offsets, tap map and
    // pointers, sums, and the input copy of tiles narrower than the plane).
    int64_t lut_bytes(int64_t out_h, int64_t out_w, const ConvWindow& win) const;

private:
    struct Tile;
    struct TileBuffers;
    void run_impl(const float* x, int64_t n, int64_t h, int64_t w, const ConvWindow& win, float* y, int threads,
                  LutTrace* trace, const PostOp* post, bool max_pool2) const;
    Tile make_tile(int64_t t, const ConvTiling& tl, int64_t h, int64_t w, int64_t oh, int64_t ow,
                   const ConvWindow& win) const;
    bool gathers(const ConvWindow& win) const;  // a strided 1x1 window without padding (Tile::gathered)
    void tile_lut(const float* xn, int64_t h, int64_t w, const Tile& t, const ConvWindow& win, TileBuffers& b) const;

    LutGeometry geo_;
    KernelIsa isa_ = KernelIsa::Portable;
    LutMethod method_ = LutMethod::Float;
    LutPrecision precision_ = LutPrecision::Bits8;
    int64_t kp_ = 0;     // table row length
    int64_t rs_ = 0;     // bytes between two positions' 8-bit rows (lut_row_stride)
    int64_t block_ = 0;  // channels per scan block (8-bit methods)
    std::vector<float> dt_;         // M x dsub x Kp
    lut_scan::CodeStore codes_;     // scan layout (scan.h); Plain for Float
    std::vector<float> bias_;       // C_t (zeros without bias)
    bool has_bias_ = false;
};

}  // namespace qcnn
