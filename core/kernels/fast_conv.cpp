#include "core/kernels/fast_conv.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/kernels/scan.h"
#include "core/util/error.h"

namespace qcnn {

std::array<int64_t, 2> conv_window_output(int64_t h, int64_t w, int64_t kh, int64_t kw, const ConvWindow& win) {
    if (win.stride_h < 1 || win.stride_w < 1 || win.dilation_h < 1 || win.dilation_w < 1)
        fail("convolution strides and dilations must be >= 1, got stride ", win.stride_h, "x", win.stride_w,
             ", dilation ", win.dilation_h, "x", win.dilation_w);
    if (win.pad_top < 0 || win.pad_left < 0 || win.pad_bottom < 0 || win.pad_right < 0)
        fail("convolution pads must be >= 0");
    if (h < 1 || w < 1) fail("convolution input must be at least 1x1, got ", h, "x", w);
    const int64_t ekh = win.dilation_h * (kh - 1) + 1, ekw = win.dilation_w * (kw - 1) + 1;
    const int64_t hp = h + win.pad_top + win.pad_bottom, wp = w + win.pad_left + win.pad_right;
    if (hp < ekh || wp < ekw)
        fail("kernel ", kh, "x", kw, " (dilation ", win.dilation_h, "x", win.dilation_w,
             ") does not fit the padded input ", hp, "x", wp);
    return {(hp - ekh) / win.stride_h + 1, (wp - ekw) / win.stride_w + 1};
}

ConvTiling conv_tiling(int64_t oh, int64_t ow, int64_t lut_row_bytes) {
    // Up to ~400 positions (fewer when a tile's tables would pass ~256 KiB): full-width bands
    // of >= 4 rows when the plane is narrow enough (their input rows are contiguous), else
    // tiles as square as the plane allows (the LUT covers the tile plus the kernel's halo);
    // the plane is split evenly either way.
    const int64_t target = std::clamp<int64_t>((int64_t(1) << 18) / std::max<int64_t>(lut_row_bytes, 1), 16, 400);
    ConvTiling t;
    // A tile narrower or shorter than the plane has an even height / width, so every tile
    // starts on an even row and column and a fused 2x2 pool never straddles two tiles.
    auto even = [](int64_t v, int64_t whole) { return v < whole && v % 2 != 0 ? v + 1 : v; };
    if (ow * 4 <= target) {
        t.tiles_x = 1;
        t.tw = ow;
        const int64_t th_max = std::max<int64_t>(target / ow, 1);
        t.tiles_y = (oh + th_max - 1) / th_max;
        t.th = even((oh + t.tiles_y - 1) / t.tiles_y, oh);
        t.tiles_y = (oh + t.th - 1) / t.th;
        return t;
    }
    int64_t side = 1;
    while ((side + 1) * (side + 1) <= target) ++side;
    t.tiles_y = (oh + std::min(oh, side) - 1) / std::min(oh, side);
    t.th = even((oh + t.tiles_y - 1) / t.tiles_y, oh);
    t.tiles_y = (oh + t.th - 1) / t.th;
    const int64_t tw_max = std::max<int64_t>(target / t.th, 1);
    t.tiles_x = (ow + tw_max - 1) / tw_max;
    t.tw = even((ow + t.tiles_x - 1) / t.tiles_x, ow);
    t.tiles_x = (ow + t.tw - 1) / t.tw;
    return t;
}

// Output rectangle [oy0, oy1) x [ox0, ox1) of a tile and the clipped input rectangle it reads.
// A strided 1x1 convolution without padding reads one input position per output position:
// its tile is `gathered`, i.e. the input is the tile's own positions copied channel-major
// (in_h x in_w = the output rectangle), so no table is built for a position no output reads
// (3 of 4 at stride 2).
struct FastConv::Tile {
    int64_t oy0 = 0, oy1 = 0, ox0 = 0, ox1 = 0;
    int64_t iy0 = 0, ix0 = 0, in_h = 0, in_w = 0;
    bool gathered = false;
    int64_t width() const { return ox1 - ox0; }
    int64_t rows() const { return (oy1 - oy0) * (ox1 - ox0); }
    int64_t npos() const { return in_h * in_w; }
};

// One thread's buffers for a tile (grown as needed, never shrunk; run() keeps one set per
// thread across calls, so steady-state runs allocate nothing).
struct FastConv::TileBuffers {
    Scratch<float> xin;             // C_s x npos: the tile's input rectangle (tiles narrower than x)
    Scratch<float> lutf;            // Float: (npos + 1) x M x K LUT; row block npos is zero
    Scratch<float> off;             // M x npos row minima
    Scratch<float> offg;            // g x npos: sum of the minima of each group's subspaces
    // planes x (npos + 1) rows of rs_ >= M x Kp bytes (8-bit LUT) + read pad; row npos of each plane is zero;
    // Bits16: plane 0 holds the high bytes, plane 1 (at plane_stride) the low bytes
    Scratch<uint8_t> lutq;
    int64_t plane_stride = 0;
    Scratch<int32_t> idx;           // rows x P: input position read by (row, tap); npos if padded
    Scratch<float> offs;            // g x rows: offset sum of each output position
    Scratch<const uint8_t*> ptrs;   // rows x P scan pointers
    Scratch<uint32_t> acc, acc_lo;  // scan sums, channel-major: B x rows (acc_lo: Bits16 low plane)
    Scratch<float> pooled;          // run_max_pool2: one block's finished outputs before the pool
    float scale = 1.0f;
};

FastConv::FastConv(const LutGeometry& geo, std::span<const float> codebooks, CodeView codes,
                   std::span<const float> bias, KernelIsa isa, LutPrecision precision)
    : geo_(geo) {
    geo_.validate("FastConv", codebooks, codes, bias);
    const int64_t terms = geo_.kernel_size() * geo_.subspaces_per_group();
    precision_ = resolve_lut_precision(precision, geo_.K, terms);
    if (precision_ == LutPrecision::Bits16 && terms > kMaxLutTerms16)
        fail("FastConv: 16-bit tables allow at most ", kMaxLutTerms16, " terms per output, the layer has ", terms);
    isa_ = resolve_isa(isa);
    method_ = choose_lut_method(geo_.K, isa_);
    kp_ = lut_row_length(method_, geo_.K);
    rs_ = method_ == LutMethod::Float ? geo_.subspaces() * kp_ : lut_row_stride(geo_.subspaces(), kp_);
    dt_ = transpose_codebooks(codebooks, geo_.subspaces(), geo_.K, geo_.dsub, kp_);
    bias_.assign(geo_.out_channels, 0.0f);
    std::copy(bias.begin(), bias.end(), bias_.begin());
    has_bias_ = !bias.empty();
    const bool scanned = method_ != LutMethod::Float;
    block_ = scanned ? lut_scan::block_width(isa_) : 64;  // Float: channels per work item
    codes_ = lut_scan::CodeStore(codes, geo_.out_channels, geo_.groups, geo_.kernel_size(), geo_.subspaces_per_group(),
                                 block_, scanned ? lut_scan::code_layout(isa_, method_) : lut_scan::CodeLayout::Plain);
}

std::vector<float> FastConv::codebooks() const {
    return untranspose_codebooks(dt_, geo_.subspaces(), geo_.K, geo_.dsub, kp_);
}

ConvTiling FastConv::tiling(int64_t oh, int64_t ow) const { return conv_tiling(oh, ow, geo_.subspaces() * kp_); }

int64_t FastConv::weight_bytes() const {
    return codes_.bytes() + static_cast<int64_t>((dt_.size() + bias_.size()) * sizeof(float));
}

int64_t FastConv::lut_bytes(int64_t oh, int64_t ow, const ConvWindow& win) const {
    const ConvTiling tl = tiling(oh, ow);
    const int64_t in_h = (tl.th - 1) * win.stride_h + (geo_.kernel_h - 1) * win.dilation_h + 1;
    const int64_t in_w = (tl.tw - 1) * win.stride_w + (geo_.kernel_w - 1) * win.dilation_w + 1;
    const int64_t rows = tl.th * tl.tw, npos = gathers(win) ? rows : in_h * in_w;
    const int64_t M = geo_.subspaces(), P = geo_.kernel_size();
    const int64_t tables = method_ == LutMethod::Float
                               ? (npos + 1) * M * kp_ * 4
                               : lut_planes(precision_) * ((npos + 1) * rs_ + rows * block_ * 4) +
                                     lut_scan::kLutReadPad + npos * (M + geo_.groups) * 4 + geo_.groups * rows * 4;
    const int64_t input_copy = gathers(win)      ? geo_.in_channels * rows * 4
                               : tl.tiles_x > 1 ? geo_.in_channels * npos * 4
                                                : 0;
    return tables + input_copy + rows * P * (4 + 8);
}

bool FastConv::gathers(const ConvWindow& win) const {
    return geo_.kernel_h == 1 && geo_.kernel_w == 1 && (win.stride_h > 1 || win.stride_w > 1) && win.pad_top == 0 &&
           win.pad_left == 0 && win.pad_bottom == 0 && win.pad_right == 0;
}

FastConv::Tile FastConv::make_tile(int64_t ti, const ConvTiling& tl, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                   const ConvWindow& win) const {
    Tile t;
    t.oy0 = (ti / tl.tiles_x) * tl.th;
    t.oy1 = std::min(t.oy0 + tl.th, oh);
    t.ox0 = (ti % tl.tiles_x) * tl.tw;
    t.ox1 = std::min(t.ox0 + tl.tw, ow);
    if (gathers(win)) {
        t.gathered = true;
        t.iy0 = t.oy0 * win.stride_h;
        t.ix0 = t.ox0 * win.stride_w;
        t.in_h = t.oy1 - t.oy0;
        t.in_w = t.ox1 - t.ox0;
        return t;
    }
    const int64_t iy_first = t.oy0 * win.stride_h - win.pad_top;
    const int64_t iy_last = (t.oy1 - 1) * win.stride_h - win.pad_top + (geo_.kernel_h - 1) * win.dilation_h;
    const int64_t ix_first = t.ox0 * win.stride_w - win.pad_left;
    const int64_t ix_last = (t.ox1 - 1) * win.stride_w - win.pad_left + (geo_.kernel_w - 1) * win.dilation_w;
    t.iy0 = std::max<int64_t>(iy_first, 0);
    t.ix0 = std::max<int64_t>(ix_first, 0);
    t.in_h = std::max<int64_t>(std::min(iy_last, h - 1) + 1 - t.iy0, 0);
    t.in_w = std::max<int64_t>(std::min(ix_last, w - 1) + 1 - t.ix0, 0);
    if (t.in_h == 0 || t.in_w == 0) t.in_h = t.in_w = 0;
    return t;
}

// The tile's LUT (shared by run and run_reference): the (row, tap) -> input position map, and
// for the 8-bit methods the row minima, the tile scale, the 8-bit rows and each output
// position's offset sum (taps ascending, subspaces ascending); for Float the float rows.
void FastConv::tile_lut(const float* xn, int64_t h, int64_t w, const Tile& t, const ConvWindow& win,
                        TileBuffers& b) const {
    const int64_t M = geo_.subspaces(), Mg = geo_.subspaces_per_group(), g = geo_.groups, K = geo_.K, Kp = kp_;
    const int64_t kh = geo_.kernel_h, kw = geo_.kernel_w, P = kh * kw, cs = geo_.in_channels;
    const int64_t npos = t.npos(), rows = t.rows(), tw = t.width(), th = t.oy1 - t.oy0;

    // The tile's input, channel stride xs: x itself when the tile spans whole input rows,
    // else a channel-major copy of the rectangle, or of the positions a gathered tile reads.
    const float* xt = xn + t.iy0 * w;
    int64_t xs = h * w;
    if (t.gathered) {
        b.xin.resize(cs * npos);
        for (int64_t c = 0; c < cs; ++c)
            for (int64_t ty = 0; ty < th; ++ty) {
                const float* src = xn + (c * h + t.iy0 + ty * win.stride_h) * w + t.ix0;
                float* dst = b.xin.data() + c * npos + ty * tw;
                for (int64_t tx = 0; tx < tw; ++tx) dst[tx] = src[tx * win.stride_w];
            }
        xt = b.xin.data();
        xs = npos;
    } else if (t.in_w != w && npos > 0) {
        b.xin.resize(cs * npos);
        for (int64_t c = 0; c < cs; ++c)
            for (int64_t ly = 0; ly < t.in_h; ++ly) {
                const float* src = xn + (c * h + t.iy0 + ly) * w + t.ix0;
                std::copy(src, src + t.in_w, b.xin.data() + c * npos + ly * t.in_w);
            }
        xt = b.xin.data();
        xs = npos;
    }
    b.idx.resize(rows * P);
    if (t.gathered) {
        for (int64_t r = 0; r < rows; ++r) b.idx[r] = static_cast<int32_t>(r);
    } else {
        for (int64_t ty = 0; ty < th; ++ty)
            for (int64_t ki = 0; ki < kh; ++ki) {
                const int64_t iy = (t.oy0 + ty) * win.stride_h - win.pad_top + ki * win.dilation_h;
                const bool row_inside = iy >= 0 && iy < h;
                for (int64_t tx = 0; tx < tw; ++tx)
                    for (int64_t kj = 0; kj < kw; ++kj) {
                        const int64_t ix = (t.ox0 + tx) * win.stride_w - win.pad_left + kj * win.dilation_w;
                        const bool inside = row_inside && ix >= 0 && ix < w;
                        b.idx[(ty * tw + tx) * P + ki * kw + kj] =
                            static_cast<int32_t>(inside ? (iy - t.iy0) * t.in_w + (ix - t.ix0) : npos);
                    }
            }
    }
    if (method_ == LutMethod::Float) {
        b.lutf.resize((npos + 1) * M * K);
        build_lut_rows(xt, xs, npos, dt_.data(), M, 0, M, geo_.dsub, K, b.lutf.data());
        std::fill(b.lutf.data() + npos * M * K, b.lutf.data() + (npos + 1) * M * K, 0.0f);
        return;
    }
    const bool wide = precision_ == LutPrecision::Bits16;
    const int64_t planes = wide ? 2 : 1;
    const int64_t rs = rs_;
    b.plane_stride = (npos + 1) * rs;
    b.off.resize(std::max<int64_t>(npos * M, 1));
    b.lutq.resize(planes * b.plane_stride + lut_scan::kLutReadPad);
    b.offs.resize(g * rows);
    uint8_t* lo = wide ? b.lutq.data() + b.plane_stride : nullptr;
    const LutRange range =
        lut_minima_positions(xt, xs, npos, dt_.data(), M, geo_.dsub, K, Kp, b.off.data(), npos);
    for (int64_t pl = 0; pl < planes; ++pl)
        std::fill(b.lutq.data() + pl * b.plane_stride + npos * rs, b.lutq.data() + (pl + 1) * b.plane_stride,
                  uint8_t(0));
    std::fill(b.lutq.data() + planes * b.plane_stride,
              b.lutq.data() + planes * b.plane_stride + lut_scan::kLutReadPad, uint8_t(0));
    if (!range.finite) {
        for (int64_t pl = 0; pl < planes; ++pl)
            std::fill(b.lutq.data() + pl * b.plane_stride, b.lutq.data() + pl * b.plane_stride + npos * rs,
                      uint8_t(0));
        std::fill(b.offs.data(), b.offs.data() + g * rows, std::numeric_limits<float>::quiet_NaN());
        b.scale = 1.0f;
        return;
    }
    b.scale = lut_scale(range.max_range, lut_levels(precision_));
    quantize_lut_rows(xt, xs, npos, dt_.data(), M, 0, M, geo_.dsub, K, Kp, b.off.data(), npos, b.scale,
                      b.lutq.data(), lo, rs);
    b.offg.resize(std::max<int64_t>(npos * g, 1));
    for (int64_t gi = 0; gi < g; ++gi) {
        float* og = b.offg.data() + gi * npos;
        std::fill(og, og + npos, 0.0f);
        for (int64_t j = 0; j < Mg; ++j) {
            const float* oj = b.off.data() + (gi * Mg + j) * npos;
            for (int64_t pos = 0; pos < npos; ++pos) og[pos] += oj[pos];
        }
    }
    for (int64_t gi = 0; gi < g; ++gi)
        for (int64_t r = 0; r < rows; ++r) {
            float sum = 0.0f;
            for (int64_t p = 0; p < P; ++p) {
                const int32_t pos = b.idx[r * P + p];
                if (pos != npos) sum += b.offg[gi * npos + pos];
            }
            b.offs[gi * rows + r] = sum;
        }
}

void FastConv::run(const float* x, int64_t n, int64_t h, int64_t w, const ConvWindow& win, float* y, int threads,
                   LutTrace* trace) const {
    run_impl(x, n, h, w, win, y, threads, trace, nullptr, false);
}

void FastConv::run_max_pool2(const float* x, int64_t n, int64_t h, int64_t w, const ConvWindow& win, float* y,
                             int threads, const PostOp* post) const {
    run_impl(x, n, h, w, win, y, threads, nullptr, post, true);
}

// Activation and 2x2 max pool of a finished tile: t holds channels x (th x tw) outputs of the
// tile at (oy0, ox0) (both even); writes the pooled outputs it covers into y (channel stride
// ph * pw, row stride pw).
static void pool_tile(float* t, int64_t channels, int64_t th, int64_t tw, int64_t oy0, int64_t ox0, int64_t ph,
                      int64_t pw, const PostOp* post, float* y) {
    if (post) post->apply(t, channels * th * tw);
    const int64_t py0 = oy0 / 2, px0 = ox0 / 2;
    const int64_t py1 = std::min(ph, (oy0 + th) / 2), px1 = std::min(pw, (ox0 + tw) / 2);
    for (int64_t c = 0; c < channels; ++c)
        for (int64_t py = py0; py < py1; ++py) {
            const float* a = t + (c * th + 2 * (py - py0)) * tw;
            const float* b = a + tw;
            if (px1 > px0) max_pool2_row(a, b, px1 - px0, y + (c * ph + py) * pw + px0);
        }
}

void FastConv::run_impl(const float* x, int64_t n, int64_t h, int64_t w, const ConvWindow& win, float* y, int threads,
                        LutTrace* trace, const PostOp* post, bool max_pool2) const {
    const auto out_hw = conv_window_output(h, w, geo_.kernel_h, geo_.kernel_w, win);
    const int64_t oh = out_hw[0], ow = out_hw[1];  // not a structured binding: clang 14 cannot capture those in OpenMP regions
    if (n < 0) fail("FastConv: negative batch size ", n);
    if (max_pool2 && (oh < 2 || ow < 2)) fail("FastConv: a 2x2 pool needs at least 2x2 outputs, got ", oh, "x", ow);
    const int64_t ph = oh / 2, pw = ow / 2;
    if (trace) *trace = {};
    if (n == 0) return;
    const int64_t cs = geo_.in_channels, ct = geo_.out_channels, ctg = geo_.outputs_per_group();
    const int64_t g = geo_.groups, M = geo_.subspaces(), Mg = geo_.subspaces_per_group(), K = geo_.K, Kp = kp_;
    const int64_t P = geo_.kernel_size(), ohw = oh * ow, B = block_;
    const bool quantized = method_ != LutMethod::Float;
    const ConvTiling tl = tiling(oh, ow);
    const int64_t ntiles = tl.count(), nbg = (ctg + B - 1) / B, nblocks = g * nbg;
    const int64_t nsplit = std::clamp<int64_t>(std::max(threads, 1) / (n * ntiles), 1, nblocks);
    const int64_t items = n * ntiles * nsplit;
    const int team = static_cast<int>(std::clamp<int64_t>(items, 1, std::max(threads, 1)));
    if (trace && quantized) {
        trace->acc.assign(n * ct * ohw, 0);
        trace->scale.assign(n * ntiles, 0.0f);
    }

#pragma omp parallel num_threads(team) if (team > 1)
    {
        static thread_local TileBuffers b;
#pragma omp for schedule(static)
        for (int64_t item = 0; item < items; ++item) {
            const int64_t ni = item / (ntiles * nsplit), ti = (item / nsplit) % ntiles, si = item % nsplit;
            const Tile t = make_tile(ti, tl, h, w, oh, ow, win);
            tile_lut(x + ni * cs * h * w, h, w, t, win, b);
            const int64_t rows = t.rows(), tw = t.width(), th = t.oy1 - t.oy0;
            float* yn = y + ni * ct * (max_pool2 ? ph * pw : ohw);
            const int64_t b0 = nblocks * si / nsplit, b1 = nblocks * (si + 1) / nsplit;
            if (max_pool2) b.pooled.resize(B * rows);
            if (!quantized) {
                for (int64_t blk = b0; blk < b1; ++blk) {
                    const int64_t gi = blk / nbg, c0 = gi * ctg + (blk % nbg) * B;
                    const int64_t c1 = std::min(c0 + B, (gi + 1) * ctg);
                    const float* lut_g = b.lutf.data() + gi * Mg * K;
                    for (int64_t c = c0; c < c1; ++c)
                        for (int64_t r = 0; r < rows; ++r) {
                            float acc = 0.0f;
                            for (int64_t p = 0; p < P; ++p) {
                                const float* row = lut_g + b.idx[r * P + p] * M * K;
                                const uint8_t* code = codes_.data() + (c * P + p) * Mg;  // Plain
                                for (int64_t j = 0; j < Mg; ++j) acc += row[j * K + code[j]];
                            }
                            float& out = max_pool2 ? b.pooled[(c - c0) * rows + r]
                                                   : yn[c * ohw + (t.oy0 + r / tw) * ow + t.ox0 + r % tw];
                            out = acc + bias_[c];
                        }
                    if (max_pool2) pool_tile(b.pooled.data(), c1 - c0, th, tw, t.oy0, t.ox0, ph, pw, post, yn + c0 * ph * pw);
                }
                continue;
            }
            b.ptrs.resize(rows * P);
            for (int64_t i = 0; i < rows * P; ++i) b.ptrs[i] = b.lutq.data() + b.idx[i] * rs_;
            b.acc.resize(B * rows);
            const bool wide = precision_ == LutPrecision::Bits16;
            if (wide) b.acc_lo.resize(B * rows);
            const float inv_scale = 1.0f / b.scale;
            for (int64_t blk = b0; blk < b1; ++blk) {
                const int64_t gi = blk / nbg, cg0 = (blk % nbg) * B, nc = std::min(B, ctg - cg0);
                const int64_t c0 = gi * ctg + cg0;
                lut_scan::ScanJob job;
                job.codes = codes_.block(blk);
                job.luts = b.ptrs.data();
                job.lut_offset = gi * Mg * Kp;
                job.rows = rows;
                job.taps = P;
                job.terms = Mg;
                job.acc = b.acc.data();
                job.acc_stride = rows;
                lut_scan::scan(isa_, method_, job);
                if (wide) {
                    job.lut_offset += b.plane_stride;
                    job.acc = b.acc_lo.data();
                    lut_scan::scan(isa_, method_, job);
                    combine_lut_planes(b.acc.data(), b.acc_lo.data(), B * rows);
                }
                if (max_pool2) {
                    finish_lut_tile(b.acc.data(), rows, nc, th, tw, inv_scale, b.offs.data() + gi * rows,
                                    bias_.data() + c0, b.pooled.data(), rows, tw);
                    pool_tile(b.pooled.data(), nc, th, tw, t.oy0, t.ox0, ph, pw, post, yn + c0 * ph * pw);
                } else {
                    float* yt = yn + c0 * ohw + t.oy0 * ow + t.ox0;
                    finish_lut_tile(b.acc.data(), rows, nc, th, tw, inv_scale, b.offs.data() + gi * rows,
                                    bias_.data() + c0, yt, ohw, ow);
                }
                if (trace)
                    for (int64_t c = 0; c < nc; ++c)
                        for (int64_t r = 0; r < rows; ++r)
                            trace->acc[(ni * ct + c0 + c) * ohw + (t.oy0 + r / tw) * ow + t.ox0 + r % tw] =
                                b.acc[c * rows + r];
            }
            if (trace && si == 0) trace->scale[ni * ntiles + ti] = b.scale;
        }
    }
}

void FastConv::run_reference(const float* x, int64_t n, int64_t h, int64_t w, const ConvWindow& win, float* y,
                             LutTrace* trace) const {
    const auto [oh, ow] = conv_window_output(h, w, geo_.kernel_h, geo_.kernel_w, win);
    if (n < 0) fail("FastConv: negative batch size ", n);
    if (trace) *trace = {};
    const int64_t cs = geo_.in_channels, ct = geo_.out_channels, ctg = geo_.outputs_per_group();
    const int64_t Mg = geo_.subspaces_per_group(), Kp = kp_;
    const int64_t kh = geo_.kernel_h, kw = geo_.kernel_w, P = kh * kw, ohw = oh * ow;
    const bool quantized = method_ != LutMethod::Float, wide = precision_ == LutPrecision::Bits16;
    const ConvTiling tl = tiling(oh, ow);
    if (trace && quantized) trace->acc.assign(n * ct * ohw, 0);
    const std::vector<uint8_t> codes = codes_.unpack();
    TileBuffers b;
    std::vector<uint32_t> acc;
    for (int64_t ni = 0; ni < n; ++ni)
        for (int64_t ti = 0; ti < tl.count(); ++ti) {
            const Tile t = make_tile(ti, tl, h, w, oh, ow, win);
            tile_lut(x + ni * cs * h * w, h, w, t, win, b);
            const int64_t rows = t.rows(), tw = t.width(), th = t.oy1 - t.oy0;
            float* yn = y + ni * ct * ohw;
            acc.assign(rows * ct, 0);
            for (int64_t c = 0; c < ct; ++c) {
                const int64_t gi = c / ctg;
                for (int64_t r = 0; r < rows; ++r) {
                    const int64_t oy = t.oy0 + r / tw, ox = t.ox0 + r % tw;
                    uint32_t qsum = 0;
                    float fsum = 0.0f;
                    for (int64_t ki = 0; ki < kh; ++ki)
                        for (int64_t kj = 0; kj < kw; ++kj) {
                            const int64_t iy = oy * win.stride_h - win.pad_top + ki * win.dilation_h;
                            const int64_t ix = ox * win.stride_w - win.pad_left + kj * win.dilation_w;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            const int64_t pos = t.gathered ? (oy - t.oy0) * tw + (ox - t.ox0)
                                                           : (iy - t.iy0) * t.in_w + (ix - t.ix0);
                            const uint8_t* code = codes.data() + (c * P + ki * kw + kj) * Mg;
                            for (int64_t j = 0; j < Mg; ++j) {
                                const int64_t e = pos * rs_ + (gi * Mg + j) * Kp + code[j];
                                if (!quantized) fsum += b.lutf[e];
                                else if (wide) qsum += (uint32_t(b.lutq[e]) << 8) + b.lutq[b.plane_stride + e];
                                else qsum += b.lutq[e];
                            }
                        }
                    if (quantized) acc[c * rows + r] = qsum;
                    else yn[c * ohw + oy * ow + ox] = fsum + bias_[c];
                }
            }
            if (!quantized) continue;
            for (int64_t gi = 0; gi < geo_.groups; ++gi)
                finish_lut_tile(acc.data() + gi * ctg * rows, rows, ctg, th, tw, 1.0f / b.scale,
                                b.offs.data() + gi * rows, bias_.data() + gi * ctg,
                                yn + gi * ctg * ohw + t.oy0 * ow + t.ox0, ohw, ow);
            if (trace) {
                for (int64_t c = 0; c < ct; ++c)
                    for (int64_t r = 0; r < rows; ++r)
                        trace->acc[(ni * ct + c) * ohw + (t.oy0 + r / tw) * ow + t.ox0 + r % tw] = acc[c * rows + r];
                trace->scale.push_back(b.scale);
            }
        }
}

}  // namespace qcnn
