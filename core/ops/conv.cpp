#include "core/ops/conv.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#ifdef QCNN_HAVE_DNNL
#include <dnnl.hpp>
#endif

#include "core/ops/conv_direct.h"
#include "core/util/error.h"

namespace qcnn {

#ifdef QCNN_HAVE_DNNL
// Per input shape: the primitive, its source / destination layouts, the reorders from and to
// NCHW when oneDNN chose another layout, and the weights in its layout (the ConvOp's own
// weights when oneDNN keeps OIHW). The activation buffers in oneDNN's layout and the
// scratchpad live in one buffer per thread that every ConvOp shares (dnnl_work): the process
// holds the largest layer's, not one set per layer.
struct DnnlConvCache {
    struct Plan {
        dnnl::convolution_forward conv;
        dnnl::memory::desc user_src, user_dst, src, dst, scratch;
        dnnl::memory weights, bias;
        std::optional<dnnl::reorder> to_src, from_dst;
        int64_t src_offset = 0, dst_offset = 0, scratch_offset = 0, work_bytes = 0;  // in dnnl_work
    };
    // A fused activation (RunArgs::post) is part of the primitive: key {kind, lo, hi, alpha},
    // kind -1 for none. So is the thread count: oneDNN's OpenMP kernels fix their team size when
    // the primitive descriptor is made (from omp_get_max_threads()), so a plan made for 2
    // threads runs on 2 whatever the RunContext says.
    using PostKey = std::tuple<int, float, float, float>;
    std::mutex mutex;
    std::map<std::tuple<Shape, PostKey, int>, std::unique_ptr<Plan>> plans;
};

#else
struct DnnlConvCache {};
#endif

std::array<int64_t, 2> ConvParams::output_hw(int64_t in_h, int64_t in_w, ConvParams* resolved) const {
    ConvParams r = *this;
    const int64_t ekh = dilation_h * (kernel_h - 1) + 1;
    const int64_t ekw = dilation_w * (kernel_w - 1) + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        const int64_t oh = (in_h + stride_h - 1) / stride_h, ow = (in_w + stride_w - 1) / stride_w;
        const int64_t ph = std::max<int64_t>(0, (oh - 1) * stride_h + ekh - in_h);
        const int64_t pw = std::max<int64_t>(0, (ow - 1) * stride_w + ekw - in_w);
        const bool upper = auto_pad == "SAME_UPPER";
        r.pad_top = upper ? ph / 2 : ph - ph / 2;
        r.pad_bottom = ph - r.pad_top;
        r.pad_left = upper ? pw / 2 : pw - pw / 2;
        r.pad_right = pw - r.pad_left;
    } else if (auto_pad == "VALID") {
        r.pad_top = r.pad_left = r.pad_bottom = r.pad_right = 0;
    } else if (auto_pad != "NOTSET" && !auto_pad.empty()) {
        fail("unknown auto_pad '", auto_pad, "' (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)");
    }
    r.auto_pad = "NOTSET";
    const int64_t hp = in_h + r.pad_top + r.pad_bottom, wp = in_w + r.pad_left + r.pad_right;
    if (hp < ekh || wp < ekw)
        fail("kernel ", kernel_h, "x", kernel_w, " (dilation ", dilation_h, "x", dilation_w,
             ") does not fit the padded input ", hp, "x", wp);
    if (resolved) *resolved = r;
    return {(hp - ekh) / stride_h + 1, (wp - ekw) / stride_w + 1};
}

std::string ConvParams::describe() const {
    std::string s = cat(kernel_h, "x", kernel_w);
    if (stride_h != 1 || stride_w != 1) s += cat(" s", stride_h, stride_h != stride_w ? cat("x", stride_w) : "");
    if (pad_top || pad_left || pad_bottom || pad_right)
        s += (pad_top == pad_bottom && pad_left == pad_right && pad_top == pad_left)
                 ? cat(" p", pad_top)
                 : cat(" p", pad_top, ",", pad_left, ",", pad_bottom, ",", pad_right);
    if (auto_pad != "NOTSET" && !auto_pad.empty()) s += " " + auto_pad;
    if (dilation_h != 1 || dilation_w != 1) s += cat(" d", dilation_h);
    if (group != 1) s += cat(" g", group);
    return s;
}

