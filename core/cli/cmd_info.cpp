// qcnn info: the per-layer table of a model.
#include <cstdio>
#include <ostream>

#include "core/cli/command.h"
#include "core/util/json.h"
#include "core/cost/cost_model.h"
#include "core/eval/model_summary.h"
#include "core/io/onnx_import.h"
#include "core/quant/settings.h"

namespace qcnn::cli {

namespace {

void print_json(const ModelSummary& m, std::ostream& out) {
    json::Writer w(out);
    w.begin_object();
    w.field("model", m.source);
    w.key("input").begin_object().field("name", m.input_name);
    w.key("shape").array(m.input_shape);
    w.end_object();
    w.key("output").begin_object().field("name", m.output_name);
    w.key("shape").array(m.output_shape);
    w.end_object();
    w.key("layers").begin_array();
    for (const auto& L : m.layers) {
        w.begin_object();
        w.field("name", L.name).field("alias", L.alias).field("op", L.op).field("attributes", L.attributes);
        w.key("input_shape").array(L.input_shape);
        w.key("output_shape").array(L.output_shape);
        w.field("params", L.params).field("flops", L.flops).field("weight_layer", L.weight_layer);
        w.end_object();
    }
    w.end_array();
    w.key("totals").begin_object();
    w.field("layers", static_cast<int64_t>(m.layers.size()))
        .field("conv_layers", m.conv_layers)
        .field("fc_layers", m.fc_layers)
        .field("params", m.total_params)
        .field("flops", m.total_flops)
        .field("weight_bytes", m.total_params * 4)
        .field("activation_bytes", m.activation_bytes);
    w.end_object();
    w.end_object();
    out << '\n';
}

void print_text(const ModelSummary& m, std::ostream& out) {
    out << "model:  " << m.source << "\n"
        << "input:  " << m.input_name << " " << format_dims(m.input_shape) << " per image\n"
        << "output: " << m.output_name << " " << format_dims(m.output_shape) << "\n\n";
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < m.layers.size(); ++i) {
        const auto& L = m.layers[i];
        rows.push_back({std::to_string(i + 1), L.name, L.alias, L.op, L.attributes, format_dims(L.input_shape),
                        format_dims(L.output_shape), L.weight_layer || L.params ? thousands(L.params) : "",
                        L.weight_layer || L.flops ? thousands(L.flops) : ""});
    }
    out << format_table({"#", "name", "alias", "op", "attributes", "input", "output", "params", "FLOPs"}, rows,
                        {true, false, false, false, false, false, false, true, true});
    out << "\ntotal: " << m.layers.size() << " layers (" << m.conv_layers << " conv, " << m.fc_layers << " fc), "
        << thousands(m.total_params) << " parameters (" << thousands(m.total_params * 4) << " bytes float32), "
        << thousands(m.total_flops) << " FLOPs per image (multiply-adds)\n";
}

std::string ratio(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3fx", v);
    return buf;
}

// The cost model for a settings string, without running anything (qcnn-method.md section 4).
int print_cost(const Network& net, const std::string& text, bool json, std::ostream& out) {
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings(text));
    std::vector<QuantSetting> settings;
    for (const auto& l : rs.layers) settings.push_back(l.setting);
    const NetworkGeometry geo = network_geometry(net, net.sample_shape());
    const NetworkCost c = network_cost(geo, settings);
    bool grouped = false;
    for (const auto& l : geo.layers) grouped = grouped || l.group > 1;
    // Share of the weight layers' FLOPs and weights that these settings quantize.
    double q_flops = 0, q_bits = 0;
    for (size_t i = 0; i < rs.layers.size(); ++i)
        if (!rs.layers[i].setting.dense) {
            q_flops += static_cast<double>(c.layers[i].flops_dense);
            q_bits += static_cast<double>(c.layers[i].weight_bits_dense);
        }
    const double flops_share = c.flops_dense ? q_flops / static_cast<double>(c.flops_dense) : 0.0;
    const double weight_share = c.weight_bits_dense ? q_bits / static_cast<double>(c.weight_bits_dense) : 0.0;
    CostOptions shared_opt;
    shared_opt.group_codebooks = GroupCodebooks::Shared;
    const NetworkCost shared = network_cost(geo, settings, shared_opt);
    if (json) {
        json::Writer w(out);
        w.begin_object().field("model", net.source).field("settings", text);
        w.field("flops_dense", c.flops_dense).field("flops_quantized", c.flops_qcnn);
        w.field("theoretical_speedup", c.speedup());
        w.field("weight_bits_dense", c.weight_bits_dense).field("weight_bits_quantized", c.weight_bits_qcnn);
        w.field("compression", c.compression()).field("compression_with_biases", c.compression_with_biases());
        w.field("quantized_flops_fraction", flops_share).field("quantized_weights_fraction", weight_share);
        if (grouped) w.field("compression_shared_group_codebooks", shared.compression());
        w.field("memory_bytes_dense", c.dense.peak_bytes).field("memory_bytes_quantized", c.quantized.peak_bytes);
        w.field("lut_bytes", c.quantized.lut_bytes).field("activation_bytes", c.dense.activation_bytes);
        w.key("layers").begin_array();
        for (size_t i = 0; i < rs.layers.size(); ++i) {
            const LayerCost& L = c.layers[i];
            w.begin_object().field("name", rs.layers[i].name).field("alias", rs.layers[i].alias);
            w.field("setting", rs.layers[i].setting.to_string()).field("note", rs.layers[i].note);
            w.field("flops_dense", L.flops_dense).field("flops_quantized", L.flops_qcnn).field("speedup", L.speedup());
            w.field("weight_bits_dense", L.weight_bits_dense).field("weight_bits_quantized", L.weight_bits_qcnn);
            w.field("compression", L.compression()).field("lut_bytes", L.lut_bytes);
            w.end_object();
        }
        w.end_array().end_object();
        out << '\n';
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < rs.layers.size(); ++i) {
        const LayerCost& L = c.layers[i];
        rows.push_back({rs.layers[i].alias, rs.layers[i].name, rs.layers[i].setting.to_string(), thousands(L.flops_dense),
                        thousands(L.flops_qcnn), ratio(L.speedup()), thousands(L.weight_bits_dense),
                        thousands(L.weight_bits_qcnn), ratio(L.compression()), thousands(L.lut_bytes),
                        rs.layers[i].note});
    }
    out << "\ncost model for " << text << " (one image; FLOPs = multiply-adds or lookup-adds):\n"
        << format_table({"layer", "node", "C_s'/K", "FLOPs dense", "FLOPs Q-CNN", "speed-up", "bits dense", "bits Q-CNN",
                         "compr.", "LUT bytes", "note"},
                        rows, {false, false, false, true, true, true, true, true, true, true, false})
        << "\ntheoretical speed-up: " << ratio(c.speedup()) << " (" << thousands(c.flops_dense) << " -> "
        << thousands(c.flops_qcnn) << " FLOPs)\n"
        << "compression:          " << ratio(c.compression()) << " over weights (" << thousands(c.weight_bits_dense)
        << " -> " << thousands(c.weight_bits_qcnn) << " bits), " << ratio(c.compression_with_biases())
        << " with biases\n";
    if (grouped)
        out << "                      " << ratio(shared.compression())
            << " if grouped layers share one codebook set across groups (the authors' reference code)\n";
    char share[128];
    std::snprintf(share, sizeof share, "%.1f%% of the weight layers' FLOPs and %.1f%% of their weights", 100 * flops_share,
                  100 * weight_share);
    out << "quantized:            " << share << " (the rest stays dense; see each layer's note)\n";
    out << "run-time memory:      " << thousands(c.dense.peak_bytes) << " bytes dense -> "
        << thousands(c.quantized.peak_bytes) << " bytes quantized (weights + biases + activations + LUTs)\n";
    return 0;
}

}  // namespace

int run_info(const Args& args, CommandContext& ctx) {
    if (args.has("--ops")) {
        ctx.out << onnx_ops_markdown();
        return 0;
    }
    const auto net = load_model(args.str("--model", bundled_model(kDefaultModel)));
    if (args.has("--layers")) return print_cost(*net, args.str("--layers", ""), args.has("--json"), ctx.out);
    const ModelSummary m = summarize(*net);
    if (args.has("--json"))
        print_json(m, ctx.out);
    else
        print_text(m, ctx.out);
    return 0;
}

}  // namespace qcnn::cli
