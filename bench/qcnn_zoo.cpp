// qcnn_zoo: torchvision's classification CNNs through our ONNX importer and engine (issue 13).
//
//   qcnn_zoo --manifest DIR/manifest.json [--json FILE] [--md FILE] [--quick] [--strict]
//            [--nets a,b] [--opsets 11,13,17] [--dynamic both|yes|no] [--bench-opset 13]
//            [--threads 1] [--batch 1] [--check-threads 0] [--quant-threads 0] [--budget 1]
//            [--rounds 5] [--settings conv=4/16,fc=4/16] [--tol 1e-3] [--seed 0] [--kmeans-iters 25]
//            [--cells float,opencv,quantized,reload,side,ec] [--calib SPEC] [--calib-images 24]
//            [--heldout-images 8] [--ec-positions 64] [--ec-iterations 2] [--ec-rows-per-column 2]
//            [--command TEXT]
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
//     - quantized with those settings by quantize_network (k-means on the weights only,
//       --kmeans-iters iterations, no error correction, --seed), run on the fast lookup-table
//       kernels (LutKernel::Fast), and saved to a quantized model file;
//     - reload: that file read back (load_model_file) in another process and run on the stored
//       input: its outputs must have the same bits as the in-memory network's (--strict fails
//       otherwise);
//     - EC: quantized again with error correction (EcMode::Layer) on --calib-images images of
//       --calib (default: folder:<manifest dir>/calib, tools/export_zoo.py --calib's seeded
//       synthetic JPEGs, with torchvision's ImageNet preprocessing), and the logits / last-layer
//       response errors against the float network on --heldout-images other images, before
//       (the k-means network of the model file) and after EC (see ec_child).
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
// --cells picks the benchmark cells (the reload, side-by-side and EC cells need the quantized one,
// which then runs too). Exit status: 0, or 1 with --strict when an entry fails the check or a
// network fails the reload check or EC (the `zoo` ctests).
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
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/cost/cost_model.h"
#include "core/data/dataset.h"
#include "core/eval/model_summary.h"
#include "core/graph/plan.h"
#include "core/io/model_file.h"
#include "core/io/onnx_import.h"
#include "core/quant/calibration.h"
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
    int kmeans_iters = 25;          // QuantizeOptions::max_iter (the library's default)
    // Which benchmark cells run (not with --quick): float, opencv, quantized, reload, side, ec.
    std::set<std::string> cells = {"float", "opencv", "quantized", "reload", "side", "ec"};
    // Error correction cell: calibration images from `calib` (a dataset spec; empty: the folder
    // tools/export_zoo.py writes next to the manifest), preprocessed to the network's input.
    std::string calib;
    int64_t calib_images = 24, heldout_images = 8, ec_positions = 64;
    double ec_rows_per_column = 2;  // EC only where calibration rows >= this x columns d
    int ec_iterations = 2;
};

const std::vector<std::string> kCells = {"float", "opencv", "quantized", "reload", "side", "ec"};

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

// The quantization options of every cell: k-means with seed o.seed, --kmeans-iters, no EC.
QuantizeOptions kmeans_options(const Options& o) {
    QuantizeOptions qo;
    qo.seed = o.seed;
    qo.threads = o.quant_threads;
    qo.max_iter = o.kmeans_iters;
    qo.ec = EcMode::None;
    return qo;
}

