#include "core/train/backward.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include <omp.h>

#include "core/ops/batchnorm.h"
#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/ops/fc.h"
#include "core/ops/layout.h"
#include "core/ops/op_helpers.h"
#include "core/ops/pool.h"
#include "core/quant/quantized_ops.h"
#include "core/quant/weight_layer_factory.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

using MatMap = Eigen::Map<RowMatrixXf>;

// col {C_g*kh*kw, oh*ow} <-> one image's group channels x {C_g, h, w}. Gather fills col
// (zeros where the tap falls into padding); Scatter adds col back into x (the adjoint). Per
// column row the output columns whose tap lies inside the input form one range [lo, hi).
template <bool Scatter>
void im2col_apply(std::conditional_t<Scatter, float*, const float*> x, int64_t cin, int64_t h, int64_t w,
                  const ConvParams& p, int64_t oh, int64_t ow, std::conditional_t<Scatter, const float*, float*> col) {
    auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
    for (int64_t c = 0; c < cin; ++c)
        for (int64_t ki = 0; ki < p.kernel_h; ++ki)
            for (int64_t kj = 0; kj < p.kernel_w; ++kj) {
                const int64_t off = kj * p.dilation_w - p.pad_left;  // ix = xx * stride_w + off
                const int64_t lo = std::clamp<int64_t>(ceil_div(-off, p.stride_w), 0, ow);
                const int64_t hi = std::clamp<int64_t>(ceil_div(w - off, p.stride_w), lo, ow);
                for (int64_t y = 0; y < oh; ++y) {
                    auto* row = col + (((c * p.kernel_h + ki) * p.kernel_w + kj) * oh + y) * ow;
                    const int64_t iy = y * p.stride_h - p.pad_top + ki * p.dilation_h;
                    if (iy < 0 || iy >= h) {
                        if constexpr (!Scatter) std::fill(row, row + ow, 0.0f);
                        continue;
                    }
                    auto* xr = x + (c * h + iy) * w + off;
                    if constexpr (Scatter) {
                        for (int64_t xx = lo; xx < hi; ++xx) xr[xx * p.stride_w] += row[xx];
                    } else {
                        std::fill(row, row + lo, 0.0f);
                        for (int64_t xx = lo; xx < hi; ++xx) row[xx] = xr[xx * p.stride_w];
                        std::fill(row + hi, row + ow, 0.0f);
                    }
                }
            }
}

// Sum of dy over all axes but axis 1 (the channel), in double, added to db {C}.
void channel_sum(const Tensor& dy, const float* weight_or_null, const Tensor* x, Tensor& db) {
    const int64_t n = dy.dim(0), c = dy.dim(1), inner = dy.size() / std::max<int64_t>(n * c, 1);
    for (int64_t ch = 0; ch < c; ++ch) {
        double s = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            const float* g = dy.ptr() + (i * c + ch) * inner;
            const float* xv = x ? x->ptr() + (i * c + ch) * inner : nullptr;
            for (int64_t e = 0; e < inner; ++e) s += static_cast<double>(g[e]) * (xv ? xv[e] : 1.0f);
        }
        db.data[ch] += static_cast<float>(weight_or_null ? s * weight_or_null[ch] : s);
    }
}

// dL/d codebooks {M, K, dsub} += the sum, per codeword, of the dW sub-vectors coded with it.
void scatter_codebook_grad(const PQWeights& q, const Tensor& dw, Tensor& dcb) {
    const PQGeometry& g = q.geo;
    const int64_t P = g.kernel_size(), cg = g.channels_per_group(), Mg = g.subspaces_per_group();
    const int64_t ctg = g.outputs_per_group(), dsub = g.dsub;
    const std::vector<uint8_t> u = q.unpacked_codes();
    for (int64_t c = 0; c < g.out_channels; ++c) {
        const int64_t gi = c / ctg;
        for (int64_t p = 0; p < P; ++p)
            for (int64_t j = 0; j < Mg; ++j) {
                float* d = dcb.ptr() + ((gi * Mg + j) * g.K + u[(c * P + p) * Mg + j]) * dsub;
                for (int64_t l = 0; l < dsub; ++l) d[l] += dw.data[(c * cg + j * dsub + l) * P + p];
            }
    }
}