Shape conv_output_shape(const Shape& x, const ConvParams& params, const Shape& w) {
    ConvParams p = params;
    if (x.size() != 4) fail("Conv expects a 4-D NCHW input, got ", to_string(x));
    if (w.size() != 4) fail("Conv weight must be 4-D {C_t, C_s/group, kh, kw}, got ", to_string(w));
    if (x[1] != w[1] * p.group)
        fail("input has ", x[1], " channels, the weight ", to_string(w), " with group ", p.group, " expects ",
             w[1] * p.group);
    p.kernel_h = w[2];
    p.kernel_w = w[3];
    auto [oh, ow] = p.output_hw(x[2], x[3]);
    return {x[0], w[0], oh, ow};
}

ConvOp::ConvOp(ConvParams p, Tensor weight, std::vector<float> bias)
    : p_(std::move(p)), w_(std::move(weight)), b_(std::move(bias)), dnnl_(std::make_shared<DnnlConvCache>()) {
    if (w_.rank() != 4) fail("Conv weight must be 4-D {C_t, C_s/group, kh, kw}, got ", to_string(w_.shape));
    if (p_.group < 1) fail("Conv group must be >= 1, got ", p_.group);
    if (w_.shape[0] % p_.group != 0)
        fail("Conv output channels ", w_.shape[0], " are not divisible by group ", p_.group);
    if (p_.stride_h < 1 || p_.stride_w < 1 || p_.dilation_h < 1 || p_.dilation_w < 1)
        fail("Conv strides and dilations must be >= 1");
    if (p_.pad_top < 0 || p_.pad_left < 0 || p_.pad_bottom < 0 || p_.pad_right < 0)
        fail("Conv pads must be >= 0");
    p_.kernel_h = w_.shape[2];
    p_.kernel_w = w_.shape[3];
    if (!b_.empty() && static_cast<int64_t>(b_.size()) != w_.shape[0])
        fail("Conv bias has ", b_.size(), " values, expected ", w_.shape[0]);
}

std::vector<ValueInfo> ConvOp::infer(const std::vector<const ValueInfo*>& in) const {
    if (in.empty() || !in[0]) fail("Conv needs an input");
    ValueInfo out;
    out.shape = conv_output_shape(in[0]->shape, p_, w_.shape);
    return {out};
}

int64_t ConvOp::params() const { return w_.size() + static_cast<int64_t>(b_.size()); }

int64_t ConvOp::flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const {
    // Multiply-adds per sample: d_t^2 * C_t * d_k^2 * C_s/group.
    const Shape& o = out.at(0).shape;
    return o[2] * o[3] * o[1] * w_.shape[1] * w_.shape[2] * w_.shape[3];
}

std::optional<WeightLayer> ConvOp::as_weight_layer() const {
    WeightLayer w;
    w.kind = LayerKind::Conv;
    w.source_type = "Conv";
    w.in_channels = in_channels();
    w.out_channels = out_channels();
    w.groups = p_.group;
    w.kernel_h = p_.kernel_h;  // = the weight's, set by the constructor
    w.kernel_w = p_.kernel_w;
    w.conv = &p_;
    w.weight = &w_;
    w.bias = b_;
    return w;
}

std::string ConvOp::describe() const {
    return cat(in_channels(), "->", out_channels(), " ", p_.describe());
}

