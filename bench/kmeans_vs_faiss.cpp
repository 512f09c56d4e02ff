// Our product quantizer (k-means per subspace) against FAISS's faiss::ProductQuantizer on the
// same sub-vectors at the same iteration count: weight MSE and training time, per setting and
// thread count, measured in one run.
//
//   bench_kmeans_faiss [--size N] [--settings 4/16,4/32,8/128,4/256] [--threads 1,2]
//                      [--iters 25] [--seed S] [--repeat R] [--onnx FILE]... [--no-onnx]
//
// Workloads: an N x N random-normal matrix (seeded) used as an FC weight {C_t = N, C_s = N}
// (N = 4096 by default), then every conv/FC layer of the given ONNX models (default: every
// datasets/*.onnx). FAISS gets exactly the sub-vectors our quantizer clusters: per group, one
// row per (output c, kernel offset p) holding that group's input channels, split by FAISS into
// M contiguous subspaces. Both sides run `iters` Lloyd iterations (our tolerance is 0; we stop
// earlier only at an exact fixed point), train on all vectors, and their time includes
// encoding every vector. Both make the same number of k-means runs per subspace (ours keeps
// the best of pq_restarts(vectors, K), FAISS gets cp.nredo = the same; "runs" column), so the
// iteration budgets match. FAISS's k-means uses random initialisation and the BLAS it was built
// against; ours uses greedy k-means++ (see core/quant/kmeans.h).
#include <faiss/impl/ProductQuantizer.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include "core/io/onnx_import.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/product_quantizer.h"
#include "core/quant/random.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

struct BenchOptions {
    int64_t size = 4096;
    std::vector<PQConfig> settings{{4, 16}, {4, 32}, {8, 128}, {4, 256}};
    std::vector<int> threads{1, 2};
    int iters = 25;
    uint64_t seed = 1;
    int repeat = 1;  // time = best of `repeat` runs (runs under kQuickRun: best of kQuickRepeats)
    std::vector<std::string> onnx;
    bool default_onnx = true;
};

// Runs shorter than this are repeated (best of kQuickRepeats): scheduler noise dominates them.
constexpr double kQuickRun = 0.05;
constexpr int kQuickRepeats = 10;

