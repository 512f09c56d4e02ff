#include "core/cost/cost_model.h"

#include <algorithm>
#include <map>

#include "core/graph/plan.h"
#include "core/ops/conv.h"
#include "core/quant/bitpack.h"
#include "core/quant/product_quantizer.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

std::string label(const LayerGeometry& l) {
    if (l.alias.empty()) return cat("layer '", l.name, "'");
    if (l.name.empty() || l.name == l.alias) return cat("layer ", l.alias);
    return cat("layer ", l.alias, " ('", l.name, "')");
}

void check_geometry(const LayerGeometry& l) {
    const std::string who = label(l);
    if (l.c_s < 1 || l.c_t < 1) fail(who, ": channels must be >= 1, got C_s=", l.c_s, " C_t=", l.c_t);
    if (l.h_s < 1 || l.w_s < 1 || l.h_t < 1 || l.w_t < 1)
        fail(who, ": spatial sizes must be >= 1, got input ", l.h_s, "x", l.w_s, " output ", l.h_t, "x", l.w_t);
    if (l.k_h < 1 || l.k_w < 1) fail(who, ": kernel must be >= 1x1, got ", l.k_h, "x", l.k_w);
    if (l.group < 1 || l.c_s % l.group != 0 || l.c_t % l.group != 0)
        fail(who, ": group ", l.group, " must be >= 1 and divide C_s=", l.c_s, " and C_t=", l.c_t);
    if (l.kind == LayerKind::Fc && (l.group != 1 || l.k_h != 1 || l.k_w != 1 || l.w_s != 1 || l.w_t != 1 ||
                                    l.h_s != l.h_t))
        fail(who, ": a fully-connected layer has group 1, a 1x1 kernel and rows x 1 input and output, got group ",
             l.group, ", kernel ", l.k_h, "x", l.k_w, ", input ", l.h_s, "x", l.w_s, ", output ", l.h_t, "x", l.w_t);
}

// Bytes of float activations live at each step; values produced by no step (graph inputs)
// are live from the start, graph outputs until the end.
std::vector<int64_t> live_bytes(const Network& net, const Plan& plan) {
    const auto& infos = plan.infos();
    const auto& run = plan.runtime_nodes();
    const int nv = static_cast<int>(infos.size());
    const int steps = static_cast<int>(run.size());
    constexpr int kNever = -2;
    std::vector<int> born(nv, kNever), last(nv, -1);
    for (int id : net.inputs) born[id] = -1;
    for (int s = 0; s < steps; ++s) {
        const Node& n = net.nodes[run[s]];
        for (int id : n.inputs)
            if (id >= 0) last[id] = std::max(last[id], s);
        for (int id : n.outputs)
            if (!infos[id].is_const()) born[id] = s;
    }
    for (int id : net.outputs) last[id] = steps;
    std::vector<int64_t> live(steps, 0);
    for (int id = 0; id < nv; ++id) {
        if (born[id] == kNever) continue;
        const int64_t bytes = numel(infos[id].shape) * (infos[id].dtype == DType::Float ? 4 : 8);
        const int first = std::max(born[id], 0);
        const int end = std::max(last[id], first);
        for (int s = first; s <= std::min(end, steps - 1); ++s) live[s] += bytes;
    }
    return live;
}

void set_conv(LayerGeometry& g, const ConvParams& p, int64_t c_s, int64_t c_t, const Shape& in, const Shape& out,
              bool bias) {
    g.kind = LayerKind::Conv;
    g.c_s = c_s;
    g.c_t = c_t;
    g.h_s = in.at(2);
    g.w_s = in.at(3);
    g.h_t = out.at(2);
    g.w_t = out.at(3);
    g.k_h = p.kernel_h;
    g.k_w = p.kernel_w;
    g.group = p.group;
    g.bias = bias;
    // ConvOp::run's pointwise case (auto_pad resolves to zero pads for a 1x1 stride-1 kernel).
    g.im2col = !(p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                 p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0);
}

void set_fc(LayerGeometry& g, int64_t c_s, int64_t c_t, const Shape& in, bool bias) {
    g.kind = LayerKind::Fc;
    g.c_s = c_s;
    g.c_t = c_t;
    int64_t rows = 1;
    for (size_t d = 1; d + 1 < in.size(); ++d) rows *= in[d];
    g.h_s = g.h_t = rows;
    g.bias = bias;
}

LayerGeometry read_layer(const Node& n, const Plan& plan) {
    LayerGeometry g;
    g.name = n.name;
    g.alias = n.alias;
    const Shape& in = plan.info(n.inputs.at(0)).shape;
    const Shape& out = plan.info(n.outputs.at(0)).shape;
    const std::optional<WeightLayer> w = n.op->as_weight_layer();
    QCNN_ASSERT(w.has_value(), "read_layer: node ", n.name, " is not a weight layer");
    if (w->kind == LayerKind::Conv)
        set_conv(g, *w->conv, w->in_channels, w->out_channels, in, out, !w->bias.empty());
    else
        set_fc(g, w->in_channels, w->out_channels, in, !w->bias.empty());
    return g;
}

}  // namespace

