#include "dnnl_peer.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <dnnl.hpp>
#include <mutex>
#include <optional>
#include <thread>

#include "core/graph/plan.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/util/error.h"

namespace qcnn::bench {

const char* precision_name(PeerPrecision p) { return p == PeerPrecision::Int8 ? "int8" : "fp32"; }

Calibration calibrate(const Network& net, const std::vector<Tensor>& inputs, int threads) {
    if (inputs.empty()) fail("int8 calibration of ", net.source, ": no calibration inputs");
    std::vector<int> layers = net.weight_layers(), keep;
    for (int ni : layers) keep.push_back(net.nodes[ni].inputs.at(0));
    Calibration c;
    std::map<Shape, std::unique_ptr<Plan>> plans;
    const ExecContext ctx{std::max(threads, 1), LutKernel::Fast};
    for (const Tensor& x : inputs) {
        auto& plan = plans[x.shape];
        if (!plan) plan = std::make_unique<Plan>(net, std::vector<Shape>{x.shape}, keep);
        plan->run({&x}, ctx);
        for (int ni : layers) {
            const int id = net.nodes[ni].inputs[0];
            const bool is_input = std::find(net.inputs.begin(), net.inputs.end(), id) != net.inputs.end();
            const Tensor& v = is_input ? x : plan->value(id);
            const auto [lo, hi] = std::minmax_element(v.data.begin(), v.data.end());
            auto [it, fresh] = c.try_emplace(ni, InputRange{*lo, *hi});
            if (!fresh) it->second = {std::min(it->second.min, *lo), std::max(it->second.max, *hi)};
        }
    }
    return c;
}

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine& cpu_engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Symmetric per-output-channel int8 weights: rows of `w` (C_t rows of `row` values).
std::vector<int8_t> quantize_rows(const Tensor& w, std::vector<float>& scales) {
    const int64_t rows = w.shape[0], row = w.size() / rows;
    std::vector<int8_t> q(w.size());
    scales.assign(rows, 1.0f);
    for (int64_t r = 0; r < rows; ++r) {
        const float* p = w.ptr() + r * row;
        float m = 0;
        for (int64_t i = 0; i < row; ++i) m = std::max(m, std::fabs(p[i]));
        scales[r] = m > 0 ? m / 127.0f : 1.0f;
        for (int64_t i = 0; i < row; ++i)
            q[r * row + i] = static_cast<int8_t>(std::clamp(std::nearbyint(p[i] / scales[r]), -127.0f, 127.0f));
    }
    return q;
}

// What a Conv / Fc layer needs from the int8 side.
struct Int8Layer {
    bool src_signed = false;
    float src_scale = 1.0f;        // x = src_scale * x_q
    std::vector<int8_t> weight;    // user layout, s8
    std::vector<float> w_scales;   // per output channel
};

// One oneDNN layer: primitive descriptor built per input shape, run with per-thread buffers.
class DnnlLayer {
public:
    struct Built {
        dnnl::primitive prim;
        dnnl::memory::desc user_src, src, dst, user_dst, scratch;
        dnnl::memory weights, bias;
        std::optional<dnnl::reorder> src_reorder, dst_reorder;
    };
    struct Buffers {
        dnnl::memory src, dst, scratch;
    };

    virtual ~DnnlLayer() = default;

