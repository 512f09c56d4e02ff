#include "core/quant/quantized_ops.h"

#include <algorithm>
#include <array>

#include "core/quant/weight_layer_factory.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

// One position's LUT {M, K}: lut[m*K + k] = sum_l x[(m*dsub + l) * stride] * D(m)_k[l], l ascending,
// from the store's codebook rows dt (M x dsub x Kp).
void build_lut(const float* x, int64_t stride, const float* dt, int64_t M, int64_t dsub, int64_t K, int64_t Kp,
               float* lut) {
    for (int64_t m = 0; m < M; ++m) {
        float* lm = lut + m * K;
        const float* dm = dt + m * dsub * Kp;
        const float x0 = x[m * dsub * stride];
        for (int64_t k = 0; k < K; ++k) lm[k] = x0 * dm[k];
        for (int64_t l = 1; l < dsub; ++l) {
            const float xv = x[(m * dsub + l) * stride];
            const float* dl = dm + l * Kp;
            for (int64_t k = 0; k < K; ++k) lm[k] += xv * dl[k];
        }
    }
}

void check_bias(std::span<const float> b, int64_t ct, const char* what) {
    if (!b.empty() && static_cast<int64_t>(b.size()) != ct)
        fail(what, " bias has ", b.size(), " values, expected ", ct);
}

LutGeometry lut_geometry(const PQGeometry& g) {
    return LutGeometry{g.out_channels, g.in_channels, g.groups, g.kernel_h, g.kernel_w, g.dsub, g.K};
}

CodeView code_view(const PackedCodes& c) { return CodeView(c.bytes.data(), c.count, c.bits); }

const PQGeometry& validated(const PQWeights& w, const char* what) {
    w.validate(what);
    return w.geo;
}

// The layer's store (FastFc / FastConv), which checks the parts; its errors are prefixed by `what`.
template <class Store>
std::shared_ptr<const Store> make_store(const std::string& what, const PQGeometry& geo,
                                        std::span<const float> codebooks, CodeView codes, std::span<const float> bias) {
    try {
        return std::make_shared<const Store>(lut_geometry(geo), codebooks, codes, bias);
    } catch (const Error& e) {
        fail(what, ": ", e.what());
    }
}

// The weight-layer view of a store (FastFc or FastConv): everything but the source type and
// the conv parameters, which the op adds.
template <class Store>
WeightLayer quantized_view(const PQGeometry& geo, const Store& s) {
    WeightLayer w;
    w.kind = geo.kind;
    w.in_channels = geo.in_channels;
    w.out_channels = geo.out_channels;
    w.groups = geo.groups;
    w.kernel_h = geo.kernel_h;
    w.kernel_w = geo.kernel_w;
    w.pq = &geo;
    w.codes = &s.codes();
    w.codebook_rows = s.codebook_rows();
    w.codebook_kp = s.kp();
    w.bias = s.bias();
    return w;
}

int64_t params_of(const PQGeometry& g, int64_t bias) { return g.subspaces() * g.K * g.dsub + g.num_codes() + bias; }

}  // namespace

// ---------------------------------------------------------------------------------- QFc --

QFcOp::QFcOp(const PQWeights& w, std::span<const float> bias, std::string source_type)
    : QFcOp(validated(w, "QFc weight"), w.codebooks, code_view(w.codes), bias, std::move(source_type)) {}

QFcOp::QFcOp(const PQGeometry& geo, std::span<const float> codebooks, CodeView codes, std::span<const float> bias,
             std::string source_type, const std::string& what)
    : geo_(geo), source_type_(std::move(source_type)) {
    if (geo.kind != LayerKind::Fc || geo.groups != 1) fail(what, ": the product-quantized weight is not an FC weight");
    check_bias(bias, geo.out_channels, "QFc");
    fast_ = make_store<FastFc>(what, geo, codebooks, codes, bias);
}

PQWeights QFcOp::pq() const { return pq_weights(*as_weight_layer()); }

