#include "core/quant/product_quantizer.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>

#include "core/quant/kmeans.h"
#include "core/quant/random.h"
#include "core/util/error.h"

namespace qcnn {

Shape PQGeometry::weight_shape() const {
    if (kind == LayerKind::Fc) return {out_channels, in_channels};
    return {out_channels, channels_per_group(), kernel_h, kernel_w};
}

std::string PQGeometry::config_string() const { return cat(dsub, "/", K); }

std::vector<int64_t> valid_dsub(int64_t channels_per_group) {
    std::vector<int64_t> out;
    for (int64_t d = 1; d <= channels_per_group; ++d)
        if (channels_per_group % d == 0) out.push_back(d);
    return out;
}

std::string valid_dsub_list(int64_t channels_per_group) {
    std::string s;
    for (int64_t d : valid_dsub(channels_per_group)) s += (s.empty() ? "" : ", ") + std::to_string(d);
    return s;
}

namespace {

PQGeometry geometry_of(LayerKind kind, const Shape& ws, int64_t groups, PQConfig cfg) {
    PQGeometry g;
    g.kind = kind;
    if (kind == LayerKind::Fc) {
        QCNN_ASSERT(ws.size() == 2 && groups == 1, "pq_geometry: FC weight ", to_string(ws), " groups ", groups);
        g.out_channels = ws[0];
        g.in_channels = ws[1];
    } else {
        QCNN_ASSERT(ws.size() == 4 && groups >= 1 && ws[0] % groups == 0, "pq_geometry: conv weight ", to_string(ws),
                    " groups ", groups);
        g.out_channels = ws[0];
        g.in_channels = ws[1] * groups;
        g.kernel_h = ws[2];
        g.kernel_w = ws[3];
    }
    g.groups = groups;
    g.dsub = cfg.dsub;
    g.K = cfg.K;
    return g;
}

}  // namespace

std::string pq_fit_problem(LayerKind kind, const Shape& ws, int64_t groups, PQConfig cfg) {
    const PQGeometry g = geometry_of(kind, ws, groups, cfg);
    if (cfg.K < kMinCodewords || cfg.K > kMaxCodewords)
        return cat("K = ", cfg.K, " is out of range (", kMinCodewords, "..", kMaxCodewords, ")");
    const int64_t cg = g.channels_per_group();
    const char* what =
        kind == LayerKind::Fc ? "input features" : (groups > 1 ? "input channels per group" : "input channels");
    if (cfg.dsub < 1 || cg % cfg.dsub != 0)
        return cat("C_s' = ", cfg.dsub, " does not divide its ", cg, " ", what, "; valid C_s' values: ",
                   valid_dsub_list(cg));
    return {};
}

PQGeometry pq_geometry(LayerKind kind, const Shape& ws, int64_t groups, PQConfig cfg, const std::string& layer) {
    const std::string problem = pq_fit_problem(kind, ws, groups, cfg);
    if (!problem.empty()) fail("layer ", layer, ": ", problem);
    return geometry_of(kind, ws, groups, cfg);
}

void PQWeights::validate(const std::string& what) const {
    const int64_t M = geo.subspaces();
    if (static_cast<int64_t>(codebooks.size()) != M * geo.K * geo.dsub)
        fail(what, ": ", codebooks.size(), " codebook values, expected M*K*C_s' = ", M, "*", geo.K, "*", geo.dsub);
    if (codes.bits != geo.bits())
        fail(what, ": codes packed at ", codes.bits, " bits, K = ", geo.K, " needs ", geo.bits());
    if (codes.count != geo.num_codes()) fail(what, ": ", codes.count, " codes, expected ", geo.num_codes());
    if (static_cast<int64_t>(codes.bytes.size()) != PackedCodes::byte_size(codes.count, codes.bits))
        fail(what, ": ", codes.bytes.size(), " code bytes, expected ", PackedCodes::byte_size(codes.count, codes.bits));
    const std::vector<uint8_t> u = unpack_codes(codes);
    for (int64_t i = 0; i < codes.count; ++i)
        if (u[i] >= geo.K) fail(what, ": code ", int(u[i]), " at index ", i, " is >= K = ", geo.K);
}

std::vector<uint8_t> PQWeights::unpacked_codes() const { return unpack_codes(codes); }

Tensor PQWeights::decode() const {
    const int64_t P = geo.kernel_size(), cg = geo.channels_per_group(), Mg = geo.subspaces_per_group();
    const int64_t ctg = geo.outputs_per_group(), dsub = geo.dsub;
    const std::vector<uint8_t> u = unpacked_codes();
    Tensor w(geo.weight_shape());
    for (int64_t c = 0; c < geo.out_channels; ++c) {
        const int64_t gi = c / ctg;
        for (int64_t p = 0; p < P; ++p)
            for (int64_t j = 0; j < Mg; ++j) {
                const float* cw = codeword(gi * Mg + j, u[(c * P + p) * Mg + j]);
                for (int64_t l = 0; l < dsub; ++l) w.data[(c * cg + j * dsub + l) * P + p] = cw[l];
            }
    }
    return w;
}

RowMatrixXf pq_training_set(const Tensor& weight, const PQGeometry& geo, int64_t m) {
    const int64_t P = geo.kernel_size(), cg = geo.channels_per_group(), Mg = geo.subspaces_per_group();
    const int64_t ctg = geo.outputs_per_group(), dsub = geo.dsub;
    const int64_t gi = m / Mg, j = m % Mg;
    RowMatrixXf x(ctg * P, dsub);
    for (int64_t cl = 0; cl < ctg; ++cl) {
        const float* wc = weight.ptr() + (gi * ctg + cl) * cg * P;
        for (int64_t p = 0; p < P; ++p)
            for (int64_t l = 0; l < dsub; ++l) x(cl * P + p, l) = wc[(j * dsub + l) * P + p];
    }
    return x;
}

int pq_restarts(int64_t vectors, int64_t K) {
    constexpr int64_t kBudget = int64_t(1) << 18, kMaxRuns = 16;
    return static_cast<int>(std::clamp<int64_t>(kBudget / std::max<int64_t>(vectors * K, 1), 1, kMaxRuns));
}

namespace {

// k-means runs per subspace under `opt` (the same for every subspace of a layer).
int runs_per_subspace(const PQGeometry& geo, const PQTrainOptions& opt) {
    const int64_t v = geo.vectors_per_subspace();
    return opt.restarts > 0 ? opt.restarts : pq_restarts(opt.max_train > 0 ? std::min(opt.max_train, v) : v, geo.K);
}

// Trains subspace m and writes its codebook and codes into the unpacked outputs.
KMeansResult train_subspace(const Tensor& weight, const PQGeometry& geo, int64_t m, const PQTrainOptions& opt, int threads,
                   float* codebooks, uint8_t* codes, const KMeansIterationFn& on_iter) {
    const int64_t P = geo.kernel_size(), Mg = geo.subspaces_per_group(), ctg = geo.outputs_per_group();
    const int64_t gi = m / Mg, j = m % Mg;
    KMeansOptions ko;
    ko.k = geo.K;
    ko.max_iter = opt.max_iter;
    ko.tol = opt.tol;
    ko.max_train = opt.max_train;
    ko.seed = derive_seed(opt.seed, static_cast<uint64_t>(m));
    ko.threads = threads;
    const RowMatrixXf x = pq_training_set(weight, geo, m);
    ko.n_init = runs_per_subspace(geo, opt);
    KMeansResult r = kmeans(x, ko, on_iter);
    std::copy(r.centroids.data(), r.centroids.data() + geo.K * geo.dsub, codebooks + m * geo.K * geo.dsub);
    for (int64_t cl = 0; cl < ctg; ++cl)
        for (int64_t p = 0; p < P; ++p)
            codes[((gi * ctg + cl) * P + p) * Mg + j] = static_cast<uint8_t>(r.assign[cl * P + p]);
    return r;
}

}  // namespace

PQWeights train_pq(const Tensor& weight, LayerKind kind, int64_t groups, PQConfig cfg, const PQTrainOptions& opt,
                   const std::string& layer, const ProgressFn& progress, PQTrainStats* stats) {
    const auto t0 = std::chrono::steady_clock::now();
    PQWeights q;
    q.geo = pq_geometry(kind, weight.shape, groups, cfg, layer);
    const PQGeometry& geo = q.geo;
    for (int64_t i = 0; i < weight.size(); ++i)
        if (!std::isfinite(weight.data[i]))
            fail("layer ", layer, ": weight element ", i, " is not finite (", weight.data[i], ")");

    const int64_t M = geo.subspaces();
    const int threads = std::max(opt.threads, 1);
    // Progress counts Lloyd iterations of every run; runs that stop early fill up their share.
    const int64_t per_subspace = int64_t(std::max(opt.max_iter, 1)) * runs_per_subspace(geo, opt);
    const int64_t total = M * per_subspace;
    q.codebooks.assign(M * geo.K * geo.dsub, 0.0f);
    std::vector<uint8_t> codes(geo.num_codes());
    int64_t iterations = 0;
    auto report_done = [&](int64_t done) { report(progress, Progress{"kmeans", layer, done, total}); };
    report_done(0);

    if (threads > 1 && M >= threads) {
        // Subspaces in parallel, one thread each, taken from a shared counter. Only the
        // calling thread (OpenMP thread 0) calls `progress`: between its own k-means
        // iterations, and by polling once its share of the work is done. A cancel (or any
        // error) stops the other threads at their next iteration.
        std::atomic<int64_t> next{0}, done{0};
        std::atomic<int> running{0};
        std::atomic<bool> stop{false};
        std::exception_ptr error;
        std::mutex error_mutex, wait_mutex;
        std::condition_variable finished;
        auto record = [&] {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            stop.store(true);
        };
#pragma omp parallel num_threads(threads) reduction(+ : iterations)
        {
            const bool reporter = omp_get_thread_num() == 0;
#pragma omp single
            running.store(omp_get_num_threads());
            try {
                auto on_iter = [&](int, double) {
                    if (stop.load()) throw Cancelled();
                    const int64_t d = done.fetch_add(1) + 1;
                    if (reporter) report_done(d);
                };
                for (int64_t m = next.fetch_add(1); m < M && !stop.load(); m = next.fetch_add(1)) {
                    const KMeansResult r = train_subspace(weight, geo, m, opt, 1, q.codebooks.data(), codes.data(), on_iter);
                    done.fetch_add(per_subspace - r.all_iterations);
                    iterations += r.iterations;
                }
            } catch (...) {
                record();
            }
            if (running.fetch_sub(1) == 1) {
                std::lock_guard<std::mutex> lock(wait_mutex);
                finished.notify_all();
            }
            if (reporter) {
                try {
                    int64_t last = -1;
                    std::unique_lock<std::mutex> lock(wait_mutex);
                    while (!finished.wait_for(lock, std::chrono::milliseconds(20),
                                              [&] { return running.load() == 0 || stop.load(); })) {
                        const int64_t d = done.load();
                        if (d != last) {
                            lock.unlock();
                            report_done(d);
                            lock.lock();
                        }
                        last = d;
                    }
                } catch (...) {
                    record();
                }
            }
        }
        if (error) std::rethrow_exception(error);
    } else {
        int64_t done = 0;
        for (int64_t m = 0; m < M; ++m) {
            auto on_iter = [&](int, double) { report_done(++done); };
            const KMeansResult r = train_subspace(weight, geo, m, opt, threads, q.codebooks.data(), codes.data(), on_iter);
            done += per_subspace - r.all_iterations;
            iterations += r.iterations;
        }
    }
    report_done(total);
    q.codes = pack_codes(codes, geo.bits());

    if (stats) {
        stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const Tensor w_hat = q.decode();
        double se = 0.0, sq = 0.0;
        for (int64_t i = 0; i < weight.size(); ++i) {
            const double e = static_cast<double>(weight.data[i]) - w_hat.data[i];
            se += e * e;
            sq += static_cast<double>(weight.data[i]) * weight.data[i];
        }
        const double n = static_cast<double>(std::max<int64_t>(weight.size(), 1));
        stats->mse = se / n;
        stats->weight_mean_square = sq / n;
        stats->iterations = iterations;
    }
    return q;
}

}  // namespace qcnn