    void run(const Tensor& x, Tensor& y, const ExecContext& ctx, DnnlLayerStats* stats) const {
        Built* b;
        Buffers* bufs;
        {
            std::lock_guard lock(mutex_);
            auto& built = built_[x.shape];
            if (!built) built = std::make_unique<Built>(build(x.shape));
            b = built.get();
            auto& per = buffers_[{x.shape, std::this_thread::get_id()}];
            if (!per) {
                per = std::make_unique<Buffers>();
                auto& e = cpu_engine();
                if (b->src_reorder) per->src = dnnl::memory(b->src, e);
                if (b->dst_reorder) per->dst = dnnl::memory(b->dst, e);
                per->scratch = dnnl::memory(b->scratch, e);
            }
            bufs = per.get();
        }
        if (!omp_in_parallel()) omp_set_num_threads(ctx.threads);
        auto& e = cpu_engine();
        dnnl::stream s(e);
        dnnl::memory user_src(b->user_src, e, const_cast<float*>(x.ptr()));
        dnnl::memory user_dst(b->user_dst, e, y.ptr());
        const int64_t t0 = now_ns();
        dnnl::memory src = user_src, dst = user_dst;
        if (b->src_reorder) {
            b->src_reorder->execute(s, user_src, bufs->src);
            src = bufs->src;
        }
        if (b->dst_reorder) dst = bufs->dst;
        const int64_t t1 = now_ns();
        b->prim.execute(s, {{DNNL_ARG_SRC, src},
                            {DNNL_ARG_WEIGHTS, b->weights},
                            {DNNL_ARG_BIAS, b->bias},
                            {DNNL_ARG_DST, dst},
                            {DNNL_ARG_SCRATCHPAD, bufs->scratch}});
        const int64_t t2 = now_ns();
        if (b->dst_reorder) b->dst_reorder->execute(s, bufs->dst, user_dst);
        const int64_t t3 = now_ns();
        if (stats) {
            stats->primitive_ns += t2 - t1;
            stats->reorder_ns += (t1 - t0) + (t3 - t2);
        }
    }

protected:
    // The attributes every layer's primitive shares: user scratchpad, int8 output scales, ReLU.
    dnnl::primitive_attr attr(bool int8, const std::vector<float>& out_scales, bool relu) const {
        dnnl::primitive_attr a;
        a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        if (int8) a.set_output_scales(1 << 1, out_scales);
        if (relu) {
            dnnl::post_ops po;
            po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
            a.set_post_ops(po);
        }
        return a;
    }
    // Finishes `b` from a primitive descriptor: weights and bias memories (reordered once), the
    // input quantization / layout reorder and the output layout reorder when needed.
    template <class Primitive>
    void finish(Built& b, const typename Primitive::primitive_desc& pd, const dnnl::memory::desc& user_w, const void* w, const Int8Layer* q,
                const std::vector<float>& bias) const {
        auto& e = cpu_engine();
        dnnl::stream s(e);
        b.prim = Primitive(pd);
        b.src = pd.src_desc();
        b.dst = pd.dst_desc();
        b.scratch = pd.scratchpad_desc();
        b.weights = dnnl::memory(pd.weights_desc(), e);
        dnnl::memory uw(user_w, e, const_cast<void*>(w));
        dnnl::reorder(uw, b.weights).execute(s, uw, b.weights);
        b.bias = dnnl::memory({{static_cast<int64_t>(bias.size())}, dt::f32, tag::x}, e);
        float* bp = static_cast<float*>(b.bias.get_data_handle());
        for (size_t c = 0; c < bias.size(); ++c)  // int8: in the accumulator's units
            bp[c] = q ? bias[c] / (q->src_scale * q->w_scales[c]) : bias[c];
        if (b.src != b.user_src || q) {
            dnnl::primitive_attr ra;
            if (q) ra.set_output_scales(0, {1.0f / q->src_scale});
            b.src_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(e, b.user_src, e, b.src, ra));
        }
        if (b.dst != b.user_dst) b.dst_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(e, b.dst, e, b.user_dst));
        s.wait();
    }
    static std::vector<float> out_scales(const Int8Layer& q) {
        std::vector<float> o(q.w_scales.size());
        for (size_t c = 0; c < o.size(); ++c) o[c] = q.src_scale * q.w_scales[c];
        return o;
    }

    virtual Built build(const Shape& x) const = 0;

private:
    mutable std::mutex mutex_;
    mutable std::map<Shape, std::unique_ptr<Built>> built_;
    mutable std::map<std::pair<Shape, std::thread::id>, std::unique_ptr<Buffers>> buffers_;
};

dnnl::memory::dims dims(const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); }

// The layer's bias, or C_t zeros when it has none.
std::vector<float> bias_or_zeros(const WeightLayer& w) {
    return w.bias.empty() ? std::vector<float>(w.out_channels, 0.0f) : std::vector<float>(w.bias.begin(), w.bias.end());
}