Tensor vector_tensor(const std::vector<float>& v) {
    Tensor t(Shape{static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.ptr());
    return t;
}
std::vector<float> tensor_vector(const Tensor& t) { return {t.data.begin(), t.data.end()}; }

// Parameters of a weight layer whose first parameter is `first` (dense weight or codebooks).
std::vector<NamedParam> layer_params(ParamRole role, Tensor first, const std::vector<float>& bias) {
    std::vector<NamedParam> ps;
    ps.push_back({role, std::move(first)});
    if (!bias.empty()) ps.push_back({ParamRole::Bias, vector_tensor(bias)});
    return ps;
}
std::vector<float> bias_of(const std::vector<Tensor>& v) { return v.size() > 1 ? tensor_vector(v[1]) : std::vector<float>{}; }
Tensor* bias_grad(const BackwardArgs& a) { return a.grad_params.size() > 1 ? a.grad_params[1] : nullptr; }

// Backward of a layer with dense weight w (the op's own, or a quantized op's decoded one).
// dw receives dL/dW when given.
void weight_layer_backward(const Op& op, const BackwardArgs& a, const Tensor& w, Tensor* dw) {
    if (const auto* conv_p = op.as_weight_layer()->conv)
        conv_backward(*a.in[0], *conv_p, w, *a.grad_out[0], a.grad_in[0], dw, bias_grad(a), a.ctx.threads);
    else
        fc_backward(*a.in[0], w, *a.grad_out[0], a.grad_in[0], dw, bias_grad(a), a.ctx.threads);
}

template <class T>
std::function<bool(const Op&)> is() {
    return [](const Op& op) { return dynamic_cast<const T*>(&op) != nullptr; };
}

// Weight layers are recognised through their one view (core/graph/weight_layer.h), as
// everywhere else, never by their classes: a new quantizable layer kind needs no entry here.
std::function<bool(const Op&)> weight_layer(LayerKind kind, bool quantized) {
    return [kind, quantized](const Op& op) {
        const std::optional<WeightLayer> v = op.as_weight_layer();
        return v && v->kind == kind && v->quantized() == quantized;
    };
}

BackwardEntry dense_entry(std::string name, std::function<bool(const Op&)> accepts) {
    BackwardEntry e;
    e.name = std::move(name);
    e.accepts = std::move(accepts);
    e.backward = [](const Op& op, const BackwardArgs& a) {
        const WeightLayer v = *op.as_weight_layer();
        weight_layer_backward(op, a, *v.weight, a.grad_params[0]);
    };
    e.params = [](const Op& op) {
        const WeightLayer v = *op.as_weight_layer();
        return layer_params(ParamRole::Weight, *v.weight, {v.bias.begin(), v.bias.end()});
    };
    e.rebuild = [](const Op& op, const std::vector<Tensor>& v) {
        return make_dense_layer(*op.as_weight_layer(), v[0], bias_of(v));
    };
    return e;
}

BackwardEntry quantized_entry(std::string name, std::function<bool(const Op&)> accepts) {
    BackwardEntry e;
    e.name = std::move(name);
    e.accepts = std::move(accepts);
    e.backward = [](const Op& op, const BackwardArgs& a) {
        const PQWeights q = pq_weights(*op.as_weight_layer());
        const Tensor w = q.decode();
        const bool want = a.grad_params[0] || a.grad_weight;
        Tensor dw;
        if (want) dw = Tensor(w.shape);
        weight_layer_backward(op, a, w, want ? &dw : nullptr);
        if (a.grad_params[0]) scatter_codebook_grad(q, dw, *a.grad_params[0]);
        if (a.grad_weight) {
            QCNN_ASSERT(a.grad_weight->shape == dw.shape, "latent weight gradient of shape ", to_string(a.grad_weight->shape),
                        " for a weight of shape ", to_string(dw.shape));
            for (int64_t i = 0; i < dw.size(); ++i) a.grad_weight->data[i] += dw.data[i];
        }
    };
    e.params = [](const Op& op) {
        const WeightLayer v = *op.as_weight_layer();
        const PQWeights q = pq_weights(v);
        Tensor cb(Shape{q.geo.subspaces(), q.geo.K, q.geo.dsub});
        std::copy(q.codebooks.begin(), q.codebooks.end(), cb.ptr());
        return layer_params(ParamRole::Codebooks, std::move(cb), {v.bias.begin(), v.bias.end()});
    };
    e.rebuild = [](const Op& op, const std::vector<Tensor>& v) { return rebuild_quantized(op, v, nullptr); };
    return e;
}

// Elementwise y = f(x): dx += dy * f'(x, y).
template <class D>
void unary_backward(const BackwardArgs& a, D deriv) {
    if (!a.grad_in[0]) return;
    const float *x = a.in[0]->ptr(), *y = a.out[0]->ptr(), *g = a.grad_out[0]->ptr();
    float* dx = a.grad_in[0]->ptr();
    parallel_chunks(a.in[0]->size(), a.ctx.threads, int64_t(1) << 16, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) dx[i] += g[i] * deriv(x[i], y[i]);
    });
}

