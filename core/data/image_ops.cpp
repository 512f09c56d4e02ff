#include "core/data/image_ops.h"

#include <algorithm>
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

}  // namespace qcnn