NetworkGeometry network_geometry(const Network& net, const Shape& sample_shape) {
    // A static export fixes the batch: plan for it and count live bytes per image.
    const int64_t batch = net.inputs.empty() ? 1 : net.planning_batch();
    Shape input{batch};
    input.insert(input.end(), sample_shape.begin(), sample_shape.end());
    Plan plan(net, {input});
    NetworkGeometry geo;
    std::vector<int> layer_of(net.nodes.size(), -1);
    for (int ni : net.weight_layers()) {
        layer_of[ni] = static_cast<int>(geo.layers.size());
        geo.layers.push_back(read_layer(net.nodes[ni], plan));
    }
    const std::vector<int64_t> live = live_bytes(net, plan);
    const auto& run = plan.runtime_nodes();
    for (size_t s = 0; s < run.size(); ++s) geo.steps.push_back({run[s], layer_of[run[s]], live[s] / batch});
    // The buffers the process holds are those of the Engine's plan, which fuses activations and
    // 2x2 max pools into the layers before them (a fused layer writes the pooled map only).
    geo.buffer_bytes = Plan(net, {input}, {}, PlanOptions{.fuse_activations = true}).activation_bytes() / batch;
    return geo;
}

DenseBackendMemory dense_backend_memory(const Network& net, const Shape& input, int threads) {
    const Plan plan(net, {input}, {}, PlanOptions{.fuse_activations = true});
    DenseBackendMemory m;
    std::map<std::string, int64_t> work;  // per backend: its largest layer's
    for (int ni : plan.runtime_nodes()) {
        const Node& n = net.nodes[ni];
        const auto* conv = dynamic_cast<const ConvOp*>(n.op.get());
        if (!conv) continue;
        const std::optional<PostOp>& post = plan.fused_post_op(ni);
        const DenseConvMemory d =
            conv->dense_memory(plan.info(n.inputs.at(0)).shape, post ? &*post : nullptr, plan.fused_max_pool(ni), threads);
        m.held_bytes += d.held_bytes;
        work[d.backend] = std::max(work[d.backend], d.work_bytes);
        ++m.layers;
    }
    for (const auto& [backend, bytes] : work) m.work_bytes += bytes;
    return m;
}

std::vector<LayerGeometry> layer_geometry(const Network& net, const Shape& sample_shape) {
    return network_geometry(net, sample_shape).layers;
}

std::vector<QuantSetting> stored_settings(const Network& net) {
    std::vector<QuantSetting> out;
    for (int ni : net.weight_layers()) {
        const PQGeometry* pq = net.nodes[ni].op->as_weight_layer()->pq;
        out.push_back(pq ? QuantSetting::make_pq(pq->dsub, pq->K) : QuantSetting::make_dense());
    }
    return out;
}

NetworkGeometry chain_geometry(std::vector<LayerGeometry> layers) {
    NetworkGeometry geo;
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerGeometry& l = layers[i];
        geo.steps.push_back({-1, static_cast<int>(i), 4 * (l.c_s * l.h_s * l.w_s + l.c_t * l.h_t * l.w_t)});
    }
    geo.layers = std::move(layers);
    return geo;
}

LayerCost layer_cost(const LayerGeometry& l, const QuantSetting& s, GroupCodebooks group_codebooks) {
    check_geometry(l);
    LayerCost c;
    c.geometry = l;
    c.setting = s;
    const int64_t cs_g = l.c_s / l.group;
    const int64_t taps = l.k_h * l.k_w;
    const int64_t in_pos = l.h_s * l.w_s, out_pos = l.h_t * l.w_t;
    c.flops_dense = out_pos * l.c_t * taps * cs_g;
    c.weight_bits_dense = 32 * taps * cs_g * l.c_t;
    c.bias_bytes = l.bias ? 4 * l.c_t : 0;
    if (s.dense) {
        c.flops_qcnn = c.flops_dense;
        c.weight_bits_qcnn = c.weight_bits_dense;
        c.scratch_bytes = l.kind == LayerKind::Conv && l.im2col ? 4 * cs_g * taps * out_pos : 0;
        return c;
    }
    const Shape weight_shape = l.kind == LayerKind::Conv ? Shape{l.c_t, cs_g, l.k_h, l.k_w} : Shape{l.c_t, l.c_s};
    const std::string problem = pq_fit_problem(l.kind, weight_shape, l.group, s.pq);
    if (!problem.empty()) fail(label(l), ": ", problem);
    const int64_t dsub = s.pq.dsub, K = s.pq.K;
    c.m_group = cs_g / dsub;
    c.m = l.c_s / dsub;
    c.code_bits = code_bits(K);
    c.flops_table = in_pos * l.c_s * K;
    c.flops_lookup = out_pos * l.c_t * taps * c.m_group;
    c.flops_qcnn = c.flops_table + c.flops_lookup;
    const int64_t codebook_floats = (group_codebooks == GroupCodebooks::Shared ? cs_g : l.c_s) * K;
    c.codebook_bits = 32 * codebook_floats;
    c.index_bits = c.code_bits * taps * c.m_group * l.c_t;
    c.weight_bits_qcnn = c.codebook_bits + c.index_bits;
    c.lut_bytes = 4 * in_pos * c.m * K;
    return c;
}