BackwardEntry activation_entry(ActivationKind kind, std::string name) {
    BackwardEntry e;
    e.name = std::move(name);
    e.accepts = [kind](const Op& op) {
        const auto* act = dynamic_cast<const ActivationOp*>(&op);
        return act && act->kind() == kind;
    };
    e.backward = [kind](const Op& op, const BackwardArgs& a) {
        const float alpha = static_cast<const ActivationOp&>(op).alpha();
        switch (kind) {
            case ActivationKind::Relu: return unary_backward(a, [](float x, float) { return x > 0 ? 1.0f : 0.0f; });
            case ActivationKind::LeakyRelu:
                return unary_backward(a, [alpha](float x, float) { return x > 0 ? 1.0f : alpha; });
            case ActivationKind::Sigmoid: return unary_backward(a, [](float, float y) { return y * (1.0f - y); });
            case ActivationKind::Tanh: return unary_backward(a, [](float, float y) { return 1.0f - y * y; });
            default: QCNN_ASSERT(false, "no backward for this activation");
        }
    };
    return e;
}

void clip_backward(const Op& op, const BackwardArgs& a) {
    const auto& clip = static_cast<const ClipOp&>(op);
    const float lo = a.in.size() > 1 && a.in[1] ? a.in[1]->data[0] : clip.lo();
    const float hi = a.in.size() > 2 && a.in[2] ? a.in[2]->data[0] : clip.hi();
    unary_backward(a, [lo, hi](float x, float) { return x >= lo && x <= hi ? 1.0f : 0.0f; });
}

// Per output position along one pooling axis: the input positions of its taps that lie inside
// the input, and the number of its taps inside the padded extent (count_include_pad). The
// taps of an output are the product of its three axes' lists.
struct AxisTaps {
    std::vector<std::vector<int64_t>> pos;
    std::vector<int64_t> padded;
};

AxisTaps axis_taps(const PoolGeometry& g, int axis) {
    AxisTaps t;
    t.pos.resize(g.out[axis]);
    t.padded.assign(g.out[axis], 0);
    for (int64_t o = 0; o < g.out[axis]; ++o)
        for (int64_t k = 0; k < g.k[axis]; ++k) {
            const int64_t i = o * g.s[axis] - g.pb[axis] + k * g.d[axis];
            t.padded[o] += i < g.in[axis] + g.pe[axis];
            if (i >= 0 && i < g.in[axis]) t.pos[o].push_back(i);
        }
    return t;
}

