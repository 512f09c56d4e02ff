#include "core/io/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <queue>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/io/fuse.h"
#include "core/ops/batchnorm.h"
#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/ops/fc.h"
#include "core/ops/layer_norm.h"
#include "core/ops/layout.h"
#include "core/ops/matmul.h"
#include "core/ops/pool.h"
#include "core/ops/reduce.h"
#include "core/ops/shape_ops.h"
#include "core/ops/softmax.h"
#include "core/quant/weight_layer_factory.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

// An error that already names the file and node; not re-prefixed on the way out.
class ImportError : public Error {
public:
    using Error::Error;
};

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open file");
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) fail(path, ": read error");
    return ss.str();
}

void check_model(const onnx::ModelProto& m, const std::string& src) {
    if (!m.has_graph()) fail(src, ": not a valid ONNX model (it has no graph)");
}

onnx::ModelProto parse_model_bytes(const std::string& bytes, const std::string& src) {
    if (bytes.size() > static_cast<size_t>(INT_MAX)) fail(src, ": larger than 2 GiB, which protobuf cannot parse");
    onnx::ModelProto m;
    if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        fail(src, ": not a valid ONNX model (protobuf parse failed)");
    check_model(m, src);
    return m;
}

// Parses straight from the file, so the serialized bytes are never held in memory twice.
onnx::ModelProto parse_model_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open file");
    onnx::ModelProto m;
    if (!m.ParseFromIstream(&f)) fail(path, ": not a valid ONNX model (protobuf parse failed)");
    check_model(m, path);
    return m;
}

std::string elem_type_name(int32_t t) {
    if (t == onnx::TensorProto_DataType_UNDEFINED) return "UNDEFINED";
    if (onnx::TensorProto_DataType_IsValid(t)) return onnx::TensorProto_DataType_Name(t);
    return cat("unknown type ", t);
}

// A TensorProto as a FLOAT or INT64 initializer. `what` names it in messages.
ValueDecl parse_tensor(const onnx::TensorProto& t, const std::string& what) {
    if (t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL)
        fail(what, " keeps its data in an external file, which is not supported");
    if (t.has_segment()) fail(what, " is a segment of a larger tensor, which is not supported");
    const Shape s(t.dims().begin(), t.dims().end());
    const int64_t n = checked_numel(s, kMaxOnnxTensorElements, what);
    ValueDecl v;
    v.name = t.name();
    v.shape = s;
    const std::string& raw = t.raw_data();
    // The data size is checked against the dims before anything is allocated, so memory
    // stays bounded by the file size whatever the dims declare.
    if (t.data_type() == onnx::TensorProto_DataType_FLOAT) {
        if (t.has_raw_data()) {
            if (static_cast<int64_t>(raw.size()) != n * 4)
                fail(what, ": raw_data has ", raw.size(), " bytes, dims ", to_string(s), " need ", n * 4);
        } else if (t.float_data_size() != n) {
            fail(what, ": has ", t.float_data_size(), " float values, dims ", to_string(s), " need ", n);
        }
        auto tensor = std::make_shared<Tensor>(s);
        if (t.has_raw_data()) {
            if (n) std::memcpy(tensor->ptr(), raw.data(), raw.size());
        } else {
            std::copy(t.float_data().begin(), t.float_data().end(), tensor->data.begin());
        }
        v.dtype = DType::Float;
        v.init_f = std::move(tensor);
    } else if (t.data_type() == onnx::TensorProto_DataType_INT64) {
        if (t.has_raw_data()) {
            if (static_cast<int64_t>(raw.size()) != n * 8)
                fail(what, ": raw_data has ", raw.size(), " bytes, dims ", to_string(s), " need ", n * 8);
        } else if (t.int64_data_size() != n) {
            fail(what, ": has ", t.int64_data_size(), " int64 values, dims ", to_string(s), " need ", n);
        }
        auto vals = std::make_shared<std::vector<int64_t>>(n);
        if (t.has_raw_data()) {
            if (n) std::memcpy(vals->data(), raw.data(), raw.size());
        } else {
            std::copy(t.int64_data().begin(), t.int64_data().end(), vals->begin());
        }
        v.dtype = DType::Int64;
        v.init_i = std::move(vals);
    } else {
        fail(what, " has data type ", elem_type_name(t.data_type()),
             "; only FLOAT (and INT64 for shapes) is supported");
    }
    return v;
}

OnnxValueInfo value_info(const onnx::ValueInfoProto& vi) {
    OnnxValueInfo out;
    out.name = vi.name();
    if (!vi.type().has_tensor_type()) {
        out.dtype = "non-tensor";
        return out;
    }
    const auto& tt = vi.type().tensor_type();
    out.dtype = elem_type_name(tt.elem_type());
    if (tt.has_shape())
        for (const auto& d : tt.shape().dim()) out.shape.push_back(d.has_dim_value() && d.dim_value() >= 0 ? d.dim_value() : -1);
    return out;
}

bool is_ai_onnx(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// The ai.onnx opset version, or 0 when the model does not import the domain.
int64_t ai_onnx_opset(const onnx::ModelProto& m) {
    for (const auto& o : m.opset_import())
        if (is_ai_onnx(o.domain())) return o.version();
    return 0;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
}

// True when a constant of shape s, broadcast against a layer output of rank >= max_rank,
// adds one value per channel (or one value overall), the channel axis being `channel_from_end`
// places from the end (0 = last axis); s has at most max_rank dims, so no axes are added.
bool is_row_bias(const Shape& s, int64_t n, size_t max_rank, size_t channel_from_end) {
    if (s.size() > max_rank) return false;
    const int64_t total = numel(s);
    if (total == 1) return true;
    if (total != n) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const size_t from_end = s.size() - 1 - i;
        if (s[i] != 1 && from_end != channel_from_end) return false;
    }
    return s.size() > channel_from_end;
}

// The dense layer followed by the channel affine map, as one layer.
OpPtr fold_into(const WeightLayer& layer, const ChannelAffine& a) {
    Tensor w = *layer.weight;
    std::vector<float> b(layer.bias.begin(), layer.bias.end());
    fold_rows(w, b, a, layer.kind == LayerKind::Conv ? "Conv" : "fully-connected layer");
    return make_dense_layer(layer, std::move(w), std::move(b));
}

class Importer {
public:
    // One supported operator: its ONNX type, a note for the docs, and its handler.
    struct Entry {
        const char* op;
        const char* note;
        void (*handle)(Importer&);
    };
    static const std::vector<Entry>& registry();

