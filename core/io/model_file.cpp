#include "core/io/model_file.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <onnx/onnx_pb.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <memory>
#include <sstream>

#include "core/io/onnx_import.h"
#include "core/ops/conv.h"
#include "core/train/backward.h"
#include "core/ops/elementwise.h"
#include "core/quant/weight_layer_factory.h"
#include "core/util/error.h"
#include "core/util/hdf5_handle.h"
#include "core/util/sha256.h"

namespace qcnn {

namespace {

constexpr const char* kFormat = "qcnn-quantized-model";
// Version 2: quantized layers are weightless placeholder nodes in /onnx, built on load straight
// from their records (which carry the conv window); version 1 stored the float nodes with
// their weights stripped, so loading rebuilt dense layers. Version 1 files are refused.
// Version 3 = version 2 + parameter overrides (/overrides, attributes "overrides" and
// "overrides_sha256"): the trained values of layers left dense and of BatchNorm nodes, written
// only when the network's values differ from its source graph's (fine-tuning); a file without
// any stays version 2, readable by builds that know only version 2.
// Version 4 = version 3 without the second copy: the initializers of a node whose parameters
// the overrides give in full are stored without values (dims and type kept; attribute
// "emptied", one "initializer node" line each) and refilled with zeros before import, so a
// fine-tuned dense layer's weights are in the file once. Written whenever there are overrides.
constexpr const char* kVersion = "2";
constexpr const char* kVersionOverrides = "3";
constexpr const char* kVersionEmptied = "4";
// The op type and doc string of a quantized layer's placeholder node in /onnx.
constexpr const char* kPlaceholderOp = "Relu";
constexpr const char* kPlaceholderDoc = "qcnn: quantized layer, built from its record in the 'layers' attribute";

std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open file");
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string get_attr(hid_t file, const std::string& path, const char* name, bool required = true) {
    if (H5Aexists(file, name) <= 0) {
        if (required) fail(path, ": not a QCNN quantized model file (attribute '", name, "' missing)");
        return {};
    }
    hsize_t dims = 0;
    H5T_class_t cls;
    size_t size = 0;
    if (H5LTget_attribute_info(file, "/", name, &dims, &cls, &size) < 0 || cls != H5T_STRING || size > (1u << 26))
        fail(path, ": attribute '", name, "' is not a string");
    std::string s(size + 1, '\0');
    if (H5LTget_attribute_string(file, "/", name, s.data()) < 0) fail(path, ": cannot read attribute '", name, "'");
    s.resize(std::strlen(s.c_str()));
    return s;
}

void set_attr(hid_t file, const std::string& path, const char* name, const std::string& value) {
    if (H5LTset_attribute_string(file, "/", name, value.c_str()) < 0)
        fail(path, ": cannot write attribute '", name, "'");
}

std::string read_u8(hid_t file, const std::string& path, const char* name) {
    if (H5LTfind_dataset(file, name) <= 0) fail(path, ": data set '/", name, "' missing");
    int rank = 0;
    if (H5LTget_dataset_ndims(file, name, &rank) < 0 || rank != 1) fail(path, ": data set '/", name, "' is not 1-D");
    hsize_t n = 0;
    H5T_class_t cls;
    size_t size = 0;
    if (H5LTget_dataset_info(file, name, &n, &cls, &size) < 0 || cls != H5T_INTEGER || size != 1)
        fail(path, ": data set '/", name, "' is not uint8");
    // The format stores the data sets uncompressed, so a declared size beyond the file's is
    // corrupt: refused before allocating.
    std::error_code ec;
    const auto file_size = std::filesystem::file_size(path, ec);
    if (!ec && n > file_size)
        fail(path, ": data set '/", name, "' declares ", n, " bytes but the file has only ", file_size, " (corrupt file?)");
    std::string out(n, '\0');
    if (n && H5LTread_dataset(file, name, H5T_NATIVE_UINT8, out.data()) < 0)
        fail(path, ": cannot read data set '/", name, "'");
    return out;
}

void write_u8(hid_t file, const std::string& path, const char* name, const std::string& bytes) {
    hsize_t n = bytes.size();
    if (H5LTmake_dataset(file, name, 1, &n, H5T_NATIVE_UINT8, bytes.data()) < 0)
        fail(path, ": cannot write data set '/", name, "'");
}

std::string onnx_node_name(const onnx::NodeProto& nd, int i) {
    return nd.name().empty() ? cat(nd.op_type(), "_", i) : nd.name();
}

std::string shape_token(const Shape& s) {
    std::string t;
    for (size_t i = 0; i < s.size(); ++i) t += (i ? "x" : "") + std::to_string(s[i]);
    return t;
}

Shape parse_shape_token(const std::string& t, const std::string& what) {
    Shape s;
    std::stringstream ss(t);
    std::string part;
    while (std::getline(ss, part, 'x')) {
        try {
            s.push_back(std::stoll(part));
        } catch (...) {
            fail(what, ": bad shape '", t, "'");
        }
    }
    return s;
}

template <class T>
void append(std::string& blob, const T* p, size_t n, int64_t& off, int64_t& len) {
    off = static_cast<int64_t>(blob.size());
    len = static_cast<int64_t>(n * sizeof(T));
    blob.append(reinterpret_cast<const char*>(p), n * sizeof(T));
}

// NaN or infinity in stored values: refused, naming the layer, the part and the position.
void check_finite(const float* v, int64_t n, const std::string& what) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(v[i]))
            fail(what, ": value ", i, " is ", v[i], "; weights must be finite (corrupt file?)");
}

