// qcnn info: the per-layer table of a model.
#include <ostream>

#include "core/cli/command.h"
#include "core/cli/json.h"
#include "core/eval/model_summary.h"

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

}  // namespace

int run_info(const Args& args, CommandContext& ctx) {
    const auto net = load_model(args.str("--model", bundled_model(kDefaultModel)));
    const ModelSummary m = summarize(*net);
    if (args.has("--json"))
        print_json(m, ctx.out);
    else
        print_text(m, ctx.out);
    return 0;
}

}  // namespace qcnn::cli