NetworkCost network_cost(const NetworkGeometry& geo, const std::vector<QuantSetting>& settings,
                         const CostOptions& options) {
    if (settings.size() != geo.layers.size())
        fail("cost model: ", settings.size(), " layer settings for ", geo.layers.size(), " weight layers");
    if (options.batch < 1) fail("cost model: batch must be >= 1, got ", options.batch);
    NetworkCost nc;
    for (size_t i = 0; i < geo.layers.size(); ++i) {
        LayerCost c = layer_cost(geo.layers[i], settings[i], options.group_codebooks);
        nc.flops_dense += c.flops_dense;
        nc.flops_qcnn += c.flops_qcnn;
        nc.weight_bits_dense += c.weight_bits_dense;
        nc.weight_bits_qcnn += c.weight_bits_qcnn;
        nc.bias_bytes += c.bias_bytes;
        nc.lut_bytes_sum += c.lut_bytes;
        nc.dense.weight_bytes += c.weight_bits_dense / 8;
        nc.quantized.weight_bytes += (c.weight_bits_qcnn + 7) / 8;
        nc.layers.push_back(std::move(c));
    }
    nc.dense.bias_bytes = nc.quantized.bias_bytes = nc.bias_bytes;
    const int64_t batch = options.batch;
    // A dense conv's scratch at this batch: ConvOp::run multiplies up to 512 output columns'
    // worth of images at once (at least one), and copies the product out when that is > 1 image.
    auto scratch = [&](const LayerCost& c) -> int64_t {
        if (c.scratch_bytes == 0) return 0;
        const LayerGeometry& l = c.geometry;
        const int64_t hw = l.h_t * l.w_t;
        const int64_t images = std::clamp<int64_t>(512 / std::max<int64_t>(hw, 1), 1, batch);
        return images * (c.scratch_bytes + (images > 1 ? 4 * (l.c_t / l.group) * hw : 0));
    };
    int64_t dense_work = 0, quant_work = 0, dense_extra = 0, quant_extra = 0;
    for (const ActivationStep& st : geo.steps) {
        if (st.layer < -1 || st.layer >= static_cast<int>(nc.layers.size()))
            fail("cost model: activation step of node ", st.node, " names layer ", st.layer, " of ",
                 nc.layers.size());
        const int64_t act = st.live_bytes * batch;
        const int64_t lut = st.layer >= 0 ? nc.layers[st.layer].lut_bytes * batch : 0;
        nc.dense.activation_bytes = nc.quantized.activation_bytes = std::max(nc.dense.activation_bytes, act);
        nc.quantized.lut_bytes = std::max(nc.quantized.lut_bytes, lut);
        dense_work = std::max(dense_work, act);
        quant_work = std::max(quant_work, act + lut);
        if (st.layer >= 0) {
            const LayerCost& c = nc.layers[st.layer];
            LayerCost as_dense = layer_cost(c.geometry, QuantSetting::make_dense(), options.group_codebooks);
            const int64_t ds = scratch(as_dense), qs = scratch(c);
            nc.dense.scratch_bytes = std::max(nc.dense.scratch_bytes, ds);
            nc.quantized.scratch_bytes = std::max(nc.quantized.scratch_bytes, qs);
            dense_extra = std::max(dense_extra, ds);
            quant_extra = std::max(quant_extra, lut + qs);
        }
    }
    const int64_t buffers = geo.buffer_bytes > 0 ? geo.buffer_bytes * batch : nc.dense.activation_bytes;
    nc.dense.peak_bytes = nc.dense.weight_bytes + nc.dense.bias_bytes + dense_work;
    nc.quantized.peak_bytes = nc.quantized.weight_bytes + nc.quantized.bias_bytes + quant_work;
    nc.dense.runtime_bytes = nc.dense.weight_bytes + nc.dense.bias_bytes + buffers + dense_extra;
    nc.quantized.runtime_bytes = nc.quantized.weight_bytes + nc.quantized.bias_bytes + buffers + quant_extra;
    return nc;
}

NetworkCost network_cost(const std::vector<LayerGeometry>& layers, const std::vector<QuantSetting>& settings,
                         const CostOptions& options) {
    return network_cost(chain_geometry(layers), settings, options);
}

}  // namespace qcnn