struct LayerRecord {
    std::string node, kind;
    int64_t groups = 1, dsub = 0, K = 0;
    int bits = 0;
    Shape weight_shape;
    int64_t cb_off = 0, cb_len = 0, codes_off = 0, codes_len = 0, bias_off = 0, bias_len = 0;
    std::string window = "-";  // conv: stride_h,stride_w,pad_top,pad_left,pad_bottom,pad_right,dil_h,dil_w,auto_pad
};

std::string window_token(const ConvParams& p) {
    return cat(p.stride_h, ',', p.stride_w, ',', p.pad_top, ',', p.pad_left, ',', p.pad_bottom, ',', p.pad_right, ',',
               p.dilation_h, ',', p.dilation_w, ',', p.auto_pad);
}

ConvParams parse_window_token(const std::string& t, int64_t groups, const std::string& what) {
    std::vector<std::string> f;
    std::stringstream ss(t);
    std::string part;
    while (std::getline(ss, part, ',')) f.push_back(part);
    if (f.size() != 9) fail(what, ": bad conv window '", t, "' (expected 8 integers and auto_pad, comma-separated)");
    ConvParams p;
    int64_t* ints[] = {&p.stride_h, &p.stride_w, &p.pad_top, &p.pad_left, &p.pad_bottom, &p.pad_right,
                       &p.dilation_h, &p.dilation_w};
    for (int i = 0; i < 8; ++i) {
        size_t used = 0;
        try {
            *ints[i] = std::stoll(f[i], &used);
        } catch (...) {
            used = 0;
        }
        if (used == 0 || used != f[i].size()) fail(what, ": bad conv window '", t, "'");
    }
    p.auto_pad = f[8];
    if (p.auto_pad != "NOTSET" && p.auto_pad != "SAME_UPPER" && p.auto_pad != "SAME_LOWER" && p.auto_pad != "VALID")
        fail(what, ": bad auto_pad '", p.auto_pad, "' in conv window '", t, "'");
    p.group = groups;
    return p;
}

// Version 3's parameter overrides: one record per parameter of a node that is not a quantized
// layer (a layer left dense, a BatchNorm) whose value differs from what the source graph gives
// that node, e.g. after fine-tuning. Record: "node index role shape offset length", index and
// role as the backward registry lists the op's parameters (core/train/backward.h), the float32
// LE values at offset..offset+length of /overrides.
struct OverrideRecord {
    std::string node, role;
    int64_t index = 0;
    Shape shape;
    int64_t off = 0, len = 0;
};

// One record line's fields (the shape token left to the caller); a malformed line is refused.
OverrideRecord parse_override(const std::string& line, std::string& shape, const std::string& path) {
    std::stringstream ls(line);
    OverrideRecord r;
    std::string extra;
    if (!(ls >> r.node >> r.index >> r.role >> shape >> r.off >> r.len) || (ls >> extra))
        fail(path, ": malformed parameter override '", line, "' (format version ", kVersionOverrides, " has 6 fields)");
    return r;
}

bool is_quantized_layer(const Op& op) {
    const std::optional<WeightLayer> v = op.as_weight_layer();
    return v && v->quantized();
}

// The records of `net` against `source` (the network its stored graph imports to), their
// values appended to `data`. A node with any parameter changed gets a record for every
// parameter (so its initializers can be stored emptied); its name goes to `complete`.
std::string override_table(const Network& net, const Network& source, std::string& data, const std::string& path,
                           std::set<std::string>& complete) {
    std::string table;
    for (const Node& n : net.nodes) {
        const BackwardEntry* e = backward_entry(*n.op);
        if (!e || !e->params || is_quantized_layer(*n.op)) continue;
        const int si = source.find_node(n.name);
        const std::vector<NamedParam> now = e->params(*n.op);
        std::vector<NamedParam> before;
        if (si >= 0 && backward_entry(*source.nodes[si].op) == e) before = e->params(*source.nodes[si].op);
        if (before.size() != now.size())
            fail(path, ": node '", n.name, "' (", n.op->type(), ") has no counterpart with the same parameters in the source model ",
                 net.source);
        bool changed = false;
        for (size_t i = 0; i < now.size() && !changed; ++i) {
            const Tensor& v = now[i].value;
            changed = v.shape != before[i].value.shape ||
                      std::memcmp(v.data.data(), before[i].value.data.data(), v.data.size() * sizeof(float)) != 0;
        }
        if (!changed) continue;
        complete.insert(n.name);
        for (size_t i = 0; i < now.size(); ++i) {
            const Tensor& v = now[i].value;
            int64_t off = 0, len = 0;
            append(data, v.data.data(), v.data.size(), off, len);
            table += cat(n.name, ' ', i, ' ', param_role_name(now[i].role), ' ', shape_token(v.shape), ' ', off, ' ', len, '\n');
        }
    }
    return table;
}