    // Initializer data is released from m as it is converted.
    Importer(onnx::ModelProto& m, std::string src, const ImportOptions& opts)
        : g_(*m.mutable_graph()), src_(std::move(src)), opts_(opts), opset_(ai_onnx_opset(m)) {
        if (opset_ == 0) fail(src_, ": the model does not import the ai.onnx opset (opset_import)");
    }

    Network run();

private:
    onnx::GraphProto& g_;
    std::string src_;
    const ImportOptions& opts_;
    int64_t opset_;
    Network net_;
    std::unordered_map<std::string, int> id_of_;      // ONNX value name -> value id
    std::unordered_map<std::string, int> name_uses_;  // ONNX value name -> node inputs + graph outputs reading it
    std::unordered_map<int, int> uses_;               // value id -> readers
    std::unordered_map<int, int> producer_;           // value id -> index in net_.nodes
    std::set<std::string> graph_outputs_;

    const onnx::NodeProto* node_ = nullptr;
    std::string node_name_;

    template <class... Args>
    [[noreturn]] void node_fail(Args&&... args) const {
        throw ImportError(cat(src_, ": node '", node_name_, "' (", node_->op_type(), "): ", std::forward<Args>(args)...));
    }

    void add_initializers();
    // NaN or infinity in a weight: refused, naming the initializer and the nodes that use it.
    void check_finite_initializer(const Tensor& w, const std::string& name) const;
    void add_inputs();
    void check_outputs();
    std::vector<int> topo_order() const;
    void import_node();

    // Attributes.
    const onnx::AttributeProto* attr(const std::string& name) const;
    int64_t attr_int(const std::string& name, int64_t def) const;
    float attr_float(const std::string& name, float def) const;
    std::string attr_string(const std::string& name, const std::string& def) const;
    std::optional<std::vector<int64_t>> attr_ints(const std::string& name) const;
    void expect_attr_type(const onnx::AttributeProto& a, onnx::AttributeProto_AttributeType t, const char* tname) const;

    // Inputs and outputs of the current node.
    int in_id(int k) const;  // -1 when omitted
    const ValueDecl* const_decl(int k) const;
    const Tensor& const_float(int k, const std::string& what) const;
    void only_first_output(const std::string& what) const;
    const std::string& out_name() const { return node_->output(0); }

    // Adds a node (or evaluates it now when every input is a constant); returns output ids.
    std::vector<int> emit(const std::string& name, OpPtr op, const std::vector<int>& inputs,
                          const std::vector<std::string>& outputs);
    int new_value(const std::string& onnx_name, ValueDecl v);
    void alias_output(int in);
    // Drops a constant's data once its last reader has copied it into an op (weights).
    void release_constant(int id);
    // Removes values no node, input or output refers to, renumbering the rest.
    void compact();
    // Index in net_.nodes of the single-use Conv/Fc that produces value id, or -1.
    int foldable_layer(int id) const;
    void replace_layer(int node_index, OpPtr op, const std::string& new_output_name);

    // Operator handlers.
    void conv();
    void gemm();
    void matmul();
    void binary(BinaryKind kind);
    void add_bias();
    void activation(ActivationKind kind);
    void identity();
    void concat();
    void reshape();
    void shape();
    void unsqueeze();
    void squeeze();
    void slice();
    void reduce(ReduceKind kind, int64_t axes_input_from);
    void layer_norm();
    void clip();
    void pool(PoolKind kind);
    void batchnorm();
    void pad();
    void dropout();
    void constant();
    void cast();
    void simple(OpPtr op, int n_inputs);
};

// ---------------------------------------------------------------------------------------------
// Setup

void Importer::add_initializers() {
    for (auto& t : *g_.mutable_initializer()) {
        if (id_of_.count(t.name())) fail(src_, ": initializer '", t.name(), "' is defined twice");
        ValueDecl v = parse_tensor(t, cat(src_, ": initializer '", t.name(), "'"));
        if (v.init_f) check_finite_initializer(*v.init_f, t.name());
        new_value(t.name(), std::move(v));
        // Free the serialized data now (clear() would keep the capacity).
        std::string().swap(*t.mutable_raw_data());
        google::protobuf::RepeatedField<float>().Swap(t.mutable_float_data());
        google::protobuf::RepeatedField<int64_t>().Swap(t.mutable_int64_data());
    }
}

void Importer::check_finite_initializer(const Tensor& w, const std::string& name) const {
    const auto bad = std::find_if(w.data.begin(), w.data.end(), [](float x) { return !std::isfinite(x); });
    if (bad == w.data.end()) return;
    std::string users;
    for (int i = 0; i < g_.node_size(); ++i)
        for (const auto& in : g_.node(i).input())
            if (in == name) {
                const auto& nd = g_.node(i);
                users += cat(users.empty() ? "" : ", ", nd.name().empty() ? cat(nd.op_type(), "_", i) : nd.name(), " (",
                             nd.op_type(), ")");
                break;
            }
    fail(src_, ": initializer '", name, "'", users.empty() ? "" : cat(" of layer ", users), " holds ", *bad,
         " at element ", bad - w.data.begin(), "; weights must be finite (corrupt or diverged model?)");
}

void Importer::add_inputs() {
    std::set<std::string> inputs;
    for (const auto& vi : g_.input()) {
        inputs.insert(vi.name());
        if (id_of_.count(vi.name())) {  // old exporters list initializers as inputs too
            if (opts_.bind_constants.count(vi.name()))
                fail(src_, ": bind_constants names '", vi.name(), "', which is an initializer, not a runtime input");
            continue;
        }
        const OnnxValueInfo info = value_info(vi);
        const std::string what = cat(src_, ": graph input '", vi.name(), "'");
        if (info.dtype == "non-tensor")
            fail(what, " is not a tensor (sequence, map and optional types are not supported)");
        auto bound = opts_.bind_constants.find(vi.name());
        if (bound != opts_.bind_constants.end()) {
            ValueDecl v = bound->second;
            v.name = vi.name();
            const char* have = v.init_f ? "FLOAT" : v.init_i ? "INT64" : nullptr;
            if (!have) fail(what, ": the bound constant has no data");
            if (info.dtype != have) {
                if (info.dtype != "FLOAT" && info.dtype != "INT64")
                    fail(what, " has data type ", info.dtype, "; only FLOAT (and INT64 for shapes) is supported");
                fail(what, " is declared ", info.dtype, ", the bound constant is ", have);
            }
            if (v.init_f) v.shape = v.init_f->shape;
            if (v.init_i && numel(v.shape) != static_cast<int64_t>(v.init_i->size()))
                fail(what, ": the bound constant's shape ", to_string(v.shape), " does not match its ",
                     v.init_i->size(), " values");
            bool ok = info.shape.empty() || info.shape.size() == v.shape.size();
            for (size_t d = 0; ok && d < info.shape.size(); ++d) ok = info.shape[d] < 0 || info.shape[d] == v.shape[d];
            if (!ok)
                fail(what, " is declared with shape ", to_string(info.shape), ", the bound constant has ",
                     to_string(v.shape));
            v.dtype = v.init_f ? DType::Float : DType::Int64;
            new_value(vi.name(), std::move(v));
            continue;
        }
        if (info.dtype == "INT64")
            fail(what, " is INT64; bind it to a constant with ImportOptions::bind_constants "
                       "(INT64 values must be known at plan time)");
        if (info.dtype != "FLOAT")
            fail(what, " has data type ", info.dtype, "; only FLOAT (and INT64 for shapes) is supported");
        ValueDecl v;
        v.shape = info.shape;
        v.dtype = DType::Float;
        net_.inputs.push_back(new_value(vi.name(), std::move(v)));
    }
    for (const auto& [name, decl] : opts_.bind_constants)
        if (!inputs.count(name)) fail(src_, ": bind_constants names '", name, "', which is not a graph input");
}

