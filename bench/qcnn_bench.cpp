// qcnn_bench: the Q-CNN kernels and networks against dense inference, every table measured
// side by side in one run (issue 5).
//
//   qcnn_bench [--json FILE] [--budget S] [--quick] [--part layers|networks|all]
//              [--threads 1,2] [--batches 1,32] [--big-batches 1,32] [--vgg16-batches 1]
//              [--layer-batches 1] [--nets lenet5,vgg7,alexnet,vgg16] [--families A,B]
//              [--lut-big-batches]
//   qcnn_bench --part peers [--zoo DIR] [--peer-nets ...] [--peer-batches 1,8] [--im2col] ...
//   qcnn_bench --part int8-accuracy [--calib-images 256]
//   qcnn_bench --part serve --peer-nets NET --peer-batches B --threads T  (bench/torch_peer.py's side)
// --batches: the bundled networks; --big-batches: AlexNet; --vgg16-batches: VGG-16 (batch 32
// takes minutes per path on 2 cores, so it is off by default). --quick: budget 0.1 s, batch 1,
// family A only.
//
// (a) Per layer (one process): AlexNet conv2-5, fc6, fc7; VGG-16 conv1_2, conv3_1, conv5_1, fc6;
//     every weight layer of the bundled LeNet-5- and VGG-style networks; and the two
//     target layers (3x3 conv 64->64 at 56x56, pad 1; fc7 is the 4096x4096 FC). Columns: dense
//     (the engine's ConvOp / FcOp), Q-CNN float LUT (QConvOp / QFcOp, LutKernel::Reference),
//     Q-CNN fast (LutKernel::Fast), measured speed-ups and the cost model's FLOP ratio.
// (b) Whole networks: the bundled networks on 1x28x28 inputs (Fashion-MNIST's shape) and the
//     built-in AlexNet (3x227x227) and VGG-16 (3x224x224) with random weights. Columns: dense
//     (own engine), OpenCV DNN fp32 (the same network as ONNX: the bundled files, or the
//     built-in networks exported by onnx_export.h and checked by a round trip through core/io),
//     Q-CNN float LUT, Q-CNN fast (every quantized layer on the lookup-table kernels) and fast
//     (auto) (core/eval/kernel_choice.h: per layer the faster of fast and dense). Every
//     (network, path, batch, threads) cell runs in a process of its own (fork before anything
//     is built, so the parent never runs OpenMP): it builds the network, resets the peak-RSS
//     counter (/proc/self/clear_refs), times forward passes and reports its peak RSS. Beside
//     it: the cost model's theoretical speed-up and accounted run-time bytes (weights + biases
//     + peak activations + LUT buffer, core/cost/cost_model.h), dense and quantized.
// Quantized layers get random codebooks and codes (timing does not depend on the values), so
// no k-means runs here; accuracy is measured by `qcnn quantize` and the tests.
// Settings families: A = C_s'/K 4/16 for conv and FC; B = conv 8/32, FC 4/8 (with conv3 at 4/32
// in the VGG-style network: the setting the lead measured with error correction). A layer a
// setting does not fit stays dense (resolve_settings' type defaults).
// (c) --part peers (issue 14): the zoo's ImageNet networks (--zoo, tools/export_zoo.py) on dense
//     (ours; --im2col adds our im2col conv), oneDNN fp32 and oneDNN int8 peers (dnnl_peer.h) and
//     Q-CNN fast / auto, alternated in one process per (network, batch, threads) with
//     core/eval/speed.h's time_alternating; per-layer table; peak RSS per path in its own
//     process. --part int8-accuracy: the int8 peer's top-1 vs float on Fashion-MNIST.
//     bench/torch_fp32.py times PyTorch fp32 on the same networks (dev time, separate process).
// Timing: median of repetitions after a warm-up, at least 3 and until --budget seconds passed;
// the float LUT reference on AlexNet / VGG-16 at batch >= 32 (minutes per batch) is skipped
// unless --lut-big-batches asks for it, and then timed as one pass without warm-up.
#include <malloc.h>
#include <omp.h>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/util/host.h"
#include "core/cost/builtin_networks.h"
#include "core/cost/cost_model.h"
#include "core/data/dataset.h"
#include "core/eval/evaluate.h"
#include "core/eval/kernel_choice.h"
#include "core/eval/speed.h"
#include "core/graph/plan.h"
#include "core/io/onnx_import.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/quantized_ops.h"
#include "core/quant/settings.h"
#include "core/util/json.h"
#include "dnnl_peer.h"
#include "onnx_export.h"

namespace {

using namespace qcnn;

using namespace qcnn::bench;

std::vector<int> int_list(const std::string& s) {
    std::vector<int> v;
    for (const std::string& x : split(s)) v.push_back(std::stoi(x));
    return v;
}

struct Options {
    std::string json_path;
    double budget = 0.3;
    bool quick = false;
    bool layers = true, networks = true;
    std::vector<int> threads{1, 2};
    std::vector<int> batches{1, 32};       // bundled networks
    std::vector<int> big_batches{1, 32};   // AlexNet
    std::vector<int> vgg16_batches{1};     // VGG-16 (batch 32 on 2 cores takes minutes per path)
    std::vector<int> layer_batches{1};
    std::vector<std::string> nets{"lenet5", "vgg7", "alexnet", "vgg16"};
    std::vector<std::string> families{"A", "B"};
    // The float LUT reference on AlexNet / VGG-16 at batch >= 32 takes minutes per batch on 2
    // cores; it runs only when asked, and then as one timed pass (no warm-up, no repetition).
    bool lut_big_batches = false;
    // --part peers / int8-accuracy (issue 14).
    bool peers = false, int8_acc = false;
    std::string zoo = std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.cache/qcnn-zoo";
    std::vector<std::string> peer_nets{"alexnet", "vgg11", "vgg16", "resnet18", "resnet50", "mobilenet_v2"};
    std::vector<int> peer_batches{1, 8};
    int calib_inputs = 4;      // seeded N(0,1) inputs calibrating the int8 peer on the zoo networks
    int calib_images = 256;    // Fashion-MNIST training images calibrating it on the bundled ones
    bool peer_rss = true;      // peak RSS per path at batch 1, 1 thread (one process each)
    bool per_layer = true;     // per-layer table at batch 1, 1 thread
    long mmap_threshold = 0;   // peers: mallopt(M_MMAP_THRESHOLD) in the children; 0 = glibc's default
    bool im2col_side = false;  // peers: also time the dense network on the im2col + Eigen convolution
    bool serve = false;        // --part serve (bench/torch_peer.py's subprocess)
};

std::string family_settings(const std::string& net, const std::string& family) {
    if (family == "A") return "conv=4/16,fc=4/16";
    if (net == "vgg7") return "conv=8/32,conv3=4/32,fc=4/8";
    return "conv=8/32,fc=4/8";
}

bool is_bundled(const std::string& net) { return net == "lenet5" || net == "vgg7"; }

std::string bundled_path(const std::string& net) { return std::string(QCNN_DATASETS_DIR) + "/" + net + ".onnx"; }

std::shared_ptr<Network> load_float(const std::string& net, uint64_t seed) {
    if (is_bundled(net)) return std::make_shared<Network>(import_onnx(bundled_path(net)));
    return builtin_network(net, seed);
}

Shape sample_of(const std::string& net) { return is_bundled(net) ? Shape{1, 28, 28} : builtin_sample_shape(net); }

// A quantized op with random codebooks (N(0, 0.05)) and codes for a dense weight op.
OpPtr random_pq_op(const Op& op, PQConfig cfg, const std::string& layer, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.05f);
    const std::optional<WeightLayer> dense = op.as_weight_layer();
    QCNN_ASSERT(dense && !dense->quantized(), "random_pq_op: not a dense weight op");
    PQWeights q;
    q.geo = pq_geometry(dense->kind, dense->weight->shape, dense->groups, cfg, layer);
    q.codebooks.resize(q.geo.subspaces() * q.geo.K * q.geo.dsub);
    for (float& v : q.codebooks) v = nd(rng);
    std::vector<uint8_t> codes(q.geo.num_codes());
    std::uniform_int_distribution<int> code(0, static_cast<int>(q.geo.K) - 1);
    for (uint8_t& c : codes) c = static_cast<uint8_t>(code(rng));
    q.codes = pack_codes(codes, q.geo.bits());
    return make_quantized_layer(*dense, q, dense->bias);
}