// Applies version 3's records to the loaded network: every record is checked (node, parameter,
// shape, bounds, finite values) and the node rebuilt from its stored values.
// Returns, per node name, the parameter indices the records gave.
std::map<std::string, std::set<int64_t>> apply_overrides(Network& net, const std::string& table, const std::string& data,
                                                         const std::string& path) {
    std::map<std::string, std::set<int64_t>> given;
    std::map<int, std::vector<NamedParam>> changed;  // node -> its parameters, overrides applied
    std::stringstream ts(table);
    std::string line;
    while (std::getline(ts, line)) {
        if (line.empty()) continue;
        std::string shape;
        OverrideRecord r = parse_override(line, shape, path);
        const std::string what = cat(path, ": parameter override of node '", r.node, "'");
        const int ni = net.find_node(r.node);
        if (ni < 0) fail(what, ": no such node in the stored graph");
        const Op& op = *net.nodes[ni].op;
        const BackwardEntry* e = backward_entry(op);
        if (!e || !e->params || is_quantized_layer(op))
            fail(what, ": its ", op.type(), " has no parameters a file may override");
        auto it = changed.find(ni);
        if (it == changed.end()) it = changed.emplace(ni, e->params(op)).first;
        std::vector<NamedParam>& params = it->second;
        if (r.index < 0 || r.index >= static_cast<int64_t>(params.size()) || r.role != param_role_name(params[r.index].role))
            fail(what, ": its ", op.type(), " has no parameter ", r.index, " '", r.role, "'");
        Tensor& v = params[r.index].value;
        r.shape = parse_shape_token(shape, what);
        if (r.shape != v.shape)
            fail(what, ": ", r.role, " of shape ", shape, ", the node's is ", shape_token(v.shape));
        const int64_t bytes = v.size() * 4;
        if (r.off < 0 || r.len != bytes || r.off > static_cast<int64_t>(data.size()) ||
            r.len > static_cast<int64_t>(data.size()) - r.off)
            fail(what, ": ", r.role, " has ", r.len, " bytes at offset ", r.off, ", expected ", bytes,
                 " within /overrides of ", data.size(), " bytes");
        std::memcpy(v.data.data(), data.data() + r.off, bytes);
        check_finite(v.data.data(), v.size(), cat(what, ": ", r.role));
        given[r.node].insert(r.index);
    }
    for (auto& [ni, params] : changed) {
        Node& n = net.nodes[ni];
        std::vector<Tensor> values;
        for (NamedParam& p : params) values.push_back(std::move(p.value));
        n.op = backward_entry(*n.op)->rebuild(*n.op, values);
    }
    return given;
}

// Version 4's "emptied" attribute: (initializer, node whose overrides give its values) pairs.
std::vector<std::pair<std::string, std::string>> parse_emptied(const std::string& table, const std::string& path) {
    std::vector<std::pair<std::string, std::string>> out;
    std::stringstream ts(table);
    std::string line;
    while (std::getline(ts, line)) {
        if (line.empty()) continue;
        std::stringstream ls(line);
        std::string init, node, extra;
        if (!(ls >> init >> node) || (ls >> extra))
            fail(path, ": malformed emptied-initializer record '", line, "' (format version ", kVersionEmptied,
                 " has 2 fields: initializer node)");
        out.emplace_back(init, node);
    }
    return out;
}

