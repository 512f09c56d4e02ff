// qcnn_zoo: torchvision's classification CNNs through our ONNX importer and engine (issue 13).
//
//   qcnn_zoo --manifest DIR/manifest.json [--json FILE] [--md FILE] [--quick] [--strict]
//            [--nets a,b] [--opsets 11,13,17] [--dynamic both|yes|no] [--bench-opset 13]
//            [--threads 1] [--batch 1] [--check-threads 0] [--quant-threads 0] [--budget 1]
//            [--rounds 5] [--settings conv=4/16,fc=4/16] [--tol 1e-3] [--seed 0] [--command TEXT]
//
// The manifest is written by tools/export_zoo.py: per (network, opset, dynamic batch) an ONNX
// file, a seeded input (batch 2) and PyTorch's logits for it.
//
// (a) Check, every manifest entry: import the file with core/io (import_onnx), run the stored
//     input through the engine, and compare with PyTorch's logits: max |ours - torch| / max
//     |torch| over the whole batch, argmax agreement per sample, and the same error on the
//     input-dependent part of the logits (each logit minus its mean over the batch, relative
//     to the largest such value: this part is what a wrong layer below the classifier changes).
//     Passes when the relative error is <= --tol and every argmax agrees. A file that does not
//     import gets its error text and the operators of the file that the importer does not know
//     (read_onnx_info against supported_onnx_ops()), and the run goes on.
// (b) Benchmark (not with --quick), one entry per network: --bench-opset, the dynamic-batch
//     file when there is one. Batch --batch (the stored samples, repeated), --threads threads,
//     median ms per batch over repetitions (>= 5 and >= --budget seconds, after one warm-up):
//     - float, our engine; float, OpenCV DNN loading the same ONNX file (as bench/qcnn_bench; with
//       Identity nodes on initializers, which OpenCV 4.6 cannot load, replaced by initializer copies);
//     - the cost model at --settings (conv=4/16,fc=4/16): which weight layers the per-type
//       defaults fit (resolve_settings leaves the others dense, e.g. depthwise convs with one
//       input channel per group), the fraction of weight-layer FLOPs and of all parameters
//       (model summary) those layers hold, compression over weights and theoretical speed-up;
//     - quantized with those settings by quantize_network (k-means on the weights only, no
//       error correction, --seed), run on the fast lookup-table kernels (LutKernel::Fast).
//     The ms columns come from one process holding all three paths, timed in --rounds rounds
//     that alternate them (each round runs every path for --budget / --rounds seconds, at
//     least once; the first path rotates), so a change of the shared machine's load hits all
//     three alike. Each path also runs in a process of its own for its peak RSS (and an
//     isolated timing, in the JSON). Every cell (check, float, OpenCV, quantized, side by side)
//     is a forked process (the parent runs no OpenMP), so a crash is a reported error: the
//     check reports the peak of import + run, the timed cells the peak while timing (the
//     counter is reset after loading, as in qcnn_bench). The quantized network goes from its
//     cell to the side-by-side one through a quantized model file (core/io/model_file.h) in
//     the temporary directory, removed afterwards.
// Output: a text log, --json (every number) and --md (the tables of docs/zoo.md).
// Exit status: 0, or 1 with --strict when an entry fails the check (the `zoo` ctest).
#include <malloc.h>
#include <omp.h>

#include <onnx/onnx_pb.h>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/cost/cost_model.h"
#include "core/eval/model_summary.h"
#include "core/graph/plan.h"
#include "core/io/model_file.h"
#include "core/io/onnx_import.h"
#include "core/quant/quantize_network.h"
#include "core/quant/settings.h"
#include "core/util/host.h"
#include "core/util/json.h"

