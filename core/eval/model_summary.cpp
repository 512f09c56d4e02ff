#include "core/eval/model_summary.h"

#include <sstream>

#include "core/graph/plan.h"
#include "core/cost/builtin_networks.h"
#include "core/io/model_file.h"
#include "core/io/onnx_import.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

Shape drop_batch(const Shape& s) { return s.empty() ? s : Shape(s.begin() + 1, s.end()); }

}  // namespace

std::string format_dims(const Shape& s) {
    if (s.empty()) return "scalar";
    std::ostringstream os;
    for (size_t i = 0; i < s.size(); ++i) {
        if (i) os << 'x';
        if (s[i] < 0)
            os << '?';
        else
            os << s[i];
    }
    return os.str();
}

std::shared_ptr<const Network> load_model(const std::string& path) {
    if (path.rfind("builtin:", 0) == 0) return builtin_network(path.substr(8), /*seed=*/0);
    return std::make_shared<const Network>(load_model_file(path));
}

ModelSummary summarize(const Network& net) {
    ModelSummary m;
    m.source = net.source;
    m.input_shape = net.sample_shape();
    for (int64_t d : m.input_shape)
        if (d < 0)
            fail(net.source, ": input '", net.values.at(net.inputs[0]).name, "' has a dynamic dimension (",
                 format_dims(m.input_shape), " per sample); a concrete image size is needed");
    m.input_name = net.values.at(net.inputs[0]).name;

    // Plan for one image, or for the batch size the file fixes (activation bytes are then divided
    // by it).
    const int64_t batch = net.planning_batch();
    Shape planned{batch};
    planned.insert(planned.end(), m.input_shape.begin(), m.input_shape.end());
    std::vector<Shape> shapes{planned};
    for (size_t k = 1; k < net.inputs.size(); ++k) shapes.push_back(net.values.at(net.inputs[k]).shape);
    const Plan plan(net, shapes);

    if (!net.outputs.empty()) {
        m.output_name = net.values.at(net.outputs[0]).name;
        m.output_shape = drop_batch(plan.info(net.outputs[0]).shape);
    }
    m.activation_bytes = plan.activation_bytes() / batch;

    for (int ni : plan.runtime_nodes()) {
        const Node& n = net.nodes[ni];
        LayerSummary L;
        L.node = ni;
        L.name = n.name;
        L.alias = n.alias;
        L.op = n.op->type();
        L.attributes = n.op->describe();
        std::vector<const ValueInfo*> in;
        for (int id : n.inputs) in.push_back(id < 0 ? nullptr : &plan.info(id));
        std::vector<ValueInfo> out;
        for (int id : n.outputs) out.push_back(plan.info(id));
        // The activation input: the first input that is not a plan-time constant.
        for (const ValueInfo* v : in)
            if (v && !v->is_const()) {
                L.input_shape = drop_batch(v->shape);
                break;
            }
        if (!out.empty()) L.output_shape = drop_batch(out[0].shape);
        L.params = n.op->params();
        L.flops = n.op->flops(in, out);  // Op::flops counts one sample
        LayerKind kind;
        L.weight_layer = n.op->weight_layer(&kind);
        if (L.weight_layer) ++(kind == LayerKind::Conv ? m.conv_layers : m.fc_layers);
        m.total_params += L.params;
        m.total_flops += L.flops;
        m.layers.push_back(std::move(L));
    }
    return m;
}

}  // namespace qcnn
