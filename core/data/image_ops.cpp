#include "core/data/image_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/util/error.h"

namespace qcnn {

namespace {

// Source taps of one output axis: out[d] = l0 * in[i0] + l1 * in[i1].
struct Taps {
    std::vector<int64_t> i0, i1;
    std::vector<float> l0, l1;
};

// Same arithmetic as PyTorch's CPU upsample_bilinear2d (area_pixel_compute_source_index).
Taps make_taps(int64_t in, int64_t out) {
    Taps t;
    t.i0.resize(out);
    t.i1.resize(out);
    t.l0.resize(out);
    t.l1.resize(out);
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    for (int64_t d = 0; d < out; ++d) {
        float s = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
        if (s < 0.0f) s = 0.0f;
        const int64_t i0 = std::min(static_cast<int64_t>(s), in - 1);
        const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
        const float l1 = s - static_cast<float>(i0);
        t.i0[d] = i0;
        t.i1[d] = i1;
        t.l1[d] = l1;
        t.l0[d] = 1.0f - l1;
    }
    return t;
}

}  // namespace

void resize_bilinear(const float* src, int64_t h, int64_t w, float* dst, int64_t oh, int64_t ow) {
    QCNN_ASSERT(h >= 1 && w >= 1 && oh >= 1 && ow >= 1, "resize ", h, "x", w, " -> ", oh, "x", ow);
    if (h == oh && w == ow) {
        std::copy(src, src + h * w, dst);
        return;
    }
    const Taps ty = make_taps(h, oh), tx = make_taps(w, ow);
    for (int64_t y = 0; y < oh; ++y) {
        const float* r0 = src + ty.i0[y] * w;
        const float* r1 = src + ty.i1[y] * w;
        const float a = ty.l0[y], b = ty.l1[y];
        float* o = dst + y * ow;
        for (int64_t x = 0; x < ow; ++x) {
            const int64_t x0 = tx.i0[x], x1 = tx.i1[x];
            const float p = tx.l0[x], q = tx.l1[x];
            o[x] = a * (p * r0[x0] + q * r0[x1]) + b * (p * r1[x0] + q * r1[x1]);
        }
    }
}

bool can_convert_channels(int64_t c, int64_t oc) {
    return c == oc || (c == 1 && oc == 3) || (c == 3 && oc == 1);
}

void convert_channels(const float* src, int64_t c, int64_t hw, float* dst, int64_t oc) {
    QCNN_ASSERT(can_convert_channels(c, oc), "channel conversion ", c, " -> ", oc);
    if (c == oc) {
        std::copy(src, src + c * hw, dst);
    } else if (c == 1) {
        for (int64_t k = 0; k < 3; ++k) std::copy(src, src + hw, dst + k * hw);
    } else {
        const float* r = src;
        const float* g = src + hw;
        const float* b = src + 2 * hw;
        for (int64_t i = 0; i < hw; ++i) dst[i] = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
    }
}

// ---- Pillow-compatible bilinear resize (Pillow's src/libImaging/Resample.c) ----------------

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

double triangle(double x) {
    x = x < 0.0 ? -x : x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's clip8: the accumulated sum (which starts at half a unit) back to uint8.
uint8_t clip8(int32_t acc) {
    if (acc >= (1 << kPrecisionBits << 8)) return 255;
    if (acc <= 0) return 0;
    return static_cast<uint8_t>(acc >> kPrecisionBits);
}

int32_t fixed_point(double k) {
    return static_cast<int32_t>(k < 0 ? -0.5 + k * (1 << kPrecisionBits) : 0.5 + k * (1 << kPrecisionBits));
}

// Filter geometry of output index d of an in -> out resize (precompute_coeffs): the source
// window [xmin, xmax), its centre and the filter scale.
struct Window {
    int64_t xmin = 0, xmax = 0;
    double center = 0, filterscale = 1;
};

Window pil_window(int64_t in, int64_t out, int64_t d) {
    Window win;
    const double scale = static_cast<double>(in) / static_cast<double>(out);
    win.filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 1.0 * win.filterscale;  // bilinear: support 1
    win.center = (static_cast<double>(d) + 0.5) * scale;
    win.xmin = std::max<int64_t>(0, static_cast<int64_t>(win.center - support + 0.5));
    win.xmax = std::min<int64_t>(in, static_cast<int64_t>(win.center + support + 0.5));
    return win;
}

// Fixed-point weights of outputs [first, first + count) of an in -> out resize, each row
// `ksize` wide (zero beyond the window), as Pillow's precompute_coeffs + normalize_coeffs_8bpc.
struct Coeffs {
    int64_t ksize = 0;
    std::vector<int64_t> xmin, n;  // per output: window start and length
    std::vector<int32_t> k;        // count x ksize
};

Coeffs pil_coeffs(int64_t in, int64_t out, int64_t first, int64_t count) {
    Coeffs c;
    const double scale = static_cast<double>(in) / static_cast<double>(out);
    c.ksize = static_cast<int64_t>(std::ceil(std::max(scale, 1.0))) * 2 + 1;
    c.xmin.resize(count);
    c.n.resize(count);
    c.k.assign(static_cast<size_t>(count * c.ksize), 0);
    std::vector<double> w(static_cast<size_t>(c.ksize));
    for (int64_t i = 0; i < count; ++i) {
        const Window win = pil_window(in, out, first + i);
        const double ss = 1.0 / win.filterscale;
        const int64_t n = win.xmax - win.xmin;
        QCNN_ASSERT(n >= 1 && n <= c.ksize, "resize window of ", n, " taps (", in, " -> ", out, ")");
        double ww = 0.0;
        for (int64_t x = 0; x < n; ++x) {
            w[x] = triangle((static_cast<double>(x + win.xmin) - win.center + 0.5) * ss);
            ww += w[x];
        }
        for (int64_t x = 0; x < n; ++x) c.k[i * c.ksize + x] = fixed_point(ww != 0.0 ? w[x] / ww : w[x]);
        c.xmin[i] = win.xmin;
        c.n[i] = n;
    }
    return c;
}

// Weight of source index j in output d, computed alone (the reference twin's way).
int32_t pil_weight(int64_t in, int64_t out, int64_t d, int64_t j) {
    const Window win = pil_window(in, out, d);
    if (j < win.xmin || j >= win.xmax) return 0;
    const auto tap = [&](int64_t x) { return triangle((static_cast<double>(x) - win.center + 0.5) * (1.0 / win.filterscale)); };
    double sum = 0.0;
    for (int64_t x = win.xmin; x < win.xmax; ++x) sum += tap(x);
    return fixed_point(sum != 0.0 ? tap(j) / sum : tap(j));
}

int64_t center_crop_offset(int64_t n, int64_t crop) {
    if (n < crop) return -((crop - n) / 2);
    const int64_t twice = n - crop;  // origin = round-half-even(twice / 2), as Python's round()
    const int64_t half = twice / 2;
    return twice % 2 == 0 || half % 2 == 0 ? half : half + 1;
}

}  // namespace

ResizeCrop resize_center_crop(int64_t h, int64_t w, int64_t resize, int64_t crop) {
    QCNN_ASSERT(h >= 1 && w >= 1 && resize >= 1 && crop >= 1, "resize/crop of ", h, "x", w, " to ", resize, "/", crop);
    ResizeCrop g;
    const int64_t shorter = std::min(h, w), longer = std::max(h, w);
    // Python: int(size * long / short), a correctly rounded float division then truncation.
    const auto new_long = static_cast<int64_t>(static_cast<double>(resize * longer) / static_cast<double>(shorter));
    g.rw = w <= h ? resize : new_long;
    g.rh = w <= h ? new_long : resize;
    g.ch = g.cw = crop;
    g.top = center_crop_offset(g.rh, crop);
    g.left = center_crop_offset(g.rw, crop);
    return g;
}

void resize_crop_pil(const uint8_t* src, int64_t h, int64_t w, int64_t c, const ResizeCrop& g, uint8_t* dst) {
    std::fill(dst, dst + c * g.ch * g.cw, uint8_t(0));
    // Crop pixels inside the resized image: rows [y0, y1), columns [x0, x1).
    const int64_t y0 = std::max<int64_t>(0, -g.top), y1 = std::min(g.ch, g.rh - g.top);
    const int64_t x0 = std::max<int64_t>(0, -g.left), x1 = std::min(g.cw, g.rw - g.left);
    if (y0 >= y1 || x0 >= x1) return;
    const int64_t ny = y1 - y0, nx = x1 - x0;
    const Coeffs cx = pil_coeffs(w, g.rw, g.left + x0, nx);
    const Coeffs cy = pil_coeffs(h, g.rh, g.top + y0, ny);
    // Horizontal pass over the source rows the vertical pass reads (windows only move forward).
    const int64_t first_row = cy.xmin.front(), rows = cy.xmin.back() + cy.n.back() - first_row;
    std::vector<uint8_t> tmp(static_cast<size_t>(rows * nx * c));
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* in = src + (first_row + r) * w * c;
        uint8_t* o = tmp.data() + r * nx * c;
        for (int64_t x = 0; x < nx; ++x) {
            const int32_t* k = cx.k.data() + x * cx.ksize;
            const uint8_t* p = in + cx.xmin[x] * c;
            for (int64_t ch = 0; ch < c; ++ch) {
                int32_t acc = 1 << (kPrecisionBits - 1);
                for (int64_t t = 0; t < cx.n[x]; ++t) acc += p[t * c + ch] * k[t];
                o[x * c + ch] = clip8(acc);
            }
        }
    }
    // Vertical pass, written planar into the crop.
    const int64_t plane = g.ch * g.cw;
    for (int64_t y = 0; y < ny; ++y) {
        const int32_t* k = cy.k.data() + y * cy.ksize;
        const uint8_t* base = tmp.data() + (cy.xmin[y] - first_row) * nx * c;
        for (int64_t x = 0; x < nx; ++x)
            for (int64_t ch = 0; ch < c; ++ch) {
                int32_t acc = 1 << (kPrecisionBits - 1);
                for (int64_t t = 0; t < cy.n[y]; ++t) acc += base[(t * nx + x) * c + ch] * k[t];
                dst[ch * plane + (y0 + y) * g.cw + x0 + x] = clip8(acc);
            }
    }
}