void pool_backward(const Op& op, const BackwardArgs& a) {
    if (!a.grad_in[0]) return;
    const PoolParams& p = static_cast<const PoolOp&>(op).pool_params();
    const Tensor& x = *a.in[0];
    const PoolGeometry g = pool_geometry(p, x.shape);
    const AxisTaps t0 = axis_taps(g, 0), t1 = axis_taps(g, 1), t2 = axis_taps(g, 2);
    const int64_t in_plane = g.in[0] * g.in[1] * g.in[2], out_plane = g.out[0] * g.out[1] * g.out[2];
    const float* dy = a.grad_out[0]->ptr();
    float* dx = a.grad_in[0]->ptr();
    const bool max = p.kind == PoolKind::Max;
    // Planes are independent: threads over planes, each writing only its own plane of dx.
    parallel_chunks(g.planes, a.ctx.threads, 4, [&](int64_t pl0, int64_t pl1) {
        for (int64_t pl = pl0; pl < pl1; ++pl) {
            const float* xp = x.ptr() + pl * in_plane;
            float* dxp = dx + pl * in_plane;
            const float* dyp = dy + pl * out_plane;
            for (int64_t e = 0; e < out_plane; ++e) {
                const int64_t o0 = e / (g.out[1] * g.out[2]), o1 = e / g.out[2] % g.out[1], o2 = e % g.out[2];
                const auto &p0 = t0.pos[o0], &p1 = t1.pos[o1], &p2 = t2.pos[o2];
                const int64_t valid = static_cast<int64_t>(p0.size() * p1.size() * p2.size());
                if (valid == 0) continue;
                if (max) {  // the first maximal tap in kernel order takes the gradient
                    int64_t best = (p0[0] * g.in[1] + p1[0]) * g.in[2] + p2[0];
                    for (int64_t i0 : p0)
                        for (int64_t i1 : p1)
                            for (int64_t i2 : p2) {
                                const int64_t off = (i0 * g.in[1] + i1) * g.in[2] + i2;
                                if (xp[off] > xp[best]) best = off;
                            }
                    dxp[best] += dyp[e];
                    continue;
                }
                const int64_t cnt = p.count_include_pad ? t0.padded[o0] * t1.padded[o1] * t2.padded[o2] : valid;
                const float share = dyp[e] / static_cast<float>(cnt);
                for (int64_t i0 : p0)
                    for (int64_t i1 : p1)
                        for (int64_t i2 : p2) dxp[(i0 * g.in[1] + i1) * g.in[2] + i2] += share;
            }
        }
    });
}

void global_pool_backward(const Op&, const BackwardArgs& a) {
    if (!a.grad_in[0]) return;
    const Tensor& x = *a.in[0];
    const int64_t planes = x.dim(0) * x.dim(1), inner = x.size() / std::max<int64_t>(planes, 1);
    const float* dy = a.grad_out[0]->ptr();
    float* dx = a.grad_in[0]->ptr();
    for (int64_t pl = 0; pl < planes; ++pl) {
        const float g = dy[pl] / static_cast<float>(inner);
        for (int64_t e = 0; e < inner; ++e) dx[pl * inner + e] += g;
    }
}

// Add / Sub / Mul with numpy broadcasting: each output element's gradient goes to the operand
// elements it read, so broadcast operands receive sums. Sequential (deterministic).
void binary_backward(const Op& op, const BackwardArgs& a) {
    const BinaryKind kind = static_cast<const BinaryOp&>(op).kind();
    const Tensor &ta = *a.in[0], &tb = *a.in[1], &dy = *a.grad_out[0];
    Tensor *da = a.grad_in[0], *db = a.grad_in[1];
    const Shape& out = dy.shape;
    const size_t r = out.size();
    auto bstrides = [&](const Shape& s) {
        std::vector<int64_t> st(r, 0);
        const std::vector<int64_t> s0 = strides_of(s);
        for (size_t d = 0; d < s.size(); ++d) st[r - s.size() + d] = s[d] == 1 ? 0 : s0[d];
        return st;
    };
    const std::vector<int64_t> sa = bstrides(ta.shape), sb = bstrides(tb.shape);
    std::vector<int64_t> idx(r, 0);
    int64_t oa = 0, ob = 0;
    for (int64_t e = 0; e < dy.size(); ++e) {
        const float g = dy.data[e];
        if (da) da->data[oa] += kind == BinaryKind::Mul ? g * tb.data[ob] : g;
        if (db) db->data[ob] += kind == BinaryKind::Mul ? g * ta.data[oa] : kind == BinaryKind::Sub ? -g : g;
        for (size_t d = r; d-- > 0;) {
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < out[d]) break;
            oa -= sa[d] * out[d];
            ob -= sb[d] * out[d];
            idx[d] = 0;
        }
    }
}

BackwardEntry binary_entry(BinaryKind kind) {
    BackwardEntry e;
    e.name = binary_name(kind);
    e.accepts = [kind](const Op& op) {
        const auto* b = dynamic_cast<const BinaryOp*>(&op);
        return b && b->kind() == kind;
    };
    e.backward = binary_backward;
    return e;
}

