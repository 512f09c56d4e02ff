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
#include <memory>
#include <sstream>

#include "core/io/onnx_import.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/quantized_ops.h"
#include "core/util/error.h"
#include "core/util/hdf5_handle.h"
#include "core/util/sha256.h"

namespace qcnn {

namespace {

constexpr const char* kFormat = "qcnn-quantized-model";
constexpr const char* kVersion = "1";

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
};

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
    ModelProvenance prov;
};

StoredModel read_stored_in_process(const std::string& path) {
    const Hdf5Session session;
    const Hdf5Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!f.ok()) fail(path, ": cannot open as HDF5 (corrupt or truncated file?)");
    const hid_t id = f.get();
    if (get_attr(id, path, "format") != kFormat) fail(path, ": not a QCNN quantized model file");
    const std::string version = get_attr(id, path, "format_version");
    if (version != kVersion) fail(path, ": quantized model format version ", version, " is not supported (expected ", kVersion, ")");
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
    return read_stored(source).onnx;
}

}  // namespace

void save_quantized_model(const std::string& path, const Network& net, const ModelProvenance& prov) {
    if (net.source.empty()) fail("cannot save a quantized model without its source ONNX model");
    onnx::ModelProto model;
    {
        const std::string bytes = source_onnx_bytes(net.source);
        if (bytes.size() > static_cast<size_t>(INT32_MAX) || !model.ParseFromString(bytes))
            fail(net.source, ": not a valid ONNX model (protobuf parse failed)");
    }
    auto* g = model.mutable_graph();
    std::map<std::string, int> onnx_nodes;
    for (int i = 0; i < g->node_size(); ++i) onnx_nodes[onnx_node_name(g->node(i), i)] = i;
    std::map<std::string, onnx::TensorProto*> inits;
    for (auto& t : *g->mutable_initializer()) inits[t.name()] = &t;

    std::string payload, table, stripped;
    for (const Node& n : net.nodes) {
        const auto* qc = dynamic_cast<const QConvOp*>(n.op.get());
        const auto* qf = dynamic_cast<const QFcOp*>(n.op.get());
        if (!qc && !qf) continue;
        const PQWeights& pq = qc ? qc->pq() : qf->pq();
        const std::vector<float>& bias = qc ? qc->bias() : qf->bias();
        LayerRecord r;
        r.node = n.name;
        r.kind = qc ? "conv" : (qf->source_type() == "MatMul" ? "fc-matmul" : "fc");
        r.groups = pq.geo.groups;
        r.dsub = pq.geo.dsub;
        r.K = pq.geo.K;
        r.bits = pq.codes.bits;
        r.weight_shape = pq.geo.weight_shape();
        append(payload, pq.codebooks.data(), pq.codebooks.size(), r.cb_off, r.cb_len);
        append(payload, pq.codes.bytes.data(), pq.codes.bytes.size(), r.codes_off, r.codes_len);
        append(payload, bias.data(), bias.size(), r.bias_off, r.bias_len);
        table += cat(r.node, ' ', r.kind, ' ', r.groups, ' ', r.dsub, ' ', r.K, ' ', r.bits, ' ',
                     shape_token(r.weight_shape), ' ', r.cb_off, ' ', r.cb_len, ' ', r.codes_off, ' ', r.codes_len,
                     ' ', r.bias_off, ' ', r.bias_len, '\n');
        // Drop the float weight (and bias) of the quantized layer from the stored graph;
        // dims are kept so the graph still imports.
        auto it = onnx_nodes.find(n.name);
        if (it == onnx_nodes.end()) continue;
        const auto& nd = g->node(it->second);
        for (int k = 1; k < std::min(nd.input_size(), 3); ++k) {
            auto w = inits.find(nd.input(k));
            if (w == inits.end()) continue;
            w->second->clear_raw_data();
            w->second->clear_float_data();
            stripped += w->second->name() + "\n";
        }
    }
    if (table.empty()) fail("no quantized layer to save: the settings keep every layer dense");
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
        set_attr(id, path, "format_version", kVersion);
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
    std::string& onnx_bytes = stored.onnx;
    const std::string& payload = stored.payload;
    if (prov) *prov = stored.prov;
    // The layer table first: every record is checked against the payload before the graph
    // is rebuilt, and bounds the zeros refilled below.
    std::vector<LayerRecord> records;
    {
        std::stringstream table(stored.layers);
        std::string line;
        while (std::getline(table, line)) {
            if (line.empty()) continue;
            std::stringstream ls(line);
            LayerRecord r;
            std::string shape;
            if (!(ls >> r.node >> r.kind >> r.groups >> r.dsub >> r.K >> r.bits >> shape >> r.cb_off >> r.cb_len >>
                  r.codes_off >> r.codes_len >> r.bias_off >> r.bias_len))
                fail(path, ": malformed layer record '", line, "'");
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
            records.push_back(std::move(r));
        }
    }
    if (records.empty()) fail(path, ": the file holds no quantized layer");

    // Refill the stripped weights with zeros: the importer then builds the float layers,
    // which are replaced by the stored quantized ones below. Only as many values as the
    // quantized layers' weights and biases account for may be refilled.
    int64_t refill_budget = 0;
    for (const LayerRecord& r : records)
        refill_budget += checked_numel(r.weight_shape, kMaxOnnxTensorElements, path) + r.weight_shape[0];
    onnx::ModelProto model;
    if (!model.ParseFromString(onnx_bytes)) fail(path, ": /onnx is not a valid ONNX model");
    std::stringstream stripped(stored.stripped);
    std::string name;
    std::map<std::string, bool> strip;
    while (std::getline(stripped, name))
        if (!name.empty()) strip[name] = true;
    for (auto& t : *model.mutable_graph()->mutable_initializer()) {
        if (!strip.count(t.name())) continue;
        Shape dims(t.dims().begin(), t.dims().end());
        const int64_t n = checked_numel(dims, kMaxOnnxTensorElements, cat(path, ": initializer '", t.name(), "'"));
        if (n > refill_budget)
            fail(path, ": stripped initializer '", t.name(), "' declares ", n,
                 " values, more than the quantized layers' weights account for (corrupt file?)");
        refill_budget -= n;
        t.set_raw_data(std::string(static_cast<size_t>(n) * sizeof(float), '\0'));
    }
    onnx_bytes.clear();
    model.SerializeToString(&onnx_bytes);
    Network net = import_onnx_bytes(onnx_bytes, path);

    for (LayerRecord& r : records) {
        const std::string what = cat(path, ": layer '", r.node, "'");
        const int ni = net.find_node(r.node);
        if (ni < 0) fail(what, " is not in the stored graph");
        Node& node = net.nodes[ni];
        const LayerKind kind = r.kind == "conv" ? LayerKind::Conv : LayerKind::Fc;
        PQWeights pq;
        pq.geo = pq_geometry(kind, r.weight_shape, r.groups, PQConfig{r.dsub, r.K}, r.node);
        // Offsets and lengths are checked before anything is allocated.
        auto slice = [&](int64_t off, int64_t len, int64_t expect, const char* part) {
            if (off < 0 || len != expect || off > static_cast<int64_t>(payload.size()) ||
                len > static_cast<int64_t>(payload.size()) - off)
                fail(what, ": ", part, " has ", len, " bytes at offset ", off, ", expected ", expect,
                     " within a payload of ", payload.size(), " bytes");
            return payload.data() + off;
        };
        const int64_t nm = pq.geo.subspaces(), ncodes = pq.geo.num_codes();
        const int64_t ncb = checked_numel({nm, r.K, r.dsub}, kMaxOnnxTensorElements, what + ": codebooks");
        const char* cbp = slice(r.cb_off, r.cb_len, ncb * 4, "codebooks");
        pq.codes.bits = pq.geo.bits();
        pq.codes.count = ncodes;
        const int64_t nbytes = PackedCodes::byte_size(ncodes, pq.codes.bits);
        const char* cp = slice(r.codes_off, r.codes_len, nbytes, "codes");
        const int64_t ct = r.weight_shape[0];
        // A layer without a bias (DenseNet's convs, bias=False in PyTorch) stores none.
        const int64_t nbias = r.bias_len == 0 ? 0 : ct;
        const char* bp = slice(r.bias_off, r.bias_len, nbias * 4, "bias");
        pq.codebooks.resize(ncb);
        std::memcpy(pq.codebooks.data(), cbp, r.cb_len);
        pq.codes.bytes.assign(cp, cp + nbytes);
        std::vector<float> bias(nbias);
        if (nbias) std::memcpy(bias.data(), bp, r.bias_len);
        check_finite(pq.codebooks.data(), ncb, what + ": codebooks");
        check_finite(bias.data(), nbias, what + ": bias");
        pq.validate(what);
        if (kind == LayerKind::Conv) {
            const auto* conv = dynamic_cast<const ConvOp*>(node.op.get());
            if (!conv || conv->weight().shape != r.weight_shape)
                fail(what, ": stored conv codes for weight ", to_string(r.weight_shape), " do not match the graph's ",
                     conv ? to_string(conv->weight().shape) : node.op->type());
            node.op = std::make_shared<QConvOp>(conv->conv_params(), std::move(pq), std::move(bias));
        } else {
            const auto* fc = dynamic_cast<const FcOp*>(node.op.get());
            if (!fc || fc->weight().shape != r.weight_shape)
                fail(what, ": stored FC codes for weight ", to_string(r.weight_shape), " do not match the graph's ",
                     fc ? to_string(fc->weight().shape) : node.op->type());
            node.op = std::make_shared<QFcOp>(std::move(pq), std::move(bias), fc->type());
        }
    }
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