// `net` with every layer of `settings` that is not dense replaced by a random quantized op.
void quantize_randomly(Network& net, const ResolvedSettings& settings, uint64_t seed) {
    for (size_t i = 0; i < settings.layers.size(); ++i) {
        const ResolvedLayer& l = settings.layers[i];
        if (l.setting.dense) continue;
        net.nodes[l.node].op = random_pq_op(*net.nodes[l.node].op, l.setting.pq, l.alias, seed + i);
    }
}

// Seeded input: uniform in [0, 1), or N(0, 1) (the zoo's ImageNet-normalised scale) when normal.
Tensor random_input(const Shape& shape, uint32_t seed, bool normal = false) {
    Tensor x(shape);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (float& v : x.data) v = normal ? nd(rng) : u(rng);
    return x;
}

std::string outputs_string(const float* p, int64_t n) {
    std::string s;
    for (int64_t i = 0; i < std::min<int64_t>(n, 16); ++i) s += (i ? "," : "") + num(p[i]);
    return s;
}

std::vector<double> parse_outputs(const Record& r) {
    std::vector<double> v;
    auto it = r.find("out");
    if (it == r.end()) return v;
    for (const std::string& x : split(it->second)) v.push_back(std::stod(x));
    return v;
}

// ------------------------------------------------------------------------ per layer --

struct LayerJob {
    std::string net, node;  // node name in the network ("" for the synthetic target conv)
    std::string label;
};

std::string layer_part(const Options& o) {
    std::vector<LayerJob> jobs;
    if (std::find(o.nets.begin(), o.nets.end(), "alexnet") != o.nets.end())
        for (const char* n : {"conv2", "conv3", "conv4", "conv5", "fc6", "fc7"}) jobs.push_back({"alexnet", n, ""});
    if (std::find(o.nets.begin(), o.nets.end(), "vgg16") != o.nets.end())
        for (const char* n : {"conv1_2", "conv3_1", "conv5_1", "fc6"}) jobs.push_back({"vgg16", n, ""});
    jobs.push_back({"target", "", "conv 3x3 64->64 56x56"});
    for (const char* net : {"lenet5", "vgg7"})
        if (std::find(o.nets.begin(), o.nets.end(), net) != o.nets.end()) jobs.push_back({net, "*", ""});

    std::ostringstream out;
    std::map<std::string, std::shared_ptr<Network>> nets;
    std::map<std::string, NetworkGeometry> geos;
    auto network = [&](const std::string& name) -> Network& {
        if (!nets.count(name)) {
            if (name == "target") {
                auto n = std::make_shared<Network>();
                n->source = "target";
                ValueDecl in;
                in.name = "input";
                in.shape = {-1, 64, 56, 56};
                n->inputs = {n->add_value(in)};
                ValueDecl y;
                y.name = "y";
                const int yi = n->add_value(y);
                ConvParams p;
                p.kernel_h = p.kernel_w = 3;
                p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
                Tensor w({64, 64, 3, 3});
                fill_he_normal(w.ptr(), w.size(), 64 * 9, 5);
                n->nodes.push_back({"conv64", "", std::make_shared<ConvOp>(p, w, std::vector<float>(64, 0.0f)),
                                    {n->inputs[0]}, {yi}});
                n->outputs = {yi};
                n->assign_aliases();
                nets[name] = n;
            } else {
                nets[name] = load_float(name, 1);
            }
            const Shape s = name == "target" ? Shape{64, 56, 56} : sample_of(name);
            geos[name] = network_geometry(*nets[name], s);
        }
        return *nets[name];
    };
    std::vector<std::pair<std::string, int>> todo;  // (net, node index)
    for (const LayerJob& j : jobs) {
        Network& n = network(j.net);
        if (j.node == "*" || j.node.empty()) {
            for (int i : n.weight_layers()) todo.push_back({j.net, i});
        } else {
            const int i = n.find_node(j.node);
            if (i < 0) fail("per-layer table: no node ", j.node, " in ", j.net);
            todo.push_back({j.net, i});
        }
    }
    for (const auto& [netname, ni] : todo) {
        Network& net = network(netname);
        const Node& node = net.nodes[ni];
        const Shape sample = netname == "target" ? Shape{64, 56, 56} : sample_of(netname);
        const NetworkGeometry& geo = geos[netname];
        const LayerGeometry* lg = nullptr;
        for (const LayerGeometry& l : geo.layers)
            if (l.name == node.name) lg = &l;
        QCNN_ASSERT(lg, "layer geometry");
        for (const std::string& fam : o.families) {
            const bool is_conv = lg->kind == LayerKind::Conv;
            int64_t dsub = fam == "A" ? 4 : (is_conv ? 8 : 4);
            const int64_t K = fam == "A" ? 16 : (is_conv ? 32 : 8);
            const int64_t cg = lg->c_s / lg->group;
            while (cg % dsub != 0) --dsub;  // the largest C_s' <= the family's that fits
            const QuantSetting setting = QuantSetting::make_pq(dsub, K);
            const LayerCost cost = layer_cost(*lg, setting);
            const OpPtr q = random_pq_op(*node.op, PQConfig{dsub, K}, node.alias, 17);
            for (int batch : o.layer_batches) {
                Shape in{batch};
                in.insert(in.end(), sample.begin(), sample.end());
                const Plan plan(net, {in});
                const ValueInfo& xi = plan.info(node.inputs[0]);
                Tensor x = random_input(xi.shape, 3);
                const std::vector<ValueInfo> oi = node.op->infer({&xi});
                Tensor yd(oi[0].shape), yq(oi[0].shape), yr(oi[0].shape);
                const std::vector<const Tensor*> ins{&x};
                const std::vector<const ValueInfo*> infos{&xi};
                const std::vector<Tensor*> od{&yd}, oq{&yq}, orf{&yr};
                for (int t : o.threads) {
                    omp_set_num_threads(t);
                    const ExecContext fast{t, LutKernel::Fast}, ref{t, LutKernel::Reference};
                    const bench::Timing td =
                        bench::time_it([&] { node.op->run(RunArgs{ins, infos, od, fast}); }, o.budget, 3, 1);
                    const bench::Timing tf =
                        bench::time_it([&] { q->run(RunArgs{ins, infos, oq, fast}); }, o.budget, 3, 1);
                    const bench::Timing tr =
                        bench::time_it([&] { q->run(RunArgs{ins, infos, orf, ref}); }, o.budget / 3, 3, 1);
                    double diff = 0, mag = 0;
                    for (int64_t i = 0; i < yq.size(); ++i) {
                        diff = std::max(diff, std::fabs(double(yq.data[i]) - yr.data[i]));
                        mag = std::max(mag, std::fabs(double(yr.data[i])));
                    }
                    Record r;
                    r["net"] = netname;
                    r["layer"] = node.name;
                    r["alias"] = node.alias;
                    r["shape"] = cat(lg->c_s, "->", lg->c_t, lg->kind == LayerKind::Conv
                                                                 ? cat(" ", lg->k_h, "x", lg->k_w, " g", lg->group, " ",
                                                                       lg->h_t, "x", lg->w_t)
                                                                 : std::string());
                    r["family"] = fam;
                    r["setting"] = setting.to_string();
                    r["batch"] = std::to_string(batch);
                    r["threads"] = std::to_string(t);
                    r["dense_ms"] = num(td.median_s * 1e3);
                    r["lut_ref_ms"] = num(tr.median_s * 1e3);
                    r["fast_ms"] = num(tf.median_s * 1e3);
                    r["dense_min_ms"] = num(td.min_s * 1e3);
                    r["lut_ref_min_ms"] = num(tr.min_s * 1e3);
                    r["fast_min_ms"] = num(tf.min_s * 1e3);
                    r["theoretical"] = num(cost.speedup());
                    r["fast_vs_ref_rel_diff"] = num(mag > 0 ? diff / mag : diff);
                    out << encode(r) << "--\n";
                }
            }
        }
    }
    return out.str();
}