void concat_backward(const Op& op, const BackwardArgs& a) {
    const Shape& out = a.grad_out[0]->shape;
    const int64_t axis = normalize_axis(static_cast<const ConcatOp&>(op).axis(), static_cast<int64_t>(out.size()),
                                        "Concat axis");
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= out[d];
    for (size_t d = axis + 1; d < out.size(); ++d) inner *= out[d];
    const int64_t row = out[axis] * inner;
    int64_t off = 0;
    for (size_t k = 0; k < a.in.size(); ++k) {
        const int64_t len = a.in[k]->shape[axis] * inner;
        if (Tensor* dx = a.grad_in[k])
            for (int64_t o = 0; o < outer; ++o) {
                const float* g = a.grad_out[0]->ptr() + o * row + off;
                float* d = dx->ptr() + o * len;
                for (int64_t i = 0; i < len; ++i) d[i] += g[i];
            }
        off += len;
    }
}

// Pad (any mode): each output element's gradient goes to the input element it copies. The
// source of every output element comes from the forward twin itself, run on the element
// indices (exact in float below 2^24 elements) with -1 as the constant value.
void pad_backward(const Op& op, const BackwardArgs& a) {
    if (!a.grad_in[0]) return;
    const auto& pad = static_cast<const PadOp&>(op);
    const Tensor& x = *a.in[0];
    if (x.size() >= (int64_t(1) << 24))
        fail("Pad backward: input of ", x.size(), " elements exceeds the supported 2^24");
    Tensor index(x.shape);
    for (int64_t i = 0; i < x.size(); ++i) index.data[i] = static_cast<float>(i);
    const Tensor src = pad_reference(index, pad.mode(), pad.pads(a.in_info), -1.0f);
    const float* g = a.grad_out[0]->ptr();
    float* dx = a.grad_in[0]->ptr();
    for (int64_t e = 0; e < src.size(); ++e)
        if (src.data[e] >= 0.0f) dx[static_cast<int64_t>(src.data[e])] += g[e];
}

// Reshape, Flatten, Squeeze, Unsqueeze, Identity: same elements, same order.
void copy_backward(const Op&, const BackwardArgs& a) {
    if (!a.grad_in[0]) return;
    const float* g = a.grad_out[0]->ptr();
    float* dx = a.grad_in[0]->ptr();
    for (int64_t i = 0; i < a.grad_in[0]->size(); ++i) dx[i] += g[i];
}

BackwardEntry plain_entry(std::string name, std::function<bool(const Op&)> accepts,
                          std::function<void(const Op&, const BackwardArgs&)> backward) {
    BackwardEntry e;
    e.name = std::move(name);
    e.accepts = std::move(accepts);
    e.backward = std::move(backward);
    return e;
}

BackwardEntry batchnorm_entry() {
    BackwardEntry e = plain_entry("BatchNormalization", is<BatchNormOp>(), [](const Op& op, const BackwardArgs& a) {
        const ChannelAffine& af = static_cast<const BatchNormOp&>(op).affine();
        const Tensor &x = *a.in[0], &dy = *a.grad_out[0];
        if (a.grad_params[0]) channel_sum(dy, nullptr, &x, *a.grad_params[0]);
        if (a.grad_params[1]) channel_sum(dy, nullptr, nullptr, *a.grad_params[1]);
        if (Tensor* dx = a.grad_in[0]) {
            const int64_t c = x.dim(1), inner = x.size() / std::max<int64_t>(x.dim(0) * c, 1);
            for (int64_t i = 0; i < x.size(); ++i) dx->data[i] += dy.data[i] * af.scale[(i / inner) % c];
        }
    });
    e.params = [](const Op& op) {
        const ChannelAffine& af = static_cast<const BatchNormOp&>(op).affine();
        return std::vector<NamedParam>{{ParamRole::BnScale, vector_tensor(af.scale)},
                                       {ParamRole::BnShift, vector_tensor(af.shift)}};
    };
    e.rebuild = [](const Op&, const std::vector<Tensor>& v) -> OpPtr {
        return std::make_shared<BatchNormOp>(ChannelAffine{tensor_vector(v[0]), tensor_vector(v[1])});
    };
    return e;
}