namespace {

// Fills col {C_g*kh*kw, ncols} with output rows [y0, y1) of image x (one group's channels),
// writing columns [col_offset, col_offset + (y1 - y0)*ow) of a row stride ld.
void im2col(const float* x, int64_t cin, int64_t h, int64_t w, const ConvParams& p, int64_t y0, int64_t y1,
            int64_t ow, float* col, int64_t ld, int64_t col_offset) {
    for (int64_t c = 0; c < cin; ++c) {
        const float* xc = x + c * h * w;
        for (int64_t ki = 0; ki < p.kernel_h; ++ki)
            for (int64_t kj = 0; kj < p.kernel_w; ++kj) {
                float* row = col + ((c * p.kernel_h + ki) * p.kernel_w + kj) * ld + col_offset;
                for (int64_t y = y0; y < y1; ++y) {
                    const int64_t iy = y * p.stride_h - p.pad_top + ki * p.dilation_h;
                    float* dst = row + (y - y0) * ow;
                    if (iy < 0 || iy >= h) {
                        std::memset(dst, 0, sizeof(float) * ow);
                        continue;
                    }
                    const float* src = xc + iy * w;
                    const int64_t off = kj * p.dilation_w - p.pad_left;
                    if (p.stride_w == 1) {
                        // Valid x range: 0 <= xx + off < w.
                        const int64_t lo = std::clamp<int64_t>(-off, 0, ow);
                        const int64_t hi = std::clamp<int64_t>(w - off, lo, ow);
                        std::fill(dst, dst + lo, 0.0f);
                        std::memcpy(dst + lo, src + lo + off, sizeof(float) * (hi - lo));
                        std::fill(dst + hi, dst + ow, 0.0f);
                    } else {
                        for (int64_t xx = 0; xx < ow; ++xx) {
                            const int64_t ix = xx * p.stride_w + off;
                            dst[xx] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
                        }
                    }
                }
            }
    }
}

// Scratch of the calling thread (im2col columns, batched GEMM output), kept between calls:
// a fresh buffer per call cost a page fault per 4 KiB whenever malloc returned it to the
// system (qcnn_bench's M_MMAP_THRESHOLD of 64 KiB made every buffer an mmap).
AlignedVector<float>& thread_scratch(int which) {
    thread_local AlignedVector<float> buf[2];
    return buf[which];
}

// im2col scratch budget per tile, in floats (2 MiB: about one core's L2).
constexpr int64_t kColBudget = int64_t(1) << 19;

// How run_im2col cuts its work: (images, output rows) items. Small feature maps: several images
// per GEMM, enough columns to keep it efficient. Large ones: one image in tiles of output rows,
// so the im2col columns stay about kColBudget floats (at least 256 columns) instead of
// kdim x H_t x W_t (VGG-16's conv1_2: 115 MB per call).
struct Im2colTiling {
    bool pointwise = false;  // 1x1, stride 1, no padding: the input is the GEMM's right side
    int64_t kdim = 0, per_chunk = 1, rows_per_tile = 1;
    // The thread_scratch floats the largest item uses: its im2col columns, and the product it
    // copies out when it holds more than one image.
    int64_t col_floats = 0, tmp_floats = 0;
};

Im2colTiling im2col_tiling(const ConvParams& p, int64_t n, int64_t cin, int64_t cout, int64_t oh, int64_t ow) {
    Im2colTiling t;
    const int64_t g = p.group, cout_g = cout / g, hw = oh * ow;
    t.kdim = cin / g * p.kernel_h * p.kernel_w;
    t.pointwise = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
                  p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
    t.per_chunk = t.pointwise ? 1 : std::clamp<int64_t>(512 / std::max<int64_t>(hw, 1), 1, n);
    t.rows_per_tile =
        t.pointwise || t.per_chunk > 1
            ? oh
            : std::clamp<int64_t>(std::max<int64_t>(kColBudget / std::max<int64_t>(t.kdim * ow, 1), 256 / ow + 1), 1, oh);
    if (!t.pointwise) {
        const int64_t ncols = t.per_chunk * t.rows_per_tile * ow;
        t.col_floats = t.kdim * ncols;
        t.tmp_floats = t.per_chunk > 1 ? cout_g * ncols : 0;
    }
    return t;
}

}  // namespace