// e's network quantized at o.settings: k-means on the weights (seed o.seed), no EC. The result
// does not depend on the thread count, so every call gives the same network.
std::shared_ptr<Network> quantize(const Entry& e, const Options& o, Record& r) {
    const Network net = import_onnx(e.onnx);
    const ResolvedSettings rs = resolve_settings(net, parse_layer_settings(o.settings));
    const QuantizeOptions qo = kmeans_options(o);
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

// The quantized network's output on the stored input, for the reload check: raw float32 next
// to the model file.
std::string outputs_path(const std::string& model_path) { return model_path + ".out.f32"; }

// The stored input (batch 2) through `net` on the fast kernels with o.threads threads: the run
// the reload check repeats on the network read back from its file.
Tensor stored_forward(const std::shared_ptr<const Network>& net, const Entry& e, const Options& o) {
    Engine engine(net, o.threads);
    engine.set_lut_kernel(LutKernel::Fast);
    return engine.forward(read_f32(e.input, e.input_shape));
}

// Quantizes e's network (k-means on the weights, no EC), saves it to `save_path` for the
// reload, side-by-side and EC cells with its output on the stored input (outputs_path), and
// times it on the fast kernels.
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
        const auto t0 = std::chrono::steady_clock::now();
        save_quantized_model(save_path, *qnet, prov);
        r["save_seconds"] = num(seconds_since(t0));
        r["model_file_bytes"] = std::to_string(fs::file_size(save_path));
    }
    omp_set_num_threads(o.threads);
    {
        const Tensor y = stored_forward(qnet, e, o);
        const std::string out = outputs_path(save_path);
        std::ofstream f(out, std::ios::binary);
        f.write(reinterpret_cast<const char*>(y.ptr()), y.size() * 4);
        if (!f) fail(out, ": cannot write");
        r["stored_output_shape"] = to_string(y.shape);
    }
    Engine engine(qnet, o.threads);
    engine.set_lut_kernel(LutKernel::Fast);
    qnet.reset();
    time_forward(r, engine_forward(engine, x), ref, o.budget);
    return encode(r);
}

// The reload check: the quantized model file that quant_child saved, read back with
// load_model_file (here, before any OpenMP thread starts: it reads HDF5 in a forked child) and
// run on the stored input as quant_child ran the network it saved. Passes when every output
// value has the same bits.
std::string reload_child(const Entry& e, const Options& o, const std::string& path) {
    Record r;
    const auto t0 = std::chrono::steady_clock::now();
    auto net = std::make_shared<const Network>(load_model_file(path));
    r["load_seconds"] = num(seconds_since(t0));
    omp_set_num_threads(o.threads);
    const Tensor y = stored_forward(net, e, o);
    r["output_shape"] = to_string(y.shape);
    const Tensor mem = read_f32(outputs_path(path), y.shape);
    int64_t differ = 0;
    double max_diff = 0;
    for (int64_t i = 0; i < y.size(); ++i) {
        uint32_t a, b;
        std::memcpy(&a, y.ptr() + i, 4);
        std::memcpy(&b, mem.ptr() + i, 4);
        if (a != b) {
            ++differ;
            max_diff = std::max(max_diff, std::fabs(double(y.ptr()[i]) - double(mem.ptr()[i])));
        }
    }
    r["reload_identical"] = differ == 0 ? "yes" : "no";
    r["reload_values"] = std::to_string(y.size());
    r["reload_differing_values"] = std::to_string(differ);
    r["reload_max_abs_diff"] = num(max_diff);
    put(r, "", compare(y.ptr(), y.shape, read_f32(e.logits, e.logits_shape)));  // against PyTorch, for the log
    return encode(r);
}

// The calibration data set spec for e: --calib (default folder:<manifest dir>/calib), a folder
// without a preprocessing preset getting torchvision's ImageNet transform scaled to the
// network's input (imagenet = 256/224; inception_v3's 299 gets 342/299, as torchvision's).
std::string calib_spec(const Entry& e, const Options& o) {
    std::string spec = o.calib.empty() ? "folder:" + (fs::path(o.manifest).parent_path() / "calib").string() : o.calib;
    if (spec.rfind("folder:", 0) != 0 || spec.find("preprocess=") != std::string::npos) return spec;
    const int64_t crop = e.input_shape.back();
    return with_preprocess(spec, crop == 224 ? "imagenet" : cat("imagenet:", (crop * 256 + 112) / 224, "/", crop));
}

// ||a - b|| / ||b|| over all values, and the share of rows (dimension 0) whose argmax agrees.
std::pair<double, double> logits_error(const Tensor& a, const Tensor& b) {
    double d = 0, n = 0;
    for (int64_t i = 0; i < a.size(); ++i) {
        d += std::pow(double(a.ptr()[i]) - double(b.ptr()[i]), 2);
        n += std::pow(double(b.ptr()[i]), 2);
    }
    const int64_t rows = a.shape[0], c = a.size() / rows;
    int64_t same = 0;
    for (int64_t i = 0; i < rows; ++i) {
        const float* x = a.ptr() + i * c;
        const float* y = b.ptr() + i * c;
        same += std::max_element(x, x + c) - x == std::max_element(y, y + c) - y;
    }
    return {n > 0 ? std::sqrt(d / n) : std::sqrt(d), double(same) / double(rows)};
}

