// Test helper: builds small ONNX models in memory with the onnx protobuf C++ API.
#pragma once

#ifndef ONNX_ML
#define ONNX_ML 1
#endif
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/graph/plan.h"
#include "core/io/onnx_import.h"
#include "core/tensor.h"

namespace qcnn::testing {

inline Tensor random_tensor(Shape s, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    Tensor t(std::move(s));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (float& v : t.data) v = u(rng);
    return t;
}

// Plans the network for the inputs' shapes, runs it and returns output 0.
inline Tensor run_net(const Network& net, const std::vector<const Tensor*>& inputs, int threads = 1) {
    std::vector<Shape> shapes;
    for (const Tensor* t : inputs) shapes.push_back(t->shape);
    Plan plan(net, shapes);
    plan.run(inputs, ExecContext{threads});
    return plan.output(0);
}

// Largest elementwise difference; 1e30 when the shapes differ.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
    if (a.shape != b.shape) return 1e30;
    double m = 0;
    for (int64_t i = 0; i < a.size(); ++i) m = std::max<double>(m, std::abs(a.data[i] - b.data[i]));
    return m;
}

class OnnxBuilder {
public:
    explicit OnnxBuilder(int64_t opset = 13) {
        m_.set_ir_version(8);
        auto* o = m_.add_opset_import();
        o->set_domain("");
        o->set_version(opset);
        g_ = m_.mutable_graph();
        g_->set_name("test");
    }

    onnx::ModelProto& model() { return m_; }
    onnx::GraphProto& graph() { return *g_; }

    // dims < 0 become the symbolic dimension "N".
    void input(const std::string& name, const Shape& dims, int elem = onnx::TensorProto_DataType_FLOAT) {
        set_value_info(g_->add_input(), name, dims, elem);
    }
    void output(const std::string& name, int elem = onnx::TensorProto_DataType_FLOAT) {
        set_value_info(g_->add_output(), name, {}, elem, false);
    }
    onnx::TensorProto* init(const std::string& name, const Tensor& t) {
        onnx::TensorProto* p = g_->add_initializer();
        fill_float(p, name, t);
        return p;
    }
    onnx::TensorProto* init_i64(const std::string& name, const Shape& dims, const std::vector<int64_t>& v) {
        onnx::TensorProto* p = g_->add_initializer();
        p->set_name(name);
        p->set_data_type(onnx::TensorProto_DataType_INT64);
        for (int64_t d : dims) p->add_dims(d);
        for (int64_t x : v) p->add_int64_data(x);
        return p;
    }
    onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
                          const std::string& name = "") {
        onnx::NodeProto* n = g_->add_node();
        n->set_op_type(op);
        n->set_name(name);
        for (const auto& s : in) n->add_input(s);
        for (const auto& s : out) n->add_output(s);
        return n;
    }

    static void attr_i(onnx::NodeProto* n, const std::string& name, int64_t v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto_AttributeType_INT);
        a->set_i(v);
    }
    static void attr_f(onnx::NodeProto* n, const std::string& name, float v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto_AttributeType_FLOAT);
        a->set_f(v);
    }
    static void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto_AttributeType_INTS);
        for (int64_t x : v) a->add_ints(x);
    }
    static void attr_s(onnx::NodeProto* n, const std::string& name, const std::string& v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto_AttributeType_STRING);
        a->set_s(v);
    }
    static void attr_tensor_i64(onnx::NodeProto* n, const std::string& name, const Shape& dims,
                                const std::vector<int64_t>& v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto_AttributeType_TENSOR);
        auto* t = a->mutable_t();
        t->set_data_type(onnx::TensorProto_DataType_INT64);
        for (int64_t d : dims) t->add_dims(d);
        for (int64_t x : v) t->add_int64_data(x);
    }

    static void fill_float(onnx::TensorProto* p, const std::string& name, const Tensor& t) {
        p->set_name(name);
        p->set_data_type(onnx::TensorProto_DataType_FLOAT);
        for (int64_t d : t.shape) p->add_dims(d);
        p->set_raw_data(std::string(reinterpret_cast<const char*>(t.ptr()), t.size() * sizeof(float)));
    }

    std::string bytes() const { return m_.SerializeAsString(); }
    Network import(const ImportOptions& opts = {}) const { return import_onnx_bytes(bytes(), "test.onnx", opts); }

private:
    onnx::ModelProto m_;
    onnx::GraphProto* g_;

    static void set_value_info(onnx::ValueInfoProto* vi, const std::string& name, const Shape& dims, int elem,
                               bool with_shape = true) {
        vi->set_name(name);
        auto* tt = vi->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(elem);
        if (!with_shape) return;
        auto* sh = tt->mutable_shape();
        for (int64_t d : dims) {
            auto* dim = sh->add_dim();
            if (d < 0)
                dim->set_dim_param("N");
            else
                dim->set_dim_value(d);
        }
    }
};

}  // namespace qcnn::testing