void ConvOp::run_im2col(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    ConvParams p;
    const std::array<int64_t, 2> ohw = p_.output_hw(x.shape[2], x.shape[3], &p);
    const int64_t oh = ohw[0], ow = ohw[1];  // not a structured binding: clang 14 cannot capture those
    const int64_t n = x.shape[0], cin = x.shape[1], h = x.shape[2], w = x.shape[3];
    const int64_t cout = w_.shape[0], g = p.group, cin_g = cin / g, cout_g = cout / g;
    const int64_t hw = oh * ow;
    const Im2colTiling tiling = im2col_tiling(p, n, cin, cout, oh, ow);
    const int64_t kdim = tiling.kdim, per_chunk = tiling.per_chunk, rows_per_tile = tiling.rows_per_tile;
    const bool pointwise = tiling.pointwise;
    const int64_t tiles = (oh + rows_per_tile - 1) / rows_per_tile;
    const int64_t nchunks = (n + per_chunk - 1) / per_chunk;
    const int64_t items = nchunks * tiles;
    const int useful = a.ctx.threads_for(n * cout * hw * kdim);
    const int threads = static_cast<int>(std::min<int64_t>(useful, items));

    auto work = [&](int64_t item) {
        const int64_t chunk = item / tiles, tile = item % tiles;
        const int64_t n0 = chunk * per_chunk, nb = std::min(per_chunk, n - n0);
        const int64_t y0 = tile * rows_per_tile, y1 = std::min(oh, y0 + rows_per_tile);
        const int64_t cols = (y1 - y0) * ow, ncols = nb * cols;  // nb > 1 only with one tile
        for (int64_t gi = 0; gi < g; ++gi) {
            ConstMatMapF wg(w_.ptr() + gi * cout_g * kdim, cout_g, kdim);
            if (pointwise) {
                ConstMatMapF xin(x.ptr() + (n0 * cin + gi * cin_g) * hw, cin_g, hw);
                Eigen::Map<RowMatrixXf> yout(y.ptr() + (n0 * cout + gi * cout_g) * hw, cout_g, hw);
                yout.noalias() = wg * xin;
                continue;
            }
            AlignedVector<float>& col = thread_scratch(0);
            if (static_cast<int64_t>(col.size()) < kdim * ncols) col.resize(kdim * ncols);
            for (int64_t i = 0; i < nb; ++i)
                im2col(x.ptr() + ((n0 + i) * cin + gi * cin_g) * h * w, cin_g, h, w, p, y0, y1, ow, col.data(),
                       ncols, i * cols);
            ConstMatMapF cm(col.data(), kdim, ncols);
            if (nb == 1) {
                Eigen::Map<RowMatrixXf, 0, Eigen::OuterStride<>> yout(y.ptr() + (n0 * cout + gi * cout_g) * hw + y0 * ow,
                                                                       cout_g, cols, Eigen::OuterStride<>(hw));
                yout.noalias() = wg * cm;
            } else {
                AlignedVector<float>& tmp = thread_scratch(1);
                if (static_cast<int64_t>(tmp.size()) < cout_g * ncols) tmp.resize(cout_g * ncols);
                Eigen::Map<RowMatrixXf> t(tmp.data(), cout_g, ncols);
                t.noalias() = wg * cm;
                for (int64_t i = 0; i < nb; ++i)
                    for (int64_t c = 0; c < cout_g; ++c)
                        std::memcpy(y.ptr() + ((n0 + i) * cout + gi * cout_g + c) * hw, tmp.data() + c * ncols + i * hw,
                                    sizeof(float) * hw);
            }
        }
        if (!b_.empty() || a.post)
            for (int64_t i = n0; i < n0 + nb; ++i)
                for (int64_t c = 0; c < cout; ++c) {
                    float* yc = y.ptr() + (i * cout + c) * hw + y0 * ow;
                    if (!b_.empty()) {
                        const float bc = b_[c];
                        for (int64_t k = 0; k < cols; ++k) yc[k] += bc;
                    }
                    if (a.post) a.post->apply(yc, cols);  // the tile is still in cache
                }
    };

    if (threads > 1) {
        // Threads over work items, each GEMM on one thread.
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t item = 0; item < items; ++item) work(item);
    } else {
        // One item (or one thread): let Eigen's GEMM use the threads.
        omp_set_num_threads(useful);
        for (int64_t item = 0; item < items; ++item) work(item);
    }
}