int runs_for(double first_seconds, int repeat) { return std::max(repeat, first_seconds < kQuickRun ? kQuickRepeats : 1); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double mse(const Tensor& a, const std::vector<float>& b) {
    double s = 0;
    for (int64_t i = 0; i < a.size(); ++i) s += (double(a.data[i]) - b[i]) * (double(a.data[i]) - b[i]);
    return s / static_cast<double>(a.size());
}

struct Measured {
    double mse = 0;
    double seconds = 0;
    double iterations = 0;  // mean k-means iterations per subspace (ours)
};

Measured run_ours(const Tensor& w, LayerKind kind, int64_t groups, PQConfig cfg, int threads, const BenchOptions& o) {
    PQTrainOptions po;
    po.max_iter = o.iters;
    po.tol = 0.0;
    po.seed = o.seed;
    po.threads = threads;
    Measured m;
    m.seconds = 1e300;
    PQWeights q;
    PQTrainStats st;
    for (int r = 0; r < runs_for(m.seconds, o.repeat); ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        q = train_pq(w, kind, groups, cfg, po, "bench", {}, r == 0 ? &st : nullptr);
        m.seconds = std::min(m.seconds, r == 0 ? st.seconds : seconds_since(t0));
    }
    m.mse = st.mse;
    m.iterations = static_cast<double>(st.iterations) / static_cast<double>(q.geo.subspaces());
    return m;
}

// FAISS on the same sub-vectors: per group, rows (c, p) x the group's C_s/g input channels.
Measured run_faiss(const Tensor& w, const PQGeometry& g, int threads, const BenchOptions& o) {
    const int64_t P = g.kernel_size(), cg = g.channels_per_group(), ctg = g.outputs_per_group();
    const int64_t n = ctg * P, Mg = g.subspaces_per_group();
    const int nbits = g.bits();
    std::vector<std::vector<float>> xs(g.groups, std::vector<float>(n * cg));
    for (int64_t gi = 0; gi < g.groups; ++gi)
        for (int64_t cl = 0; cl < ctg; ++cl)
            for (int64_t p = 0; p < P; ++p)
                for (int64_t ci = 0; ci < cg; ++ci)
                    xs[gi][(cl * P + p) * cg + ci] = w.data[((gi * ctg + cl) * cg + ci) * P + p];
    omp_set_num_threads(threads);
    Measured m;
    m.seconds = 1e300;
    std::vector<float> w_hat(w.size());
    for (int r = 0; r < runs_for(m.seconds, o.repeat); ++r) {
        double seconds = 0;
        for (int64_t gi = 0; gi < g.groups; ++gi) {
            const auto t0 = std::chrono::steady_clock::now();
            faiss::ProductQuantizer pq(static_cast<size_t>(cg), static_cast<size_t>(Mg), static_cast<size_t>(nbits));
            pq.cp.niter = o.iters;
            pq.cp.seed = static_cast<int>(o.seed);
            pq.cp.nredo = pq_restarts(n, g.K);  // the restarts ours makes: same iteration budget
            pq.cp.min_points_per_centroid = 1;         // no warning: we quantize what the layer has
            pq.cp.max_points_per_centroid = 1 << 30;  // no subsampling, like ours
            pq.verbose = false;
            pq.train(static_cast<size_t>(n), xs[gi].data());
            std::vector<uint8_t> codes(pq.code_size * n);
            pq.compute_codes(xs[gi].data(), codes.data(), static_cast<size_t>(n));
            seconds += seconds_since(t0);
            if (r > 0) continue;
            std::vector<float> dec(n * cg);
            pq.decode(codes.data(), dec.data(), static_cast<size_t>(n));
            for (int64_t cl = 0; cl < ctg; ++cl)
                for (int64_t p = 0; p < P; ++p)
                    for (int64_t ci = 0; ci < cg; ++ci)
                        w_hat[((gi * ctg + cl) * cg + ci) * P + p] = dec[(cl * P + p) * cg + ci];
        }
        m.seconds = std::min(m.seconds, seconds);
    }
    m.mse = mse(w, w_hat);
    return m;
}

void print_header() {
    std::printf("%-22s %-7s %3s %4s %5s  %11s %11s %7s  %9s %9s %6s\n", "layer", "C_s'/K", "thr", "runs", "iters",
                "our MSE",
                "faiss MSE", "ratio", "our s", "faiss s", "ratio");
}

// Benchmarks one weight ({C_t, C_s} FC or {C_t, C_s/g, kh, kw} conv) at every setting that
// fits it and FAISS accepts (K a power of two, K <= sub-vectors per subspace).
void bench_weight(const std::string& name, const Tensor& w, LayerKind kind, int64_t groups, const BenchOptions& o) {
    for (const PQConfig& cfg : o.settings) {
        const std::string problem = pq_fit_problem(kind, w.shape, groups, cfg);
        const std::string label = cat(cfg.dsub, "/", cfg.K);
        if (!problem.empty()) {
            std::printf("%-22s %-7s skipped: %s\n", name.c_str(), label.c_str(), problem.c_str());
            continue;
        }
        const PQGeometry g = pq_geometry(kind, w.shape, groups, cfg, name);
        if ((g.K & (g.K - 1)) != 0 || g.K > g.vectors_per_subspace()) {
            std::printf("%-22s %-7s skipped: FAISS needs K a power of two and <= %lld sub-vectors\n", name.c_str(),
                        label.c_str(), static_cast<long long>(g.vectors_per_subspace()));
            continue;
        }
        for (int t : o.threads) {
            const Measured ours = run_ours(w, kind, groups, cfg, t, o);
            const Measured theirs = run_faiss(w, g, t, o);
            // Both exact (K >= sub-vectors): equal.
            const double mse_ratio = theirs.mse > 0 ? ours.mse / theirs.mse : (ours.mse > 0 ? INFINITY : 1.0);
            std::printf("%-22s %-7s %3d %4d %5.1f  %11.5e %11.5e %7.4f  %9.4f %9.4f %6.3f\n", name.c_str(),
                        label.c_str(), t, pq_restarts(g.vectors_per_subspace(), g.K), ours.iterations, ours.mse, theirs.mse, mse_ratio, ours.seconds, theirs.seconds,
                        ours.seconds / theirs.seconds);
            std::fflush(stdout);
        }
    }
}

Tensor random_normal_matrix(int64_t rows, int64_t cols, uint64_t seed) {
    Rng rng(seed);
    Tensor t({rows, cols});
    for (auto& v : t.data) {
        const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
        v = static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
    }
    return t;
}

void bench_onnx(const std::string& path, const BenchOptions& o) {
    const Network net = import_onnx(path);
    const std::string model = std::filesystem::path(path).stem().string();
    for (int i : net.weight_layers()) {
        const Node& n = net.nodes[i];
        const std::string name = cat(model, ":", n.alias);
        if (const std::optional<WeightLayer> w = n.op->as_weight_layer(); w && !w->quantized())
            bench_weight(name, *w->weight, w->kind, w->groups, o);
    }
}

template <class T, class F>
std::vector<T> parse_list(const std::string& s, F&& parse_one) {
    std::vector<T> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t comma = s.find(',', start);
        out.push_back(parse_one(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

BenchOptions parse_args(int argc, char** argv) {
    BenchOptions o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) fail("option ", a, " needs a value");
            return argv[++i];
        };
        if (a == "--size") {
            o.size = std::stoll(value());
        } else if (a == "--settings") {
            o.settings = parse_list<PQConfig>(value(), [](const std::string& s) {
                const size_t slash = s.find('/');
                if (slash == std::string::npos) fail("--settings: expected C_s'/K items, got '", s, "'");
                return PQConfig{std::stoll(s.substr(0, slash)), std::stoll(s.substr(slash + 1))};
            });
        } else if (a == "--threads") {
            o.threads = parse_list<int>(value(), [](const std::string& s) { return std::stoi(s); });
        } else if (a == "--iters") {
            o.iters = std::stoi(value());
        } else if (a == "--seed") {
            o.seed = std::stoull(value());
        } else if (a == "--repeat") {
            o.repeat = std::max(1, std::stoi(value()));
        } else if (a == "--onnx") {
            o.onnx.push_back(value());
        } else if (a == "--no-onnx") {
            o.default_onnx = false;
        } else {
            fail("unknown option '", a,
                 "' (expected --size, --settings, --threads, --iters, --seed, --repeat, --onnx, --no-onnx)");
        }
    }
    if (o.onnx.empty() && o.default_onnx && std::filesystem::is_directory(QCNN_DATASETS_DIR))
        for (const auto& e : std::filesystem::directory_iterator(QCNN_DATASETS_DIR))
            if (e.path().extension() == ".onnx") o.onnx.push_back(e.path().string());
    std::sort(o.onnx.begin(), o.onnx.end());
    return o;
}

}  // namespace
}  // namespace qcnn

int main(int argc, char** argv) {
    using namespace qcnn;
    try {
        const BenchOptions o = parse_args(argc, argv);
        std::printf("k-means / product quantization: ours vs faiss::ProductQuantizer, %d iterations, seed %llu, "
                    "best of %d\n",
                    o.iters, static_cast<unsigned long long>(o.seed), o.repeat);
        std::printf("ratio = ours / faiss (MSE: lower is better; time: lower is faster)\n\n");
        print_header();
        if (o.size > 0) {
            const Tensor w = random_normal_matrix(o.size, o.size, o.seed);
            bench_weight(cat("normal ", o.size, "x", o.size), w, LayerKind::Fc, 1, o);
        }
        for (const std::string& path : o.onnx) bench_onnx(path, o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_kmeans_faiss: %s\n", e.what());
        return 1;
    }
    return 0;
}