std::vector<float> QFcOp::bias() const { return {fast_->bias().begin(), fast_->bias().end()}; }

std::vector<ValueInfo> QFcOp::infer(const std::vector<const ValueInfo*>& in) const {
    if (in.empty() || !in[0]) fail("QFc needs an input");
    const Shape& s = in[0]->shape;
    if (s.size() < 2) fail("QFc expects an input of rank >= 2, got ", to_string(s));
    if (s.back() != geo_.in_channels)
        fail("input ", to_string(s), " has ", s.back(), " features, the quantized weight expects ", geo_.in_channels);
    ValueInfo out;
    out.shape = s;
    out.shape.back() = geo_.out_channels;
    return {out};
}

int64_t QFcOp::params() const { return params_of(geo_, static_cast<int64_t>(fast_->bias().size())); }

int64_t QFcOp::flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const {
    const Shape& s = in.at(0)->shape;
    int64_t rows = 1;
    for (size_t i = 1; i + 1 < s.size(); ++i) rows *= s[i];
    return rows * (geo_.in_channels * geo_.K + geo_.out_channels * geo_.subspaces());
}

std::optional<WeightLayer> QFcOp::as_weight_layer() const {
    WeightLayer w = quantized_view(geo_, *fast_);
    w.source_type = source_type_;
    return w;
}

std::string QFcOp::describe() const {
    return cat(geo_.in_channels, "->", geo_.out_channels, " PQ ", geo_.config_string());
}

void QFcOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    const int64_t cs = geo_.in_channels, ct = geo_.out_channels;
    const int64_t M = geo_.subspaces(), K = geo_.K, dsub = geo_.dsub;
    const int64_t rows = x.size() / cs;
    const int threads = a.ctx.threads_for(rows * (cs * K + ct * M));
    if (a.ctx.lut_kernel == LutKernel::Fast) {
        fast_->run(x.ptr(), rows, y.ptr(), threads);
        return;
    }
    // The store: codebook rows M x dsub x Kp, codes read per output channel, bias.
    const float* dt = fast_->codebook_rows();
    const int64_t Kp = fast_->kp();
    const lut_scan::CodeStore& codes = fast_->codes();
    const float* bias = fast_->bias().empty() ? nullptr : fast_->bias().data();

    auto accumulate = [&](const float* lut, float* yr, int64_t c0, int64_t c1) {
        static thread_local std::vector<uint8_t> code_buffer;
        code_buffer.resize(M);
        uint8_t* code = code_buffer.data();
        for (int64_t c = c0; c < c1; ++c) {
            codes.channel_codes(c, code);
            float acc = bias ? bias[c] : 0.0f;
            for (int64_t m = 0; m < M; ++m) acc += lut[m * K + code[m]];
            yr[c] = acc;
        }
    };

    if (rows >= threads) {
        // Samples in parallel (or one thread), one LUT per thread.
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
            AlignedVector<float> lut(M * K);
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; ++r) {
                build_lut(x.ptr() + r * cs, 1, dt, M, dsub, K, Kp, lut.data());
                accumulate(lut.data(), y.ptr() + r * ct, 0, ct);
            }
        }
        return;
    }
    // Fewer samples than threads: split each sample's LUT (by subspace) and outputs.
    AlignedVector<float> lut(M * K);
    for (int64_t r = 0; r < rows; ++r) {
#pragma omp parallel num_threads(threads)
        {
#pragma omp for schedule(static)
            for (int64_t m = 0; m < M; ++m)
                build_lut(x.ptr() + r * cs + m * dsub, 1, dt + m * dsub * Kp, 1, dsub, K, Kp, lut.data() + m * K);
#pragma omp for schedule(static)
            for (int64_t c = 0; c < ct; ++c) accumulate(lut.data(), y.ptr() + r * ct, c, c + 1);
        }
    }
}

// --------------------------------------------------------------------------------- QConv --