// ------------------------------------------------------------------- whole networks --

enum class Path { Dense, OpenCv, LutRef, Fast, Auto };
const char* path_name(Path p) {
    switch (p) {
        case Path::Dense: return "dense";
        case Path::OpenCv: return "opencv";
        case Path::LutRef: return "lut-ref";
        case Path::Fast: return "fast";
        case Path::Auto: return "auto";
    }
    return "?";
}

struct Cell {
    std::string net, family;  // family empty for dense / opencv
    Path path = Path::Dense;
    int batch = 1, threads = 1;
};

std::string onnx_for(const std::string& net) {
    return is_bundled(net) ? bundled_path(net)
                           : (std::filesystem::temp_directory_path() / ("qcnn_bench_" + net + ".onnx")).string();
}

// Exports a built-in network and checks the round trip: core/io reads the file back and
// computes the same outputs as the network that was written.
std::string export_child(const std::string& name) {
    const auto net = load_float(name, 1);
    const Shape sample = sample_of(name);
    const std::string path = onnx_for(name);
    bench::export_onnx(*net, sample, path);
    const auto back = std::make_shared<Network>(import_onnx(path));
    Shape in{1};
    in.insert(in.end(), sample.begin(), sample.end());
    const Tensor x = random_input(in, 9);
    Engine a(net, 0), b(back, 0);
    const Tensor ya = a.forward(x);
    const Tensor& yb = b.forward(x);
    double d = ya.shape == yb.shape ? 0.0 : INFINITY;
    for (int64_t i = 0; d == 0.0 && i < ya.size(); ++i) d = std::max(d, std::fabs(double(ya.data[i]) - yb.data[i]));
    Record r;
    r["path"] = path;
    r["bytes"] = std::to_string(std::filesystem::file_size(path));
    r["roundtrip_max_diff"] = num(d);
    return encode(r);
}

std::string cell_child(const Cell& c, double budget) {
    mallopt(M_MMAP_THRESHOLD, 1 << 16);  // big buffers come from mmap and go back on free
    const Shape sample = sample_of(c.net);
    Shape in{c.batch};
    in.insert(in.end(), sample.begin(), sample.end());
    const Tensor x = random_input(in, 7);
    Record r;
    std::function<const float*()> forward;
    int64_t out_size = 0;
    std::unique_ptr<Engine> engine;
    cv::dnn::Net cvnet;
    cv::Mat blob, cv_out;
    omp_set_num_threads(c.threads);
    if (c.path == Path::OpenCv) {
        cvnet = cv::dnn::readNetFromONNX(onnx_for(c.net));
        cvnet.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        cvnet.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        cv::setNumThreads(c.threads);
        std::vector<int> dims(in.begin(), in.end());
        blob = cv::Mat(static_cast<int>(dims.size()), dims.data(), CV_32F, const_cast<float*>(x.ptr()));
        forward = [&]() -> const float* {
            cvnet.setInput(blob);
            cv_out = cvnet.forward();
            out_size = static_cast<int64_t>(cv_out.total());
            return cv_out.ptr<float>();
        };
    } else {
        std::shared_ptr<Network> net = load_float(c.net, 1);
        std::shared_ptr<const Network> run = net;
        if (c.path != Path::Dense) {
            const ResolvedSettings rs = resolve_settings(*net, parse_layer_settings(family_settings(c.net, c.family)));
            std::vector<QuantSetting> settings;
            for (const ResolvedLayer& l : rs.layers) settings.push_back(l.setting);
            CostOptions co;
            co.batch = c.batch;
            const NetworkCost cost = network_cost(network_geometry(*net, sample), settings, co);
            r["theoretical"] = num(cost.speedup());
            r["accounted_dense_bytes"] = std::to_string(cost.dense.peak_bytes);
            r["accounted_quantized_bytes"] = std::to_string(cost.quantized.peak_bytes);
            quantize_randomly(*net, rs, 100);
            if (c.path == Path::Auto) {
                KernelChoiceOptions ko;
                ko.batch = c.batch;
                ko.threads = c.threads;
                ko.budget_s = std::min(0.05, budget / 4);
                const KernelChoice kc = choose_kernels(net, sample, ko);
                run = kc.network;
                std::string dense;
                for (const LayerChoice& l : kc.layers)
                    if (l.path == LayerPath::Dense) dense += (dense.empty() ? "" : ",") + l.alias;
                r["dense_layers"] = dense.empty() ? "-" : dense;
            }
        } else {
            std::vector<QuantSetting> settings(network_geometry(*net, sample).layers.size());
            CostOptions co;
            co.batch = c.batch;
            r["accounted_dense_bytes"] =
                std::to_string(network_cost(network_geometry(*net, sample), settings, co).dense.peak_bytes);
        }
        net.reset();
        engine = std::make_unique<Engine>(run, c.threads);
        engine->set_lut_kernel(c.path == Path::LutRef ? LutKernel::Reference : LutKernel::Fast);
        forward = [&]() -> const float* {
            const Tensor& y = engine->forward(x);
            out_size = y.size();
            return y.ptr();
        };
    }
    malloc_trim(0);
    reset_peak_rss();
    r["rss_before_bytes"] = std::to_string(bench::proc_status_bytes("VmRSS:"));
    const float* y = nullptr;
    // The float LUT reference on AlexNet / VGG-16 at batch >= 32 (--lut-big-batches): one pass.
    const bool single = c.path == Path::LutRef && c.batch >= 32 && !is_bundled(c.net);
    const bench::Timing t =
        single ? bench::time_it([&] { y = forward(); }, 0, 1, 0) : bench::time_it([&] { y = forward(); }, budget, 3, 1);
    r["rss_peak_bytes"] = std::to_string(bench::peak_rss_bytes());
    r["median_ms"] = num(t.median_s * 1e3);
    r["min_ms"] = num(t.min_s * 1e3);
    r["reps"] = std::to_string(t.reps);
    r["out"] = outputs_string(y, out_size);
    return encode(r);
}

// ------------------------------------------------------------------- peers (issue 14) --
// ImageNet-size networks from tools/export_zoo.py (opset 13, dynamic batch) on four paths in
// one process, one pass of each per round (core/eval/speed.h's time_alternating): dense (our
// float engine), oneDNN fp32 (dnnl_peer.h: Conv / Fc on oneDNN, the rest on our ops), oneDNN
// int8 (static PTQ calibrated on --calib seeded N(0,1) inputs) and Q-CNN fast (our LUT
// kernels, random codebooks at the family's setting). Peak RSS: one process per path.

enum class PeerPath { Dense, Fp32, Int8, Fast, Auto };
constexpr PeerPath kPeerPaths[] = {PeerPath::Dense, PeerPath::Fp32, PeerPath::Int8, PeerPath::Fast, PeerPath::Auto};
constexpr int kPeerSides = 5;
const char* peer_path_name(PeerPath p) {
    switch (p) {
        case PeerPath::Dense: return "dense";
        case PeerPath::Fp32: return "dnnl-fp32";
        case PeerPath::Int8: return "dnnl-int8";
        case PeerPath::Fast: return "qcnn-fast";
        case PeerPath::Auto: return "qcnn-auto";
    }
    return "?";
}