// /onnx of a version 4 file with its emptied initializers filled with zeros, so it imports; the
// overrides then give every value of their nodes. An emptied initializer holds no more values
// than its node's records (a weight, a bias, a folded BatchNorm vector of the bias's size), so
// a corrupt file cannot make the refill allocate more than its /overrides holds.
std::string refill_emptied(const std::string& onnx_bytes, const std::string& emptied, const std::string& overrides,
                           const std::string& path) {
    if (emptied.empty()) return onnx_bytes;
    std::map<std::string, std::string> want;  // initializer -> node
    for (auto& [init, node] : parse_emptied(emptied, path)) want[init] = node;
    std::map<std::string, int64_t> node_bytes;  // node -> bytes its records give
    {
        std::stringstream ts(overrides);
        std::string line;
        while (std::getline(ts, line)) {
            if (line.empty()) continue;
            std::string shape;
            const OverrideRecord r = parse_override(line, shape, path);
            if (r.len > 0) node_bytes[r.node] += r.len;
        }
    }
    onnx::ModelProto model;
    if (onnx_bytes.size() > static_cast<size_t>(INT32_MAX) || !model.ParseFromString(onnx_bytes))
        fail(path, ": /onnx is not a valid ONNX model (protobuf parse failed)");
    for (onnx::TensorProto& t : *model.mutable_graph()->mutable_initializer()) {
        const auto it = want.find(t.name());
        if (it == want.end()) continue;
        const std::string what = cat(path, ": emptied initializer '", t.name(), "' of node '", it->second, "'");
        if (t.data_type() != onnx::TensorProto::FLOAT || t.has_raw_data() || t.float_data_size() != 0 ||
            t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL)
            fail(what, ": not an emptied FLOAT tensor in the stored graph (corrupt file?)");
        Shape dims(t.dims().begin(), t.dims().end());
        for (int64_t d : dims)
            if (d < 0) fail(what, ": negative dimension (corrupt file?)");
        const int64_t n = dims.empty() ? 1 : checked_numel(dims, kMaxOnnxTensorElements, what);
        if (n * 4 > node_bytes[it->second])
            fail(what, ": ", n, " values, more than the node's parameter overrides hold (", node_bytes[it->second],
                 " bytes; corrupt file?)");
        t.set_raw_data(std::string(static_cast<size_t>(n) * 4, '\0'));
        want.erase(it);
    }
    if (!want.empty())
        fail(path, ": emptied initializer '", want.begin()->first, "' is not an initializer of the stored graph (corrupt file?)");
    std::string out;
    if (!model.SerializeToString(&out)) fail(path, ": cannot serialise the stored graph");
    return out;
}

// The initializers of `complete` nodes (their overrides give all their values) that only they
// read, emptied in `g` (values cleared; name, dims and type kept): for a dense Conv/Gemm/MatMul
// or a BatchNormalization node, its own initializers and those of the bias Add / BatchNorm nodes
// the importer folded into it. Returns the "emptied" attribute's lines.
std::string empty_overridden_initializers(onnx::GraphProto& g, const Network& net, const std::set<std::string>& complete) {
    std::map<std::string, int> by_name;
    std::map<std::string, std::vector<int>> consumers;
    for (int i = 0; i < g.node_size(); ++i) {
        by_name[g.node(i).name()] = i;
        for (const std::string& in : g.node(i).input()) consumers[in].push_back(i);
    }
    std::set<std::string> outputs;
    for (const auto& o : g.output()) outputs.insert(o.name());
    std::map<std::string, onnx::TensorProto*> inits;
    for (onnx::TensorProto& t : *g.mutable_initializer()) inits[t.name()] = &t;
    std::string lines;
    for (const Node& n : net.nodes) {
        if (!complete.count(n.name)) continue;
        if (!n.op->as_weight_layer() && n.op->type() != "BatchNormalization") continue;
        const auto head = by_name.find(n.name);
        if (head == by_name.end() || g.node(head->second).output_size() < 1) continue;
        const std::string& head_type = g.node(head->second).op_type();
        if (head_type != "Conv" && head_type != "Gemm" && head_type != "MatMul" && head_type != "BatchNormalization") continue;
        // The ONNX nodes the imported node stands for: the head and the chain folded into it.
        std::set<int> group{head->second};
        const std::string out = net.values.at(n.outputs.at(0)).name;
        bool traced = true;
        for (std::string v = g.node(head->second).output(0); v != out;) {
            const auto c = consumers.find(v);
            if (c == consumers.end() || c->second.size() != 1) {
                traced = false;
                break;
            }
            const onnx::NodeProto& f = g.node(c->second[0]);
            if ((f.op_type() != "Add" && f.op_type() != "BatchNormalization") || f.output_size() < 1 || !group.insert(c->second[0]).second) {
                traced = false;
                break;
            }
            v = f.output(0);
        }
        if (!traced) continue;
        for (int gi : group)
            for (const std::string& in : g.node(gi).input()) {
                const auto t = inits.find(in);
                if (t == inits.end() || outputs.count(in)) continue;
                onnx::TensorProto& tp = *t->second;
                if (tp.data_type() != onnx::TensorProto::FLOAT || tp.data_location() == onnx::TensorProto_DataLocation_EXTERNAL ||
                    (!tp.has_raw_data() && tp.float_data_size() == 0))
                    continue;
                bool only_group = true;
                for (int ci : consumers[in]) only_group = only_group && group.count(ci);
                if (!only_group) continue;
                tp.clear_raw_data();
                tp.clear_float_data();
                lines += cat(in, ' ', n.name, '\n');
            }
    }
    return lines;
}

}  // namespace