std::vector<BackwardEntry> make_registry() {
    std::vector<BackwardEntry> r;
    r.push_back(dense_entry("Conv", weight_layer(LayerKind::Conv, false)));
    r.push_back(dense_entry("Gemm/MatMul (FC)", weight_layer(LayerKind::Fc, false)));
    r.push_back(quantized_entry("QConv", weight_layer(LayerKind::Conv, true)));
    r.push_back(quantized_entry("QFc", weight_layer(LayerKind::Fc, true)));
    r.push_back(batchnorm_entry());
    r.push_back(activation_entry(ActivationKind::Relu, "Relu"));
    r.push_back(activation_entry(ActivationKind::LeakyRelu, "LeakyRelu"));
    r.push_back(activation_entry(ActivationKind::Sigmoid, "Sigmoid"));
    r.push_back(activation_entry(ActivationKind::Tanh, "Tanh"));
    r.push_back(plain_entry("Clip", is<ClipOp>(), clip_backward));
    r.push_back(plain_entry("MaxPool/AveragePool", is<PoolOp>(), pool_backward));
    r.push_back(plain_entry("GlobalAveragePool", is<GlobalAveragePoolOp>(), global_pool_backward));
    r.push_back(binary_entry(BinaryKind::Add));
    r.push_back(binary_entry(BinaryKind::Sub));
    r.push_back(binary_entry(BinaryKind::Mul));
    r.push_back(plain_entry("Concat", is<ConcatOp>(), concat_backward));
    r.push_back(plain_entry("Pad", is<PadOp>(), pad_backward));
    r.push_back(plain_entry("Reshape", is<ReshapeOp>(), copy_backward));
    r.push_back(plain_entry("Flatten", is<FlattenOp>(), copy_backward));
    r.push_back(plain_entry("Squeeze", is<SqueezeOp>(), copy_backward));
    r.push_back(plain_entry("Unsqueeze", is<UnsqueezeOp>(), copy_backward));
    r.push_back(plain_entry("Identity", is<IdentityOp>(), copy_backward));
    return r;
}

}  // namespace

const char* param_role_name(ParamRole r) {
    switch (r) {
        case ParamRole::Weight: return "weight";
        case ParamRole::Codebooks: return "codebooks";
        case ParamRole::Bias: return "bias";
        case ParamRole::BnScale: return "scale";
        case ParamRole::BnShift: return "shift";
        case ParamRole::Codes: return "codes";
    }
    return "?";
}

std::vector<uint8_t> nearest_codes(const PQWeights& q, const Tensor& latent) {
    const PQGeometry& g = q.geo;
    if (latent.shape != g.weight_shape())
        fail("code re-assignment: a latent weight of shape ", to_string(latent.shape), " for a ", g.config_string(),
             " layer of weight shape ", to_string(g.weight_shape()));
    const int64_t P = g.kernel_size(), cg = g.channels_per_group(), Mg = g.subspaces_per_group();
    const int64_t ctg = g.outputs_per_group(), dsub = g.dsub;
    std::vector<uint8_t> codes(static_cast<size_t>(g.num_codes()));
    std::vector<float> v(static_cast<size_t>(dsub));
    for (int64_t c = 0; c < g.out_channels; ++c) {
        const int64_t gi = c / ctg;
        for (int64_t p = 0; p < P; ++p)
            for (int64_t j = 0; j < Mg; ++j) {
                for (int64_t l = 0; l < dsub; ++l) v[l] = latent.data[(c * cg + j * dsub + l) * P + p];
                int64_t best = 0;
                double best_d = 0;
                for (int64_t k = 0; k < g.K; ++k) {
                    const float* w = q.codeword(gi * Mg + j, k);
                    double d = 0;
                    for (int64_t l = 0; l < dsub; ++l) {
                        const double e = static_cast<double>(v[l]) - w[l];
                        d += e * e;
                    }
                    if (k == 0 || d < best_d) best = k, best_d = d;
                }
                codes[(c * P + p) * Mg + j] = static_cast<uint8_t>(best);
            }
    }
    return codes;
}

OpPtr rebuild_quantized(const Op& op, const std::vector<Tensor>& values, const Tensor* latent) {
    const Tensor& codebooks = values.at(0);
    const WeightLayer view = *op.as_weight_layer();
    PQWeights q = pq_weights(view);
    if (codebooks.size() != static_cast<int64_t>(q.codebooks.size()))
        fail("rebuilding a quantized layer: ", codebooks.size(), " codebook values, its ", q.geo.config_string(), " codebooks have ",
             q.codebooks.size());
    q.codebooks = tensor_vector(codebooks);
    if (latent) q.codes = pack_codes(nearest_codes(q, *latent), q.geo.bits());
    return make_quantized_layer(view, q, bias_of(values));
}

const std::vector<BackwardEntry>& backward_registry() {
    static const std::vector<BackwardEntry> r = make_registry();
    return r;
}

