#include "core/quant/error_correction.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <Eigen/Cholesky>

#include "core/util/error.h"

namespace qcnn {

namespace {

// Outputs per GEMM chunk. Products run as fixed chunks of rows, each a single-threaded Eigen
// GEMM, so the bits do not depend on the thread count (Eigen's own parallel GEMM picks its
// blocking from the thread count).
constexpr int64_t kRowChunk = 16;
// Flops per thread below which a loop stays on one thread (waking a team costs microseconds,
// far more on a loaded machine).
constexpr int64_t kMinWorkPerThread = int64_t(1) << 20;

// Sets the calling thread's OpenMP default team size for a scope (Eigen follows it).
class OmpThreads {
public:
    explicit OmpThreads(int n) : prev_(omp_get_max_threads()) { omp_set_num_threads(n); }
    ~OmpThreads() { omp_set_num_threads(prev_); }
    OmpThreads(const OmpThreads&) = delete;
    OmpThreads& operator=(const OmpThreads&) = delete;

private:
    int prev_;
};

// f(first_row, row_count) over fixed chunks of `rows`, in parallel when the work (about
// `work_per_row` flops per row) is worth waking threads for; Eigen stays single-threaded inside.
template <class F>
void for_row_chunks(int64_t rows, int64_t work_per_row, int threads, F&& f) {
    const int64_t n = (rows + kRowChunk - 1) / kRowChunk;
    const int t = static_cast<int>(std::clamp<int64_t>(rows * work_per_row / kMinWorkPerThread, 1, threads));
    OmpThreads one(1);
#pragma omp parallel for schedule(static) num_threads(t) if (t > 1 && n > 1)
    for (int64_t i = 0; i < n; ++i) f(i * kRowChunk, std::min(kRowChunk, rows - i * kRowChunk));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

struct EcSolver::Subspace {
    int64_t g = 0, j = 0;   // group, subspace within the group
    int64_t o = 0, pd = 0;  // column block [o, o + pd) of the group, pd = dsub * P
    Eigen::MatrixXd Q;      // pd x pd: X_m^T X_m (symmetric)
    RowMatrixXd U;          // Cg x pd: X_m^T R_m per output
};

EcSolver::EcSolver(const LayerStats& stats, PQWeights init, double ridge, int threads, std::string layer,
                   bool fit_bias)
    : stats_(stats), geo_(init.geo), ridge_(ridge), threads_(std::max(1, threads)), layer_(std::move(layer)),
      fit_bias_(fit_bias), delta_(Eigen::VectorXd::Zero(init.geo.out_channels)) {
    QCNN_ASSERT(ridge > 0, "ridge must be > 0");
    const CalibLayer& L = stats.layer;
    const int64_t P = L.kind == LayerKind::Conv ? L.conv.kernel_h * L.conv.kernel_w : 1;
    if (geo_.kind != L.kind || geo_.out_channels != L.out_channels || geo_.in_channels != L.in_channels ||
        geo_.groups != L.groups || geo_.kernel_size() != P ||
        (L.kind == LayerKind::Conv && (geo_.kernel_h != L.conv.kernel_h || geo_.kernel_w != L.conv.kernel_w)))
        fail("error correction of layer ", layer_, ": the quantized weights (", geo_.config_string(), ", ",
             to_string(geo_.weight_shape()), ", groups ", geo_.groups, ") do not match the calibrated layer (C_t ",
             L.out_channels, ", C_s ", L.in_channels, ", groups ", L.groups, ", ", P, " kernel offsets)");
    init.validate(cat("error correction of layer ", layer_));
    codebooks_ = std::move(init.codebooks);
    codes_ = unpack_codes(init.codes);

    const int64_t G = geo_.groups, cg = geo_.outputs_per_group(), d = L.group_dim();
    w_.assign(G, RowMatrixXd::Zero(cg, d));
    wa_.assign(G, RowMatrixXd::Zero(cg, d));
    for (int64_t m = 0; m < geo_.subspaces(); ++m) {
        const int64_t g = m / geo_.subspaces_per_group(), j = m % geo_.subspaces_per_group();
        w_[g].middleCols(j * geo_.dsub * P, geo_.dsub * P) = block_weight(m);
    }
    for (int64_t g = 0; g < G; ++g)
        for_row_chunks(cg, d * d, threads_, [&](int64_t r0, int64_t nr) {
            wa_[g].middleRows(r0, nr).noalias() = w_[g].middleRows(r0, nr) * stats_.gram[g];
        });
    obj_ = recompute_objective();
}

RowMatrixXd EcSolver::block_weight(int64_t m) const {
    const int64_t P = geo_.kernel_size(), Mg = geo_.subspaces_per_group(), dsub = geo_.dsub;
    const int64_t cg = geo_.outputs_per_group(), g = m / Mg, j = m % Mg;
    RowMatrixXd w(cg, dsub * P);
    for (int64_t c = 0; c < cg; ++c)
        for (int64_t p = 0; p < P; ++p) {
            const int64_t k = codes_[((g * cg + c) * P + p) * Mg + j];
            const float* cw = codebooks_.data() + (m * geo_.K + k) * dsub;
            for (int64_t l = 0; l < dsub; ++l) w(c, l * P + p) = cw[l];
        }
    return w;
}

EcSolver::Subspace EcSolver::prepare(int64_t m) const {
    const int64_t P = geo_.kernel_size(), Mg = geo_.subspaces_per_group();
    Subspace s;
    s.g = m / Mg;
    s.j = m % Mg;
    s.pd = geo_.dsub * P;
    s.o = s.j * s.pd;
    const Eigen::MatrixXd& A = stats_.gram[s.g];
    s.Q = A.block(s.o, s.o, s.pd, s.pd);
    const int64_t cg = geo_.outputs_per_group();
    s.U.resize(cg, s.pd);
    for_row_chunks(cg, s.pd * s.pd, threads_, [&](int64_t r0, int64_t nr) {
        s.U.middleRows(r0, nr) = stats_.cross[s.g].block(r0, s.o, nr, s.pd) - wa_[s.g].block(r0, s.o, nr, s.pd);
        s.U.middleRows(r0, nr).noalias() += w_[s.g].block(r0, s.o, nr, s.pd) * s.Q;
        if (fit_bias_)
            for (int64_t c = r0; c < r0 + nr; ++c)
                s.U.row(c) -= delta_(s.g * cg + c) * stats_.input_sum[s.g].segment(s.o, s.pd).transpose();
    });
    return s;
}

void EcSolver::apply_block(int64_t m, const RowMatrixXd& w_new) {
    const int64_t P = geo_.kernel_size(), Mg = geo_.subspaces_per_group();
    const int64_t g = m / Mg, pd = geo_.dsub * P, o = (m % Mg) * pd;
    const RowMatrixXd delta = w_new - w_[g].middleCols(o, pd);
    const Eigen::MatrixXd& A = stats_.gram[g];
    for_row_chunks(delta.rows(), pd * A.cols(), threads_, [&](int64_t r0, int64_t nr) {
        wa_[g].middleRows(r0, nr).noalias() += delta.middleRows(r0, nr) * A.middleRows(o, pd);
    });
    w_[g].middleCols(o, pd) = w_new;
}

double EcSolver::recompute_objective() const {
    double obj = 0;
    const int64_t cg = geo_.outputs_per_group();
    for (size_t g = 0; g < w_.size(); ++g) {
        obj += stats_.target_sq[g] - 2.0 * w_[g].cwiseProduct(stats_.cross[g]).sum() + w_[g].cwiseProduct(wa_[g]).sum();
        const Eigen::VectorXd a = stats_.target_sum[g] - w_[g] * stats_.input_sum[g];
        const auto delta = delta_.segment(g * cg, cg);
        obj += -2.0 * delta.dot(a) + double(stats_.rows) * delta.squaredNorm();
    }
    return std::max(obj, 0.0);
}

double EcSolver::bias_step() {
    QCNN_ASSERT(fit_bias_, "bias_step without fit_bias");
    const double n = double(stats_.rows);
    if (!(n > 0)) return obj_;
    const int64_t cg = geo_.outputs_per_group();
    const std::vector<float>& b0 = stats_.layer.bias;
    double change = 0;
    for (size_t g = 0; g < w_.size(); ++g) {
        // Objective as a function of delta_c: -2 delta_c a_c + n delta_c^2 (+ terms without it).
        const Eigen::VectorXd a = stats_.target_sum[g] - w_[g] * stats_.input_sum[g];
        for (int64_t c = 0; c < cg; ++c) {
            const int64_t co = g * cg + c;
            const double orig = b0.empty() ? 0.0 : double(b0[co]);
            // The float bias the layer will store, and the shift it really makes.
            const double d_new = double(static_cast<float>(orig + a(c) / n)) - orig;
            const double d_old = delta_(co);
            const double dc = -2.0 * (d_new - d_old) * a(c) + n * (d_new * d_new - d_old * d_old);
            if (dc < 0) {
                delta_(co) = d_new;
                change += dc;
            }
        }
    }
    obj_ = std::max(0.0, obj_ + change);
    return obj_;
}

std::vector<float> EcSolver::bias() const {
    const std::vector<float>& b0 = stats_.layer.bias;
    if (!fit_bias_) return b0;
    std::vector<float> b(geo_.out_channels);
    for (int64_t c = 0; c < geo_.out_channels; ++c)
        b[c] = static_cast<float>((b0.empty() ? 0.0 : double(b0[c])) + delta_(c));
    return b;
}

double EcSolver::d_step(int64_t m) {
    QCNN_ASSERT(m >= 0 && m < subspaces(), "subspace ", m, " out of range");
    const Subspace s = prepare(m);
    const int64_t P = geo_.kernel_size(), Mg = geo_.subspaces_per_group(), K = geo_.K, dsub = geo_.dsub;
    const int64_t cg = geo_.outputs_per_group();
    auto code = [&](int64_t c, int64_t p) -> int64_t { return codes_[((s.g * cg + c) * P + p) * Mg + s.j]; };

    // Normal equations over the used codewords.
    std::vector<int64_t> uses(K, 0), index(K, -1);
    for (int64_t c = 0; c < cg; ++c)
        for (int64_t p = 0; p < P; ++p) ++uses[code(c, p)];
    int64_t nu = 0;
    for (int64_t k = 0; k < K; ++k)
        if (uses[k] > 0) index[k] = nu++;
    const int64_t n = nu * dsub;
    // Q(p, p') blocks: qb[p * P + p'](l, l') = Q(l*P + p, l'*P + p').
    std::vector<Eigen::MatrixXd> qb(P * P, Eigen::MatrixXd(dsub, dsub));
    for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < P; ++q)
            for (int64_t l = 0; l < dsub; ++l)
                for (int64_t l2 = 0; l2 < dsub; ++l2) qb[p * P + q](l, l2) = s.Q(l * P + p, l2 * P + q);
    Eigen::VectorXd r = Eigen::VectorXd::Zero(n), d_old(n);
    for (int64_t c = 0; c < cg; ++c)
        for (int64_t p = 0; p < P; ++p) {
            const int64_t i = index[code(c, p)] * dsub;
            for (int64_t l = 0; l < dsub; ++l) r(i + l) += s.U(c, l * P + p);
        }
    for (int64_t k = 0; k < K; ++k)
        if (index[k] >= 0)
            for (int64_t l = 0; l < dsub; ++l) d_old(index[k] * dsub + l) = codebooks_[(m * K + k) * dsub + l];

    Eigen::VectorXd d = d_old;
    OmpThreads one(1);  // Eigen's blocked Cholesky stays single-threaded: same bits for any thread count
    if (P == 1) {
        // Block-diagonal: H[k, k] = |L_k| Q, one dsub x dsub solve per codeword.
        for (int64_t k = 0; k < K; ++k) {
            if (index[k] < 0) continue;
            const Eigen::MatrixXd h = double(uses[k]) * qb[0];
            const double trace = h.trace();
            if (!(trace > 0)) continue;
            const double lambda = ridge_ * trace / double(dsub);
            const Eigen::MatrixXd hr = h + lambda * Eigen::MatrixXd::Identity(dsub, dsub);
            const Eigen::VectorXd rhs = r.segment(index[k] * dsub, dsub) + lambda * d_old.segment(index[k] * dsub, dsub);
            Eigen::LLT<Eigen::MatrixXd> llt(hr);
            d.segment(index[k] * dsub, dsub) = llt.info() == Eigen::Success ? Eigen::VectorXd(llt.solve(rhs))
                                                                           : Eigen::VectorXd(hr.ldlt().solve(rhs));
        }
    } else {
        Eigen::MatrixXd H = Eigen::MatrixXd::Zero(n, n);
        for (int64_t c = 0; c < cg; ++c)
            for (int64_t p = 0; p < P; ++p) {
                const int64_t i = index[code(c, p)] * dsub;
                for (int64_t q = 0; q < P; ++q) H.block(i, index[code(c, q)] * dsub, dsub, dsub) += qb[p * P + q];
            }
        const double trace = H.trace();
        if (trace > 0) {
            const double lambda = ridge_ * trace / double(n);
            H.diagonal().array() += lambda;
            const Eigen::VectorXd rhs = r + lambda * d_old;
            Eigen::LLT<Eigen::MatrixXd> llt(H);
            d = llt.info() == Eigen::Success ? Eigen::VectorXd(llt.solve(rhs)) : Eigen::VectorXd(H.ldlt().solve(rhs));
        }
    }

    // Round to float; keep the new codebook only if the objective does not increase.
    const std::vector<float> old_codebook(codebooks_.begin() + m * K * dsub, codebooks_.begin() + (m + 1) * K * dsub);
    bool finite = true;
    for (int64_t k = 0; k < K; ++k)
        if (index[k] >= 0)
            for (int64_t l = 0; l < dsub; ++l) {
                const float v = static_cast<float>(d(index[k] * dsub + l));
                finite = finite && std::isfinite(v);
                codebooks_[(m * K + k) * dsub + l] = v;
            }
    const RowMatrixXd w_old = w_[s.g].middleCols(s.o, s.pd);
    const RowMatrixXd w_new = block_weight(m);
    auto f = [&](const RowMatrixXd& w) { return -2.0 * w.cwiseProduct(s.U).sum() + (w * s.Q).cwiseProduct(w).sum(); };
    const double change = finite ? f(w_new) - f(w_old) : 0.0;
    if (finite && change <= 0) {
        apply_block(m, w_new);
        obj_ = std::max(0.0, obj_ + change);
    } else {
        std::copy(old_codebook.begin(), old_codebook.end(), codebooks_.begin() + m * K * dsub);
    }
    return obj_;
}

double EcSolver::b_step(int64_t m, int64_t* changes) {
    QCNN_ASSERT(m >= 0 && m < subspaces(), "subspace ", m, " out of range");
    const Subspace s = prepare(m);
    const int64_t P = geo_.kernel_size(), Mg = geo_.subspaces_per_group(), K = geo_.K, dsub = geo_.dsub;
    const int64_t cg = geo_.outputs_per_group();

    // Codewords in double, and e(p, k) = d_k^T Q(p,p) d_k.
    const RowMatrixXd D = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                              codebooks_.data() + m * K * dsub, K, dsub)
                              .cast<double>();
    std::vector<Eigen::MatrixXd> qpp(P, Eigen::MatrixXd(dsub, dsub));
    RowMatrixXd e(P, K);
    for (int64_t p = 0; p < P; ++p) {
        for (int64_t l = 0; l < dsub; ++l)
            for (int64_t l2 = 0; l2 < dsub; ++l2) qpp[p](l, l2) = s.Q(l * P + p, l2 * P + p);
        e.row(p) = (D * qpp[p]).cwiseProduct(D).rowwise().sum().transpose();
    }