namespace {
#ifdef QCNN_HAVE_DNNL
std::atomic<ConvBackend> g_backend{ConvBackend::OneDnn};
#else
std::atomic<ConvBackend> g_backend{ConvBackend::Im2col};
#endif
}  // namespace

void set_conv_backend(ConvBackend b) {
#ifdef QCNN_HAVE_DNNL
    g_backend = b;
#else
    (void)b;
#endif
}
ConvBackend conv_backend() { return g_backend; }

bool ConvOp::runs_direct() const {
    return conv_backend() == ConvBackend::OneDnn && conv_direct_applies(p_, in_channels());
}

bool ConvOp::applies_max_pool2(const std::vector<const ValueInfo*>& in) const {
    // Not on the im2col backend: its unfused sums differ from the direct kernel's.
    return runs_direct() && !in.empty() && in[0] && in[0]->shape.size() == 4;
}

ConvOp::Path ConvOp::path(bool max_pool2) const {
    if (max_pool2 || runs_direct()) return Path::Direct;
    return conv_backend() == ConvBackend::OneDnn ? Path::OneDnn : Path::Im2col;
}

void ConvOp::run(const RunArgs& a) const {
    switch (path(a.max_pool2)) {
        case Path::Direct: run_direct(a); break;
        case Path::OneDnn: run_onednn(a); break;
        case Path::Im2col: run_im2col(a); break;
    }
}

void ConvOp::run_direct(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    ConvParams p;
    const std::array<int64_t, 2> ohw = p_.output_hw(x.shape[2], x.shape[3], &p);
    p.kernel_h = w_.shape[2];
    p.kernel_w = w_.shape[3];
    const int threads =
        omp_in_parallel() ? 1 : a.ctx.threads_for(x.shape[0] * ohw[0] * ohw[1] * w_.size());
    conv_direct(x.ptr(), x.shape[0], x.shape[1], x.shape[2], x.shape[3], p, w_.ptr(), b_.empty() ? nullptr : b_.data(),
                w_.shape[0], a.post, y.ptr(), threads, a.max_pool2);
}

#ifdef QCNN_HAVE_DNNL

namespace {
using dnnl_dt = dnnl::memory::data_type;
using dnnl_tag = dnnl::memory::format_tag;

dnnl::engine& dnnl_cpu() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

dnnl::memory::dims weight_dims(const Shape& ws, int64_t g) {
    return g > 1 ? dnnl::memory::dims{g, ws[0] / g, ws[1], ws[2], ws[3]} : dnnl::memory::dims(ws.begin(), ws.end());
}

// The inference primitive descriptor for input shape xs, output ys, weights ws, with the fused
// activation; oneDNN picks the layouts (tag::any), the scratchpad is the caller's.
dnnl::convolution_forward::primitive_desc conv_primitive_desc(const ConvParams& params, const Shape& ws,
                                                              const Shape& xs, const Shape& ys, const PostOp* post) {
    ConvParams p;
    params.output_hw(xs[2], xs[3], &p);
    const dnnl::memory::dims xd(xs.begin(), xs.end()), yd(ys.begin(), ys.end());
    const dnnl::convolution_forward::desc d(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, {xd, dnnl_dt::f32, dnnl_tag::any},
        {weight_dims(ws, p.group), dnnl_dt::f32, dnnl_tag::any}, {{ws[0]}, dnnl_dt::f32, dnnl_tag::x},
        {yd, dnnl_dt::f32, dnnl_tag::any}, {p.stride_h, p.stride_w}, {p.dilation_h - 1, p.dilation_w - 1},
        {p.pad_top, p.pad_left}, {p.pad_bottom, p.pad_right});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (post) {
        dnnl::post_ops ops;
        switch (post->kind) {
            case PostOp::Kind::Relu: ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f); break;
            case PostOp::Kind::LeakyRelu: ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, post->alpha, 0.0f); break;
            case PostOp::Kind::Clip: ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, post->lo, post->hi); break;
        }
        attr.set_post_ops(ops);
    }
    return {d, attr, dnnl_cpu()};
}