class DnnlConv final : public DnnlLayer {
public:
    // op: a dense conv's view, valid while its op lives (DnnlOp keeps it).
    DnnlConv(const WeightLayer& op, std::optional<Int8Layer> q, bool relu) : op_(op), q_(std::move(q)), relu_(relu) {}

protected:
    Built build(const Shape& x) const override {
        ConvParams p;
        const Shape y = conv_output_shape(x, *op_.conv, op_.weight->shape);
        op_.conv->output_hw(x[2], x[3], &p);
        const Shape& ws = op_.weight->shape;
        const int64_t g = p.group;
        const dnnl::memory::dims wd = g > 1 ? dnnl::memory::dims{g, ws[0] / g, ws[1], ws[2], ws[3]} : dims(ws);
        const bool int8 = q_.has_value();
        const dt src_t = !int8 ? dt::f32 : q_->src_signed ? dt::s8 : dt::u8;
        const dt w_t = int8 ? dt::s8 : dt::f32;
        const dnnl::convolution_forward::desc d(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, {dims(x), src_t, tag::any},
            {wd, w_t, tag::any}, {{ws[0]}, dt::f32, tag::x}, {dims(y), dt::f32, tag::any}, {p.stride_h, p.stride_w},
            {p.dilation_h - 1, p.dilation_w - 1}, {p.pad_top, p.pad_left}, {p.pad_bottom, p.pad_right});
        const dnnl::convolution_forward::primitive_desc pd(d, attr(int8, int8 ? out_scales(*q_) : std::vector<float>{}, relu_),
                                                           cpu_engine());
        Built b;
        b.user_src = {dims(x), dt::f32, tag::nchw};
        b.user_dst = {dims(y), dt::f32, tag::nchw};
        const dnnl::memory::desc uw(wd, w_t, g > 1 ? tag::goihw : tag::oihw);
        finish<dnnl::convolution_forward>(b, pd, uw, int8 ? static_cast<const void*>(q_->weight.data()) : op_.weight->ptr(),
               int8 ? &*q_ : nullptr, bias_or_zeros(op_));
        return b;
    }

private:
    WeightLayer op_;
    std::optional<Int8Layer> q_;
    bool relu_;
};

class DnnlFc final : public DnnlLayer {
public:
    // op: a dense FC layer's view, valid while its op lives (DnnlOp keeps it).
    DnnlFc(const WeightLayer& op, std::optional<Int8Layer> q, bool relu) : op_(op), q_(std::move(q)), relu_(relu) {}

protected:
    Built build(const Shape& x) const override {
        const int64_t cs = op_.in_channels, ct = op_.out_channels, rows = numel(x) / cs;
        const bool int8 = q_.has_value();
        const dt src_t = !int8 ? dt::f32 : q_->src_signed ? dt::s8 : dt::u8;
        const dt w_t = int8 ? dt::s8 : dt::f32;
        const dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_inference, {{rows, cs}, src_t, tag::any},
                                                  {{ct, cs}, w_t, tag::any}, {{ct}, dt::f32, tag::x},
                                                  {{rows, ct}, dt::f32, tag::nc});
        const dnnl::inner_product_forward::primitive_desc pd(
            d, attr(int8, int8 ? out_scales(*q_) : std::vector<float>{}, relu_), cpu_engine());
        Built b;
        b.user_src = {{rows, cs}, dt::f32, tag::nc};
        b.user_dst = {{rows, ct}, dt::f32, tag::nc};
        finish<dnnl::inner_product_forward>(b, pd, {{ct, cs}, w_t, tag::oi}, int8 ? static_cast<const void*>(q_->weight.data()) : op_.weight->ptr(),
               int8 ? &*q_ : nullptr, bias_or_zeros(op_));
        return b;
    }

private:
    WeightLayer op_;
    std::optional<Int8Layer> q_;
    bool relu_;
};