// Error correction on a zoo network: --calib-images + --heldout-images images of calib_spec
// (a seeded subset, calibration_indices), quantize_network with EcMode::Layer on the first
// --calib-images (--ec-positions output positions per image for conv layers, --ec-iterations
// sweeps). EC fits a layer's codebooks to its calibration rows by least squares over d = C_s/g x
// kernel size columns; with fewer rows than columns it fits the few rows and blows up on other
// images (measured: SqueezeNet's logits error went from 0.76 to 1.1e4 with 16 images x 8
// positions), so only layers with at least --ec-rows-per-column x d rows are corrected (conv:
// images x positions, an upper bound; FC: images) and the others keep their k-means codebooks
// (":noec"). This also bounds the d x d Gram matrices in memory. The held-out images measure, against the float
// network, the logits error (relative L2 over all logits, and argmax agreement) and the last
// weight layer's response error (response_errors) of the k-means network that quant_child saved
// at `kmeans_path` (before EC) and of the error-corrected one (after).
std::string ec_child(const Entry& e, const Options& o, const std::string& kmeans_path) {
    Record r;
    // Read first: load_model_file reads HDF5 in a forked child, before any OpenMP thread here.
    const auto before = std::make_shared<const Network>(load_model_file(kmeans_path));
    const auto net = std::make_shared<const Network>(import_onnx(e.onnx));
    const std::string spec = calib_spec(e, o);
    r["calib_spec"] = spec;
    DataOptions dopt;
    dopt.sample_shape = Shape(e.input_shape.begin() + 1, e.input_shape.end());
    dopt.threads = o.quant_threads;
    omp_set_num_threads(o.quant_threads > 0 ? o.quant_threads : omp_get_num_procs());
    const std::unique_ptr<Dataset> ds = open_dataset(spec, dopt);
    const int64_t need = o.calib_images + o.heldout_images;
    if (ds->size() < need)
        fail(spec, ": ", ds->size(), " images, the EC cell needs ", need, " (--calib-images ", o.calib_images,
             " + --heldout-images ", o.heldout_images, ")");
    const std::vector<int64_t> idx = calibration_indices(ds->size(), need, o.seed);
    Tensor calib, held;
    std::vector<int> labels;
    ds->gather(std::span(idx).first(static_cast<size_t>(o.calib_images)), calib, labels);
    ds->gather(std::span(idx).subspan(static_cast<size_t>(o.calib_images)), held, labels);

    ResolvedSettings rs = resolve_settings(*net, parse_layer_settings(o.settings));
    int64_t nq = 0, noec = 0;
    for (ResolvedLayer& l : rs.layers) {
        if (l.setting.dense || l.already_quantized) continue;
        ++nq;
        const std::string label = l.alias.empty() ? l.name : l.alias;
        const double rows = double(o.calib_images) * double(l.kind == LayerKind::Conv ? o.ec_positions : 1);
        if (double(calib_layer(*net->nodes[l.node].op, label).group_dim()) * o.ec_rows_per_column > rows) {
            l.setting.ec = false;
            ++noec;
        }
    }
    QuantizeOptions qo = kmeans_options(o);
    qo.ec = EcMode::Layer;
    qo.ec_conv_images = qo.ec_fc_images = o.calib_images;
    qo.ec_positions = o.ec_positions;
    qo.ec_iterations = o.ec_iterations;
    const auto t0 = std::chrono::steady_clock::now();
    QuantizedNetwork q = quantize_network(*net, rs, qo, calib);
    r["ec_seconds"] = num(seconds_since(t0));  // k-means + calibration + EC
    double ec_only = 0, lb = 0, la = 0;
    int64_t corrected = 0;
    for (const LayerQuantInfo& l : q.layers)
        if (l.error_corrected) {
            ++corrected;
            ec_only += l.ec_seconds;
            lb += l.response_error_before;
            la += l.response_error_after;
        }
    r["quantized_layers"] = std::to_string(nq);
    r["ec_layers"] = std::to_string(corrected);
    r["noec_layers"] = std::to_string(noec);
    r["ec_only_seconds"] = num(ec_only);
    if (corrected) {  // per-layer response error on the layers' calibration rows, mean over layers
        r["calib_layer_error_before_mean"] = num(lb / double(corrected));
        r["calib_layer_error_after_mean"] = num(la / double(corrected));
    }

    const auto after = std::make_shared<const Network>(std::move(q.network));
    const std::vector<LayerResponseError> rb = response_errors(*net, *before, held, 8, o.quant_threads);
    const std::vector<LayerResponseError> ra = response_errors(*net, *after, held, 8, o.quant_threads);
    r["last_layer"] = rb.back().alias.empty() ? rb.back().name : rb.back().alias;
    r["last_layer_error_before"] = num(rb.back().network_error);
    r["last_layer_error_after"] = num(ra.back().network_error);
    auto run = [&](const std::shared_ptr<const Network>& n) {
        Engine engine(n, o.quant_threads);
        return Tensor(engine.forward(held));
    };
    const Tensor yf = run(net);
    const auto [eb, ab] = logits_error(run(before), yf);
    const auto [ea, aa] = logits_error(run(after), yf);
    r["logits_error_before"] = num(eb);
    r["logits_error_after"] = num(ea);
    r["argmax_agree_before"] = num(ab);
    r["argmax_agree_after"] = num(aa);
    r["heldout_images"] = std::to_string(held.shape[0]);
    r["calib_images"] = std::to_string(calib.shape[0]);
    r["peak_rss_bytes"] = std::to_string(bench::peak_rss_bytes());
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
    Record reload, ec;             // reload_child, ec_child

    // "yes" (bit-identical), "no", "error" or "-" (did not run).
    std::string reload_verdict() const {
        if (reload.empty()) return "-";
        if (reload.count("error")) return "error";
        return reload.count("reload_identical") ? reload.at("reload_identical") : "error";
    }
    // A reload or EC cell that ran and failed (--strict exits 1).
    bool cell_failed() const {
        return (!reload.empty() && reload_verdict() != "yes") || (!ec.empty() && ec.count("error"));
    }

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
            else if (a == "--kmeans-iters") o.kmeans_iters = std::stoi(next());
            else if (a == "--cells") {
                o.cells.clear();
                for (const std::string& c : split(next())) {
                    if (std::find(kCells.begin(), kCells.end(), c) == kCells.end())
                        fail("--cells: unknown cell '", c, "' (valid: float, opencv, quantized, reload, side, ec)");
                    o.cells.insert(c);
                }
            } else if (a == "--calib") o.calib = next();
            else if (a == "--calib-images") o.calib_images = std::stoll(next());
            else if (a == "--heldout-images") o.heldout_images = std::stoll(next());
            else if (a == "--ec-positions") o.ec_positions = std::stoll(next());
            else if (a == "--ec-iterations") o.ec_iterations = std::stoi(next());
            else if (a == "--ec-rows-per-column") o.ec_rows_per_column = std::stod(next());
            else {
                std::cout << "usage: qcnn_zoo --manifest DIR/manifest.json [--json FILE] [--md FILE] [--quick] [--strict]\n"
                             "                [--nets a,b] [--opsets 11,13,17] [--dynamic both|yes|no] [--bench-opset 13]\n"
                             "                [--threads 1] [--batch 1] [--check-threads 0] [--quant-threads 0]\n"
                             "                [--budget 1] [--rounds 5] [--settings conv=4/16,fc=4/16] [--tol 1e-3] [--seed 0]\n"
                             "                [--kmeans-iters 25] [--cells float,opencv,quantized,reload,side,ec]\n"
                             "                [--calib SPEC] [--calib-images 24] [--heldout-images 8] [--ec-positions 64]\n"
                             "                [--ec-iterations 2] [--ec-rows-per-column 2] [--command TEXT]\n";
                return a == "--help" || a == "-h" ? 0 : 2;
            }
        }
        if (o.manifest.empty()) fail("--manifest is required (tools/export_zoo.py writes it)");
        if (o.threads < 1 || o.batch < 1) fail("--threads and --batch must be >= 1");
        if (o.kmeans_iters < 1) fail("--kmeans-iters must be >= 1, got ", o.kmeans_iters);
        if (o.calib_images < 1 || o.heldout_images < 1)
            fail("--calib-images and --heldout-images must be >= 1, got ", o.calib_images, " and ", o.heldout_images);
        if (o.ec_positions < 1 || o.ec_iterations < 0 || !(o.ec_rows_per_column > 0))
            fail("--ec-positions must be >= 1, --ec-iterations >= 0 and --ec-rows-per-column > 0");
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
    // The JSON and Markdown outputs: rewritten after every benchmarked network (`done` of them so
    // far; a run stopped midway leaves them with the networks it finished) and at the end.
    int failed_cells = 0;
    auto write_outputs = [&](size_t done, bool final) {
        const double wall = seconds_since(run_t0);
        const std::string load_end = load_average();
        failed_cells =
            static_cast<int>(std::count_if(rows.begin(), rows.end(), [](const NetRow& r) { return r.cell_failed(); }));
        if (final)
        std::printf("\n%d of %zu entries fail the check, %d network(s) a reload or EC cell; %.0f s; load average at the "
                    "end %s\n",
                    failed, todo.size(), failed_cells, wall, load_end.c_str());

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
            w.field("kmeans_iters", o.kmeans_iters).field("calib_images", o.calib_images);
            w.field("heldout_images", o.heldout_images).field("ec_positions", o.ec_positions);
            w.field("ec_iterations", o.ec_iterations).field("ec_rows_per_column", o.ec_rows_per_column);
            w.field("failed_entries", failed).field("failed_cells", failed_cells);
            w.field("networks_done", static_cast<int64_t>(done)).field("complete", final);
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
                                                 {"side_by_side", &row.side}, {"reload", &row.reload},
                                                 {"ec", &row.ec}}) {
                    if (part->empty()) continue;
                    w.key(name).begin_object();
                    for (const auto& [k, v] : *part) {
                        if (k == "error" || k == "cost_error" || k == "opencv_error" || k == "quantized_file_error" ||
                            k == "reload_identical" || k == "output_shape" || k == "stored_output_shape" ||
                            k == "calib_spec" || k == "last_layer")
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
            else if (final) std::printf("JSON: %s\n", o.json_path.c_str());
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
                  << "k-means on the weights only (" << o.kmeans_iters << " iterations, no error correction, seed " << o.seed
                  << "), fast lookup-table kernels. *Quantizable* = share of the weight-layer FLOPs / of all parameters "
                     "in the layers those settings quantize; compression (over weights) and theoretical speed-up are "
                     "the cost model's at these settings. Peak RSS: each path timed again in a process of its own, its "
                     "peak while running (float ours / quantized / OpenCV). *Reload*: the quantized network is saved "
                     "to a model file (core/io/model_file.h, as `qcnn quantize -o`), read back in another process and "
                     "run on the stored input; *yes* = every output value has the same bits as the in-memory network's "
                     "(the side-by-side timing runs that file).\n";
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
                     "compression | theoretical speed-up | quantized ms/image | measured speed-up | peak RSS MB | reload |\n"
                  << "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
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
                      << " / " << fmt("%.0f", get(row.cv, "peak_rss_bytes") / 1e6) << " | " << row.reload_verdict() << " |\n";
                }
                m << "\n† timed in the path's own process, not side by side (our importer fails, or the side-by-side "
                     "cell did: see Benchmark errors).\n";
                if (std::any_of(rows.begin(), rows.end(), [](const NetRow& r) { return !r.ec.empty(); })) {
                    m << "\n## Error correction, opset " << o.bench_opset << "\n\n"
                      << "Each network quantized again at `" << o.settings << "`, now with error correction in layer mode "
                      << "(`EcMode::Layer`, core/quant/quantize_network.h) on " << o.calib_images
                      << " calibration images, " << o.ec_positions << " sampled output positions per image for conv layers, "
                      << o.ec_iterations << " EC sweeps, the same k-means (" << o.kmeans_iters << " iterations, seed "
                      << o.seed << "). Images: `" << (o.calib.empty() ? "folder:<manifest dir>/calib" : o.calib)
                      << "`, read through the product's dataset path (core/data/dataset.h) with torchvision's ImageNet "
                         "preprocessing (`preprocess=imagenet`, inception_v3 `imagenet:342/299`); "
                      << o.calib_images + o.heldout_images << " of them picked by `calibration_indices` (seed " << o.seed
                      << "), the first " << o.calib_images << " calibrate, the other " << o.heldout_images
                      << " are held out and measure the errors below against the float network. The default folder holds "
                         "`tools/export_zoo.py --calib`'s seeded synthetic JPEGs (smooth random colour fields plus noise; "
                         "the weights are random too). EC fits each layer's codebooks by least squares over d = C_s/g x "
                         "kernel size columns: only layers with at least "
                      << o.ec_rows_per_column << " x d calibration rows (conv: images x positions = "
                      << o.calib_images * o.ec_positions << ", FC: images = " << o.calib_images
                      << ") are corrected, the others keep their k-means codebooks (with fewer rows than columns EC fits "
                         "the calibration rows and blows up on other images). *Before* = the k-means "
                         "network read back from the quantized cell's model file, *after* = with EC. *Logits error* = "
                         "||y_q - y|| / ||y|| over all held-out logits; *argmax* = share of held-out images whose top-1 "
                         "class matches the float network's; *last layer* = response error of the last weight layer "
                         "(`response_errors`, core/quant/calibration.h). EC s = wall time of the whole EC quantization "
                         "(k-means, calibration passes and EC), "
                      << (o.quant_threads > 0 ? std::to_string(o.quant_threads) : std::string("all")) << " threads.\n\n"
                      << "| network | EC | layers corrected / quantized | EC s | logits error before | after | argmax "
                         "before | after | last layer error before | after |\n"
                      << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
                    for (const NetRow& row : rows) {
                        if (row.ec.empty()) continue;
                        if (row.ec.count("error")) {
                            m << "| " << row.network << " | error | | | | | | | | |\n";
                            continue;
                        }
                        m << "| " << row.network << " | yes | " << row.ec.at("ec_layers") << " / "
                          << row.ec.at("quantized_layers") << " | " << fmt("%.0f", get(row.ec, "ec_seconds")) << " | "
                          << fmt("%.4f", get(row.ec, "logits_error_before")) << " | "
                          << fmt("%.4f", get(row.ec, "logits_error_after")) << " | "
                          << fmt("%.2f", get(row.ec, "argmax_agree_before")) << " | "
                          << fmt("%.2f", get(row.ec, "argmax_agree_after")) << " | "
                          << fmt("%.4f", get(row.ec, "last_layer_error_before")) << " | "
                          << fmt("%.4f", get(row.ec, "last_layer_error_after")) << " |\n";
                    }
                }
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
                                                 {"side by side", &row.side}, {"reload", &row.reload},
                                                 {"EC", &row.ec}})
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
            m << "\n" << failed << " of " << todo.size() << " files fail the check";
            if (!o.quick) m << "; " << failed_cells << " network(s) fail the reload check or error correction";
            m << "; the run took " << fmt("%.0f", wall) << " s.\n";
            if (!final)
                m << "\n**Partial**: written after " << done << " of " << rows.size()
                  << " networks were benchmarked; the run had not finished.\n";
            std::ofstream f(o.md_path);
            f << m.str();
            if (!f) std::cerr << "qcnn_zoo: cannot write " << o.md_path << "\n";
            else if (final) std::printf("Markdown: %s\n", o.md_path.c_str());
        }
    };
    if (!o.quick) {
        std::printf("\nbenchmark: opset %d (dynamic-batch file when there is one), batch %d, %d thread(s); ms = median "
                    "with the three paths in one process, %d rounds alternating them, >= %.2f s per path; settings "
                    "%s (k-means on the weights, %d iterations, no EC, fast kernels); RSS: each path in its own "
                    "process; reload: the saved model file's outputs on the stored input bit-identical\n",
                    o.bench_opset, o.batch, o.threads, o.rounds, o.budget, o.settings.c_str(), o.kmeans_iters);
        std::printf("%-20s %10s %10s %10s %8s %8s %8s %8s %10s %8s %14s %7s\n", "network", "ours ms/i", "OpenCV ms/i",
                    "Q ms/i", "Q-FLOPs", "Q-wts", "compr.", "theory", "measured", "k-means s", "RSS MB f/Q/cv",
                    "reload");
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
            auto want = [&](const char* cell) { return o.cells.count(cell) > 0; };
            if (imports && want("float")) row.flt = decode(in_child([&] { return float_child(e, o); }));
            if (want("opencv")) row.cv = decode(in_child([&] { return opencv_child(e, o); }));
            // The reload, side-by-side and EC cells read the quantized cell's model file.
            const bool qcell = imports && (want("quantized") || want("reload") || want("side") || want("ec"));
            if (qcell) row.q = decode(in_child([&] { return quant_child(e, o, qpath); }));
            const bool saved = qcell && !row.q.count("error");
            if (want("reload") && qcell) {
                if (saved) row.reload = decode(in_child([&] { return reload_child(e, o, qpath); }));
                else row.reload["error"] = "not quantized (see the quantized cell's error)";
            }
            if (imports && want("side")) row.side = decode(in_child([&] { return side_child(e, o, saved ? qpath : ""); }));
            if (want("ec") && qcell) {
                if (saved) row.ec = decode(in_child([&] { return ec_child(e, o, qpath); }));
                else row.ec["error"] = "not quantized (see the quantized cell's error)";
            }
            std::error_code ec;
            fs::remove(qpath, ec);
            fs::remove(outputs_path(qpath), ec);
            const double f = row.ms("float"), q = row.ms("quantized");
            std::printf("%-20s %10s %10s %10s %8s %8s %8s %8s %10s %8s %14s %7s\n", row.network.c_str(),
                        fmt("%.2f", f).c_str(), fmt("%.2f", row.ms("opencv")).c_str(), fmt("%.2f", q).c_str(),
                        fmt("%.1f%%", 100 * get(row.flt, "quantizable_flops_fraction")).c_str(),
                        fmt("%.1f%%", 100 * get(row.flt, "quantizable_weight_fraction")).c_str(),
                        fmt("%.2fx", get(row.flt, "compression")).c_str(),
                        fmt("%.2fx", get(row.flt, "theoretical_speedup")).c_str(), fmt("%.2fx", f / q).c_str(),
                        fmt("%.1f", get(row.q, "quantize_seconds")).c_str(),
                        cat(fmt("%.0f", get(row.flt, "peak_rss_bytes") / 1e6), "/",
                            fmt("%.0f", get(row.q, "peak_rss_bytes") / 1e6), "/",
                            fmt("%.0f", get(row.cv, "peak_rss_bytes") / 1e6))
                            .c_str(),
                        row.reload_verdict().c_str());
            if (!row.ec.empty() && !row.ec.count("error"))
                std::printf("%-20s   EC (layer, %s of %s layers, %s s): logits error %s -> %s, argmax agreement %s -> %s, "
                            "last layer %s error %s -> %s (held-out images vs float)\n",
                            "", row.ec.at("ec_layers").c_str(), row.ec.at("quantized_layers").c_str(),
                            fmt("%.1f", get(row.ec, "ec_seconds")).c_str(),
                            fmt("%.4f", get(row.ec, "logits_error_before")).c_str(),
                            fmt("%.4f", get(row.ec, "logits_error_after")).c_str(),
                            fmt("%.2f", get(row.ec, "argmax_agree_before")).c_str(),
                            fmt("%.2f", get(row.ec, "argmax_agree_after")).c_str(), row.ec.at("last_layer").c_str(),
                            fmt("%.4f", get(row.ec, "last_layer_error_before")).c_str(),
                            fmt("%.4f", get(row.ec, "last_layer_error_after")).c_str());
            if (row.reload_verdict() == "no")
                std::printf("%-20s   reload: %s of %s output values differ (max |diff| %s)\n", "",
                            row.reload.at("reload_differing_values").c_str(), row.reload.at("reload_values").c_str(),
                            fmt("%.3g", get(row.reload, "reload_max_abs_diff")).c_str());
            for (const auto* part : {&row.flt, &row.cv, &row.q, &row.side, &row.reload, &row.ec})
                for (const char* k : {"error", "cost_error", "quantized_file_error"})
                    if (part->count(k))
                        std::printf("%-20s   %s %s: %s\n", "",
                                    part == &row.flt  ? "float"
                                    : part == &row.cv ? "OpenCV"
                                    : part == &row.q  ? "quantized"
                                    : part == &row.side ? "side by side"
                                    : part == &row.reload ? "reload"
                                                        : "EC",
                                    k, part->at(k).c_str());
            std::fflush(stdout);
            write_outputs(static_cast<size_t>(&row - rows.data()) + 1, false);
        }
    }
    write_outputs(rows.size(), true);
    return o.strict && (failed > 0 || failed_cells > 0) ? 1 : 0;
}