std::string zoo_onnx(const std::string& zoo, const std::string& net) {
    const std::string f = zoo + "/" + net + "/" + net + ".op13.dyn.onnx";
    if (!std::filesystem::exists(f))
        fail("peers: ", f, " does not exist (export it with tools/zoo.sh, or pass --zoo DIR)");
    return f;
}

struct PeerNets {
    std::shared_ptr<const Network> net[kPeerSides];
    bench::DnnlLayerStats stats[kPeerSides];  // fp32 / int8 sides
    Record info;
};

// Builds the paths asked for (all: `only` empty) of one zoo network.
void build_peers(PeerNets& p, const std::string& file, const std::string& family, const Shape& sample,
                 int calib_inputs, int batch, int threads, const std::vector<PeerPath>& only) {
    auto want = [&](PeerPath x) { return only.empty() || std::find(only.begin(), only.end(), x) != only.end(); };
    const auto net = std::make_shared<Network>(import_onnx(file));
    const NetworkGeometry geo = network_geometry(*net, sample);
    const ResolvedSettings rs = resolve_settings(*net, parse_layer_settings(family_settings("", family)));
    std::vector<QuantSetting> settings, dense_settings(geo.layers.size());
    for (const ResolvedLayer& l : rs.layers) settings.push_back(l.setting);
    const NetworkCost cost = network_cost(geo, settings, CostOptions{});
    p.info["accounted_dense_bytes"] = std::to_string(cost.dense.peak_bytes);
    p.info["accounted_quantized_bytes"] = std::to_string(cost.quantized.peak_bytes);
    p.info["theoretical"] = num(cost.speedup());
    if (want(PeerPath::Fp32))
        p.net[1] = bench::dnnl_network(*net, bench::PeerPrecision::Fp32, nullptr, &p.stats[1]);
    if (want(PeerPath::Int8)) {
        std::vector<Tensor> calib;
        Shape in{1};
        in.insert(in.end(), sample.begin(), sample.end());
        for (int i = 0; i < calib_inputs; ++i) calib.push_back(random_input(in, 1000 + i, true));
        const bench::Calibration c = bench::calibrate(*net, calib, threads);
        p.net[2] = bench::dnnl_network(*net, bench::PeerPrecision::Int8, &c, &p.stats[2]);
    }
    if (want(PeerPath::Fast) || want(PeerPath::Auto)) {
        auto q = std::make_shared<Network>(*net);
        quantize_randomly(*q, rs, 100);
        if (want(PeerPath::Fast)) p.net[3] = q;
        if (want(PeerPath::Auto)) {
            // What `qcnn eval` runs: per quantized layer the faster of LUT kernels and dense.
            KernelChoiceOptions ko;
            ko.batch = batch;
            ko.threads = threads;
            const KernelChoice kc = choose_kernels(q, sample, ko);
            p.net[4] = kc.network;
            std::string dense;
            for (const LayerChoice& l : kc.layers)
                if (l.path == LayerPath::Dense) dense += (dense.empty() ? "" : ",") + l.alias;
            p.info["auto_dense_layers"] = dense.empty() ? "-" : dense;
        }
    }
    if (want(PeerPath::Dense)) p.net[0] = net;
}

struct PeerCell {
    std::string net, family;
    int batch = 1, threads = 1;
};

std::string peer_timing_child(const Options& o, const PeerCell& c) {
    if (o.mmap_threshold > 0) mallopt(M_MMAP_THRESHOLD, o.mmap_threshold);
    omp_set_num_threads(c.threads);
    const std::string file = zoo_onnx(o.zoo, c.net);
    const Shape sample{3, 224, 224};
    PeerNets p;
    build_peers(p, file, c.family, sample, o.calib_inputs, c.batch, c.threads, {});
    Shape in{c.batch};
    in.insert(in.end(), sample.begin(), sample.end());
    const Tensor x = random_input(in, 7, true);
    // Side kPeerSides (--im2col): the dense network with ConvOp on im2col + Eigen, not oneDNN.
    const int sides = kPeerSides + (o.im2col_side ? 1 : 0);
    std::vector<std::unique_ptr<Engine>> engines;
    for (int s = 0; s < sides; ++s) {
        engines.push_back(std::make_unique<Engine>(p.net[s % kPeerSides], c.threads));
        engines.back()->set_lut_kernel(LutKernel::Fast);
    }
    // Weight layers by node name, in the dense network's order; per side its node indices.
    const Network& dn = *p.net[0];
    std::vector<std::string> layers;
    for (int ni : dn.weight_layers()) layers.push_back(dn.nodes[ni].name);
    std::vector<std::vector<int>> idx(sides);
    for (int s = 0; s < sides; ++s)
        for (const std::string& l : layers) idx[s].push_back(p.net[s % kPeerSides]->find_node(l));
    // Non-weight nodes grouped by op type (the dense network's types, in first-use order), plus
    // "plan" = pass time outside every node's run() (plan bookkeeping, buffer resizes).
    std::vector<std::string> op_types;
    std::vector<std::vector<int>> type_of(sides);  // per side, node -> op type index, -1: weight layer
    for (const Node& n : dn.nodes)
        if (!n.op->weight_layer() && std::find(op_types.begin(), op_types.end(), n.op->type()) == op_types.end())
            op_types.push_back(n.op->type());
    op_types.push_back("other");
    for (int s = 0; s < sides; ++s)
        for (const Node& n : p.net[s % kPeerSides]->nodes) {
            const auto it = std::find(op_types.begin(), op_types.end() - 1, n.op->type());
            type_of[s].push_back(dn.find_node(n.name) >= 0 && dn.nodes[dn.find_node(n.name)].op->weight_layer()
                                     ? -1
                                     : static_cast<int>(it - op_types.begin()));
        }
    Record r = p.info;
    // Outputs of one pass: the peers against our dense engine.
    std::vector<Tensor> y(kPeerSides);
    for (int s = 0; s < kPeerSides; ++s) y[s] = engines[s]->forward(x);
    auto rel = [&](int s) {
        double d = 0, m = 0;
        for (int64_t i = 0; i < y[0].size(); ++i) {
            d = std::max(d, std::fabs(double(y[s].data[i]) - y[0].data[i]));
            m = std::max(m, std::fabs(double(y[0].data[i])));
        }
        return m > 0 ? d / m : d;
    };
    r["fp32_vs_dense_rel_diff"] = num(rel(1));
    r["int8_vs_dense_rel_diff"] = num(rel(2));
    std::vector<double> node_s;
    const TimedPass pass = [&](int side, std::vector<double>& parts) {
        bench::DnnlLayerStats& st = p.stats[side % kPeerSides];
        st.reset();
        if (side == kPeerSides) set_conv_backend(ConvBackend::Im2col);
        const auto t0 = std::chrono::steady_clock::now();
        engines[side]->forward(x, &node_s);
        const double whole = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (side == kPeerSides) set_conv_backend(ConvBackend::OneDnn);
        for (int ni : idx[side]) parts.push_back(ni >= 0 ? node_s.at(ni) : 0.0);
        parts.push_back(st.primitive_ns * 1e-9);
        parts.push_back(st.reorder_ns * 1e-9);
        std::vector<double> by_type(op_types.size() + 1, 0.0);
        double in_nodes = 0;
        for (size_t ni = 0; ni < node_s.size(); ++ni) {
            in_nodes += node_s[ni];
            if (type_of[side][ni] >= 0) by_type[type_of[side][ni]] += node_s[ni];
        }
        by_type.back() = whole - in_nodes;
        parts.insert(parts.end(), by_type.begin(), by_type.end());
    };
    SpeedOptions so;
    so.budget_seconds = o.budget;
    so.min_rounds = 5;
    so.warmup = 2;
    const AlternatingTiming t = time_alternating(sides, pass, so, steady_seconds(), process_preemptions());
    r["rounds"] = std::to_string(t.rounds);
    r["preempted_rounds"] = std::to_string(t.preempted_rounds);
    r["layers"] = [&] {
        std::string s;
        for (const std::string& l : layers) s += (s.empty() ? "" : ",") + l;
        return s;
    }();
    for (int s = 0; s < sides; ++s) {
        const std::string k = s == kPeerSides ? std::string("dense-im2col") : peer_path_name(kPeerPaths[s]);
        r[k + "_ms"] = num(t.total[s].median * 1e3);
        r[k + "_q1_ms"] = num(t.total[s].q1 * 1e3);
        r[k + "_q3_ms"] = num(t.total[s].q3 * 1e3);
        std::string per;
        for (size_t l = 0; l < layers.size(); ++l) per += (l ? "," : "") + num(t.parts[s][l].median * 1e3);
        r[k + "_layer_ms"] = per;
        r[k + "_primitive_ms"] = num(t.parts[s][layers.size()].median * 1e3);
        r[k + "_reorder_ms"] = num(t.parts[s][layers.size() + 1].median * 1e3);
        std::string ops;
        for (size_t j = 0; j <= op_types.size(); ++j) ops += (j ? "," : "") + num(t.parts[s][layers.size() + 2 + j].median * 1e3);
        r[k + "_op_ms"] = ops;
    }
    r["op_types"] = [&] {
        std::string s;
        for (const std::string& ty : op_types) s += ty + ",";
        return s + "plan";
    }();
    r["layer_desc"] = [&] {
        std::string s;
        for (int ni : dn.weight_layers()) s += (s.empty() ? "" : ";") + dn.nodes[ni].alias + " " + dn.nodes[ni].op->describe();
        return s;
    }();
    return encode(r);
}