const BackwardEntry* backward_entry(const Op& op) {
    for (const BackwardEntry& e : backward_registry())
        if (e.accepts(op)) return &e;
    return nullptr;
}

std::string backward_supported_list() {
    std::string s;
    for (const BackwardEntry& e : backward_registry()) s += (s.empty() ? "" : ", ") + e.name;
    return s;
}

void conv_backward(const Tensor& x, const ConvParams& params, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor* dw,
                   Tensor* db, int threads) {
    const int64_t n = x.dim(0), h = x.dim(2), wd = x.dim(3);
    ConvParams p;
    // Plain variables, not a structured binding: clang (the sanitizer builds) cannot capture a
    // binding into the OpenMP region below.
    const auto out_hw = params.output_hw(h, wd, &p);
    const int64_t oh = out_hw[0], ow = out_hw[1];
    p.kernel_h = w.dim(2);
    p.kernel_w = w.dim(3);
    const int64_t g = p.group, ct = w.dim(0), cg = w.dim(1), ctg = ct / g;
    const int64_t rows = cg * p.kernel_h * p.kernel_w, cols = oh * ow;
    QCNN_ASSERT(x.dim(1) == cg * g && dy.shape == (Shape{n, ct, oh, ow}), "conv_backward: shapes x ",
                to_string(x.shape), " w ", to_string(w.shape), " dy ", to_string(dy.shape));
    if (db) channel_sum(dy, nullptr, nullptr, *db);
    if (!dx && !dw) return;
    // Static partition of the batch, one part per thread when the work is worth it (each GEMM
    // then on one thread), else one part with Eigen's GEMM on the threads (as the forward conv
    // does). Each part sums its own dW, added in part order: deterministic per thread count.
    const int useful = static_cast<int>(std::clamp<int64_t>(2 * n * ct * rows * cols / (int64_t(1) << 18), 1,
                                                            std::max(threads, 1)));
    const int t = static_cast<int>(std::min<int64_t>(useful, std::max<int64_t>(n, 1)));
    std::vector<RowMatrixXf> dw_part(dw ? t : 0);
    auto run_part = [&](int part) {
        // Per-thread scratch that keeps its pages between calls: a fresh 1-2 MB buffer per call
        // was a page fault per 4 KiB every step.
        thread_local std::vector<float> col_buf, dcol_buf;
        if (col_buf.size() < static_cast<size_t>(rows * cols)) col_buf.resize(rows * cols);
        if (dcol_buf.size() < static_cast<size_t>(rows * cols)) dcol_buf.resize(rows * cols);
        MatMap col(col_buf.data(), rows, cols), dcol(dcol_buf.data(), rows, cols);
        if (dw) dw_part[part] = RowMatrixXf::Zero(ct, rows);
        for (int64_t i = n * part / t; i < n * (part + 1) / t; ++i)
            for (int64_t gi = 0; gi < g; ++gi) {
                Eigen::Map<const RowMatrixXf> dyg(dy.ptr() + (i * ct + gi * ctg) * cols, ctg, cols);
                Eigen::Map<const RowMatrixXf> wg(w.ptr() + gi * ctg * rows, ctg, rows);
                const int64_t xoff = (i * g + gi) * cg * h * wd;
                if (dw) {
                    im2col_apply<false>(x.ptr() + xoff, cg, h, wd, p, oh, ow, col.data());
                    dw_part[part].middleRows(gi * ctg, ctg).noalias() += dyg * col.transpose();
                }
                if (dx) {
                    dcol.noalias() = wg.transpose() * dyg;
                    im2col_apply<true>(dx->ptr() + xoff, cg, h, wd, p, oh, ow, dcol.data());
                }
            }
    };
    const int prev = omp_get_max_threads();
    if (t > 1) {
#pragma omp parallel for schedule(static) num_threads(t)
        for (int part = 0; part < t; ++part) {
            omp_set_num_threads(1);  // no nested GEMM teams (oversubscription)
            run_part(part);
        }
    } else {
        omp_set_num_threads(useful);
        run_part(0);
    }
    omp_set_num_threads(prev);
    if (dw) {
        MatMap dwm(dw->ptr(), ct, rows);
        for (const RowMatrixXf& part : dw_part) dwm += part;
    }
}