dnnl::memory::desc user_weight_desc(const Shape& ws, int64_t g) {
    return {weight_dims(ws, g), dnnl_dt::f32, g > 1 ? dnnl_tag::goihw : dnnl_tag::oihw};
}

int64_t round_up64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

// The per-thread work buffer of every oneDNN conv: src and dst in oneDNN's layout when that is
// not NCHW, and the scratchpad (offsets in DnnlConvCache::Plan). Kept between calls.
AlignedVector<float>& dnnl_work() {
    thread_local AlignedVector<float> buf;
    return buf;
}

// Bytes of the work buffer for a primitive: the src / dst copies it needs and its scratchpad.
struct DnnlWorkLayout {
    int64_t src_offset = 0, dst_offset = 0, scratch_offset = 0, bytes = 0;
};
DnnlWorkLayout dnnl_work_layout(const dnnl::convolution_forward::primitive_desc& pd, const dnnl::memory::desc& user_src,
                                const dnnl::memory::desc& user_dst) {
    DnnlWorkLayout l;
    int64_t at = 0;
    l.src_offset = at;
    if (pd.src_desc() != user_src) at += round_up64(static_cast<int64_t>(pd.src_desc().get_size()));
    l.dst_offset = at;
    if (pd.dst_desc() != user_dst) at += round_up64(static_cast<int64_t>(pd.dst_desc().get_size()));
    l.scratch_offset = at;
    at += round_up64(static_cast<int64_t>(pd.scratchpad_desc().get_size()));
    l.bytes = at;
    return l;
}
}  // namespace