// Peak RSS of one path alone: build it, reset the counter, run --rss-passes passes.
std::string peer_rss_child(const Options& o, const PeerCell& c, PeerPath path) {
    if (o.mmap_threshold > 0) mallopt(M_MMAP_THRESHOLD, o.mmap_threshold);
    omp_set_num_threads(c.threads);
    const Shape sample{3, 224, 224};
    Record r;
    r["rss_start_bytes"] = std::to_string(bench::proc_status_bytes("VmRSS:"));
    PeerNets p;
    build_peers(p, zoo_onnx(o.zoo, c.net), c.family, sample, o.calib_inputs, c.batch, c.threads, {path});
    const int s = static_cast<int>(path);
    Shape in{c.batch};
    in.insert(in.end(), sample.begin(), sample.end());
    const Tensor x = random_input(in, 7, true);
    Engine e(p.net[s], c.threads);
    malloc_trim(0);
    reset_peak_rss();
    for (int i = 0; i < 3; ++i) e.forward(x);
    r["rss_peak_bytes"] = std::to_string(bench::peak_rss_bytes());
    return encode(r);
}

// --part serve: our engine as the subprocess side of bench/torch_peer.py, which alternates it
// with PyTorch passes in one run. Builds dense, Q-CNN fast and Q-CNN auto for the first of
// --peer-nets / --peer-batches / --threads (random codebooks at family A, like --part peers),
// prints "ready" with the accounted bytes, then per stdin line "dense" / "fast" / "auto" (or
// "dense-nofuse" / "fast-nofuse": the same networks with activation fusion off) runs one
// forward pass on a seeded N(0,1) input and prints "<seconds> <involuntary context switches
// during the pass>"; "quit" or end of input ends it. Pass time is measured here, so the pipe's
// latency is not in it.
int serve(const Options& o) {
    const std::string net = o.peer_nets.at(0);
    const int batch = o.peer_batches.at(0), threads = o.threads.at(0);
    omp_set_num_threads(threads);
    const Shape sample{3, 224, 224};
    PeerNets p;
    build_peers(p, zoo_onnx(o.zoo, net), "A", sample, o.calib_inputs, batch, threads,
                {PeerPath::Dense, PeerPath::Fast, PeerPath::Auto});
    Shape in{batch};
    in.insert(in.end(), sample.begin(), sample.end());
    const Tensor x = random_input(in, 7, true);
    std::map<std::string, std::unique_ptr<Engine>> engines;
    engines["dense"] = std::make_unique<Engine>(p.net[0], threads);
    engines["fast"] = std::make_unique<Engine>(p.net[3], threads);
    engines["auto"] = std::make_unique<Engine>(p.net[4], threads);
    engines["dense-nofuse"] = std::make_unique<Engine>(p.net[0], threads);
    engines["fast-nofuse"] = std::make_unique<Engine>(p.net[3], threads);
    engines["dense-nofuse"]->set_fuse_activations(false);
    engines["fast-nofuse"]->set_fuse_activations(false);
    for (auto& [k, e] : engines) e->set_lut_kernel(LutKernel::Fast);
    const PreemptionCounter preempt = process_preemptions();
    std::printf("ready %s batch %d threads %d accounted_dense_bytes %s accounted_quantized_bytes %s auto_dense_layers %s\n",
                net.c_str(), batch, threads, p.info["accounted_dense_bytes"].c_str(),
                p.info["accounted_quantized_bytes"].c_str(), p.info["auto_dense_layers"].c_str());
    std::fflush(stdout);
    std::string cmd;
    while (std::getline(std::cin, cmd) && cmd != "quit") {
        const auto it = engines.find(cmd);
        if (it == engines.end()) {
            std::printf("error: unknown command '%s' (expected dense, fast, auto, dense-nofuse, fast-nofuse or quit)\n", cmd.c_str());
            std::fflush(stdout);
            continue;
        }
        const long c0 = preempt();
        const auto t0 = std::chrono::steady_clock::now();
        it->second->forward(x);
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("%.9f %ld\n", sec, preempt() - c0);
        std::fflush(stdout);
    }
    return 0;
}

// Top-1 of the int8 peer against float on the bundled Fashion-MNIST networks: calibration on
// --calib-images training images picked with a seeded generator, the whole test set evaluated.
std::string int8_accuracy_child(const Options& o) {
    const auto train = open_dataset("fashion-mnist:train");
    const auto test = open_dataset("fashion-mnist:test");
    std::mt19937_64 rng(5);
    std::vector<int64_t> pick(static_cast<size_t>(std::max(o.calib_images, 1)));
    std::uniform_int_distribution<int64_t> u(0, train->size() - 1);
    for (int64_t& i : pick) i = u(rng);
    Tensor calib_x;
    std::vector<int> labels;
    train->gather(pick, calib_x, labels);
    Record r;
    for (const char* net : {"lenet5", "vgg7"}) {
        const auto f = std::make_shared<const Network>(import_onnx(bundled_path(net)));
        const bench::Calibration c = bench::calibrate(*f, {calib_x}, 0);
        const auto q = bench::dnnl_network(*f, bench::PeerPrecision::Int8, &c);
        const EvalResult ef = evaluate(f, *test, "fashion-mnist:test");
        const EvalResult eq = evaluate(q, *test, "fashion-mnist:test");
        r[cat(net, "_samples")] = std::to_string(ef.samples);
        r[cat(net, "_top1_float")] = num(ef.top1);
        r[cat(net, "_top1_int8")] = num(eq.top1);
    }
    return encode(r);
}

// ------------------------------------------------------------------------- printing --