namespace {

using namespace qcnn;
using namespace qcnn::bench;

namespace fs = std::filesystem;

struct Options {
    std::string manifest;
    std::string json_path, md_path, command;
    bool quick = false, strict = false;
    std::vector<std::string> nets;  // empty: all in the manifest
    std::vector<int> opsets;        // empty: all
    std::string dynamic = "both";
    int bench_opset = 13;
    int threads = 1;
    int batch = 1;
    int check_threads = 0;
    int quant_threads = 0;
    double budget = 1.0;
    int rounds = 5;
    std::string settings = "conv=4/16,fc=4/16";
    double tol = 1e-3;
    uint64_t seed = 0;
};

// One manifest entry.
struct Entry {
    std::string network, family, onnx, input, logits, export_error;
    int opset = 0;
    bool dynamic = false;
    Shape input_shape, logits_shape;
    int64_t onnx_bytes = 0;
    int64_t params = 0;
    double input_dependence = -1;
};

Shape shape_of(const json::Value& v) {
    Shape s;
    for (const json::Value& d : v.as_array()) s.push_back(d.as_int());
    return s;
}

std::vector<Entry> read_manifest(const std::string& path) {
    const json::Value doc = json::parse_file(path);
    const fs::path dir = fs::path(path).parent_path();
    std::vector<Entry> out;
    for (const json::Value& e : doc["entries"].as_array()) {
        Entry x;
        x.network = e["network"].as_string();
        x.family = e.find("family") ? e["family"].as_string() : "";
        x.opset = static_cast<int>(e["opset"].as_int());
        x.dynamic = e["dynamic"].as_bool();
        x.onnx = (dir / e["onnx"].as_string()).string();
        x.input = (dir / e["input"].as_string()).string();
        x.logits = (dir / e["logits"].as_string()).string();
        x.input_shape = shape_of(e["input_shape"]);
        x.logits_shape = shape_of(e["logits_shape"]);
        if (e.find("error")) x.export_error = e["error"].as_string();
        if (e.find("onnx_bytes")) x.onnx_bytes = e["onnx_bytes"].as_int();
        if (e.find("params")) x.params = e["params"].as_int();
        if (e.find("input_dependence")) x.input_dependence = e["input_dependence"].as_number();
        out.push_back(x);
    }
    return out;
}

// A raw little-endian float32 file of exactly numel(shape) values.
Tensor read_f32(const std::string& path, const Shape& shape) {
    Tensor t(shape);
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open");
    f.seekg(0, std::ios::end);
    const auto bytes = static_cast<int64_t>(f.tellg());
    if (bytes != t.size() * 4) fail(path, ": ", bytes, " bytes, expected ", t.size() * 4, " for shape ", to_string(shape));
    f.seekg(0);
    f.read(reinterpret_cast<char*>(t.ptr()), bytes);
    if (!f) fail(path, ": read failed");
    return t;
}

// Rows of `x` (dimension 0) repeated cyclically to `batch` rows.
Tensor take_rows(const Tensor& x, int64_t batch) {
    Shape s = x.shape;
    s[0] = batch;
    Tensor y(s);
    const int64_t row = x.size() / x.shape[0];
    for (int64_t b = 0; b < batch; ++b)
        std::copy_n(x.ptr() + (b % x.shape[0]) * row, row, y.ptr() + b * row);
    return y;
}

// Compares logits {N, C} (ours) with the reference's first N rows, cyclically (so a batch
// made by take_rows compares against the rows it repeats).
struct Agreement {
    double rel_err = NAN;         // max |a - r| / max |r|
    double centered_err = NAN;    // the same on each logit minus its mean over the batch (N >= 2)
    int64_t argmax_same = 0, samples = 0;
};

Agreement compare(const float* a, const Shape& a_shape, const Tensor& ref) {
    Agreement g;
    if (a_shape.size() != 2 || ref.shape.size() != 2 || a_shape[1] != ref.shape[1])
        fail("output shape ", to_string(a_shape), " does not match PyTorch's logits ", to_string(ref.shape));
    const int64_t n = a_shape[0], c = a_shape[1];
    double d = 0, m = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float* r = ref.ptr() + (i % ref.shape[0]) * c;
        const float* x = a + i * c;
        for (int64_t j = 0; j < c; ++j) {
            d = std::max(d, std::fabs(double(x[j]) - r[j]));
            m = std::max(m, std::fabs(double(r[j])));
        }
        g.argmax_same += std::max_element(x, x + c) - x == std::max_element(r, r + c) - r;
    }
    g.samples = n;
    g.rel_err = m > 0 ? d / m : d;
    if (n >= 2 && n <= ref.shape[0]) {
        double dc = 0, mc = 0;
        for (int64_t j = 0; j < c; ++j) {
            double ma = 0, mr = 0;
            for (int64_t i = 0; i < n; ++i) ma += a[i * c + j], mr += ref.ptr()[i * c + j];
            ma /= double(n);
            mr /= double(n);
            for (int64_t i = 0; i < n; ++i) {
                const double ca = a[i * c + j] - ma, cr = ref.ptr()[i * c + j] - mr;
                dc = std::max(dc, std::fabs(ca - cr));
                mc = std::max(mc, std::fabs(cr));
            }
        }
        g.centered_err = mc > 0 ? dc / mc : NAN;
    }
    return g;
}