void ConvOp::run_onednn(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    dnnl::engine& eng = dnnl_cpu();
    // Inside a parallel region oneDNN runs on the calling thread alone.
    const bool nested = omp_in_parallel();
    const int nthr = nested ? 1 : onednn_threads(x.shape, a.ctx.threads);
    if (!nested) omp_set_num_threads(nthr);
    DnnlConvCache::Plan* plan;
    {
        std::lock_guard lock(dnnl_->mutex);
        const PostOp* post = a.post;
        const DnnlConvCache::PostKey key =
            post ? DnnlConvCache::PostKey{static_cast<int>(post->kind), post->lo, post->hi, post->alpha}
                 : DnnlConvCache::PostKey{-1, 0.0f, 0.0f, 0.0f};
        auto& pl = dnnl_->plans[{x.shape, key, nthr}];
        if (!pl) {
            const Shape& ws = w_.shape;
            const dnnl::convolution_forward::primitive_desc pd = conv_primitive_desc(p_, ws, x.shape, y.shape, post);
            pl = std::make_unique<DnnlConvCache::Plan>();
            pl->conv = dnnl::convolution_forward(pd);
            pl->user_src = {dnnl::memory::dims(x.shape.begin(), x.shape.end()), dnnl_dt::f32, dnnl_tag::nchw};
            pl->user_dst = {dnnl::memory::dims(y.shape.begin(), y.shape.end()), dnnl_dt::f32, dnnl_tag::nchw};
            pl->src = pd.src_desc();
            pl->dst = pd.dst_desc();
            pl->scratch = pd.scratchpad_desc();
            const DnnlWorkLayout wl = dnnl_work_layout(pd, pl->user_src, pl->user_dst);
            pl->src_offset = wl.src_offset;
            pl->dst_offset = wl.dst_offset;
            pl->scratch_offset = wl.scratch_offset;
            pl->work_bytes = wl.bytes;
            dnnl::memory uw(user_weight_desc(ws, p_.group), eng, const_cast<float*>(w_.ptr()));
            if (pd.weights_desc() == uw.get_desc()) {
                pl->weights = uw;  // oneDNN reads the op's own weights
            } else {
                for (const auto& [shape, other] : dnnl_->plans)  // one copy per weight layout, not per shape
                    if (other && other != pl && other->weights && other->weights.get_desc() == pd.weights_desc())
                        pl->weights = other->weights;
                if (!pl->weights) {
                    dnnl::stream s(eng);
                    pl->weights = dnnl::memory(pd.weights_desc(), eng);
                    dnnl::reorder(uw, pl->weights).execute(s, uw, pl->weights);
                    s.wait();
                }
            }
            const dnnl::memory::desc bias_desc({ws[0]}, dnnl_dt::f32, dnnl_tag::x);
            if (!b_.empty()) {
                pl->bias = dnnl::memory(bias_desc, eng, const_cast<float*>(b_.data()));
            } else {
                pl->bias = dnnl::memory(bias_desc, eng);
                std::fill_n(static_cast<float*>(pl->bias.get_data_handle()), ws[0], 0.0f);
            }
            if (pl->src != pl->user_src)
                pl->to_src = dnnl::reorder(dnnl::reorder::primitive_desc(eng, pl->user_src, eng, pl->src));
            if (pl->dst != pl->user_dst)
                pl->from_dst = dnnl::reorder(dnnl::reorder::primitive_desc(eng, pl->dst, eng, pl->user_dst));
        }
        plan = pl.get();
    }
    AlignedVector<float>& work = dnnl_work();
    const int64_t floats = plan->work_bytes / 4;
    if (static_cast<int64_t>(work.size()) < floats) {
        work.clear();  // no copy of the old contents
        work.resize(floats);
    }
    char* base = reinterpret_cast<char*>(work.data());
    dnnl::stream s(eng);
    dnnl::memory user_src(plan->user_src, eng, const_cast<float*>(x.ptr())), user_dst(plan->user_dst, eng, y.ptr());
    dnnl::memory src = plan->to_src ? dnnl::memory(plan->src, eng, base + plan->src_offset) : user_src;
    dnnl::memory dst = plan->from_dst ? dnnl::memory(plan->dst, eng, base + plan->dst_offset) : user_dst;
    dnnl::memory scratch(plan->scratch, eng, base + plan->scratch_offset);
    if (plan->to_src) plan->to_src->execute(s, user_src, src);
    plan->conv.execute(s, {{DNNL_ARG_SRC, src},
                           {DNNL_ARG_WEIGHTS, plan->weights},
                           {DNNL_ARG_BIAS, plan->bias},
                           {DNNL_ARG_DST, dst},
                           {DNNL_ARG_SCRATCHPAD, scratch}});
    if (plan->from_dst) plan->from_dst->execute(s, dst, user_dst);
}

#else

void ConvOp::run_onednn(const RunArgs& a) const { run_im2col(a); }

#endif

int64_t conv_thread_work_bytes() {
    int64_t bytes = conv_direct_thread_bytes() + 4 * static_cast<int64_t>(thread_scratch(0).size() + thread_scratch(1).size());
#ifdef QCNN_HAVE_DNNL
    bytes += 4 * static_cast<int64_t>(dnnl_work().size());
#endif
    return bytes;
}

int ConvOp::onednn_threads(const Shape& x, int threads) const {
    const Shape y = conv_output_shape(x, p_, w_.shape);
    return ExecContext{.threads = std::max(threads, 1)}.threads_for(x[0] * numel(Shape(y.begin() + 1, y.end())) *
                                                                  (w_.size() / w_.shape[0]));
}