// max |a - b| / max |b| over the first outputs of sample 0.
double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.empty() || a.size() != b.size()) return std::nan("");
    double d = 0, m = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        d = std::max(d, std::fabs(a[i] - b[i]));
        m = std::max(m, std::fabs(b[i]));
    }
    return m > 0 ? d / m : d;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    bool batches_set = false, families_set = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << a << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--json") o.json_path = next();
        else if (a == "--budget") o.budget = std::stod(next());
        else if (a == "--quick") o.quick = true;
        else if (a == "--threads") o.threads = int_list(next());
        else if (a == "--batches") o.batches = int_list(next()), batches_set = true;
        else if (a == "--big-batches") o.big_batches = int_list(next());
        else if (a == "--vgg16-batches") o.vgg16_batches = int_list(next());
        else if (a == "--layer-batches") o.layer_batches = int_list(next());
        else if (a == "--nets") o.nets = split(next());
        else if (a == "--families") o.families = split(next()), families_set = true;
        else if (a == "--lut-big-batches") o.lut_big_batches = true;
        else if (a == "--part") {
            const std::string p = next();
            if (p != "layers" && p != "networks" && p != "all" && p != "peers" && p != "int8-accuracy" &&
                p != "serve") {
                std::cerr << "--part: expected layers, networks, all, peers, int8-accuracy or serve, got '" << p << "'\n";
                return 2;
            }
            o.serve = p == "serve";
            o.layers = p == "layers" || p == "all";
            o.networks = p == "networks" || p == "all";
            o.peers = p == "peers";
            o.int8_acc = p == "int8-accuracy";
        } else if (a == "--zoo") o.zoo = next();
        else if (a == "--peer-nets") o.peer_nets = split(next());
        else if (a == "--peer-batches") o.peer_batches = int_list(next());
        else if (a == "--calib") o.calib_inputs = std::stoi(next());
        else if (a == "--calib-images") o.calib_images = std::stoi(next());
        else if (a == "--no-rss") o.peer_rss = false;
        else if (a == "--no-per-layer") o.per_layer = false;
        else if (a == "--mmap-threshold") o.mmap_threshold = std::stol(next());
        else if (a == "--im2col") o.im2col_side = true;
        else {
            std::cout << "usage: qcnn_bench [--json FILE] [--budget S] [--quick] [--part layers|networks|all]\n"
                         "                  [--threads 1,2] [--batches 1,32] [--big-batches 1,32] [--vgg16-batches 1]\n"
                         "                  [--layer-batches 1] [--nets lenet5,vgg7,alexnet,vgg16] [--families A,B]\n"
                         "                  [--lut-big-batches]\n"
                         "       qcnn_bench --part peers [--zoo DIR] [--peer-nets alexnet,vgg11,vgg16,resnet18,resnet50,"
                         "mobilenet_v2]\n"
                         "                  [--peer-batches 1,8] [--threads 1,2] [--families A] [--budget S] [--calib 4]\n"
                         "                  [--no-rss] [--no-per-layer] [--mmap-threshold BYTES] [--im2col] [--json FILE]\n"
                         "       qcnn_bench --part int8-accuracy [--calib-images 256] [--json FILE]\n"
                         "       qcnn_bench --part serve --peer-nets NET --peer-batches B --threads T  (bench/torch_peer.py)\n";
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }
    if (o.serve) {
        try {
            return serve(o);
        } catch (const std::exception& e) {
            std::printf("error: %s\n", e.what());
            return 1;
        }
    }
    for (const std::string& f : o.families)
        if (f != "A" && f != "B") {
            std::cerr << "--families: expected A and/or B, got '" << f << "'\n";
            return 2;
        }
    for (const std::string& n : o.nets)
        if (!is_bundled(n) && n != "alexnet" && n != "vgg16") {
            std::cerr << "--nets: expected lenet5, vgg7, alexnet and/or vgg16, got '" << n << "'\n";
            return 2;
        }
    if (o.quick) {
        o.budget = std::min(o.budget, 0.1);
        if (!batches_set) o.batches = {1};
        o.big_batches = {1};
        o.vgg16_batches = {1};
        o.families = {"A"};
    }
    std::vector<std::string> skipped;
    const std::string load = [] {
        std::ifstream f("/proc/loadavg");
        std::string a, b, c;
        f >> a >> b >> c;
        return a + " " + b + " " + c;
    }();
    std::printf("qcnn_bench: CPU %s; OpenCV %s; load average at start %s; median of >= 3 runs over >= %.2f s per "
                "cell\n",
                qcnn::cpu_model().c_str(), CV_VERSION, load.c_str(), o.budget);
    std::ostringstream js;
    json::Writer w(js);
    w.begin_object().field("cpu", qcnn::cpu_model()).field("opencv", std::string(CV_VERSION));
    w.field("load_average_start", load).field("budget_s", o.budget);

    if (o.layers) {
        std::printf("\n(a) per layer: batch %s, median ms per run; speed-up = dense / path (min x: of the fastest "
                    "runs);\n    theory = the cost model's FLOP ratio; fast-ref = max|fast - float LUT| / max|float LUT|\n",
                    [&] {
                        std::string s;
                        for (int b : o.layer_batches) s += (s.empty() ? "" : ",") + std::to_string(b);
                        return s;
                    }()
                        .c_str());
        const std::string res = in_child([&] { return layer_part(o); });
        if (res.rfind("error: ", 0) == 0) {
            std::printf("per-layer part failed: %s\n", res.c_str());
            return 1;
        }
        std::printf("%-8s %-8s %-24s %-5s %3s %10s %10s %10s %8s %8s %8s %8s %9s\n", "net", "layer", "shape", "set",
                    "thr", "dense ms", "LUT ms", "fast ms", "ref x", "fast x", "min x", "theory", "fast-ref");
        w.key("layers").begin_array();
        std::stringstream ss(res);
        std::string block, line;
        Record cur;
        auto flush_row = [&] {
            if (cur.empty()) return;
            const double d = get(cur, "dense_ms"), l = get(cur, "lut_ref_ms"), f = get(cur, "fast_ms");
            std::printf("%-8s %-8s %-24s %-5s %3s %10.3f %10.3f %10.3f %7.2fx %7.2fx %7.2fx %7.2fx %9.2e\n",
                        cur["net"].c_str(), (is_bundled(cur["net"]) ? cur["alias"] : cur["layer"]).c_str(),
                        cur["shape"].c_str(), cur["setting"].c_str(), cur["threads"].c_str(), d, l, f, d / l, d / f,
                        get(cur, "dense_min_ms") / get(cur, "fast_min_ms"), get(cur, "theoretical"),
                        get(cur, "fast_vs_ref_rel_diff"));
            w.begin_object();
            for (const char* k : {"net", "layer", "alias", "shape", "family", "setting"}) w.field(k, cur[k]);
            for (const char* k : {"batch", "threads"}) w.field(k, static_cast<int64_t>(get(cur, k)));
            for (const char* k : {"dense_ms", "lut_ref_ms", "fast_ms", "dense_min_ms", "lut_ref_min_ms", "fast_min_ms",
                                  "theoretical", "fast_vs_ref_rel_diff"})
                w.field(k, get(cur, k));
            w.field("speedup_lut_ref", d / l).field("speedup_fast", d / f);
            w.end_object();
            cur.clear();
        };
        while (std::getline(ss, line)) {
            if (line == "--") {
                flush_row();
                continue;
            }
            const size_t tab = line.find('\t');
            if (tab != std::string::npos) cur[line.substr(0, tab)] = line.substr(tab + 1);
        }
        flush_row();
        w.end_array();
        std::fflush(stdout);
    }

    if (o.networks) {
        std::printf("\n(b) whole networks: median ms per batch; speed-up = dense / path (OpenCV: dense / OpenCV; min x: "
                    "of the fastest runs); "
                    "theory = cost-model FLOP ratio;\n    RSS = process peak while running (own process per cell), "
                    "acct = cost-model bytes (weights + biases + peak activations + LUT);\n    rel diff = max|diff| / "
                    "max|reference| over sample 0's first 16 outputs: OpenCV vs dense, fast / auto vs the float LUT\n");
        std::map<std::string, Record> exports;
        for (const std::string& net : o.nets)
            if (!is_bundled(net)) {
                exports[net] = decode(in_child([&] { return export_child(net); }));
                if (exports[net].count("error")) {
                    std::printf("ONNX export of %s failed: %s\n", net.c_str(), exports[net]["error"].c_str());
                    return 1;
                }
                std::printf("ONNX export %s: %s (%.0f MB), round trip through core/io: max|diff| %.3g\n", net.c_str(),
                            exports[net]["path"].c_str(), get(exports[net], "bytes") / 1e6,
                            get(exports[net], "roundtrip_max_diff"));
            }
        std::printf("%-8s %-4s %5s %3s %-8s %10s %8s %8s %8s %10s %10s %10s %s\n", "net", "fam", "batch", "thr",
                    "path", "ms", "speedup", "min x", "theory", "RSS MB", "acct MB", "rel diff", "dense layers (auto)");
        w.key("networks").begin_array();
        for (const std::string& net : o.nets) {
            const std::vector<int>& batches =
                net == "vgg16" ? o.vgg16_batches : net == "alexnet" ? o.big_batches : o.batches;
            for (int b : {1, 32})
                if (std::find(batches.begin(), batches.end(), b) == batches.end())
                    skipped.push_back(cat(net, " batch ", b));
            for (int batch : batches)
                for (int t : o.threads) {
                    Record dense;
                    std::vector<double> dense_out, ref_out;
                    auto row = [&](const Cell& c) {
                        Record r = decode(in_child([&] { return cell_child(c, o.budget); }));
                        if (c.path == Path::Dense) {
                            dense = r;
                            dense_out = parse_outputs(r);
                        }
                        const double ms = get(r, "median_ms"), dms = get(dense, "median_ms");
                        // OpenCV is checked against our dense output; quantized paths
                        // (random codebooks) against each other: fast / auto vs the float LUT.
                        if (c.path == Path::LutRef) ref_out = parse_outputs(r);
                        const double diff = c.path == Path::OpenCv ? rel_diff(parse_outputs(r), dense_out)
                                            : c.path == Path::Fast || c.path == Path::Auto
                                                ? rel_diff(parse_outputs(r), ref_out)
                                                : std::nan("");
                        const double acct = c.path == Path::Dense ? get(r, "accounted_dense_bytes")
                                            : c.path == Path::OpenCv ? std::nan("")
                                                                     : get(r, "accounted_quantized_bytes");
                        std::printf("%-8s %-4s %5d %3d %-8s %10s %7sx %7sx %7sx %10s %10s %10s %s\n", net.c_str(),
                                    c.family.empty() ? "-" : c.family.c_str(), batch, t, path_name(c.path),
                                    fmt("%.3f", ms).c_str(), fmt("%.2f", dms / ms).c_str(),
                                    fmt("%.2f", get(dense, "min_ms") / get(r, "min_ms")).c_str(),
                                    fmt("%.2f", get(r, "theoretical")).c_str(),
                                    fmt("%.1f", get(r, "rss_peak_bytes") / 1e6).c_str(), fmt("%.1f", acct / 1e6).c_str(),
                                    fmt("%.2e", diff).c_str(),
                                    r.count("error") ? ("ERROR " + r["error"]).c_str()
                                                     : (r.count("dense_layers") ? r["dense_layers"].c_str() : ""));
                        std::fflush(stdout);
                        w.begin_object().field("net", net).field("family", c.family).field("path", path_name(c.path));
                        if (!c.family.empty()) w.field("settings", family_settings(net, c.family));
                        w.field("batch", static_cast<int64_t>(batch)).field("threads", static_cast<int64_t>(t));
                        if (r.count("error")) w.field("error", r["error"]);
                        w.field("median_ms", ms).field("min_ms", get(r, "min_ms"));
                        w.field("reps", static_cast<int64_t>(get(r, "reps", 0)));
                        w.field("speedup_vs_dense", dms / ms);
                        if (r.count("theoretical")) w.field("theoretical_speedup", get(r, "theoretical"));
                        w.field("peak_rss_bytes", static_cast<int64_t>(get(r, "rss_peak_bytes", -1)));
                        w.field("rss_before_run_bytes", static_cast<int64_t>(get(r, "rss_before_bytes", -1)));
                        if (!std::isnan(acct)) w.field("accounted_bytes", static_cast<int64_t>(acct));
                        if (!std::isnan(diff)) w.field("rel_diff_first_outputs", diff);
                        if (r.count("dense_layers")) w.field("auto_dense_layers", r["dense_layers"]);
                        w.end_object();
                    };
                    row(Cell{net, "", Path::Dense, batch, t});
                    row(Cell{net, "", Path::OpenCv, batch, t});
                    for (const std::string& fam : o.families) {
                        ref_out.clear();
                        if (batch >= 32 && !is_bundled(net) && !o.lut_big_batches) {
                            skipped.push_back(cat(net, " family ", fam, " batch ", batch, " threads ", t,
                                                  ": float LUT reference (minutes per batch; --lut-big-batches)"));
                        } else {
                            row(Cell{net, fam, Path::LutRef, batch, t});
                        }
                        row(Cell{net, fam, Path::Fast, batch, t});
                        row(Cell{net, fam, Path::Auto, batch, t});
                    }
                }
        }
        w.end_array();
        w.key("settings").begin_object();
        for (const std::string& net : o.nets)
            for (const std::string& fam : o.families) w.field(net + ":" + fam, family_settings(net, fam));
        w.end_object();
    }
    if (o.int8_acc) {
        std::printf("\nint8 peer accuracy (oneDNN u8s8, static PTQ: per-channel weights, per-tensor activations "
                    "calibrated on %d seeded Fashion-MNIST training images), full test set:\n",
                    o.calib_images);
        Record r = decode(in_child([&] { return int8_accuracy_child(o); }));
        if (r.count("error")) {
            std::printf("int8 accuracy failed: %s\n", r["error"].c_str());
            return 1;
        }
        std::printf("%-8s %8s %8s %8s %8s\n", "net", "images", "float", "int8", "delta");
        w.key("int8_accuracy").begin_array();
        for (const std::string net : {"lenet5", "vgg7"}) {
            const double f = get(r, net + "_top1_float"), q = get(r, net + "_top1_int8");
            std::printf("%-8s %8.0f %7.2f%% %7.2f%% %+7.2f pt\n", net.c_str(), get(r, net + "_samples"), 100 * f,
                        100 * q, 100 * (q - f));
            w.begin_object().field("net", net).field("samples", static_cast<int64_t>(get(r, net + "_samples")));
            w.field("calibration_images", static_cast<int64_t>(o.calib_images));
            w.field("top1_float", f).field("top1_int8", q).end_object();
        }
        w.end_array();
    }

    if (o.peers) {
        const std::vector<std::string> fams = families_set ? o.families : std::vector<std::string>{"A"};
        std::printf("\npeers: zoo %s (opset 13, dynamic batch, 3x224x224 N(0,1) inputs); ms per image = median ms per "
                    "batch / batch;\n    paths alternate within one process (time_alternating, --budget %.2f s, >= 5 "
                    "rounds); int8 prim = the int8 peer's conv / inner-product\n    primitives alone (without its "
                    "quantizing / layout reorders); int8/fast = int8 ms / Q-CNN fast ms; mallopt M_MMAP_THRESHOLD %s\n",
                    o.zoo.c_str(), o.budget, o.mmap_threshold > 0 ? std::to_string(o.mmap_threshold).c_str() : "default");
        std::printf("%-12s %5s %3s %8s %8s %8s %8s %8s %8s %8s %7s %7s %7s %7s %6s %7s %s\n", "net", "batch", "thr",
                    "dense", "im2col", "dnnl-f32", "int8", "int8prim", "Q-fast", "Q-auto", "dns/f32", "i8/fast",
                    "i8/auto", "prim/Q", "theory", "preempt", "rel diff f32 / int8; auto: dense layers");
        w.key("peers").begin_array();
        std::vector<std::pair<std::string, Record>> layer_rows;  // batch 1, first thread count
        for (const std::string& net : o.peer_nets)
            for (const std::string& fam : fams) {
                for (int batch : o.peer_batches)
                    for (int t : o.threads) {
                        const PeerCell c{net, fam, batch, t};
                        Record r = decode(in_child([&] { return peer_timing_child(o, c); }));
                        if (r.count("error")) {
                            std::printf("%-13s %3s %5d %3d ERROR %s\n", net.c_str(), fam.c_str(), batch, t,
                                        r["error"].c_str());
                            w.begin_object().field("net", net).field("batch", static_cast<int64_t>(batch));
                            w.field("threads", static_cast<int64_t>(t)).field("error", r["error"]).end_object();
                            continue;
                        }
                        const double d = get(r, "dense_ms") / batch, f = get(r, "dnnl-fp32_ms") / batch,
                                     i = get(r, "dnnl-int8_ms") / batch, ip = get(r, "dnnl-int8_primitive_ms") / batch,
                                     q = get(r, "qcnn-fast_ms") / batch, qa = get(r, "qcnn-auto_ms") / batch;
                        std::printf("%-12s %5d %3d %8.2f %8s %8.2f %8.2f %8.2f %8.2f %8.2f %6.2fx %6.2fx %6.2fx %6.2fx "
                                    "%5.2fx %3s/%-3s %.1e / %.1e; %s\n",
                                    net.c_str(), batch, t, d, fmt("%.2f", get(r, "dense-im2col_ms") / batch).c_str(), f,
                                    i, ip, q, qa, d / f, i / q, i / qa, ip / std::min(q, qa), get(r, "theoretical"),
                                    r["preempted_rounds"].c_str(), r["rounds"].c_str(), get(r, "fp32_vs_dense_rel_diff"),
                                    get(r, "int8_vs_dense_rel_diff"), r["auto_dense_layers"].c_str());
                        std::fflush(stdout);
                        w.begin_object().field("net", net).field("settings", family_settings("", fam));
                        w.field("batch", static_cast<int64_t>(batch)).field("threads", static_cast<int64_t>(t));
                        for (const char* k : {"dense_ms", "dense_q1_ms", "dense_q3_ms", "dnnl-fp32_ms", "dnnl-fp32_q1_ms",
                                              "dnnl-fp32_q3_ms", "dnnl-fp32_primitive_ms", "dnnl-fp32_reorder_ms",
                                              "dnnl-int8_ms", "dnnl-int8_q1_ms", "dnnl-int8_q3_ms",
                                              "dnnl-int8_primitive_ms", "dnnl-int8_reorder_ms", "qcnn-fast_ms",
                                              "qcnn-fast_q1_ms", "qcnn-fast_q3_ms", "qcnn-auto_ms", "qcnn-auto_q1_ms",
                                              "qcnn-auto_q3_ms", "dense-im2col_ms",
                                              "dense-im2col_q1_ms", "dense-im2col_q3_ms", "theoretical",
                                              "fp32_vs_dense_rel_diff", "int8_vs_dense_rel_diff"})
                            w.field(k, get(r, k));
                        w.field("rounds", static_cast<int64_t>(get(r, "rounds")));
                        w.field("preempted_rounds", static_cast<int64_t>(get(r, "preempted_rounds")));
                        w.field("accounted_dense_bytes", static_cast<int64_t>(get(r, "accounted_dense_bytes")));
                        w.field("accounted_quantized_bytes", static_cast<int64_t>(get(r, "accounted_quantized_bytes")));
                        for (const char* k : {"layers", "layer_desc", "dense_layer_ms", "dnnl-fp32_layer_ms",
                                              "dnnl-int8_layer_ms", "qcnn-fast_layer_ms", "qcnn-auto_layer_ms",
                                              "dense-im2col_layer_ms", "auto_dense_layers"})
                            if (r.count(k)) w.field(k, r[k]);
                        w.end_object();
                        if (batch == 1 && t == o.threads.front()) layer_rows.push_back({net, r});
                    }
                if (o.peer_rss)
                    for (PeerPath path : kPeerPaths) {
                        const PeerCell c{net, fam, 1, 1};
                        const Record r = decode(in_child([&] { return peer_rss_child(o, c, path); }));
                        std::printf("  peak RSS %-13s %-10s batch 1, 1 thread: %s\n", net.c_str(), peer_path_name(path),
                                    r.count("error") ? ("ERROR " + r.at("error")).c_str()
                                                     : fmt("%.1f MB", get(r, "rss_peak_bytes") / 1e6).c_str());
                        w.begin_object().field("net", net).field("path", peer_path_name(path));
                        w.field("peak_rss_bytes", static_cast<int64_t>(get(r, "rss_peak_bytes", -1))).end_object();
                    }
            }
        w.end_array();
        if (o.per_layer)
            for (auto& [net, r] : layer_rows) {
                // Non-weight ops by type: what the whole pass spends outside the weight layers.
                std::printf("\nnon-weight ops, %s, batch 1, %d thread(s), median ms per pass, summed over nodes of a type "
                            "(plan = outside every node):\n%-22s", net.c_str(), o.threads.front(), "op type");
                const char* side_keys[] = {"dense", "dnnl-fp32", "dnnl-int8", "qcnn-fast", "qcnn-auto"};
                for (const char* k : side_keys) std::printf(" %9s", k);
                std::printf("\n");
                const std::vector<std::string> types = split(r["op_types"]);
                std::vector<std::vector<std::string>> ops;
                for (const char* k : side_keys) ops.push_back(split(r[std::string(k) + "_op_ms"]));
                for (size_t j = 0; j < types.size(); ++j) {
                    std::printf("%-22s", types[j].c_str());
                    for (const auto& v : ops) std::printf(" %9.3f", j < v.size() ? std::stod(v[j]) : std::nan(""));
                    std::printf("\n");
                }
                std::printf("\nper layer, %s, batch 1, %d thread(s), median ms (fp32 / int8: oneDNN, reorders and a fused "
                            "ReLU included):\n%-8s %-34s %9s %9s %9s %9s %9s %8s %8s\n",
                            net.c_str(), o.threads.front(), "layer", "shape", "dense", "dnnl-f32", "int8", "Q-fast",
                            "Q-auto", "i8/fast", "i8/auto");
                const std::vector<std::string> desc = split(r["layer_desc"], ';');
                const std::vector<std::string> dd = split(r["dense_layer_ms"]), ff = split(r["dnnl-fp32_layer_ms"]),
                                               ii = split(r["dnnl-int8_layer_ms"]), qq = split(r["qcnn-fast_layer_ms"]),
                                               qa = split(r["qcnn-auto_layer_ms"]);
                for (size_t l = 0; l < desc.size() && l < qq.size() && l < qa.size(); ++l) {
                    const size_t sp = desc[l].find(' ');
                    const double i8 = std::stod(ii[l]), q = std::stod(qq[l]), a = std::stod(qa[l]);
                    std::printf("%-8s %-34s %9.3f %9.3f %9.3f %9.3f %9.3f %7.2fx %7.2fx\n", desc[l].substr(0, sp).c_str(),
                                desc[l].substr(sp + 1).c_str(), std::stod(dd[l]), std::stod(ff[l]), i8, q, a, i8 / q,
                                i8 / a);
                }
            }
    }

    if (!skipped.empty()) {
        std::printf("\nskipped (select with --batches / --big-batches / --vgg16-batches):\n");
        for (const std::string& s : skipped) std::printf("  %s\n", s.c_str());
    }
    w.key("skipped").begin_array();
    for (const std::string& s : skipped) w.value(s);
    w.end_array();
    w.end_object();
    if (!o.json_path.empty()) {
        std::ofstream f(o.json_path);
        f << js.str() << "\n";
        if (!f) {
            std::cerr << "cannot write " << o.json_path << "\n";
            return 1;
        }
        std::printf("\nJSON: %s\n", o.json_path.c_str());
    }
    return 0;
}