bool is_hdf5_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    char sig[8] = {};
    f.read(sig, 8);
    return f.gcount() == 8 && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

namespace {

// Everything a quantized model file holds, as libhdf5 reads it (nothing parsed yet).
struct StoredModel {
    std::string onnx, payload, layers, stripped;
    std::string overrides, override_data;  // version 3: the records and their float32 values
    std::string emptied;                   // version 4: "initializer node" lines
    ModelProvenance prov;
};

StoredModel read_stored_in_process(const std::string& path) {
    const Hdf5Session session;
    const Hdf5Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!f.ok()) fail(path, ": cannot open as HDF5 (corrupt or truncated file?)");
    const hid_t id = f.get();
    if (get_attr(id, path, "format") != kFormat) fail(path, ": not a QCNN quantized model file");
    const std::string version = get_attr(id, path, "format_version");
    if (version != kVersion && version != kVersionOverrides && version != kVersionEmptied)
        fail(path, ": quantized model format version ", version, " is not supported: this build reads versions ",
             kVersion, ", ", kVersionOverrides, " and ", kVersionEmptied,
             version == "1" ? " (version 1 files rebuilt dense layers on load; quantize the float model again with "
                              "`qcnn quantize -o`)"
                            : " (docs/model-format.md)");
    StoredModel m;
    m.onnx = read_u8(id, path, "onnx");
    m.payload = read_u8(id, path, "payload");
    if (sha256_hex(m.onnx) != get_attr(id, path, "onnx_sha256"))
        fail(path, ": checksum mismatch in /onnx: the file is corrupt");
    if (sha256_hex(m.payload) != get_attr(id, path, "payload_sha256"))
        fail(path, ": checksum mismatch in /payload: the file is corrupt");
    m.prov.settings = get_attr(id, path, "settings", false);
    m.prov.seed = get_attr(id, path, "seed", false);
    m.prov.ec = get_attr(id, path, "ec", false);
    m.prov.source_path = get_attr(id, path, "source_path", false);
    m.prov.source_sha256 = get_attr(id, path, "source_sha256", false);
    m.prov.created_utc = get_attr(id, path, "created_utc", false);
    m.prov.app_version = get_attr(id, path, "app_version", false);
    m.layers = get_attr(id, path, "layers");
    m.stripped = get_attr(id, path, "stripped");
    if (version == kVersionOverrides || version == kVersionEmptied) {
        m.override_data = read_u8(id, path, "overrides");
        if (sha256_hex(m.override_data) != get_attr(id, path, "overrides_sha256"))
            fail(path, ": checksum mismatch in /overrides: the file is corrupt");
        m.overrides = get_attr(id, path, "overrides");
    }
    if (version == kVersionEmptied) m.emptied = get_attr(id, path, "emptied");
    return m;
}

// The file may come from anywhere: libhdf5 reads it in a child process first (hdf5_handle.h).
StoredModel read_stored(const std::string& path) {
    probe_hdf5_file(path, [&] { (void)read_stored_in_process(path); });
    return read_stored_in_process(path);
}

// The source ONNX bytes of a network: its ONNX file, or the /onnx data set of a quantized file.
std::string source_onnx_bytes(const std::string& source) {
    if (!is_hdf5_file(source)) return read_bytes(source);
    StoredModel m = read_stored(source);
    return refill_emptied(m.onnx, m.emptied, m.overrides, source);
}

}  // namespace