DenseConvMemory ConvOp::dense_memory(const Shape& x, const PostOp* post, bool max_pool2, int threads) const {
    DenseConvMemory m;
    const Shape y = conv_output_shape(x, p_, w_.shape);
    ConvParams p;
    p_.output_hw(x[2], x[3], &p);
    p.kernel_h = w_.shape[2];
    p.kernel_w = w_.shape[3];
    const Path path_taken = path(max_pool2);
    if (path_taken == Path::Direct) {
        m.backend = "direct";
        m.work_bytes = conv_direct_work_bytes(x[1], p.kernel_h, p.kernel_w, y[3], max_pool2);
        return m;
    }
#ifdef QCNN_HAVE_DNNL
    if (path_taken == Path::OneDnn) {
        m.backend = "onednn";
        // The team size run() would give oneDNN (it sizes the scratchpad from it).
        const int saved = omp_get_max_threads();
        omp_set_num_threads(onednn_threads(x, threads));
        const dnnl::convolution_forward::primitive_desc pd = conv_primitive_desc(p_, w_.shape, x, y, post);
        omp_set_num_threads(saved);
        const dnnl::memory::desc user_src(dnnl::memory::dims(x.begin(), x.end()), dnnl_dt::f32, dnnl_tag::nchw);
        const dnnl::memory::desc user_dst(dnnl::memory::dims(y.begin(), y.end()), dnnl_dt::f32, dnnl_tag::nchw);
        m.work_bytes = dnnl_work_layout(pd, user_src, user_dst).bytes;
        if (pd.weights_desc() != user_weight_desc(w_.shape, p_.group))
            m.held_bytes += static_cast<int64_t>(pd.weights_desc().get_size());
        if (b_.empty()) m.held_bytes += 4 * w_.shape[0];
        return m;
    }
#else
    (void)post;
#endif
    m.backend = "im2col";
    const Im2colTiling t = im2col_tiling(p, x[0], x[1], w_.shape[0], y[2], y[3]);
    m.work_bytes = 4 * (t.col_floats + t.tmp_floats);
    return m;
}

Tensor conv_reference(const Tensor& x, const ConvParams& params, const Tensor& weight, const std::vector<float>& bias) {
    Shape os = conv_output_shape(x.shape, params, weight.shape);
    ConvParams p = params;
    p.kernel_h = weight.shape[2];
    p.kernel_w = weight.shape[3];
    p.output_hw(x.shape[2], x.shape[3], &p);
    Tensor y(os);
    const int64_t cin_g = weight.shape[1], cout_g = os[1] / p.group;
    for (int64_t n = 0; n < os[0]; ++n)
        for (int64_t co = 0; co < os[1]; ++co) {
            const int64_t gi = co / cout_g;
            for (int64_t oy = 0; oy < os[2]; ++oy)
                for (int64_t ox = 0; ox < os[3]; ++ox) {
                    double acc = bias.empty() ? 0.0 : bias[co];
                    for (int64_t ci = 0; ci < cin_g; ++ci)
                        for (int64_t ki = 0; ki < p.kernel_h; ++ki)
                            for (int64_t kj = 0; kj < p.kernel_w; ++kj) {
                                const int64_t iy = oy * p.stride_h - p.pad_top + ki * p.dilation_h;
                                const int64_t ix = ox * p.stride_w - p.pad_left + kj * p.dilation_w;
                                if (iy < 0 || iy >= x.shape[2] || ix < 0 || ix >= x.shape[3]) continue;
                                const float xv =
                                    x.data[((n * x.shape[1] + gi * cin_g + ci) * x.shape[2] + iy) * x.shape[3] + ix];
                                const float wv = weight.data[((co * cin_g + ci) * p.kernel_h + ki) * p.kernel_w + kj];
                                acc += static_cast<double>(xv) * wv;
                            }
                    y.data[((n * os[1] + co) * os[2] + oy) * os[3] + ox] = static_cast<float>(acc);
                }
        }
    return y;
}

}  // namespace qcnn