QConvOp::QConvOp(ConvParams p, const PQWeights& w, std::span<const float> bias)
    : QConvOp(std::move(p), validated(w, "QConv weight"), w.codebooks, code_view(w.codes), bias) {}

QConvOp::QConvOp(ConvParams p, const PQGeometry& geo, std::span<const float> codebooks, CodeView codes,
                 std::span<const float> bias, const std::string& what)
    : p_(std::move(p)), geo_(geo) {
    if (geo.kind != LayerKind::Conv) fail(what, ": the product-quantized weight is not a conv weight");
    if (p_.group != geo.groups) fail(what, ": group ", p_.group, " differs from the quantized weight's ", geo.groups);
    if (p_.stride_h < 1 || p_.stride_w < 1 || p_.dilation_h < 1 || p_.dilation_w < 1)
        fail("QConv strides and dilations must be >= 1");
    if (p_.pad_top < 0 || p_.pad_left < 0 || p_.pad_bottom < 0 || p_.pad_right < 0) fail("QConv pads must be >= 0");
    p_.kernel_h = geo.kernel_h;
    p_.kernel_w = geo.kernel_w;
    check_bias(bias, geo.out_channels, "QConv");
    fast_ = make_store<FastConv>(what, geo, codebooks, codes, bias);
}

PQWeights QConvOp::pq() const { return pq_weights(*as_weight_layer()); }

std::vector<float> QConvOp::bias() const { return {fast_->bias().begin(), fast_->bias().end()}; }

std::vector<ValueInfo> QConvOp::infer(const std::vector<const ValueInfo*>& in) const {
    if (in.empty() || !in[0]) fail("QConv needs an input");
    ValueInfo out;
    out.shape = conv_output_shape(in[0]->shape, p_, geo_.weight_shape());
    return {out};
}

int64_t QConvOp::params() const { return params_of(geo_, static_cast<int64_t>(fast_->bias().size())); }

int64_t QConvOp::flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const {
    const Shape& x = in.at(0)->shape;
    const Shape& o = out.at(0).shape;
    const PQGeometry& g = geo_;
    return x[2] * x[3] * g.in_channels * g.K + o[2] * o[3] * g.out_channels * g.kernel_size() * g.subspaces_per_group();
}

std::optional<WeightLayer> QConvOp::as_weight_layer() const {
    WeightLayer w = quantized_view(geo_, *fast_);
    w.source_type = "Conv";
    w.conv = &p_;  // its kernel is the geometry's, set by the constructor
    return w;
}

std::string QConvOp::describe() const {
    return cat(geo_.in_channels, "->", geo_.out_channels, " ", p_.describe(), " PQ ", geo_.config_string());
}

void QConvOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    ConvParams p;
    const std::array<int64_t, 2> out_hw = p_.output_hw(x.shape[2], x.shape[3], &p);
    const int64_t oh = out_hw[0], ow = out_hw[1];
    const PQGeometry& g = geo_;
    const int64_t n = x.shape[0], cs = g.in_channels, h = x.shape[2], w = x.shape[3], hw = h * w;
    const int64_t ct = g.out_channels, ctg = g.outputs_per_group();
    const int64_t M = g.subspaces(), Mg = g.subspaces_per_group(), K = g.K, dsub = g.dsub;
    const int64_t kh = p.kernel_h, kw = p.kernel_w, P = kh * kw;
    const int threads = a.ctx.threads_for(n * (hw * cs * K + oh * ow * ct * P * Mg));
    if (a.max_pool2 && a.ctx.lut_kernel == LutKernel::Fast) {
        fast_->run_max_pool2(x.ptr(), n, h, w,
                             ConvWindow{p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right,
                                        p.dilation_h, p.dilation_w},
                             y.ptr(), threads, a.post);
        return;
    }
    if (a.max_pool2) {
        // The float reference tables: the whole map, then the activation and the pool.
        static thread_local Tensor full;
        full.resize_for_overwrite({n, ct, oh, ow});
        std::vector<Tensor*> outs{&full};
        run(RunArgs{a.in, a.in_info, outs, a.ctx});
        if (a.post) a.post->apply(full.ptr(), full.size());
        max_pool2_planes(full.ptr(), n * ct, oh, ow, y.ptr());
        return;
    }
    if (a.ctx.lut_kernel == LutKernel::Fast) {
        fast_->run(x.ptr(), n, h, w,
                   ConvWindow{p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right, p.dilation_h,
                              p.dilation_w},
                   y.ptr(), threads);
        return;
    }

    // The store: codebook rows M x dsub x Kp, codes read per output channel, bias.
    const float* dt = fast_->codebook_rows();
    const int64_t Kp = fast_->kp();
    const lut_scan::CodeStore& codes = fast_->codes();
    const std::span<const float> bias = fast_->bias();
    // LUT {hw, M, K} for positions [p0, p1) of sample xs.
    auto build = [&](const float* xs, float* lut, int64_t p0, int64_t p1) {
        for (int64_t ps = p0; ps < p1; ++ps) build_lut(xs + ps, hw, dt, M, dsub, K, Kp, lut + ps * M * K);
    };
    // Output rows [r0, r1) of the flattened (c, oy) index of one sample.
    auto accumulate = [&](const float* lut, float* ys, int64_t r0, int64_t r1) {
        static thread_local std::vector<uint8_t> code_buffer;
        code_buffer.resize(P * Mg);
        const uint8_t* code_c = code_buffer.data();
        int64_t have = -1;  // the channel whose codes code_buffer holds
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t c = r / oh, oy = r % oh;
            const float* lut_g = lut + (c / ctg) * Mg * K;
            if (c != have) codes.channel_codes(have = c, code_buffer.data());
            const float b = bias.empty() ? 0.0f : bias[c];
            float* yrow = ys + (c * oh + oy) * ow;
            for (int64_t ox = 0; ox < ow; ++ox) {
                float acc = b;
                for (int64_t ki = 0; ki < kh; ++ki) {
                    const int64_t iy = oy * p.stride_h - p.pad_top + ki * p.dilation_h;
                    if (iy < 0 || iy >= h) continue;
                    for (int64_t kj = 0; kj < kw; ++kj) {
                        const int64_t ix = ox * p.stride_w - p.pad_left + kj * p.dilation_w;
                        if (ix < 0 || ix >= w) continue;
                        const float* lrow = lut_g + (iy * w + ix) * M * K;
                        const uint8_t* code = code_c + (ki * kw + kj) * Mg;
                        for (int64_t j = 0; j < Mg; ++j) acc += lrow[j * K + code[j]];
                    }
                }
                yrow[ox] = acc;
            }
        }
    };

    const int64_t out_rows = ct * oh;
    if (n >= threads) {
        // Samples in parallel (or one thread), one LUT per thread.
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
            AlignedVector<float> lut(hw * M * K);
#pragma omp for schedule(static)
            for (int64_t i = 0; i < n; ++i) {
                build(x.ptr() + i * cs * hw, lut.data(), 0, hw);
                accumulate(lut.data(), y.ptr() + i * ct * oh * ow, 0, out_rows);
            }
        }
        return;
    }
    // Fewer samples than threads: split the LUT by position and the outputs by row.
    AlignedVector<float> lut(hw * M * K);
    for (int64_t i = 0; i < n; ++i) {
#pragma omp parallel num_threads(threads)
        {
#pragma omp for schedule(static)
            for (int64_t ps = 0; ps < hw; ++ps) build(x.ptr() + i * cs * hw, lut.data(), ps, ps + 1);
#pragma omp for schedule(static)
            for (int64_t r = 0; r < out_rows; ++r) accumulate(lut.data(), y.ptr() + i * ct * oh * ow, r, r + 1);
        }
    }
}

}  // namespace qcnn