    const int sweeps = P == 1 ? 1 : kMaxCodeSweeps;
    std::vector<int64_t> changed_per_chunk((cg + kRowChunk - 1) / kRowChunk, 0);
    std::vector<double> gain_per_chunk(changed_per_chunk.size(), 0.0);  // objective change, <= 0
    for_row_chunks(cg, sweeps * P * (K * dsub + s.pd * dsub), threads_, [&](int64_t c0, int64_t nc) {
        Eigen::VectorXd w(s.pd), v(s.pd), a(dsub), scores(K);
        int64_t changed = 0;
        double gain = 0;
        for (int64_t c = c0; c < c0 + nc; ++c) {
            uint8_t* cc = codes_.data() + (s.g * cg + c) * P * Mg + s.j;  // code of offset p: cc[p * Mg]
            for (int64_t p = 0; p < P; ++p)
                for (int64_t l = 0; l < dsub; ++l) w(l * P + p) = D(cc[p * Mg], l);
            v.noalias() = s.Q * w;
            for (int sweep = 0; sweep < sweeps; ++sweep) {
                bool any = false;
                for (int64_t p = 0; p < P; ++p) {
                    const int64_t k_old = cc[p * Mg];
                    const Eigen::VectorXd d_old = D.row(k_old).transpose();
                    for (int64_t l = 0; l < dsub; ++l) a(l) = s.U(c, l * P + p) - v(l * P + p);
                    a.noalias() += qpp[p] * d_old;
                    scores.noalias() = D * a;
                    int64_t best = k_old;
                    const double old_score = e(p, k_old) - 2.0 * scores(k_old);
                    double best_score = old_score;
                    for (int64_t k = 0; k < K; ++k) {
                        const double sc = e(p, k) - 2.0 * scores(k);
                        if (sc < best_score) {
                            best_score = sc;
                            best = k;
                        }
                    }
                    if (best == k_old) continue;
                    gain += best_score - old_score;
                    cc[p * Mg] = static_cast<uint8_t>(best);
                    for (int64_t l = 0; l < dsub; ++l) {
                        const double delta = D(best, l) - D(k_old, l);
                        if (delta != 0) v += delta * s.Q.col(l * P + p);
                        w(l * P + p) = D(best, l);
                    }
                    ++changed;
                    any = true;
                }
                if (!any) break;
            }
        }
        changed_per_chunk[c0 / kRowChunk] = changed;
        gain_per_chunk[c0 / kRowChunk] = gain;
    });
    int64_t changed = 0;
    double gain = 0;
    for (size_t i = 0; i < changed_per_chunk.size(); ++i) {
        changed += changed_per_chunk[i];
        gain += gain_per_chunk[i];
    }
    if (changes) *changes += changed;
    if (changed > 0) {
        apply_block(m, block_weight(m));
        obj_ = std::max(0.0, obj_ + gain);
    }
    return obj_;
}

PQWeights EcSolver::weights() const {
    PQWeights w;
    w.geo = geo_;
    w.codebooks = codebooks_;
    w.codes = pack_codes(codes_, geo_.bits());
    return w;
}

EcResult error_correct(const LayerStats& stats, PQWeights init, const EcOptions& options, const std::string& layer,
                       const ProgressFn& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (options.iterations < 0) fail("error correction of layer ", layer, ": iterations must be >= 0, got ", options.iterations);
    EcSolver solver(stats, std::move(init), options.ridge, options.threads, layer, options.fit_bias);
    EcResult res;
    res.objective.push_back(solver.objective());
    if (options.fit_bias) res.objective.push_back(solver.bias_step());
    const int64_t M = solver.subspaces(), total = int64_t(options.iterations) * M;
    for (int it = 0; it < options.iterations; ++it) {
        const double before = solver.objective();
        for (int64_t m = 0; m < M; ++m) {
            report(progress, Progress{"error-correction", layer, it * M + m, total});
            res.objective.push_back(solver.d_step(m));
            res.objective.push_back(solver.b_step(m, &res.code_changes));
        }
        if (options.fit_bias) res.objective.push_back(solver.bias_step());
        ++res.iterations;
        if (!(before > 0) || (options.tol > 0 && before - solver.objective() < options.tol * before)) break;
    }
    report(progress, Progress{"error-correction", layer, total, total});
    res.weights = solver.weights();
    res.bias = solver.bias();
    res.error_before = stats.relative_error(res.objective.front());
    res.error_after = stats.relative_error(res.objective.back());
    res.seconds = seconds_since(t0);
    return res;
}

}  // namespace qcnn