void Importer::check_outputs() {
    for (const auto& vi : g_.output()) {
        const OnnxValueInfo info = value_info(vi);
        const std::string what = cat(src_, ": graph output '", vi.name(), "'");
        if (info.dtype == "non-tensor")
            fail(what, " is not a tensor (sequence, map and optional types are not supported)");
        if (info.dtype != "FLOAT" && info.dtype != "INT64" && info.dtype != "UNDEFINED")
            fail(what, " has data type ", info.dtype, "; only FLOAT (and INT64 for shapes) is supported");
        graph_outputs_.insert(vi.name());
    }
}

std::vector<int> Importer::topo_order() const {
    const int n = g_.node_size();
    auto node_name = [&](int i) {
        const auto& nd = g_.node(i);
        return nd.name().empty() ? cat(nd.op_type(), "_", i) : nd.name();
    };
    std::unordered_map<std::string, int> producer;
    for (int i = 0; i < n; ++i)
        for (const auto& o : g_.node(i).output()) {
            if (o.empty()) continue;
            if (id_of_.count(o))
                fail(src_, ": node '", node_name(i), "' writes '", o, "', which is an initializer or graph input");
            auto [it, fresh] = producer.emplace(o, i);
            if (!fresh)
                fail(src_, ": value '", o, "' is produced by both node '", node_name(it->second), "' and node '",
                     node_name(i), "'");
        }
    std::vector<std::vector<int>> next(n);
    std::vector<int> indeg(n, 0);
    for (int i = 0; i < n; ++i) {
        std::set<int> deps;
        for (const auto& in : g_.node(i).input()) {
            if (in.empty() || id_of_.count(in)) continue;
            auto it = producer.find(in);
            if (it == producer.end())
                fail(src_, ": node '", node_name(i), "' (", g_.node(i).op_type(), ") reads '", in,
                     "', which no node, initializer or graph input provides");
            deps.insert(it->second);
        }
        for (int d : deps) next[d].push_back(i);
        indeg[i] = static_cast<int>(deps.size());
    }
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (int i = 0; i < n; ++i)
        if (indeg[i] == 0) ready.push(i);
    std::vector<int> order;
    while (!ready.empty()) {
        const int i = ready.top();
        ready.pop();
        order.push_back(i);
        for (int j : next[i])
            if (--indeg[j] == 0) ready.push(j);
    }
    if (static_cast<int>(order.size()) != n) {
        std::vector<std::string> stuck;
        for (int i = 0; i < n && stuck.size() < 6; ++i)
            if (indeg[i] > 0) stuck.push_back("'" + node_name(i) + "'");
        fail(src_, ": the graph has a cycle; these nodes wait on each other: ", join(stuck));
    }
    return order;
}

Network Importer::run() {
    net_.source = src_;
    add_initializers();
    add_inputs();
    check_outputs();
    for (const auto& nd : g_.node())
        for (const auto& in : nd.input())
            if (!in.empty()) ++name_uses_[in];
    for (const auto& name : graph_outputs_) ++name_uses_[name];
    for (auto& [name, id] : id_of_) uses_[id] = name_uses_[name];

    for (int i : topo_order()) {
        node_ = &g_.node(i);
        node_name_ = node_->name().empty() ? cat(node_->op_type(), "_", i) : node_->name();
        if (!is_ai_onnx(node_->domain()))
            fail(src_, ": node '", node_name_, "' uses op '", node_->op_type(), "' from domain '", node_->domain(),
                 "'; only the ai.onnx domain is supported");
        try {
            import_node();
        } catch (const ImportError&) {
            throw;
        } catch (const Error& e) {
            node_fail(e.what());
        }
    }

    std::set<int> runtime_inputs(net_.inputs.begin(), net_.inputs.end());
    for (const auto& vi : g_.output()) {
        auto it = id_of_.find(vi.name());
        if (it == id_of_.end()) fail(src_, ": graph output '", vi.name(), "' is not produced by any node");
        if (runtime_inputs.count(it->second))
            fail(src_, ": graph output '", vi.name(), "' is a graph input passed through unchanged; nothing computes it");
        net_.outputs.push_back(it->second);
    }
    if (opts_.fuse) fuse_patterns(net_);
    compact();
    net_.assign_aliases();
    net_.validate();
    return std::move(net_);
}

// ---------------------------------------------------------------------------------------------
// Node plumbing

const onnx::AttributeProto* Importer::attr(const std::string& name) const {
    for (const auto& a : node_->attribute())
        if (a.name() == name) return &a;
    return nullptr;
}

void Importer::expect_attr_type(const onnx::AttributeProto& a, onnx::AttributeProto_AttributeType t,
                                const char* tname) const {
    if (a.type() != t && a.type() != onnx::AttributeProto_AttributeType_UNDEFINED)
        node_fail("attribute '", a.name(), "' must be ", tname);
}

int64_t Importer::attr_int(const std::string& name, int64_t def) const {
    const auto* a = attr(name);
    if (!a) return def;
    expect_attr_type(*a, onnx::AttributeProto_AttributeType_INT, "an INT");
    return a->i();
}

float Importer::attr_float(const std::string& name, float def) const {
    const auto* a = attr(name);
    if (!a) return def;
    expect_attr_type(*a, onnx::AttributeProto_AttributeType_FLOAT, "a FLOAT");
    return a->f();
}

std::string Importer::attr_string(const std::string& name, const std::string& def) const {
    const auto* a = attr(name);
    if (!a) return def;
    expect_attr_type(*a, onnx::AttributeProto_AttributeType_STRING, "a STRING");
    return a->s();
}