void put(Record& r, const std::string& prefix, const Agreement& g) {
    r[prefix + "rel_err"] = num(g.rel_err);
    if (!std::isnan(g.centered_err)) r[prefix + "centered_err"] = num(g.centered_err);
    r[prefix + "argmax_same"] = std::to_string(g.argmax_same);
    r[prefix + "samples"] = std::to_string(g.samples);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ------------------------------------------------------------------------ (a) check --

std::string check_child(const Entry& e, const Options& o) {
    Record r;
    try {
        const OnnxModelInfo info = read_onnx_info(e.onnx);
        const std::vector<std::string>& known = supported_onnx_ops();
        std::string ops, missing;
        for (const std::string& t : info.op_types) {
            ops += (ops.empty() ? "" : ",") + t;
            if (!std::binary_search(known.begin(), known.end(), t)) missing += (missing.empty() ? "" : ",") + t;
        }
        r["op_types"] = ops;
        r["unsupported_ops"] = missing;
        r["file_opset"] = std::to_string(info.opset);
    } catch (const std::exception& ex) {
        r["info_error"] = ex.what();
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<Network> net;
    try {
        net = std::make_shared<Network>(import_onnx(e.onnx));
    } catch (const std::exception& ex) {
        r["import"] = "no";
        r["import_error"] = ex.what();
        r["peak_rss_bytes"] = std::to_string(bench::peak_rss_bytes());
        return encode(r);
    }
    r["import"] = "yes";
    r["import_seconds"] = num(seconds_since(t0));
    try {
        const Tensor x = read_f32(e.input, e.input_shape);
        const Tensor ref = read_f32(e.logits, e.logits_shape);
        omp_set_num_threads(o.check_threads > 0 ? o.check_threads : omp_get_num_procs());
        Engine engine(net, o.check_threads);
        const auto t1 = std::chrono::steady_clock::now();
        const Tensor& y = engine.forward(x);
        r["run_seconds"] = num(seconds_since(t1));
        r["output_shape"] = to_string(y.shape);
        put(r, "", compare(y.ptr(), y.shape, ref));
    } catch (const std::exception& ex) {
        r["run_error"] = ex.what();
    }
    r["peak_rss_bytes"] = std::to_string(bench::peak_rss_bytes());
    return encode(r);
}

bool check_passed(const Record& r, double tol) {
    return r.count("import") && r.at("import") == "yes" && !r.count("run_error") && !r.count("error") &&
           get(r, "rel_err") <= tol && get(r, "argmax_same") == get(r, "samples");
}

// -------------------------------------------------------------------- (b) benchmark --

// The timed input: the stored samples repeated to `batch` rows for a dynamic-batch file; a
// static file runs at the batch it was exported with.
Tensor bench_input(const Entry& e, const Options& o) {
    const Tensor x = read_f32(e.input, e.input_shape);
    return e.dynamic ? take_rows(x, o.batch) : x;
}

// Times forward() in this (child) process: peak RSS counter reset after loading, median of >= 5
// runs over >= budget seconds after one warm-up. No mallopt(M_MMAP_THRESHOLD) here: with small
// mmap thresholds every im2col scratch buffer becomes a fresh mapping per call, and the page
// faults made our float engine 10x slower on SqueezeNet (190 vs 16 ms per image, measured).
void time_forward(Record& r, const std::function<std::pair<const float*, Shape>()>& forward, const Tensor& ref,
                  double budget) {
    malloc_trim(0);
    bench::reset_peak_rss();
    r["rss_before_bytes"] = std::to_string(bench::proc_status_bytes("VmRSS:"));
    std::pair<const float*, Shape> y;
    const bench::Timing t = bench::time_it([&] { y = forward(); }, budget, 5, 1);
    r["peak_rss_bytes"] = std::to_string(bench::peak_rss_bytes());
    r["median_ms"] = num(t.median_s * 1e3);
    r["min_ms"] = num(t.min_s * 1e3);
    r["reps"] = std::to_string(t.reps);
    r["batch"] = std::to_string(y.second.empty() ? 0 : y.second[0]);
    put(r, "", compare(y.first, y.second, ref));
}

std::function<std::pair<const float*, Shape>()> engine_forward(Engine& engine, const Tensor& x) {
    return [&engine, &x] {
        const Tensor& y = engine.forward(x);
        return std::make_pair(y.ptr(), y.shape);
    };
}

std::string float_child(const Entry& e, const Options& o) {
    omp_set_num_threads(o.threads);
    Record r;
    auto net = std::make_shared<Network>(import_onnx(e.onnx));
    const Tensor x = bench_input(e, o);
    const Tensor ref = read_f32(e.logits, e.logits_shape);
    // The cost model at the settings: per-type defaults that do not fit a layer leave it dense.
    try {
        const ModelSummary m = summarize(*net);
        r["summary_params"] = std::to_string(m.total_params);
        r["summary_flops"] = std::to_string(m.total_flops);
        r["conv_layers"] = std::to_string(m.conv_layers);
        r["fc_layers"] = std::to_string(m.fc_layers);
        const ResolvedSettings rs = resolve_settings(*net, parse_layer_settings(o.settings));
        std::vector<QuantSetting> settings;
        for (const ResolvedLayer& l : rs.layers) settings.push_back(l.setting);
        const Shape sample(x.shape.begin() + 1, x.shape.end());
        const NetworkCost c = network_cost(network_geometry(*net, sample), settings);
        int64_t qflops = 0, qbits = 0, qparams = 0, nq = 0;
        for (size_t i = 0; i < c.layers.size(); ++i) {
            if (c.layers[i].setting.dense) continue;
            ++nq;
            qflops += c.layers[i].flops_dense;
            qbits += c.layers[i].weight_bits_dense;
            qparams += c.layers[i].weight_bits_dense / 32;
        }
        r["weight_layers"] = std::to_string(c.layers.size());
        r["quantized_layers"] = std::to_string(nq);
        r["weight_layer_flops"] = std::to_string(c.flops_dense);
        r["quantizable_flops_fraction"] = num(double(qflops) / double(c.flops_dense));
        r["quantizable_weight_fraction"] = num(double(qbits) / double(c.weight_bits_dense));
        r["quantizable_params_fraction"] = num(double(qparams) / double(m.total_params));
        r["compression"] = num(c.compression());
        r["compression_with_biases"] = num(c.compression_with_biases());
        r["theoretical_speedup"] = num(c.speedup());
        r["memory_dense_bytes"] = std::to_string(c.dense.peak_bytes);
        r["memory_quantized_bytes"] = std::to_string(c.quantized.peak_bytes);
    } catch (const std::exception& ex) {
        r["cost_error"] = ex.what();
    }
    Engine engine(net, o.threads);
    net.reset();
    time_forward(r, engine_forward(engine, x), ref, o.budget);
    return encode(r);
}

// torch.onnx.export writes one copy of identical initializers (e.g. the zero biases of VGG,
// SqueezeNet, EfficientNet) and Identity nodes from it to the other names; OpenCV 4.6 cannot
// load an Identity whose input is an initializer ("Identity: inputs.size()"). For OpenCV only,
// `in` is written to `out` with each such node replaced by a copy of the initializer under the
// node's output name (the same network). Returns the number of nodes replaced; with none, `out`
// is not written.
int replace_initializer_identities(const std::string& in, const std::string& out) {
    onnx::ModelProto m;
    {
        std::ifstream f(in, std::ios::binary);
        if (!f || !m.ParseFromIstream(&f)) fail(in, ": cannot parse as an ONNX model");
    }
    onnx::GraphProto* g = m.mutable_graph();
    std::map<std::string, int> init;
    for (int i = 0; i < g->initializer_size(); ++i) init[g->initializer(i).name()] = i;
    google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
    int replaced = 0;
    for (const onnx::NodeProto& node : g->node()) {
        if (node.op_type() == "Identity" && node.input_size() == 1 && node.output_size() == 1 &&
            init.count(node.input(0))) {
            onnx::TensorProto t = g->initializer(init.at(node.input(0)));
            t.set_name(node.output(0));
            *g->add_initializer() = std::move(t);
            ++replaced;
            continue;
        }
        *kept.Add() = node;
    }
    if (replaced == 0) return 0;
    g->mutable_node()->Swap(&kept);
    std::ofstream f(out, std::ios::binary);
    if (!f || !m.SerializeToOstream(&f)) fail(out, ": cannot write");
    return replaced;
}

// OpenCV DNN on the CPU backend with e's file (through replace_initializer_identities).
cv::dnn::Net load_opencv(const Entry& e, Record& r) {
    const std::string tmp =
        (fs::temp_directory_path() / cat("qcnn_zoo_", getpid(), "_", fs::path(e.onnx).filename().string())).string();
    const int replaced = replace_initializer_identities(e.onnx, tmp);
    r["identities_replaced"] = std::to_string(replaced);
    cv::dnn::Net net;
    try {
        net = cv::dnn::readNetFromONNX(replaced ? tmp : e.onnx);
    } catch (...) {
        if (replaced) fs::remove(tmp);
        throw;
    }
    if (replaced) fs::remove(tmp);
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return net;
}

// forward() of an OpenCV net on x (kept alive by the caller), as the timing helpers take it.
std::function<std::pair<const float*, Shape>()> opencv_forward(cv::dnn::Net& net, const Tensor& x, cv::Mat& blob,
                                                               cv::Mat& out) {
    std::vector<int> dims(x.shape.begin(), x.shape.end());
    blob = cv::Mat(static_cast<int>(dims.size()), dims.data(), CV_32F, const_cast<float*>(x.ptr()));
    return [&net, &blob, &out] {
        net.setInput(blob);
        out = net.forward();
        Shape s;
        for (int i = 0; i < out.dims; ++i) s.push_back(out.size[i]);
        return std::make_pair(static_cast<const float*>(out.ptr<float>()), s);
    };
}

std::string opencv_child(const Entry& e, const Options& o) {
    Record r;
    cv::setNumThreads(o.threads);
    cv::dnn::Net net = load_opencv(e, r);
    const Tensor x = bench_input(e, o);
    const Tensor ref = read_f32(e.logits, e.logits_shape);
    cv::Mat blob, out;
    time_forward(r, opencv_forward(net, x, blob, out), ref, o.budget);
    return encode(r);
}

// e's network quantized at o.settings: k-means on the weights (seed o.seed), no EC. The result
// does not depend on the thread count, so every call gives the same network.
std::shared_ptr<Network> quantize(const Entry& e, const Options& o, Record& r) {
    const Network net = import_onnx(e.onnx);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings(o.settings));
    QuantizeOptions qo;
    qo.seed = o.seed;
    qo.threads = o.quant_threads;
    qo.ec = EcMode::None;
    omp_set_num_threads(o.quant_threads > 0 ? o.quant_threads : omp_get_num_procs());
    const auto t0 = std::chrono::steady_clock::now();
    QuantizedNetwork q = quantize_network(net, rs, qo);
    r["quantize_seconds"] = num(seconds_since(t0));
    int64_t nq = 0;
    double rel = 0;
    for (const LayerQuantInfo& l : q.layers)
        if (l.quantized) {
            ++nq;
            if (l.weight_mean_square > 0) rel = std::max(rel, l.weight_mse / l.weight_mean_square);
        }
    r["quantized_layers"] = std::to_string(nq);
    r["max_layer_weight_rel_mse"] = num(rel);
    return std::make_shared<Network>(std::move(q.network));
}

// Quantizes e's network (k-means on the weights, no EC), saves it to `save_path` for the
// side-by-side cell, and times it on the fast kernels.
std::string quant_child(const Entry& e, const Options& o, const std::string& save_path) {
    Record r;
    const Tensor x = bench_input(e, o);
    const Tensor ref = read_f32(e.logits, e.logits_shape);
    std::shared_ptr<Network> qnet = quantize(e, o, r);
    {
        ModelProvenance prov;
        prov.settings = o.settings;
        prov.seed = std::to_string(o.seed);
        prov.ec = to_string(EcMode::None);
        prov.source_path = e.onnx;
        save_quantized_model(save_path, *qnet, prov);
    }
    omp_set_num_threads(o.threads);
    Engine engine(qnet, o.threads);
    engine.set_lut_kernel(LutKernel::Fast);
    qnet.reset();
    time_forward(r, engine_forward(engine, x), ref, o.budget);
    return encode(r);
}

// The three paths in one process, timed in alternation: --rounds rounds, each running every
// path for --budget / --rounds seconds (at least once), the first path rotating per round, so
// a change of machine load hits all three alike. Medians over all runs of a path.
std::string side_child(const Entry& e, const Options& o, const std::string& quantized_path) {
    Record r;
    // The quantized model file is HDF5: load_model_file reads it in a forked child first, so it
    // comes before anything starts OpenMP threads here.
    // A file core/io cannot read back (a bug there, reported in the record) is replaced by
    // quantizing again here (the same network: see quantize()).
    std::shared_ptr<const Network> qnet;
    if (!quantized_path.empty() && fs::exists(quantized_path)) {
        try {
            qnet = std::make_shared<Network>(load_model_file(quantized_path));
        } catch (const std::exception& ex) {
            r["quantized_file_error"] = ex.what();
            Record ignored;
            qnet = quantize(e, o, ignored);
        }
    }
    auto fnet = std::make_shared<const Network>(import_onnx(e.onnx));
    const Tensor x = bench_input(e, o);
    const Tensor ref = read_f32(e.logits, e.logits_shape);
    omp_set_num_threads(o.threads);
    cv::setNumThreads(o.threads);
    struct Path {
        std::string name;
        std::function<std::pair<const float*, Shape>()> forward;
        std::vector<double> seconds;
    };
    std::vector<Path> paths;
    Engine fe(fnet, o.threads);
    paths.push_back({"float", engine_forward(fe, x), {}});
    cv::dnn::Net cvnet;
    cv::Mat blob, out;
    try {
        cvnet = load_opencv(e, r);
        paths.push_back({"opencv", opencv_forward(cvnet, x, blob, out), {}});
    } catch (const std::exception& ex) {
        r["opencv_error"] = ex.what();
    }
    std::unique_ptr<Engine> qe;
    if (qnet) {
        qe = std::make_unique<Engine>(qnet, o.threads);
        qe->set_lut_kernel(LutKernel::Fast);
        paths.push_back({"quantized", engine_forward(*qe, x), {}});
    }
    for (Path& p : paths) {  // warm-up, and each path's logits against PyTorch's
        const auto y = p.forward();
        put(r, p.name + "_", compare(y.first, y.second, ref));
        r[p.name + "_batch"] = std::to_string(y.second.empty() ? 0 : y.second[0]);
    }
    using clock = std::chrono::steady_clock;
    const int rounds = std::max(1, o.rounds);
    for (int round = 0; round < rounds; ++round)
        for (size_t k = 0; k < paths.size(); ++k) {
            Path& p = paths[(k + round) % paths.size()];
            const auto start = clock::now();
            do {
                const auto t0 = clock::now();
                p.forward();
                p.seconds.push_back(std::chrono::duration<double>(clock::now() - t0).count());
            } while (std::chrono::duration<double>(clock::now() - start).count() < o.budget / rounds);
        }
    for (Path& p : paths) {
        std::sort(p.seconds.begin(), p.seconds.end());
        r[p.name + "_median_ms"] = num(p.seconds[p.seconds.size() / 2] * 1e3);
        r[p.name + "_min_ms"] = num(p.seconds.front() * 1e3);
        r[p.name + "_reps"] = std::to_string(p.seconds.size());
    }
    r["rounds"] = std::to_string(rounds);
    return encode(r);
}

// ------------------------------------------------------------------------- printing --

std::string load_average() {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c;
    f >> a >> b >> c;
    return a + " " + b + " " + c;
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char b[64];
    std::strftime(b, sizeof b, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
    return b;
}

// Text for a Markdown table cell: '|' escaped, newlines flattened, cut at `max` characters.
std::string md_cell(std::string s, size_t max = 0) {
    if (max && s.size() > max) s = s.substr(0, max) + " ...";
    std::string o;
    for (char c : s) {
        if (c == '|') o += "\\|";
        else if (c == '\n') o += ' ';
        else o += c;
    }
    return o;
}

std::string entry_label(const Entry& e) { return cat("op", e.opset, e.dynamic ? " dyn" : " static"); }

// The check's one-word verdict and the error behind it.
std::string verdict(const Record& r, double tol, std::string* why = nullptr) {
    auto say = [&](const std::string& v, const std::string& w) {
        if (why) *why = w;
        return v;
    };
    if (r.count("export_error")) return say("export failed", r.at("export_error"));
    if (r.count("error")) return say("no", r.at("error"));
    if (r.count("import") && r.at("import") == "no") return say("no", r.at("import_error"));
    if (r.count("run_error")) return say("imports, run fails", r.at("run_error"));
    if (check_passed(r, tol)) return say("yes", "");
    return say("imports, wrong logits",
               cat("max rel. logit error ", fmt("%.2e", get(r, "rel_err")), ", argmax ", get(r, "argmax_same"), "/",
                   get(r, "samples")));
}

struct NetRow {
    std::string network, family;
    const Entry* bench = nullptr;  // the entry benchmarked
    Record check, flt, cv, q;      // the check; float, OpenCV and quantized each in its own process
    Record side;                   // the three side by side (side_child)

    // ms per image of a path ("float", "opencv", "quantized") in the side-by-side cell; where
    // that did not run (our importer fails), the path's own cell.
    double ms(const std::string& path) const {
        if (side.count(path + "_median_ms")) return get(side, path + "_median_ms") / get(side, path + "_batch");
        const Record& own = path == "float" ? flt : path == "opencv" ? cv : q;
        return get(own, "median_ms") / get(own, "batch");
    }
    // ms() as a table cell; " †" when it comes from the path's own process.
    std::string ms_cell(const std::string& path) const {
        const double v = ms(path);
        return fmt("%.1f", v) + (std::isnan(v) || side.count(path + "_median_ms") ? "" : " †");
    }
};

}  // namespace

int main(int argc, char** argv) {
    Options o;
    std::string argv_text = "qcnn_zoo";
    for (int i = 1; i < argc; ++i) argv_text += std::string(" ") + argv[i];
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto next = [&]() -> std::string {
                if (i + 1 >= argc) fail(a, " needs a value");
                return argv[++i];
            };
            if (a == "--manifest") o.manifest = next();
            else if (a == "--json") o.json_path = next();
            else if (a == "--md") o.md_path = next();
            else if (a == "--command") o.command = next();
            else if (a == "--quick") o.quick = true;
            else if (a == "--strict") o.strict = true;
            else if (a == "--nets") o.nets = split(next());
            else if (a == "--opsets") {
                o.opsets.clear();
                for (const std::string& s : split(next())) o.opsets.push_back(std::stoi(s));
            } else if (a == "--dynamic") {
                o.dynamic = next();
                if (o.dynamic != "both" && o.dynamic != "yes" && o.dynamic != "no")
                    fail("--dynamic: expected both, yes or no, got '", o.dynamic, "'");
            } else if (a == "--bench-opset") o.bench_opset = std::stoi(next());
            else if (a == "--threads") o.threads = std::stoi(next());
            else if (a == "--batch") o.batch = std::stoi(next());
            else if (a == "--check-threads") o.check_threads = std::stoi(next());
            else if (a == "--quant-threads") o.quant_threads = std::stoi(next());
            else if (a == "--budget") o.budget = std::stod(next());
            else if (a == "--rounds") o.rounds = std::stoi(next());
            else if (a == "--settings") o.settings = next();
            else if (a == "--tol") o.tol = std::stod(next());
            else if (a == "--seed") o.seed = std::stoull(next());
            else {
                std::cout << "usage: qcnn_zoo --manifest DIR/manifest.json [--json FILE] [--md FILE] [--quick] [--strict]\n"
                             "                [--nets a,b] [--opsets 11,13,17] [--dynamic both|yes|no] [--bench-opset 13]\n"
                             "                [--threads 1] [--batch 1] [--check-threads 0] [--quant-threads 0]\n"
                             "                [--budget 1] [--rounds 5] [--settings conv=4/16,fc=4/16] [--tol 1e-3] [--seed 0]\n"
                             "                [--command TEXT]\n";
                return a == "--help" || a == "-h" ? 0 : 2;
            }
        }
        if (o.manifest.empty()) fail("--manifest is required (tools/export_zoo.py writes it)");
        if (o.threads < 1 || o.batch < 1) fail("--threads and --batch must be >= 1");
        parse_layer_settings(o.settings);  // refuse a bad settings text before any work
    } catch (const std::exception& ex) {
        std::cerr << "qcnn_zoo: " << ex.what() << "\n";
        return 2;
    }
    std::vector<Entry> entries;
    try {
        entries = read_manifest(o.manifest);
    } catch (const std::exception& ex) {
        std::cerr << "qcnn_zoo: " << ex.what() << "\n";
        return 2;
    }
    auto wanted = [&](const Entry& e) {
        if (!o.nets.empty() && std::find(o.nets.begin(), o.nets.end(), e.network) == o.nets.end()) return false;
        if (!o.opsets.empty() && std::find(o.opsets.begin(), o.opsets.end(), e.opset) == o.opsets.end()) return false;
        return o.dynamic == "both" || (o.dynamic == "yes") == e.dynamic;
    };
    std::vector<const Entry*> todo;
    for (const Entry& e : entries)
        if (wanted(e)) todo.push_back(&e);
    for (const std::string& n : o.nets)
        if (std::none_of(entries.begin(), entries.end(), [&](const Entry& e) { return e.network == n; }))
            std::cerr << "qcnn_zoo: warning: " << n << " is not in " << o.manifest << "\n";
    if (todo.empty()) {
        std::cerr << "qcnn_zoo: no manifest entry matches --nets / --opsets / --dynamic\n";
        return 2;
    }
    const json::Value manifest_doc = json::parse_file(o.manifest);
    auto manifest_version = [&](const char* k) {
        const json::Value* v = manifest_doc.find("versions");
        return v && v->find(k) ? (*v)[k].as_string() : std::string("?");
    };

    const std::string load_start = load_average(), started = utc_now();
    const auto run_t0 = std::chrono::steady_clock::now();
    std::printf("qcnn_zoo: %zu manifest entries; CPU %s (%d logical cores); OpenCV %s; load average %s\n", todo.size(),
                cpu_model().c_str(), omp_get_num_procs(), CV_VERSION, load_start.c_str());
    std::printf("check: max|ours - PyTorch| / max|PyTorch| over the stored batch, pass <= %g and same argmax\n", o.tol);
    std::printf("%-20s %-10s %-8s %10s %10s %7s %8s %8s  %s\n", "network", "file", "imports", "rel err", "centered",
                "argmax", "import s", "RSS MB", "verdict / error");

    // (a) check every entry.
    std::vector<Record> checks(todo.size());
    int failed = 0;
    for (size_t i = 0; i < todo.size(); ++i) {
        const Entry& e = *todo[i];
        Record& r = checks[i];
        if (!e.export_error.empty()) {
            r["export_error"] = e.export_error;
        } else {
            r = decode(in_child([&] { return check_child(e, o); }));
        }
        std::string why;
        const std::string v = verdict(r, o.tol, &why);
        if (v != "yes") ++failed;
        std::printf("%-20s %-10s %-8s %10s %10s %7s %8s %8s  %s%s\n", e.network.c_str(), entry_label(e).c_str(),
                    r.count("import") ? r["import"].c_str() : "-", fmt("%.2e", get(r, "rel_err")).c_str(),
                    fmt("%.2e", get(r, "centered_err")).c_str(),
                    r.count("samples") ? cat(r["argmax_same"], "/", r["samples"]).c_str() : "-",
                    fmt("%.1f", get(r, "import_seconds")).c_str(), fmt("%.0f", get(r, "peak_rss_bytes") / 1e6).c_str(),
                    v.c_str(), why.empty() ? "" : (": " + why).c_str());
        if (r.count("unsupported_ops") && !r["unsupported_ops"].empty())
            std::printf("%-20s %-10s operators the importer does not list: %s\n", "", "", r["unsupported_ops"].c_str());
        std::fflush(stdout);
    }

    // (b) benchmark one entry per network.
    std::vector<NetRow> rows;
    for (const Entry* e : todo) {
        if (std::any_of(rows.begin(), rows.end(), [&](const NetRow& r) { return r.network == e->network; })) continue;
        NetRow row;
        row.network = e->network;
        row.family = e->family;
        const Entry* pick = nullptr;
        for (const Entry* c : todo)
            if (c->network == e->network && c->opset == o.bench_opset && c->export_error.empty() &&
                (!pick || (c->dynamic && !pick->dynamic)))
                pick = c;
        row.bench = pick;
        if (pick) row.check = checks[std::find(todo.begin(), todo.end(), pick) - todo.begin()];
        rows.push_back(row);
    }
    if (!o.quick) {
        std::printf("\nbenchmark: opset %d (dynamic-batch file when there is one), batch %d, %d thread(s); ms = median "
                    "with the three paths in one process, %d rounds alternating them, >= %.2f s per path; settings "
                    "%s (k-means on the weights, no EC, fast kernels); RSS: each path in its own process\n",
                    o.bench_opset, o.batch, o.threads, o.rounds, o.budget, o.settings.c_str());
        std::printf("%-20s %10s %10s %10s %8s %8s %8s %8s %10s %8s %14s\n", "network", "ours ms/i", "OpenCV ms/i",
                    "Q ms/i", "Q-FLOPs", "Q-wts", "compr.", "theory", "measured", "k-means s", "RSS MB f/Q/cv");
        for (NetRow& row : rows) {
            if (!row.bench) {
                std::printf("%-20s no opset %d export\n", row.network.c_str(), o.bench_opset);
                continue;
            }
            const Entry& e = *row.bench;
            const bool imports = row.check.count("import") && row.check["import"] == "yes" &&
                                 !row.check.count("run_error");
            const std::string qpath =
                (fs::temp_directory_path() / cat("qcnn_zoo_", getpid(), "_", row.network, ".q.h5")).string();
            if (imports) row.flt = decode(in_child([&] { return float_child(e, o); }));
            row.cv = decode(in_child([&] { return opencv_child(e, o); }));
            if (imports) row.q = decode(in_child([&] { return quant_child(e, o, qpath); }));
            if (imports) row.side = decode(in_child([&] { return side_child(e, o, row.q.count("error") ? "" : qpath); }));
            std::error_code ec;
            fs::remove(qpath, ec);
            const double f = row.ms("float"), q = row.ms("quantized");
            std::printf("%-20s %10s %10s %10s %8s %8s %8s %8s %10s %8s %14s\n", row.network.c_str(),
                        fmt("%.2f", f).c_str(), fmt("%.2f", row.ms("opencv")).c_str(), fmt("%.2f", q).c_str(),
                        fmt("%.1f%%", 100 * get(row.flt, "quantizable_flops_fraction")).c_str(),
                        fmt("%.1f%%", 100 * get(row.flt, "quantizable_weight_fraction")).c_str(),
                        fmt("%.2fx", get(row.flt, "compression")).c_str(),
                        fmt("%.2fx", get(row.flt, "theoretical_speedup")).c_str(), fmt("%.2fx", f / q).c_str(),
                        fmt("%.1f", get(row.q, "quantize_seconds")).c_str(),
                        cat(fmt("%.0f", get(row.flt, "peak_rss_bytes") / 1e6), "/",
                            fmt("%.0f", get(row.q, "peak_rss_bytes") / 1e6), "/",
                            fmt("%.0f", get(row.cv, "peak_rss_bytes") / 1e6))
                            .c_str());
            for (const auto* part : {&row.flt, &row.cv, &row.q, &row.side})
                for (const char* k : {"error", "cost_error", "quantized_file_error"})
                    if (part->count(k))
                        std::printf("%-20s   %s %s: %s\n", "",
                                    part == &row.flt  ? "float"
                                    : part == &row.cv ? "OpenCV"
                                    : part == &row.q  ? "quantized"
                                                      : "side by side",
                                    k, part->at(k).c_str());
            std::fflush(stdout);
        }
    }
    const double wall = seconds_since(run_t0);
    const std::string load_end = load_average();
    std::printf("\n%d of %zu entries fail the check; %.0f s; load average at the end %s\n", failed, todo.size(), wall,
                load_end.c_str());

    // ----------------------------------------------------------------------- JSON --
    if (!o.json_path.empty()) {
        std::ofstream f(o.json_path);
        json::Writer w(f);
        w.begin_object().field("tool", "qcnn_zoo").field("command", o.command.empty() ? argv_text : o.command);
        w.field("started", started).field("seconds", wall);
        w.field("cpu", cpu_model()).field("logical_cores", omp_get_num_procs());
        w.field("opencv", std::string(CV_VERSION)).field("load_average_start", load_start).field("load_average_end", load_end);
        w.field("manifest", o.manifest).field("torch", manifest_version("torch"));
        w.field("torchvision", manifest_version("torchvision")).field("onnx", manifest_version("onnx"));
        w.field("tolerance", o.tol).field("check_threads", o.check_threads);
        w.field("bench_opset", o.bench_opset).field("threads", o.threads).field("batch", o.batch);
        w.field("budget_s", o.budget).field("settings", o.settings).field("quick", o.quick);
        w.field("failed_entries", failed);
        w.key("entries").begin_array();
        for (size_t i = 0; i < todo.size(); ++i) {
            const Entry& e = *todo[i];
            const Record& r = checks[i];
            std::string why;
            w.begin_object().field("network", e.network).field("family", e.family).field("opset", e.opset);
            w.field("dynamic", e.dynamic).field("onnx", e.onnx).field("onnx_bytes", e.onnx_bytes);
            w.field("verdict", verdict(r, o.tol, &why)).field("passed", check_passed(r, o.tol));
            if (!why.empty()) w.field("error", why);
            for (const auto& [k, v] : r) {
                if (k == "import_seconds" || k == "run_seconds" || k == "rel_err" || k == "centered_err")
                    w.field(k, get(r, k));
                else if (k == "argmax_same" || k == "samples" || k == "peak_rss_bytes" || k == "file_opset")
                    w.field(k, static_cast<int64_t>(get(r, k)));
                else
                    w.field(k, v);
            }
            w.end_object();
        }
        w.end_array();
        w.key("networks").begin_array();
        for (const NetRow& row : rows) {
            w.begin_object().field("network", row.network).field("family", row.family);
            if (row.bench) w.field("bench_file", row.bench->onnx).field("bench_dynamic", row.bench->dynamic);
            for (const auto& [name, part] : {std::pair<const char*, const Record*>{"float", &row.flt},
                                             {"opencv", &row.cv}, {"quantized", &row.q},
                                             {"side_by_side", &row.side}}) {
                if (part->empty()) continue;
                w.key(name).begin_object();
                for (const auto& [k, v] : *part) {
                    if (k == "error" || k == "cost_error" || k == "opencv_error" || k == "quantized_file_error")
                        w.field(k, v);
                    else w.field(k, get(*part, k));
                }
                w.end_object();
            }
            w.end_object();
        }
        w.end_array().end_object();
        f << "\n";
        if (!f) std::cerr << "qcnn_zoo: cannot write " << o.json_path << "\n";
        else std::printf("JSON: %s\n", o.json_path.c_str());
    }

    // ------------------------------------------------------------------- Markdown --
    if (!o.md_path.empty()) {
        std::ostringstream m;
        m << "# torchvision's classification CNNs in QCNN Workbench (issue 13)\n\n"
          << "Generated by `bench/qcnn_zoo` on " << started << "; every number below is measured by that run. "
          << "Rerun:\n\n    " << (o.command.empty() ? argv_text : o.command) << "\n\n"
          << "- Machine: " << cpu_model() << ", " << omp_get_num_procs() << " logical cores, shared (load average "
          << load_start << " at the start, " << load_end << " at the end); OpenCV " << CV_VERSION << ".\n"
          << "- Models: torchvision " << manifest_version("torchvision") << " (torch " << manifest_version("torch")
          << ", onnx " << manifest_version("onnx") << "), random seeded weights, exported by `tools/export_zoo.py` "
          << "(manifest `" << o.manifest << "`).\n"
          << "- Check: the stored input (batch 2) through our importer and engine against PyTorch's logits; "
          << "*max logit error* = max |ours - PyTorch| / max |PyTorch|; passes at <= " << o.tol
          << " with the same argmax for every sample.\n";
        if (!o.quick)
            m << "- Speed: opset " << o.bench_opset << " (the dynamic-batch file), batch " << o.batch << ", " << o.threads
              << " thread(s). ms per image = median time per batch / batch, measured side by side: float ours, "
                 "OpenCV DNN and quantized loaded in one process and timed in "
              << o.rounds << " rounds that alternate them (>= " << o.budget
              << " s per path in all), so a change of the machine's load hits all three alike (OpenCV alone where "
                 "our importer fails). OpenCV DNN loads the same ONNX file (where torch wrote Identity nodes on shared "
                 "initializers, which OpenCV 4.6 cannot load, a copy with each replaced by a copy of the initializer). "
                 "*Quantized*: `" << o.settings
              << "` where it fits (per-type defaults that do not fit a layer, e.g. depthwise convs, leave it dense), "
              << "k-means on the weights only (no error correction, seed " << o.seed
              << "), fast lookup-table kernels. *Quantizable* = share of the weight-layer FLOPs / of all parameters "
                 "in the layers those settings quantize; compression (over weights) and theoretical speed-up are "
                 "the cost model's at these settings. Peak RSS: each path timed again in a process of its own, its "
                 "peak while running (float ours / quantized / OpenCV).\n";
        // The import matrix: one row per network, one column per (opset, batch mode) exported.
        std::vector<std::pair<int, bool>> cols;
        for (const Entry* e : todo)
            if (std::find(cols.begin(), cols.end(), std::make_pair(e->opset, e->dynamic)) == cols.end())
                cols.push_back({e->opset, e->dynamic});
        std::sort(cols.begin(), cols.end(), [](const auto& x, const auto& y) {
            return x.first != y.first ? x.first < y.first : x.second > y.second;
        });
        m << "\n## Imports and logits, per opset\n\n*yes* = imports, max logit error <= " << o.tol
          << " and the same argmax (the error is shown); *no* = does not import (errors below).\n\n| network | family |";
        for (const auto& [op, dyn] : cols) m << " op" << op << (dyn ? " dynamic" : " static") << " |";
        m << "\n|---|---|";
        for (size_t c = 0; c < cols.size(); ++c) m << "---|";
        m << "\n";
        for (const NetRow& row : rows) {
            m << "| " << row.network << " | " << row.family << " |";
            for (const auto& [op, dyn] : cols) {
                std::string cell = "-";
                for (size_t i = 0; i < todo.size(); ++i)
                    if (todo[i]->network == row.network && todo[i]->opset == op && todo[i]->dynamic == dyn) {
                        cell = verdict(checks[i], o.tol);
                        if (checks[i].count("rel_err")) cell += " " + fmt("%.1e", get(checks[i], "rel_err"));
                    }
                m << " " << cell << " |";
            }
            m << "\n";
        }
        if (!o.quick) {
            m << "\n## Per network: opset " << o.bench_opset << ", speed and the cost model\n\n";
            m << "| network | imports | max logit error | float ms/image ours | OpenCV | quantizable FLOPs / params | "
                 "compression | theoretical speed-up | quantized ms/image | measured speed-up | peak RSS MB |\n"
              << "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
            for (const NetRow& row : rows) {
                const std::string v = row.bench ? verdict(row.check, o.tol) : "no export";
                const double f = row.ms("float"), q = row.ms("quantized");
                m << "| " << row.network << " | " << v << " | " << fmt("%.1e", get(row.check, "rel_err")) << " | "
                  << row.ms_cell("float") << " | "
                  << (row.cv.count("error") || row.side.count("opencv_error") ? "fails" : row.ms_cell("opencv")) << " | "
                  << fmt("%.0f%%", 100 * get(row.flt, "quantizable_flops_fraction")) << " / "
                  << fmt("%.0f%%", 100 * get(row.flt, "quantizable_params_fraction")) << " | "
                  << fmt("%.1fx", get(row.flt, "compression")) << " | " << fmt("%.2fx", get(row.flt, "theoretical_speedup"))
                  << " | " << row.ms_cell("quantized") << " | " << fmt("%.2fx", f / q) << " | "
                  << fmt("%.0f", get(row.flt, "peak_rss_bytes") / 1e6) << " / " << fmt("%.0f", get(row.q, "peak_rss_bytes") / 1e6)
                  << " / " << fmt("%.0f", get(row.cv, "peak_rss_bytes") / 1e6) << " |\n";
            }
            m << "\n† timed in the path's own process, not side by side (our importer fails, or the side-by-side "
                 "cell did: see Benchmark errors).\n";
        }
        m << "\n## Import and logits per exported file\n\n"
          << "| network | file | imports | max logit error | input-dependent part | argmax | import s | peak RSS MB |\n"
          << "|---|---|---|---:|---:|---:|---:|---:|\n";
        for (size_t i = 0; i < todo.size(); ++i) {
            const Record& r = checks[i];
            m << "| " << todo[i]->network << " | " << entry_label(*todo[i]) << " | " << verdict(r, o.tol) << " | "
              << fmt("%.1e", get(r, "rel_err")) << " | " << fmt("%.1e", get(r, "centered_err")) << " | "
              << (r.count("samples") ? cat(r.at("argmax_same"), "/", r.at("samples")) : "-") << " | "
              << fmt("%.1f", get(r, "import_seconds")) << " | " << fmt("%.0f", get(r, "peak_rss_bytes") / 1e6) << " |\n";
        }
        m << "\n*Input-dependent part*: the same error on each logit minus its mean over the batch, relative to the "
             "largest such value (a wrong layer below the classifier shows here even when a bias dominates the "
             "logits).\n";
        bool any = false;
        for (size_t i = 0; i < todo.size(); ++i) {
            std::string why;
            if (verdict(checks[i], o.tol, &why) == "yes") continue;
            if (!any) {
                m << "\n## Errors\n\n| network | file | error | operators the importer does not list |\n|---|---|---|---|\n";
                any = true;
            }
            const Record& r = checks[i];
            // The importer's message ends with its list of supported ops: the last column says what is
            // missing instead.
            const size_t list = why.find("; supported ops: ");
            if (list != std::string::npos) why.resize(list);
            if (why.rfind(todo[i]->onnx + ": ", 0) == 0) why = why.substr(todo[i]->onnx.size() + 2);  // the file is in column 2
            m << "| " << todo[i]->network << " | " << entry_label(*todo[i]) << " | " << md_cell(why, 400) << " | "
              << md_cell(r.count("unsupported_ops") ? r.at("unsupported_ops") : "") << " |\n";
        }
        bool bench_err = false;
        for (const NetRow& row : rows)
            for (const auto& [name, part] : {std::pair<const char*, const Record*>{"float", &row.flt},
                                             {"OpenCV", &row.cv}, {"quantized", &row.q},
                                             {"side by side", &row.side}})
                for (const char* k : {"error", "cost_error", "quantized_file_error"})
                    if (part->count(k)) {
                        if (!bench_err) {
                            m << "\n## Benchmark errors\n\n| network | part | error |\n|---|---|---|\n";
                            bench_err = true;
                        }
                        m << "| " << row.network << " | " << name
                          << (std::string(k) == "cost_error"             ? " (cost model)"
                              : std::string(k) == "quantized_file_error" ? " (quantized model file; quantized again in-process)"
                                                                         : "")
                          << " | " << md_cell(part->at(k), 400) << " |\n";
                    }
        m << "\n" << failed << " of " << todo.size() << " files fail the check; the run took " << fmt("%.0f", wall)
          << " s.\n";
        std::ofstream f(o.md_path);
        f << m.str();
        if (!f) std::cerr << "qcnn_zoo: cannot write " << o.md_path << "\n";
        else std::printf("Markdown: %s\n", o.md_path.c_str());
    }
    return o.strict && failed > 0 ? 1 : 0;
}