void fc_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor* dw, Tensor* db,
                 int threads) {
    const int64_t cs = w.dim(1), ct = w.dim(0), rows = x.size() / cs;
    // Eigen's GEMM on the useful threads (small work on one), as the forward ops do.
    const int prev = omp_get_max_threads();
    omp_set_num_threads(static_cast<int>(std::clamp<int64_t>(2 * rows * ct * cs / (int64_t(1) << 18), 1,
                                                             std::max(threads, 1))));
    QCNN_ASSERT(dy.size() == rows * ct, "fc_backward: dy ", to_string(dy.shape), " for x ", to_string(x.shape));
    Eigen::Map<const RowMatrixXf> xm(x.ptr(), rows, cs), wm(w.ptr(), ct, cs), dym(dy.ptr(), rows, ct);
    if (dx) MatMap(dx->ptr(), rows, cs).noalias() += dym * wm;
    if (dw) MatMap(dw->ptr(), ct, cs).noalias() += dym.transpose() * xm;
    if (db)
        for (int64_t c = 0; c < ct; ++c) {
            double s = 0.0;
            for (int64_t r = 0; r < rows; ++r) s += dym(r, c);
            db->data[c] += static_cast<float>(s);
        }
    omp_set_num_threads(prev);
}

double softmax_cross_entropy(const Tensor& logits, const std::vector<int>& labels, Tensor* dlogits) {
    if (logits.rank() != 2) fail("softmax cross-entropy expects logits {N, classes}, got ", to_string(logits.shape));
    const int64_t n = logits.dim(0), c = logits.dim(1);
    if (static_cast<int64_t>(labels.size()) != n)
        fail("softmax cross-entropy: ", labels.size(), " labels for a batch of ", n);
    if (dlogits) dlogits->resize(logits.shape);
    double loss = 0.0;
    std::vector<double> e(c);
    for (int64_t i = 0; i < n; ++i) {
        if (labels[i] < 0 || labels[i] >= c)
            fail("softmax cross-entropy: sample ", i, " has label ", labels[i], ", outside 0..", c - 1);
        const float* z = logits.ptr() + i * c;
        const double mx = *std::max_element(z, z + c);
        double s = 0.0;
        for (int64_t k = 0; k < c; ++k) s += e[k] = std::exp(z[k] - mx);
        loss += std::log(s) + mx - z[labels[i]];
        if (dlogits)
            for (int64_t k = 0; k < c; ++k)
                dlogits->data[i * c + k] = static_cast<float>((e[k] / s - (k == labels[i] ? 1.0 : 0.0)) / n);
    }
    return n ? loss / n : 0.0;
}

double softmax_distillation(const Tensor& logits, const Tensor& teacher, double temperature, Tensor* dlogits) {
    if (logits.rank() != 2) fail("distillation expects logits {N, classes}, got ", to_string(logits.shape));
    if (teacher.shape != logits.shape)
        fail("distillation: the teacher's logits have shape ", to_string(teacher.shape), ", the student's ",
             to_string(logits.shape));
    if (!(temperature > 0) || !std::isfinite(temperature))
        fail("distillation: the temperature must be a finite number > 0, got ", temperature);
    const int64_t n = logits.dim(0), c = logits.dim(1);
    if (dlogits) dlogits->resize(logits.shape);
    const double inv_t = 1.0 / temperature;
    // log softmax(v / T) of one row into out.
    auto log_softmax = [&](const float* v, std::vector<double>& out) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < c; ++k) mx = std::max(mx, v[k] * inv_t);
        double s = 0.0;
        for (int64_t k = 0; k < c; ++k) s += std::exp(v[k] * inv_t - mx);
        const double lse = mx + std::log(s);
        for (int64_t k = 0; k < c; ++k) out[k] = v[k] * inv_t - lse;
    };
    std::vector<double> ls(c), lt(c);
    double loss = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        log_softmax(logits.ptr() + i * c, ls);
        log_softmax(teacher.ptr() + i * c, lt);
        for (int64_t k = 0; k < c; ++k) {
            const double pt = std::exp(lt[k]);
            loss += pt * (lt[k] - ls[k]);
            if (dlogits)
                dlogits->data[i * c + k] = static_cast<float>(temperature * (std::exp(ls[k]) - pt) / n);
        }
    }
    return n ? temperature * temperature * loss / n : 0.0;
}

}  // namespace qcnn
