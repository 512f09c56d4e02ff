#include "onnx_export.h"

#include <onnx/onnx_pb.h>

#include <fstream>

#include "core/graph/plan.h"
#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/ops/fc.h"
#include "core/ops/layout.h"
#include "core/ops/pool.h"
#include "core/util/error.h"

namespace qcnn::bench {
namespace {

void ints(onnx::NodeProto* n, const char* name, const std::vector<int64_t>& v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
}

void integer(onnx::NodeProto* n, const char* name, int64_t v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

void initializer(onnx::GraphProto* g, const std::string& name, const Shape& shape, const float* data) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (int64_t d : shape) {
        t->add_dims(d);
        n *= d;
    }
    t->set_raw_data(data, static_cast<size_t>(n) * sizeof(float));
}

void value_info(onnx::ValueInfoProto* v, const std::string& name, const Shape& sample, bool dynamic_batch) {
    v->set_name(name);
    onnx::TypeProto_Tensor* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    onnx::TensorShapeProto* s = tt->mutable_shape();
    if (dynamic_batch) s->add_dim()->set_dim_param("N");
    for (int64_t d : sample) s->add_dim()->set_dim_value(d);
}

}  // namespace

void export_onnx(const Network& net, const Shape& sample_shape, const std::string& path) {
    if (net.inputs.size() != 1 || net.outputs.size() != 1)
        fail("ONNX export of ", net.source, ": expected one input and one output");
    onnx::ModelProto m;
    m.set_ir_version(7);
    m.set_producer_name("qcnn_bench");
    onnx::OperatorSetIdProto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(11);
    onnx::GraphProto* g = m.mutable_graph();
    g->set_name(net.source.empty() ? "network" : net.source);
    auto value_name = [&](int id) { return net.values.at(id).name; };
    value_info(g->add_input(), value_name(net.inputs[0]), sample_shape, true);
    for (const Node& node : net.nodes) {
        onnx::NodeProto* n = g->add_node();
        n->set_name(node.name);
        n->add_input(value_name(node.inputs.at(0)));
        for (int o : node.outputs) n->add_output(value_name(o));
        const Op& o = *node.op;
        const std::optional<WeightLayer> w = o.as_weight_layer();
        if (w && !w->quantized()) {
            if (w->conv && w->conv->auto_pad != "NOTSET")
                fail("ONNX export: node ", node.name, " uses auto_pad ", w->conv->auto_pad);
            n->set_op_type(w->conv ? "Conv" : "Gemm");
            initializer(g, node.name + ".weight", w->weight->shape, w->weight->ptr());
            n->add_input(node.name + ".weight");
            if (!w->bias.empty()) {
                initializer(g, node.name + ".bias", {static_cast<int64_t>(w->bias.size())}, w->bias.data());
                n->add_input(node.name + ".bias");
            }
            if (w->conv) {
                const ConvParams& p = *w->conv;
                ints(n, "kernel_shape", {p.kernel_h, p.kernel_w});
                ints(n, "strides", {p.stride_h, p.stride_w});
                ints(n, "pads", {p.pad_top, p.pad_left, p.pad_bottom, p.pad_right});
                ints(n, "dilations", {p.dilation_h, p.dilation_w});
                integer(n, "group", p.group);
            } else {
                integer(n, "transB", 1);
            }
        } else if (o.type() == "Relu") {  // only ActivationOp's Relu has this type
            n->set_op_type("Relu");
        } else if (const auto* p = dynamic_cast<const PoolOp*>(&o)) {
            const PoolParams& pp = p->pool_params();
            if (pp.kernel.size() != 2 || pp.auto_pad != "NOTSET")
                fail("ONNX export: node ", node.name, ": only 2-D pools without auto_pad");
            n->set_op_type(pp.kind == PoolKind::Max ? "MaxPool" : "AveragePool");
            ints(n, "kernel_shape", pp.kernel);
            if (!pp.strides.empty()) ints(n, "strides", pp.strides);
            if (!pp.pads.empty()) ints(n, "pads", pp.pads);
            if (pp.ceil_mode) integer(n, "ceil_mode", 1);
            if (pp.kind == PoolKind::Average && pp.count_include_pad) integer(n, "count_include_pad", 1);
        } else if (o.type() == "Flatten") {
            n->set_op_type("Flatten");
            integer(n, "axis", 1);
        } else {
            fail("ONNX export: node ", node.name, " has op ", o.type(), ", which the exporter does not write");
        }
    }
    // The output's shape (OpenCV's importer wants one): planned for one sample, batch dynamic.
    Shape one{1};
    one.insert(one.end(), sample_shape.begin(), sample_shape.end());
    const Plan plan(net, {one});
    const Shape out_shape = plan.info(net.outputs[0]).shape;
    value_info(g->add_output(), value_name(net.outputs[0]), Shape(out_shape.begin() + 1, out_shape.end()), true);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out || !m.SerializeToOstream(&out)) fail("cannot write ONNX file ", path);
}

}  // namespace qcnn::bench