std::optional<std::vector<int64_t>> Importer::attr_ints(const std::string& name) const {
    const auto* a = attr(name);
    if (!a) return std::nullopt;
    expect_attr_type(*a, onnx::AttributeProto_AttributeType_INTS, "a list of INTs");
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

int Importer::in_id(int k) const {
    if (k >= node_->input_size() || node_->input(k).empty()) return -1;
    auto it = id_of_.find(node_->input(k));
    if (it == id_of_.end()) node_fail("input '", node_->input(k), "' is not available");
    return it->second;
}

const ValueDecl* Importer::const_decl(int k) const {
    const int id = in_id(k);
    if (id < 0 || !net_.values[id].is_initializer()) return nullptr;
    return &net_.values[id];
}

const Tensor& Importer::const_float(int k, const std::string& what) const {
    const ValueDecl* v = const_decl(k);
    if (in_id(k) < 0) node_fail("needs input ", k, " (", what, ")");
    if (!v) node_fail(what, " '", node_->input(k), "' must be a constant (an initializer or Constant node)");
    if (!v->init_f) node_fail(what, " '", node_->input(k), "' must be FLOAT");
    return *v->init_f;
}

void Importer::only_first_output(const std::string& what) const {
    for (int k = 1; k < node_->output_size(); ++k)
        if (!node_->output(k).empty()) node_fail("the ", what, " output '", node_->output(k), "' is not supported");
}

int Importer::new_value(const std::string& onnx_name, ValueDecl v) {
    v.name = onnx_name;
    const int id = net_.add_value(std::move(v));
    id_of_[onnx_name] = id;
    auto it = name_uses_.find(onnx_name);
    uses_[id] = it == name_uses_.end() ? 0 : it->second;
    return id;
}

std::vector<int> Importer::emit(const std::string& name, OpPtr op, const std::vector<int>& inputs,
                                const std::vector<std::string>& outputs) {
    bool all_const = !inputs.empty();
    for (int id : inputs)
        if (id >= 0 && !net_.values[id].is_initializer()) all_const = false;
    std::vector<int> ids;
    if (all_const) {
        // Evaluate now, as the planner would: infer() computes shape arithmetic, run() the rest.
        std::vector<ValueInfo> infos(inputs.size());
        std::vector<const ValueInfo*> ptrs;
        std::vector<const Tensor*> tensors;
        for (size_t k = 0; k < inputs.size(); ++k) {
            if (inputs[k] < 0) {
                ptrs.push_back(nullptr);
                tensors.push_back(nullptr);
                continue;
            }
            const ValueDecl& d = net_.values[inputs[k]];
            infos[k].dtype = d.dtype;
            infos[k].shape = d.init_f ? d.init_f->shape : d.shape;
            infos[k].fconst = d.init_f;
            infos[k].iconst = d.init_i;
            ptrs.push_back(&infos[k]);
            tensors.push_back(d.init_f.get());
        }
        std::vector<ValueInfo> out = op->infer(ptrs);
        if (out.size() < outputs.size()) node_fail("produces ", out.size(), " outputs, expected ", outputs.size());
        bool need_run = false, float_out = true;
        for (size_t j = 0; j < outputs.size(); ++j) {
            need_run = need_run || !out[j].is_const();
            float_out = float_out && out[j].dtype == DType::Float;
        }
        if (!need_run || float_out) {
            if (need_run) {
                std::vector<std::shared_ptr<Tensor>> res;
                std::vector<Tensor*> res_ptrs;
                for (size_t j = 0; j < outputs.size(); ++j) {
                    res.push_back(std::make_shared<Tensor>(out[j].shape));
                    res_ptrs.push_back(res.back().get());
                }
                const ExecContext ctx{1};
                op->run(RunArgs{tensors, ptrs, res_ptrs, ctx});
                for (size_t j = 0; j < outputs.size(); ++j) out[j].fconst = res[j];
            }
            for (int id : inputs) release_constant(id);
            for (size_t j = 0; j < outputs.size(); ++j) {
                ValueDecl v;
                v.dtype = out[j].dtype;
                v.shape = out[j].shape;
                v.init_f = out[j].fconst;
                v.init_i = out[j].iconst;
                ids.push_back(new_value(outputs[j], std::move(v)));
            }
            return ids;
        }
    }
    Node n;
    n.name = name;
    n.op = std::move(op);
    n.inputs = inputs;
    for (const auto& o : outputs) {
        ValueDecl v;
        ids.push_back(new_value(o, std::move(v)));
        producer_[ids.back()] = static_cast<int>(net_.nodes.size());
    }
    n.outputs = ids;
    net_.nodes.push_back(std::move(n));
    return ids;
}

void Importer::release_constant(int id) {
    if (id < 0) return;
    if (--uses_.at(id) <= 0) {
        net_.values[id].init_f.reset();
        net_.values[id].init_i.reset();
    }
}

void Importer::compact() {
    std::vector<char> used(net_.values.size(), 0);
    for (int id : net_.inputs) used[id] = 1;
    for (int id : net_.outputs) used[id] = 1;
    for (const Node& n : net_.nodes) {
        for (int id : n.inputs)
            if (id >= 0) used[id] = 1;
        for (int id : n.outputs) used[id] = 1;
    }
    std::vector<int> remap(net_.values.size(), -1);
    std::vector<ValueDecl> kept;
    for (size_t i = 0; i < net_.values.size(); ++i)
        if (used[i]) {
            remap[i] = static_cast<int>(kept.size());
            kept.push_back(std::move(net_.values[i]));
        }
    net_.values = std::move(kept);
    auto apply = [&](std::vector<int>& ids) {
        for (int& id : ids)
            if (id >= 0) id = remap[id];
    };
    apply(net_.inputs);
    apply(net_.outputs);
    for (Node& n : net_.nodes) {
        apply(n.inputs);
        apply(n.outputs);
    }
}

void Importer::alias_output(int in) {
    const std::string& out = out_name();
    if (graph_outputs_.count(out) || in < 0) {
        emit(node_name_, std::make_shared<IdentityOp>(), {in}, {out});
        return;
    }
    id_of_[out] = in;
    uses_[in] += name_uses_[out] - 1;
}

int Importer::foldable_layer(int id) const {
    if (id < 0 || uses_.at(id) != 1) return -1;
    auto it = producer_.find(id);
    if (it == producer_.end()) return -1;
    const Node& n = net_.nodes[it->second];
    const std::optional<WeightLayer> w = n.op->as_weight_layer();
    return w && !w->quantized() ? it->second : -1;
}

void Importer::replace_layer(int node_index, OpPtr op, const std::string& new_output_name) {
    Node& n = net_.nodes[node_index];
    n.op = std::move(op);
    const int id = n.outputs.at(0);
    net_.values[id].name = new_output_name;
    id_of_[new_output_name] = id;
    uses_[id] = name_uses_[new_output_name];
}

// ---------------------------------------------------------------------------------------------
// Operator handlers

void Importer::simple(OpPtr op, int n_inputs) {
    std::vector<int> ins;
    const int n = n_inputs < 0 ? node_->input_size() : std::min(n_inputs, node_->input_size());
    for (int k = 0; k < n; ++k) ins.push_back(in_id(k));
    for (int k = n; k < node_->input_size(); ++k)
        if (!node_->input(k).empty()) node_fail("input ", k, " ('", node_->input(k), "') is not supported");
    only_first_output("extra");
    emit(node_name_, std::move(op), ins, {out_name()});
}

void Importer::conv() {
    const Tensor& w = const_float(1, "weight W");
    if (w.rank() == 5) node_fail("3-D convolution is not supported (only 1-D and 2-D)");
    if (w.rank() != 3 && w.rank() != 4)
        node_fail("weight W must be {C_t, C_s/group, k} or {C_t, C_s/group, k_h, k_w}, got ", to_string(w.shape));
    const int sp = w.rank() - 2;
    std::vector<float> bias;
    if (in_id(2) >= 0) {
        const Tensor& b = const_float(2, "bias B");
        bias.assign(b.data.begin(), b.data.end());
    }
    auto list = [&](const char* name, size_t n, int64_t def) {
        std::vector<int64_t> v = attr_ints(name).value_or(std::vector<int64_t>(n, def));
        if (v.size() != n) node_fail("attribute '", name, "' has ", v.size(), " entries, expected ", n);
        return v;
    };
    const auto strides = list("strides", sp, 1);
    const auto dil = list("dilations", sp, 1);
    const auto pads = list("pads", 2 * sp, 0);
    if (auto ks = attr_ints("kernel_shape"))
        if (*ks != Shape(w.shape.begin() + 2, w.shape.end()))
            node_fail("kernel_shape does not match the weight ", to_string(w.shape));
    ConvParams p;
    p.group = attr_int("group", 1);
    p.auto_pad = attr_string("auto_pad", "NOTSET");
    Tensor w4 = w;
    if (sp == 2) {
        p.stride_h = strides[0];
        p.stride_w = strides[1];
        p.dilation_h = dil[0];
        p.dilation_w = dil[1];
        p.pad_top = pads[0];
        p.pad_left = pads[1];
        p.pad_bottom = pads[2];
        p.pad_right = pads[3];
    } else {
        p.stride_w = strides[0];
        p.dilation_w = dil[0];
        p.pad_left = pads[0];
        p.pad_right = pads[1];
        w4.reshape({w.shape[0], w.shape[1], 1, w.shape[2]});
    }
    p.kernel_h = w4.shape[2];
    p.kernel_w = w4.shape[3];
    auto op = std::make_shared<ConvOp>(p, std::move(w4), std::move(bias));
    release_constant(in_id(1));
    release_constant(in_id(2));
    only_first_output("extra");
    if (sp == 2) {
        emit(node_name_, op, {in_id(0)}, {out_name()});
        return;
    }
    // 1-D: {N, C, L} -> {N, C, 1, L} -> 2-D conv -> {N, C_t, L'}.
    const int u = emit(node_name_ + "/unsqueeze", std::make_shared<UnsqueezeOp>(std::vector<int64_t>{2}), {in_id(0)},
                       {out_name() + "/nchw_in"})[0];
    const int c = emit(node_name_, op, {u}, {out_name() + "/nchw_out"})[0];
    emit(node_name_ + "/squeeze", std::make_shared<SqueezeOp>(std::vector<int64_t>{2}), {c}, {out_name()});
}

void Importer::gemm() {
    GemmParams gp;
    gp.alpha = attr_float("alpha", 1.0f);
    gp.beta = attr_float("beta", 1.0f);
    gp.trans_a = attr_int("transA", 0) != 0;
    gp.trans_b = attr_int("transB", 0) != 0;
    const ValueDecl* b = const_decl(1);
    if (!gp.trans_a && b && b->init_f && b->init_f->rank() == 2) {
        const Tensor& bt = *b->init_f;
        const int64_t n_out = gp.trans_b ? bt.shape[0] : bt.shape[1];
        const int64_t k = gp.trans_b ? bt.shape[1] : bt.shape[0];
        std::optional<std::vector<float>> bias;
        if (in_id(2) < 0 || gp.beta == 0.0f) {
            bias.emplace();
        } else if (const ValueDecl* c = const_decl(2); c && c->init_f && is_row_bias(c->init_f->shape, n_out, 2, 0)) {
            const Tensor& ct = *c->init_f;
            bias.emplace(n_out);
            for (int64_t j = 0; j < n_out; ++j) (*bias)[j] = gp.beta * ct.data[ct.size() == 1 ? 0 : j];
        }
        if (bias) {
            Tensor w({n_out, k});
            for (int64_t o = 0; o < n_out; ++o)
                for (int64_t i = 0; i < k; ++i)
                    w.data[o * k + i] = gp.alpha * (gp.trans_b ? bt.data[o * k + i] : bt.data[i * n_out + o]);
            only_first_output("extra");
            auto op = std::make_shared<FcOp>(std::move(w), std::move(*bias), "Gemm");
            release_constant(in_id(1));
            release_constant(in_id(2));
            emit(node_name_, std::move(op), {in_id(0)}, {out_name()});
            return;
        }
    }
    simple(std::make_shared<GemmOp>(gp), 3);
}

void Importer::matmul() {
    const ValueDecl* b = const_decl(1);
    if (b && b->init_f && b->init_f->rank() == 2) {
        const Tensor& bt = *b->init_f;
        const int64_t k = bt.shape[0], n = bt.shape[1];
        Tensor w({n, k});
        for (int64_t i = 0; i < k; ++i)
            for (int64_t o = 0; o < n; ++o) w.data[o * k + i] = bt.data[i * n + o];
        only_first_output("extra");
        auto op = std::make_shared<FcOp>(std::move(w), std::vector<float>{}, "MatMul");
        release_constant(in_id(1));
        emit(node_name_, std::move(op), {in_id(0)}, {out_name()});
        return;
    }
    simple(std::make_shared<MatMulOp>(), 2);
}

void Importer::add_bias() {
    if (node_->input_size() == 2) {
        // A constant per-channel vector added to a layer's only output becomes its bias.
        for (int side = 0; side < 2; ++side) {
            const int layer = foldable_layer(in_id(side));
            const ValueDecl* c = const_decl(1 - side);
            if (layer < 0 || !c || !c->init_f) continue;
            const WeightLayer w = *net_.nodes[layer].op->as_weight_layer();
            const Shape& cs = c->init_f->shape;
            const bool conv = w.kind == LayerKind::Conv;
            if (is_row_bias(cs, w.out_channels, conv ? 4 : 2, conv ? 2 : 0)) {
                ChannelAffine aff;
                aff.scale.assign(w.out_channels, 1.0f);
                for (int64_t j = 0; j < w.out_channels; ++j) aff.shift.push_back(c->init_f->data[numel(cs) > 1 ? j : 0]);
                replace_layer(layer, fold_into(w, aff), out_name());
                release_constant(in_id(1 - side));
                return;
            }
        }
    }
    simple(std::make_shared<BinaryOp>(BinaryKind::Add), 2);
}

void Importer::clip() {
    if (opset_ < 11) {
        simple(std::make_shared<ClipOp>(attr_float("min", std::numeric_limits<float>::lowest()),
                                        attr_float("max", std::numeric_limits<float>::max())),
               1);
        return;
    }
    simple(std::make_shared<ClipOp>(), 3);
}

void Importer::pool(PoolKind kind) {
    only_first_output("Indices");
    PoolParams p;
    p.kind = kind;
    auto ks = attr_ints("kernel_shape");
    if (!ks) node_fail("attribute 'kernel_shape' is required");
    p.kernel = *ks;
    if (p.kernel.size() > 3) node_fail(p.kernel.size(), "-D pooling is not supported (1-D to 3-D only)");
    p.strides = attr_ints("strides").value_or(std::vector<int64_t>{});
    p.pads = attr_ints("pads").value_or(std::vector<int64_t>{});
    p.dilations = attr_ints("dilations").value_or(std::vector<int64_t>{});
    p.auto_pad = attr_string("auto_pad", "NOTSET");
    p.ceil_mode = attr_int("ceil_mode", 0) != 0;
    p.count_include_pad = attr_int("count_include_pad", 0) != 0;
    simple(std::make_shared<PoolOp>(p), 1);
}

void Importer::batchnorm() {
    if (attr_int("training_mode", 0) != 0) node_fail("training_mode=1 is not supported (inference only)");
    if (attr_int("spatial", 1) != 1) node_fail("spatial=0 (per-activation statistics) is not supported");
    only_first_output("training statistics");
    const float eps = attr_float("epsilon", 1e-5f);
    auto vec = [&](int k, const char* what) {
        const Tensor& t = const_float(k, what);
        return std::vector<float>(t.data.begin(), t.data.end());
    };
    const ChannelAffine aff = batchnorm_affine(vec(1, "scale"), vec(2, "B"), vec(3, "input_mean"), vec(4, "input_var"), eps);
    for (int k = 1; k <= 4; ++k) release_constant(in_id(k));
    if (opts_.fold_batchnorm) {
        const int layer = foldable_layer(in_id(0));
        if (layer >= 0) {
            const WeightLayer w = *net_.nodes[layer].op->as_weight_layer();
            // Gemm's output is 2-D, so its channel axis 1 is the feature axis.
            if ((w.kind == LayerKind::Conv || w.source_type == "Gemm") &&
                w.out_channels == static_cast<int64_t>(aff.scale.size())) {
                replace_layer(layer, fold_into(w, aff), out_name());
                return;
            }
        }
    }
    emit(node_name_, std::make_shared<BatchNormOp>(aff), {in_id(0)}, {out_name()});
}

void Importer::pad() {
    const std::string mode_s = attr_string("mode", "constant");
    PadMode mode;
    if (mode_s == "constant")
        mode = PadMode::Constant;
    else if (mode_s == "reflect")
        mode = PadMode::Reflect;
    else if (mode_s == "edge")
        mode = PadMode::Edge;
    else
        node_fail("mode '", mode_s, "' is not supported (constant, reflect, edge)");
    if (opset_ < 11) {
        auto pads = attr_ints("pads");
        if (!pads) pads = attr_ints("paddings");
        if (!pads) node_fail("attribute 'pads' is required");
        simple(std::make_shared<PadOp>(mode, pads, attr_float("value", 0.0f)), 1);
        return;
    }
    simple(std::make_shared<PadOp>(mode, std::nullopt, 0.0f), 4);
}

void Importer::dropout() {
    only_first_output("mask");
    if (in_id(2) >= 0) {
        const ValueDecl* t = const_decl(2);
        bool off = t && t->init_i;
        if (off)
            for (int64_t v : *t->init_i) off = off && v == 0;
        if (!off) node_fail("training_mode must be a constant false (inference only)");
    }
    alias_output(in_id(0));
}

void Importer::constant() {
    only_first_output("extra");
    ValueDecl v;
    const std::string what = cat(src_, ": node '", node_name_, "' (Constant)");
    if (const auto* a = attr("value")) {
        expect_attr_type(*a, onnx::AttributeProto_AttributeType_TENSOR, "a TENSOR");
        v = parse_tensor(a->t(), what);
    } else if (attr("value_float")) {
        v.dtype = DType::Float;
        v.init_f = std::make_shared<Tensor>(Shape{}, attr_float("value_float", 0.0f));
    } else if (const auto* a = attr("value_floats")) {
        expect_attr_type(*a, onnx::AttributeProto_AttributeType_FLOATS, "a list of FLOATs");
        auto t = std::make_shared<Tensor>(Shape{a->floats_size()});
        std::copy(a->floats().begin(), a->floats().end(), t->data.begin());
        v.dtype = DType::Float;
        v.init_f = std::move(t);
    } else if (attr("value_int")) {
        v.dtype = DType::Int64;
        v.init_i = std::make_shared<std::vector<int64_t>>(1, attr_int("value_int", 0));
    } else if (auto ints = attr_ints("value_ints")) {
        v.dtype = DType::Int64;
        v.shape = {static_cast<int64_t>(ints->size())};
        v.init_i = std::make_shared<std::vector<int64_t>>(std::move(*ints));
    } else {
        node_fail("only the value, value_float(s) and value_int(s) attributes are supported");
    }
    if (v.init_f) v.shape = v.init_f->shape;
    new_value(out_name(), std::move(v));
}

void Importer::cast() {
    const int64_t to = attr_int("to", 0);
    if (to == onnx::TensorProto_DataType_FLOAT)
        simple(std::make_shared<CastOp>(DType::Float), 1);
    else if (to == onnx::TensorProto_DataType_INT64)
        simple(std::make_shared<CastOp>(DType::Int64), 1);
    else
        node_fail("Cast to ", elem_type_name(static_cast<int32_t>(to)), " is not supported (only FLOAT and INT64)");
}

// The operator registry: the importer's dispatch, supported_onnx_ops(), the error for an
// unknown op and docs/onnx-ops.md (onnx_ops_markdown()) all read this one table.
const std::vector<Importer::Entry>& Importer::registry() {
    using I = Importer;
    static const std::vector<Entry> table = [] {
        std::vector<Entry> v = {
            {"Add", "numpy broadcasting; a constant per-channel vector added to a Conv/Fc output becomes its bias",
             [](I& im) { im.binary(BinaryKind::Add); }},
            {"AveragePool", "1-D to 3-D; pads, strides, dilations, ceil_mode, count_include_pad",
             [](I& im) { im.pool(PoolKind::Average); }},
            {"BatchNormalization", "inference form; folded into the preceding Conv/Fc where it is that layer's only use",
             [](I& im) { im.batchnorm(); }},
            {"Cast", "to FLOAT or INT64", [](I& im) { im.cast(); }},
            {"Clip", "bounds as attributes (opset < 11) or scalar inputs", [](I& im) { im.clip(); }},
            {"Concat", "any axis", [](I& im) { im.concat(); }},
            {"Constant", "value, value_float(s), value_int(s)", [](I& im) { im.constant(); }},
            {"Conv", "1-D and 2-D, groups (depthwise included), strides, pads, dilations, auto_pad; constant weights",
             [](I& im) { im.conv(); }},
            {"Div", "numpy broadcasting; INT64 shape arithmetic truncates", [](I& im) { im.binary(BinaryKind::Div); }},
            {"Dropout", "inference: elided", [](I& im) { im.dropout(); }},
            {"Erf", "", [](I& im) { im.activation(ActivationKind::Erf); }},
            {"Flatten", "", [](I& im) { im.simple(std::make_shared<FlattenOp>(im.attr_int("axis", 1)), 1); }},
            {"Gather", "plan-time indices", [](I& im) { im.simple(std::make_shared<GatherOp>(im.attr_int("axis", 0)), 2); }},
            {"Gemm", "constant B and transA = 0 -> fully-connected layer; otherwise general", [](I& im) { im.gemm(); }},
            {"GlobalAveragePool", "", [](I& im) { im.simple(std::make_shared<GlobalAveragePoolOp>(), 1); }},
            {"HardSigmoid", "alpha, beta; HardSigmoid(1/6, 1/2) times its input fuses into HardSwish",
             [](I& im) { im.activation(ActivationKind::HardSigmoid); }},
            {"HardSwish", "", [](I& im) { im.activation(ActivationKind::HardSwish); }},
            {"Identity", "elided", [](I& im) { im.identity(); }},
            {"LayerNormalization", "opset 17; constant Scale and B; Mean and InvStdDev outputs",
             [](I& im) { im.layer_norm(); }},
            {"LeakyRelu", "", [](I& im) { im.activation(ActivationKind::LeakyRelu); }},
            {"MatMul", "by a constant 2-D matrix -> fully-connected layer on the last axis; otherwise general",
             [](I& im) { im.matmul(); }},
            {"MaxPool", "1-D to 3-D; no Indices output", [](I& im) { im.pool(PoolKind::Max); }},
            {"Mul", "numpy broadcasting", [](I& im) { im.binary(BinaryKind::Mul); }},
            {"Pad", "constant, reflect, edge", [](I& im) { im.pad(); }},
            {"Pow", "FLOAT base and exponent", [](I& im) { im.binary(BinaryKind::Pow); }},
            {"ReduceMean", "axes as attribute (opset < 18) or input (opset 18); keepdims, noop_with_empty_axes",
             [](I& im) { im.reduce(ReduceKind::Mean, 18); }},
            {"ReduceSum", "axes as attribute (opset < 13) or input; keepdims, noop_with_empty_axes",
             [](I& im) { im.reduce(ReduceKind::Sum, 13); }},
            {"Relu", "", [](I& im) { im.activation(ActivationKind::Relu); }},
            {"Reshape", "plan-time shape; allowzero", [](I& im) { im.reshape(); }},
            {"Shape", "start, end", [](I& im) { im.shape(); }},
            {"Sigmoid", "", [](I& im) { im.activation(ActivationKind::Sigmoid); }},
            {"Slice", "plan-time starts, ends, axes, steps", [](I& im) { im.slice(); }},
            {"Softmax", "opset < 13: coerced to 2-D at axis; opset 13: one axis",
             [](I& im) {
                 im.simple(std::make_shared<SoftmaxOp>(im.attr_int("axis", im.opset_ < 13 ? 1 : -1), im.opset_ < 13), 1);
             }},
            {"Sqrt", "", [](I& im) { im.activation(ActivationKind::Sqrt); }},
            {"Squeeze", "axes as attribute (opset < 13) or input", [](I& im) { im.squeeze(); }},
            {"Sub", "numpy broadcasting", [](I& im) { im.binary(BinaryKind::Sub); }},
            {"Tanh", "", [](I& im) { im.activation(ActivationKind::Tanh); }},
            {"Transpose", "", [](I& im) {
                 im.simple(std::make_shared<TransposeOp>(im.attr_ints("perm").value_or(std::vector<int64_t>{})), 1);
             }},
            {"Unsqueeze", "axes as attribute (opset < 13) or input", [](I& im) { im.unsqueeze(); }},
        };
        std::sort(v.begin(), v.end(), [](const Entry& a, const Entry& b) { return std::string(a.op) < b.op; });
        for (size_t i = 1; i < v.size(); ++i)
            QCNN_ASSERT(std::string(v[i - 1].op) != v[i].op, "operator ", v[i].op, " registered twice");
        return v;
    }();
    return table;
}

void Importer::import_node() {
    const std::string& t = node_->op_type();
    if (node_->output_size() < 1 || node_->output(0).empty()) node_fail("has no output");
    const auto& reg = registry();
    auto it = std::lower_bound(reg.begin(), reg.end(), t, [](const Entry& e, const std::string& k) { return e.op < k; });
    if (it == reg.end() || t != it->op)
        throw ImportError(cat(src_, ": node '", node_name_, "' uses op '", t, "', which is not supported; supported ops: ",
                              join(supported_onnx_ops())));
    it->handle(*this);
}

void Importer::binary(BinaryKind kind) {
    if (kind == BinaryKind::Add) return add_bias();
    simple(std::make_shared<BinaryOp>(kind), 2);
}

void Importer::activation(ActivationKind kind) {
    float alpha = 0.01f, beta = 0.0f;
    if (kind == ActivationKind::LeakyRelu) alpha = attr_float("alpha", 0.01f);
    if (kind == ActivationKind::HardSigmoid) {
        alpha = attr_float("alpha", 0.2f);
        beta = attr_float("beta", 0.5f);
    }
    simple(std::make_shared<ActivationOp>(kind, alpha, beta), 1);
}

void Importer::identity() {
    only_first_output("extra");
    alias_output(in_id(0));
}

void Importer::concat() {
    if (!attr("axis")) node_fail("attribute 'axis' is required");
    simple(std::make_shared<ConcatOp>(attr_int("axis", 0)), -1);
}

void Importer::reshape() {
    if (opset_ < 5) {
        auto s = attr_ints("shape");
        if (!s) node_fail("attribute 'shape' is required");
        return simple(std::make_shared<ReshapeOp>(false, Shape(s->begin(), s->end())), 1);
    }
    simple(std::make_shared<ReshapeOp>(attr_int("allowzero", 0) != 0), 2);
}

void Importer::shape() {
    const auto* e = attr("end");
    simple(std::make_shared<ShapeOp>(attr_int("start", 0), e ? std::optional<int64_t>(attr_int("end", 0)) : std::nullopt),
           1);
}

void Importer::unsqueeze() {
    if (opset_ < 13) {
        auto axes = attr_ints("axes");
        if (!axes) node_fail("attribute 'axes' is required");
        return simple(std::make_shared<UnsqueezeOp>(axes), 1);
    }
    simple(std::make_shared<UnsqueezeOp>(), 2);
}

void Importer::squeeze() {
    if (opset_ < 13) return simple(std::make_shared<SqueezeOp>(attr_ints("axes")), 1);
    simple(std::make_shared<SqueezeOp>(), 2);
}

void Importer::slice() {
    if (opset_ < 10) {
        SliceAttrs a;
        auto starts = attr_ints("starts"), ends = attr_ints("ends");
        if (!starts || !ends) node_fail("attributes 'starts' and 'ends' are required");
        a.starts = *starts;
        a.ends = *ends;
        a.axes = attr_ints("axes").value_or(std::vector<int64_t>{});
        return simple(std::make_shared<SliceOp>(a), 1);
    }
    simple(std::make_shared<SliceOp>(), 5);
}

void Importer::reduce(ReduceKind kind, int64_t axes_input_from) {
    ReduceParams p;
    p.kind = kind;
    p.keepdims = attr_int("keepdims", 1) != 0;
    p.noop_with_empty_axes = attr_int("noop_with_empty_axes", 0) != 0;
    if (opset_ < axes_input_from) {
        p.axes = attr_ints("axes");
        return simple(std::make_shared<ReduceOp>(p), 1);
    }
    if (attr("axes")) node_fail("attribute 'axes' is not allowed at opset ", opset_, " (axes are input 1)");
    p.axes_from_input = true;
    simple(std::make_shared<ReduceOp>(p), 2);
}

void Importer::layer_norm() {
    const int64_t stash = attr_int("stash_type", 1);
    if (stash != 1) node_fail("stash_type ", stash, " is not supported (1: statistics in float; qcnn uses double)");
    const Tensor& scale = const_float(1, "Scale");
    std::vector<float> bias;
    if (in_id(2) >= 0) {
        const Tensor& b = const_float(2, "B");
        bias.assign(b.data.begin(), b.data.end());
    }
    int outputs = 1;
    for (int k = 1; k < node_->output_size() && k < 3; ++k)
        if (!node_->output(k).empty()) outputs = k + 1;
    if (node_->output_size() > 3) node_fail("has ", node_->output_size(), " outputs (at most 3: Y, Mean, InvStdDev)");
    std::vector<std::string> outs;
    for (int k = 0; k < outputs; ++k)
        outs.push_back(node_->output(k).empty() ? cat(node_name_, ":unused_output_", k) : node_->output(k));
    auto op = std::make_shared<LayerNormOp>(attr_int("axis", -1), attr_float("epsilon", 1e-5f), scale, std::move(bias),
                                            outputs);
    release_constant(in_id(1));
    release_constant(in_id(2));
    emit(node_name_, std::move(op), {in_id(0)}, outs);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API

const std::vector<std::string>& supported_onnx_ops() {
    static const std::vector<std::string> ops = [] {
        std::vector<std::string> v;
        for (const auto& e : Importer::registry()) v.push_back(e.op);
        return v;
    }();
    return ops;
}

std::string onnx_ops_markdown() {
    std::string s =
        "# Supported ONNX operators\n\n"
        "Generated from the importer's registry (core/io/onnx_import.cpp) by `qcnn info --ops`; a test checks that\n"
        "this file matches it. Any other operator is refused with an error naming the node and this list.\n"
        "Data types: FLOAT tensors, and INT64 for shapes and indices (folded at plan time).\n\n"
        "| operator | notes |\n|---|---|\n";
    for (const auto& e : Importer::registry()) s += cat("| ", e.op, " | ", e.note, " |\n");
    s += "\nFused after import (ImportOptions::fuse): LayerNorm as PyTorch exports it before opset 17 "
         "(ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, optional Mul and Add) -> LayerNormalization; "
         "exact GELU (Div by sqrt 2, Erf, Add 1, Mul, Mul 0.5) -> Gelu; HardSigmoid(1/6, 1/2) x input -> HardSwish.\n";
    return s;
}

Network import_onnx_bytes(const std::string& bytes, const std::string& source_name, const ImportOptions& opts) {
    onnx::ModelProto m = parse_model_bytes(bytes, source_name);
    return Importer(m, source_name, opts).run();
}

Network import_onnx(const std::string& path, const ImportOptions& opts) {
    onnx::ModelProto m = parse_model_file(path);
    return Importer(m, path, opts).run();
}

ValueDecl read_tensor_pb(const std::string& path) {
    const std::string bytes = read_file(path);
    onnx::TensorProto t;
    if (bytes.size() > static_cast<size_t>(INT_MAX) || !t.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        fail(path, ": not a valid ONNX TensorProto (protobuf parse failed)");
    return parse_tensor(t, cat(path, ": tensor '", t.name(), "'"));
}

OnnxModelInfo read_onnx_info(const std::string& path) {
    const onnx::ModelProto m = parse_model_file(path);
    OnnxModelInfo info;
    info.opset = ai_onnx_opset(m);
    std::set<std::string> inits;
    for (const auto& t : m.graph().initializer()) inits.insert(t.name());
    for (const auto& vi : m.graph().input())
        if (!inits.count(vi.name())) info.inputs.push_back(value_info(vi));
    for (const auto& vi : m.graph().output()) info.outputs.push_back(value_info(vi));
    for (const auto& n : m.graph().node()) {
        const std::string t = is_ai_onnx(n.domain()) ? n.op_type() : n.domain() + ":" + n.op_type();
        if (std::find(info.op_types.begin(), info.op_types.end(), t) == info.op_types.end()) info.op_types.push_back(t);
    }
    return info;
}

}  // namespace qcnn