// The graph op around a DnnlLayer: shapes, FLOPs and aliases from the float op it replaces.
class DnnlOp final : public Op {
public:
    DnnlOp(OpPtr base, std::unique_ptr<DnnlLayer> layer, PeerPrecision prec, bool relu, DnnlLayerStats* stats)
        : base_(std::move(base)), layer_(std::move(layer)), prec_(prec), relu_(relu), stats_(stats) {}
    std::string type() const override { return cat("Dnnl", precision_name(prec_), base_->type()); }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override { return base_->infer(in); }
    void run(const RunArgs& a) const override { layer_->run(*a.in[0], *a.out[0], a.ctx, stats_); }
    int64_t params() const override { return base_->params(); }
    int64_t flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const override {
        return base_->flops(in, out);
    }
    std::optional<WeightLayer> as_weight_layer() const override { return base_->as_weight_layer(); }
    std::string describe() const override { return base_->describe() + (relu_ ? " +relu" : ""); }

private:
    OpPtr base_;  // keeps the float op (and its weights, which DnnlConv / DnnlFc read) alive
    std::unique_ptr<DnnlLayer> layer_;
    PeerPrecision prec_;
    bool relu_;
    DnnlLayerStats* stats_;
};

Int8Layer int8_layer(const Tensor& weight, const InputRange& r) {
    Int8Layer q;
    q.src_signed = r.min < 0;
    const float m = q.src_signed ? std::max(std::fabs(r.min), std::fabs(r.max)) : r.max;
    q.src_scale = m > 0 ? m / (q.src_signed ? 127.0f : 255.0f) : 1.0f;
    q.weight = quantize_rows(weight, q.w_scales);
    return q;
}

}  // namespace

std::shared_ptr<Network> dnnl_network(const Network& net, PeerPrecision precision, const Calibration* calib,
                                      DnnlLayerStats* stats) {
    auto out = std::make_shared<Network>(net);
    Network& n = *out;
    std::vector<int> consumers(n.values.size(), 0);
    for (const Node& node : n.nodes)
        for (int id : node.inputs)
            if (id >= 0) ++consumers[id];
    for (int id : n.outputs) ++consumers[id];
    std::vector<bool> drop(n.nodes.size(), false);
    for (size_t ni = 0; ni < n.nodes.size(); ++ni) {
        Node& node = n.nodes[ni];
        const std::optional<WeightLayer> w = node.op->as_weight_layer();
        if (!w || w->quantized()) continue;
        std::optional<Int8Layer> q;
        if (precision == PeerPrecision::Int8) {
            const auto it = calib ? calib->find(static_cast<int>(ni)) : Calibration::const_iterator{};
            if (!calib || it == calib->end())
                fail("int8 peer of ", net.source, ": layer ", node.name, " (", node.alias, ") was not calibrated");
            q = int8_layer(*w->weight, it->second);
        }
        // Fuse a Relu that is the only reader of this layer's output.
        bool relu = false;
        const int y = node.outputs.at(0);
        if (consumers[y] == 1)
            for (size_t nj = ni + 1; nj < n.nodes.size(); ++nj)
                if (std::find(n.nodes[nj].inputs.begin(), n.nodes[nj].inputs.end(), y) != n.nodes[nj].inputs.end()) {
                    if (n.nodes[nj].op->type() == "Relu") {
                        relu = true;
                        drop[nj] = true;
                        node.outputs = n.nodes[nj].outputs;
                    }
                    break;
                }
        std::unique_ptr<DnnlLayer> layer;
        if (w->kind == LayerKind::Conv) layer = std::make_unique<DnnlConv>(*w, std::move(q), relu);
        else layer = std::make_unique<DnnlFc>(*w, std::move(q), relu);
        node.op = std::make_shared<DnnlOp>(node.op, std::move(layer), precision, relu, stats);
    }
    std::vector<Node> kept;
    for (size_t ni = 0; ni < n.nodes.size(); ++ni)
        if (!drop[ni]) kept.push_back(std::move(n.nodes[ni]));
    n.nodes = std::move(kept);
    return out;
}

}  // namespace qcnn::bench