void resize_crop_pil_reference(const uint8_t* src, int64_t h, int64_t w, int64_t c, const ResizeCrop& g,
                               uint8_t* dst) {
    for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = 0; y < g.ch; ++y)
            for (int64_t x = 0; x < g.cw; ++x) {
                const int64_t ry = g.top + y, rx = g.left + x;  // pixel of the resized image
                uint8_t v = 0;
                if (ry >= 0 && ry < g.rh && rx >= 0 && rx < g.rw) {
                    // Source pixels outside an output pixel's window weigh 0: loop over the window.
                    const Window wy = pil_window(h, g.rh, ry), wx = pil_window(w, g.rw, rx);
                    int32_t acc_v = 1 << (kPrecisionBits - 1);
                    for (int64_t iy = wy.xmin; iy < wy.xmax; ++iy) {
                        // The horizontal pass's value at source row iy, rounded to uint8.
                        int32_t acc_h = 1 << (kPrecisionBits - 1);
                        for (int64_t ix = wx.xmin; ix < wx.xmax; ++ix)
                            acc_h += src[(iy * w + ix) * c + ch] * pil_weight(w, g.rw, rx, ix);
                        acc_v += clip8(acc_h) * pil_weight(h, g.rh, ry, iy);
                    }
                    v = clip8(acc_v);
                }
                dst[(ch * g.ch + y) * g.cw + x] = v;
            }
}

}  // namespace qcnn