void save_quantized_model(const std::string& path, const Network& net, const ModelProvenance& prov) {
    if (net.source.empty()) fail("cannot save a quantized model without its source ONNX model");
    onnx::ModelProto model;
    std::string override_data, overrides;
    std::set<std::string> overridden;  // nodes whose every parameter has a record
    {
        const std::string bytes = source_onnx_bytes(net.source);
        if (bytes.size() > static_cast<size_t>(INT32_MAX) || !model.ParseFromString(bytes))
            fail(net.source, ": not a valid ONNX model (protobuf parse failed)");
        // Values the network holds that its source graph does not (fine-tuned dense layers, BatchNorm).
        overrides = override_table(net, import_onnx_bytes(bytes, net.source), override_data, path, overridden);
    }
    auto* g = model.mutable_graph();
    // Every node gets its importer name ("<OpType>_<index>" when unnamed) before nodes are removed.
    for (int i = 0; i < g->node_size(); ++i)
        if (g->node(i).name().empty()) g->mutable_node(i)->set_name(onnx_node_name(g->node(i), i));
    std::map<std::string, int> onnx_nodes;
    std::map<std::string, std::vector<int>> consumers;  // value name -> nodes reading it
    for (int i = 0; i < g->node_size(); ++i) {
        onnx_nodes[g->node(i).name()] = i;
        for (const std::string& in : g->node(i).input()) consumers[in].push_back(i);
    }
    int64_t opset = 0;
    for (const auto& o : model.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();

    std::string payload, table;
    std::vector<bool> drop(g->node_size(), false);  // nodes folded into a quantized layer
    std::vector<onnx::NodeProto> added;             // a 1-D layer's Unsqueeze / Squeeze
    for (const Node& n : net.nodes) {
        const std::optional<WeightLayer> layer = n.op->as_weight_layer();
        if (!layer || !layer->quantized()) continue;
        const PQWeights pq = pq_weights(*layer);
        const std::span<const float> bias = layer->bias;
        LayerRecord r;
        r.node = n.name;
        r.kind = layer->kind == LayerKind::Conv ? "conv" : (layer->from_matmul() ? "fc-matmul" : "fc");
        r.groups = pq.geo.groups;
        r.dsub = pq.geo.dsub;
        r.K = pq.geo.K;
        r.bits = pq.codes.bits;
        r.weight_shape = pq.geo.weight_shape();
        if (layer->conv) r.window = window_token(*layer->conv);
        append(payload, pq.codebooks.data(), pq.codebooks.size(), r.cb_off, r.cb_len);
        append(payload, pq.codes.bytes.data(), pq.codes.bytes.size(), r.codes_off, r.codes_len);
        append(payload, bias.data(), bias.size(), r.bias_off, r.bias_len);
        table += cat(r.node, ' ', r.kind, ' ', r.groups, ' ', r.dsub, ' ', r.K, ' ', r.bits, ' ',
                     shape_token(r.weight_shape), ' ', r.cb_off, ' ', r.cb_len, ' ', r.codes_off, ' ', r.codes_len,
                     ' ', r.bias_off, ' ', r.bias_len, ' ', r.window, '\n');

        // The graph: the layer's node becomes a weightless placeholder from the layer's input
        // to its output as the network has them, and the nodes folded into it at import (a bias
        // Add, a BatchNormalization) go; their initializers are dropped below once unused.
        const std::string what = cat(path, ": layer '", n.name, "'");
        auto it = onnx_nodes.find(n.name);
        if (it == onnx_nodes.end()) fail(what, " is not a node of the source model ", net.source);
        onnx::NodeProto& nd = *g->mutable_node(it->second);
        if (nd.output_size() < 1 || nd.input_size() < 1) fail(what, ": the source node has no input or output");
        const std::string x = nd.input(0), y = nd.output(0);
        const std::string out = net.values.at(n.outputs.at(0)).name;
        const bool one_d = out == y + "/nchw_out";  // the importer's 1-D conv (onnx_import.cpp)
        if (!one_d) {
            if (net.values.at(n.inputs.at(0)).name != x)
                fail(what, ": its input '", net.values.at(n.inputs.at(0)).name, "' is not the source node's '", x, "'");
            for (std::string v = y; v != out;) {
                const auto c = consumers.find(v);
                if (c == consumers.end() || c->second.size() != 1 || g->node(c->second[0]).output_size() < 1)
                    fail(what, ": cannot trace the nodes folded into it from '", y, "' to '", out, "'");
                drop[c->second[0]] = true;
                v = g->node(c->second[0]).output(0);
            }
        }
        onnx::NodeProto ph;
        ph.set_name(n.name);
        ph.set_op_type(kPlaceholderOp);
        ph.set_doc_string(kPlaceholderDoc);
        if (!one_d) {
            ph.add_input(x);
            ph.add_output(out);
        } else {
            // x {N, C, L} -> Unsqueeze(2) -> placeholder -> Squeeze(2) -> y, as the importer builds it.
            ph.add_input(y + "/nchw_in");
            ph.add_output(out);
            for (const char* op : {"Unsqueeze", "Squeeze"}) {
                const bool unsq = std::string(op) == "Unsqueeze";
                onnx::NodeProto e;
                e.set_name(n.name + (unsq ? "/unsqueeze" : "/squeeze"));
                e.set_op_type(op);
                e.add_input(unsq ? x : out);
                e.add_output(unsq ? y + "/nchw_in" : y);
                if (opset >= 13) {
                    onnx::TensorProto* axes = g->add_initializer();
                    axes->set_name(e.name() + "/axes");
                    axes->set_data_type(onnx::TensorProto::INT64);
                    axes->add_dims(1);
                    axes->add_int64_data(2);
                    e.add_input(axes->name());
                } else {
                    onnx::AttributeProto* a = e.add_attribute();
                    a->set_name("axes");
                    a->set_type(onnx::AttributeProto::INTS);
                    a->add_ints(2);
                }
                added.push_back(std::move(e));
            }
        }
        nd = std::move(ph);
    }
    if (table.empty()) fail("no quantized layer to save: the settings keep every layer dense");
    {
        google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
        for (int i = 0; i < g->node_size(); ++i)
            if (!drop[i]) *kept.Add() = std::move(*g->mutable_node(i));
        for (onnx::NodeProto& e : added) *kept.Add() = std::move(e);
        g->mutable_node()->Swap(&kept);
    }
    // Initializers no node reads any more (the quantized layers' weights and biases, folded
    // BatchNorm parameters) are dropped, with their graph-input entries (older exports list them).
    std::set<std::string> used;
    for (const auto& nd : g->node())
        for (const std::string& in : nd.input()) used.insert(in);
    for (const auto& o : g->output()) used.insert(o.name());
    std::set<std::string> removed;
    std::string stripped;
    {
        google::protobuf::RepeatedPtrField<onnx::TensorProto> kept;
        for (auto& t : *g->mutable_initializer()) {
            if (used.count(t.name())) *kept.Add() = std::move(t);
            else {
                removed.insert(t.name());
                stripped += t.name() + "\n";
            }
        }
        g->mutable_initializer()->Swap(&kept);
        google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> inputs;
        for (auto& v : *g->mutable_input())
            if (!removed.count(v.name())) *inputs.Add() = std::move(v);
        g->mutable_input()->Swap(&inputs);
    }
    // The overridden nodes' own values are in /overrides: their initializers keep no second copy.
    const std::string emptied = empty_overridden_initializers(*g, net, overridden);
    std::string onnx_bytes;
    if (!model.SerializeToString(&onnx_bytes)) fail(path, ": cannot serialise the model graph");

    const std::string tmp = path + ".partial";
    {
        const Hdf5Session session;
        const Hdf5Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
        if (!file.ok()) fail(path, ": cannot create file");
        const hid_t id = file.get();
        write_u8(id, path, "onnx", onnx_bytes);
        write_u8(id, path, "payload", payload);
        set_attr(id, path, "format", kFormat);
        set_attr(id, path, "format_version", overrides.empty() ? kVersion : kVersionEmptied);
        if (!overrides.empty()) {
            write_u8(id, path, "overrides", override_data);
            set_attr(id, path, "overrides", overrides);
            set_attr(id, path, "overrides_sha256", sha256_hex(override_data));
            set_attr(id, path, "emptied", emptied);
        }
        set_attr(id, path, "layers", table);
        set_attr(id, path, "stripped", stripped);
        set_attr(id, path, "onnx_sha256", sha256_hex(onnx_bytes));
        set_attr(id, path, "payload_sha256", sha256_hex(payload));
        set_attr(id, path, "settings", prov.settings);
        set_attr(id, path, "seed", prov.seed);
        set_attr(id, path, "ec", prov.ec);
        set_attr(id, path, "source_path", prov.source_path);
        set_attr(id, path, "source_sha256", prov.source_sha256);
        set_attr(id, path, "created_utc", prov.created_utc);
        set_attr(id, path, "app_version", prov.app_version);
        if (H5Fflush(id, H5F_SCOPE_GLOBAL) < 0) fail(path, ": cannot flush file");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(path, ": cannot move the finished file into place");
}

namespace {

Network load_quantized(const std::string& path, ModelProvenance* prov) {
    StoredModel stored = read_stored(path);
    if (prov) *prov = stored.prov;
    // The layer table first: every record is checked before the graph is imported.
    std::vector<LayerRecord> records;
    {
        std::stringstream table(stored.layers);
        std::string line;
        while (std::getline(table, line)) {
            if (line.empty()) continue;
            std::stringstream ls(line);
            LayerRecord r;
            std::string shape, extra;
            if (!(ls >> r.node >> r.kind >> r.groups >> r.dsub >> r.K >> r.bits >> shape >> r.cb_off >> r.cb_len >>
                  r.codes_off >> r.codes_len >> r.bias_off >> r.bias_len >> r.window) ||
                (ls >> extra))
                fail(path, ": malformed layer record '", line, "' (format version ", kVersion, " has 14 fields)");
            const std::string what = cat(path, ": layer '", r.node, "'");
            if (r.kind != "conv" && r.kind != "fc" && r.kind != "fc-matmul")
                fail(what, ": unknown layer kind '", r.kind, "' (expected conv, fc or fc-matmul)");
            r.weight_shape = parse_shape_token(shape, what);
            if (r.weight_shape.empty() || checked_numel(r.weight_shape, kMaxOnnxTensorElements, what + ": weight shape") == 0)
                fail(what, ": empty weight shape '", shape, "'");
            const bool conv = r.kind == "conv";
            if (r.weight_shape.size() != (conv ? 4u : 2u))
                fail(what, ": ", r.kind, " weight shape '", shape, "' must have ", conv ? 4 : 2, " dimensions");
            if (conv ? (r.groups < 1 || r.groups > r.weight_shape[0] || r.weight_shape[0] % r.groups != 0) : r.groups != 1)
                fail(what, ": ", r.groups, " groups do not fit weight shape '", shape, "'",
                     conv ? " (expected a divisor of the output channels)" : " (FC layers have 1)");
            if (!conv && r.window != "-") fail(what, ": an FC layer has no conv window, got '", r.window, "'");
            records.push_back(std::move(r));
        }
    }
    if (records.empty()) fail(path, ": the file holds no quantized layer");

    // The graph holds a weightless placeholder per quantized layer: nothing dense is built for them.
    Network net = import_onnx_bytes(refill_emptied(stored.onnx, stored.emptied, stored.overrides, path), path);
    stored.onnx = {};
    const std::string& payload = stored.payload;
    for (LayerRecord& r : records) {
        const std::string what = cat(path, ": layer '", r.node, "'");
        const int ni = net.find_node(r.node);
        if (ni < 0) fail(what, " is not in the stored graph");
        Node& node = net.nodes[ni];
        // (Only ActivationOp's Relu has the placeholder's op type.)
        if (node.op->type() != kPlaceholderOp || node.inputs.size() != 1 || node.outputs.size() != 1)
            fail(what, ": the stored graph's node is a ", node.op->type(), ", not the layer's placeholder (corrupt file?)");
        const LayerKind kind = r.kind == "conv" ? LayerKind::Conv : LayerKind::Fc;
        PQGeometry geo = pq_geometry(kind, r.weight_shape, r.groups, PQConfig{r.dsub, r.K}, r.node);
        // Offsets and lengths are checked before anything is allocated.
        auto slice = [&](int64_t off, int64_t len, int64_t expect, const char* part) {
            if (off < 0 || len != expect || off > static_cast<int64_t>(payload.size()) ||
                len > static_cast<int64_t>(payload.size()) - off)
                fail(what, ": ", part, " has ", len, " bytes at offset ", off, ", expected ", expect,
                     " within a payload of ", payload.size(), " bytes");
            return payload.data() + off;
        };
        const int64_t ncb = checked_numel({geo.subspaces(), r.K, r.dsub}, kMaxOnnxTensorElements, what + ": codebooks");
        const char* cbp = slice(r.cb_off, r.cb_len, ncb * 4, "codebooks");
        if (r.bits != geo.bits()) fail(what, ": codes of ", r.bits, " bits, expected ", geo.bits(), " for K = ", r.K);
        const int64_t ncodes = geo.num_codes(), nbytes = PackedCodes::byte_size(ncodes, geo.bits());
        const char* cp = slice(r.codes_off, r.codes_len, nbytes, "codes");
        // A layer without a bias (DenseNet's convs, bias=False in PyTorch) stores none.
        const int64_t nbias = r.bias_len == 0 ? 0 : r.weight_shape[0];
        const char* bp = slice(r.bias_off, r.bias_len, nbias * 4, "bias");
        std::vector<float> codebooks(ncb), bias(nbias);
        std::memcpy(codebooks.data(), cbp, r.cb_len);
        if (nbias) std::memcpy(bias.data(), bp, r.bias_len);
        check_finite(codebooks.data(), ncb, what + ": codebooks");
        check_finite(bias.data(), nbias, what + ": bias");
        // The codes go from the payload into the layer's store without an unpacked copy.
        const CodeView codes(reinterpret_cast<const uint8_t*>(cp), ncodes, geo.bits());
        WeightLayer like;
        like.kind = kind;
        ConvParams window;
        if (kind == LayerKind::Conv) {
            window = parse_window_token(r.window, r.groups, what);
            like.conv = &window;
            like.source_type = "Conv";
        } else {
            like.source_type = r.kind == "fc-matmul" ? "MatMul" : "Gemm";
        }
        node.op = make_quantized_layer(like, geo, codebooks, codes, bias, what);
    }
    const std::map<std::string, std::set<int64_t>> given = apply_overrides(net, stored.overrides, stored.override_data, path);
    // An emptied initializer was refilled with zeros: its node's overrides must give every value.
    for (const auto& [init, node] : parse_emptied(stored.emptied, path)) {
        const int ni = net.find_node(node);
        const BackwardEntry* e = ni < 0 ? nullptr : backward_entry(*net.nodes[ni].op);
        const auto it = given.find(node);
        if (!e || !e->params || it == given.end() || it->second.size() != e->params(*net.nodes[ni].op).size())
            fail(path, ": initializer '", init, "' is stored without values for node '", node,
                 "', but the overrides do not give all of that node's parameters (corrupt file?)");
    }
    net.assign_aliases();  // the placeholders had none: conv1.., fc1.. as the float network has them
    net.source = path;
    return net;
}

}  // namespace

Network load_model_file(const std::string& path, ModelProvenance* prov) {
    if (prov) *prov = {};
    {
        std::ifstream f(path, std::ios::binary);
        if (!f) fail(path, ": cannot open model file (missing or unreadable)");
    }
    if (is_hdf5_file(path)) return load_quantized(path, prov);
    return import_onnx(path);
}

}  // namespace qcnn
