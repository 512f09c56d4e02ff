#include "core/quant/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/quant/random.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

// Points per GEMM block. Eigen parallelises a product only when the destination's
// MaxRowsAtCompileTime is > 32 or dynamic, so DistBlock products always run on the calling
// thread and every block is computed identically whatever the thread count.
constexpr int64_t kBlockRows = 32;
// Points per chunk: the unit of parallel work and of partial sums (fixed, thread-independent).
constexpr int64_t kChunkRows = 256;
// Multiply-adds per thread below which a pass does not wake more threads (a team wake-up
// costs microseconds, far more on a loaded machine).
constexpr int64_t kMinWorkPerThread = 1 << 17;
// A split moves the two centroids this fraction of the way from the cluster mean toward /
// away from its farthest point (FAISS perturbs coordinates by 1/1024 in alternating signs).
constexpr double kSplitEps = 1.0 / 256.0;

using DistBlock = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor, kBlockRows, Eigen::Dynamic>;
using XRef = Eigen::Ref<const RowMatrixXf>;

int64_t num_chunks(int64_t n) { return (n + kChunkRows - 1) / kChunkRows; }

int team_size(int threads, int64_t nchunks, int64_t work) {
    const int64_t by_work = work / kMinWorkPerThread;
    return static_cast<int>(std::clamp<int64_t>(std::min(by_work, nchunks), 1, std::max(threads, 1)));
}

const float* row_ptr(const XRef& m, int64_t i) { return m.data() + i * m.outerStride(); }

float squared_distance(const float* a, const float* b, int64_t d) {
    float s = 0.0f;
    for (int64_t l = 0; l < d; ++l) {
        const float t = a[l] - b[l];
        s += t * t;
    }
    return s;
}

// Per-chunk accumulators of one Lloyd pass, combined in chunk order.
struct ChunkStats {
    std::vector<double> sums;    // k x d
    std::vector<int64_t> count;  // k
    std::vector<double> sse;     // k: exact squared error per cluster
    std::vector<float> far_err;  // k: largest point error per cluster (-1: none)
    std::vector<int64_t> far;    // k: the point with that error (first one)
    int64_t changed = 0;

    void reset(int64_t k, int64_t d) {
        sums.assign(k * d, 0.0);
        count.assign(k, 0);
        sse.assign(k, 0.0);
        far_err.assign(k, -1.0f);
        far.assign(k, -1);
        changed = 0;
    }
};

// Centroid data prepared for the GEMM: -2 C^T (d x k) and ||c_j||^2.
struct Prepared {
    RowMatrixXf neg2ct;
    Eigen::RowVectorXf norms;

    explicit Prepared(const XRef& c) {
        neg2ct = -2.0f * c.transpose();
        norms = c.rowwise().squaredNorm();
    }
};

// Assigns points [i0, i1) of x (at most kChunkRows). Writes assign[i - i0]; returns the exact
// squared errors through err[i - i0].
void assign_range(const XRef& x, int64_t i0, int64_t i1, const Prepared& pc, DistBlock& g, int32_t* assign,
                  float* err, const XRef& c) {
    const int64_t k = pc.norms.size(), d = x.cols();
    for (int64_t b0 = i0; b0 < i1; b0 += kBlockRows) {
        const int64_t nb = std::min(kBlockRows, i1 - b0);
        g.resize(nb, k);
        g.noalias() = x.middleRows(b0, nb) * pc.neg2ct;
        const float* norms = pc.norms.data();
        for (int64_t r = 0; r < nb; ++r) {
            // Row minimum (vectorized; min is exact, so the order does not matter), then the
            // first index holding it: ties go to the lowest index.
            float* row = g.data() + r * k;
            float best = std::numeric_limits<float>::infinity();
#pragma omp simd reduction(min : best)
            for (int64_t j = 0; j < k; ++j) {
                const float v = row[j] + norms[j];
                row[j] = v;
                best = best < v ? best : v;
            }
            int32_t arg = static_cast<int32_t>(k);
#pragma omp simd reduction(min : arg)
            for (int32_t j = 0; j < static_cast<int32_t>(k); ++j) {
                const int32_t cand = row[j] == best ? j : static_cast<int32_t>(k);
                arg = arg < cand ? arg : cand;
            }
            const int64_t i = b0 + r;
            assign[i - i0] = arg;
            err[i - i0] = squared_distance(row_ptr(x, i), row_ptr(c, arg), d);
        }
    }
}

// One assignment pass over all of x. assign, err: n entries. With stats (one per chunk),
// also accumulates per-cluster sums, counts and errors, and counts the points whose
// assignment differs from prev_assign (n entries, not aliasing assign; or null).
void assign_all(const XRef& x, const XRef& c, int threads, const int32_t* prev_assign, int32_t* assign, float* err,
                std::vector<ChunkStats>* stats) {
    const int64_t n = x.rows(), d = x.cols(), k = c.rows();
    const Prepared pc(c);
    const int64_t nchunks = num_chunks(n);
    const int team = team_size(threads, nchunks, n * k * d);
#pragma omp parallel num_threads(team) if (team > 1)
    {
        DistBlock g;
#pragma omp for schedule(static)
        for (int64_t ch = 0; ch < nchunks; ++ch) {
            const int64_t i0 = ch * kChunkRows, i1 = std::min(n, i0 + kChunkRows);
            assign_range(x, i0, i1, pc, g, assign + i0, err + i0, c);
            if (stats) {
                ChunkStats& s = (*stats)[ch];
                s.reset(k, d);
                for (int64_t i = i0; i < i1; ++i) {
                    const int32_t a = assign[i];
                    double* sum = s.sums.data() + a * d;
                    for (int64_t l = 0; l < d; ++l) sum[l] += x(i, l);
                    ++s.count[a];
                    s.sse[a] += err[i];
                    if (err[i] > s.far_err[a]) {
                        s.far_err[a] = err[i];
                        s.far[a] = i;
                    }
                    if (prev_assign && prev_assign[i] != a) ++s.changed;
                }
            }
        }
    }
}

// k-means++ seeding with exact D^2 distances; `trials` > 1 is greedy k-means++: each step
// samples that many candidates by D^2 and keeps the one that lowers the potential sum(D^2)
// most (ties: the first sampled). Deterministic for any thread count: D^2 is per point, the
// potential is summed over fixed chunks in order, and the sampling walks chunk sums in order.
RowMatrixXf kmeanspp_init(const XRef& x, int64_t k, int trials, Rng& rng, int threads) {
    const int64_t n = x.rows(), d = x.cols();
    RowMatrixXf c(k, d);
    const int64_t nchunks = num_chunks(n);
    const int team = team_size(threads, nchunks, n * d);
    // D^2 of every point and its chunk sums: current, and the candidate being evaluated.
    std::vector<float> d2(n, std::numeric_limits<float>::infinity()), cand_d2(n), best_d2(n);
    std::vector<double> chunk_sum(nchunks, 0.0), cand_sum(nchunks), best_sum(nchunks);

    // x transposed (d x n), so the distance update vectorizes over points. Each distance is
    // summed over l in ascending order, like squared_distance(): exact 0 for x == c.
    const RowMatrixXf xt = x.transpose();
    // out_d2 = min(d2, ||x - x_point||^2) per point, out_sum its chunk sums; returns the total.
    auto with_point = [&](int64_t point, std::vector<float>& out_d2, std::vector<double>& out_sum) {
        const float* cp = x.data() + point * x.outerStride();
#pragma omp parallel num_threads(team) if (team > 1)
        {
            std::vector<float> acc(kChunkRows);
#pragma omp for schedule(static)
            for (int64_t ch = 0; ch < nchunks; ++ch) {
                const int64_t i0 = ch * kChunkRows, len = std::min(n, i0 + kChunkRows) - i0;
                std::fill(acc.begin(), acc.begin() + len, 0.0f);
                for (int64_t l = 0; l < d; ++l) {
                    const float* xl = xt.data() + l * n + i0;
                    const float cl = cp[l];
#pragma omp simd
                    for (int64_t i = 0; i < len; ++i) {
                        const float t = xl[i] - cl;
                        acc[i] += t * t;
                    }
                }
                double sum = 0.0;
                for (int64_t i = 0; i < len; ++i) {
                    const float v = acc[i] < d2[i0 + i] ? acc[i] : d2[i0 + i];
                    out_d2[i0 + i] = v;
                    sum += v;
                }
                out_sum[ch] = sum;
            }
        }
        return std::accumulate(out_sum.begin(), out_sum.end(), 0.0);
    };
    // The point where the cumulative D^2 first exceeds u (walking chunks, then points).
    // Rounding can leave u past the end: fall back to the last point with D^2 > 0.
    auto sample = [&](double u) {
        int64_t last_positive = -1;
        double acc = 0.0;
        for (int64_t ch = 0; ch < nchunks; ++ch) {
            if (chunk_sum[ch] <= 0.0) continue;
            const int64_t i0 = ch * kChunkRows, i1 = std::min(n, i0 + kChunkRows);
            if (acc + chunk_sum[ch] <= u) {
                acc += chunk_sum[ch];
                for (int64_t i = i1 - 1; i >= i0; --i)
                    if (d2[i] > 0.0f) {
                        last_positive = i;
                        break;
                    }
                continue;
            }
            for (int64_t i = i0; i < i1; ++i) {
                if (d2[i] <= 0.0f) continue;
                last_positive = i;
                acc += d2[i];
                if (acc > u) return i;
            }
        }
        return last_positive;
    };

    const int64_t first = static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
    c.row(0) = x.row(first);
    double total = with_point(first, d2, chunk_sum);
    for (int64_t j = 1; j < k; ++j) {
        if (!(total > 0.0)) {
            // Every vector coincides with a centroid: repeat the distinct ones.
            for (int64_t r = j; r < k; ++r) c.row(r) = c.row(r % j);
            break;
        }
        int64_t best = -1;
        double best_total = std::numeric_limits<double>::infinity();
        for (int t = 0; t < trials; ++t) {
            const int64_t pick = sample(rng.uniform() * total);
            QCNN_ASSERT(pick >= 0, "k-means++: no point with positive D^2 although the total is ", total);
            const double cand_total = with_point(pick, cand_d2, cand_sum);
            if (cand_total < best_total) {
                best_total = cand_total;
                best = pick;
                std::swap(cand_d2, best_d2);
                std::swap(cand_sum, best_sum);
            }
        }
        c.row(j) = x.row(best);
        std::swap(d2, best_d2);
        std::swap(chunk_sum, best_sum);
        total = best_total;
    }
    return c;
}

// k distinct training vectors chosen uniformly (all of them, repeated, when k > n).
RowMatrixXf random_init(const XRef& x, int64_t k, Rng& rng) {
    const int64_t n = x.rows();
    std::vector<int64_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    const int64_t picks = std::min(k, n);
    for (int64_t i = 0; i < picks; ++i)
        std::swap(idx[i], idx[i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(n - i)))]);
    RowMatrixXf c(k, x.cols());
    for (int64_t j = 0; j < k; ++j) c.row(j) = x.row(idx[j % picks]);
    return c;
}

// Splits populated clusters into empty ones: the most populated cluster s with a positive
// error becomes c_s + e (into the empty slot) and c_s - e, e = kSplitEps * (x_far - c_s)
// with x_far its farthest point, so x_far falls on the new centroid's side. A cluster split
// twice in one pass (its farthest point is then unknown) uses e = kSplitEps * its RMS radius
// in alternating signs per coordinate. count/sse/far are updated to reflect the split.
void repair_empty(const XRef& x, RowMatrixXf& c, std::vector<int64_t>& count, std::vector<double>& sse,
                  std::vector<int64_t>& far) {
    const int64_t k = c.rows(), d = c.cols();
    for (int64_t j = 0; j < k; ++j) {
        if (count[j] != 0) continue;
        int64_t s = -1;
        for (int64_t q = 0; q < k; ++q)
            if (count[q] >= 2 && sse[q] > 0.0 && (s < 0 || count[q] > count[s])) s = q;
        if (s < 0) return;  // every cluster is a single point or a set of identical points
        const double radius = std::sqrt(sse[s] / static_cast<double>(count[s] * d));
        for (int64_t l = 0; l < d; ++l) {
            const double base = c(s, l);
            const double e = far[s] >= 0 ? kSplitEps * (row_ptr(x, far[s])[l] - base)
                                         : kSplitEps * radius * ((l % 2 == 0) ? 1.0 : -1.0);
            c(j, l) = static_cast<float>(base + e);
            c(s, l) = static_cast<float>(base - e);
        }
        count[j] = count[s] / 2;
        count[s] -= count[j];
        sse[j] = sse[s] * 0.5;
        sse[s] -= sse[j];
        far[j] = far[s];
        far[s] = -1;
    }
}

}  // namespace

double kmeans_assign(const XRef& x, const XRef& centroids, int threads, int32_t* assign) {
    QCNN_ASSERT(x.cols() == centroids.cols(), "kmeans_assign: dimension ", x.cols(), " vs ", centroids.cols());
    QCNN_ASSERT(centroids.rows() >= 1, "kmeans_assign: no centroids");
    std::vector<float> err(x.rows());
    assign_all(x, centroids, threads, nullptr, assign, err.data(), nullptr);
    double total = 0.0;
    for (float e : err) total += e;
    return total;
}

namespace {

KMeansResult kmeans_once(const XRef& x_all, const KMeansOptions& opt, const KMeansIterationFn& on_iteration) {
    const int64_t n_all = x_all.rows(), d = x_all.cols(), k = opt.k;
    QCNN_ASSERT(k >= 1, "kmeans: k = ", k);
    QCNN_ASSERT(n_all >= 1 && d >= 1, "kmeans: empty training set ", n_all, "x", d);
    QCNN_ASSERT(opt.max_iter >= 0, "kmeans: max_iter = ", opt.max_iter);
    const int threads = std::max(opt.threads, 1);
    Rng rng(opt.seed);

    // Training set: all vectors, or a seeded subset (kept in ascending order).
    RowMatrixXf subset;
    const bool subsample = opt.max_train > 0 && n_all > opt.max_train;
    if (subsample) {
        std::vector<int64_t> idx(n_all);
        std::iota(idx.begin(), idx.end(), 0);
        for (int64_t i = 0; i < opt.max_train; ++i)
            std::swap(idx[i], idx[i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(n_all - i)))]);
        idx.resize(opt.max_train);
        std::sort(idx.begin(), idx.end());
        subset.resize(opt.max_train, d);
        for (int64_t i = 0; i < opt.max_train; ++i) subset.row(i) = x_all.row(idx[i]);
    }
    const XRef x = subsample ? XRef(subset) : x_all;
    const int64_t n = x.rows();

    KMeansResult res;
    RowMatrixXf& c = res.centroids;
    if (n <= k) {
        // Every training vector gets its own centroid (the surplus repeat them): optimal.
        c.resize(k, d);
        for (int64_t j = 0; j < k; ++j) c.row(j) = x.row(j % n);
        res.assign.resize(n_all);
        res.inertia = kmeans_assign(x_all, c, threads, res.assign.data());
        return res;
    }
    switch (opt.init) {
        case KMeansInit::PlusPlus: c = kmeanspp_init(x, k, 1, rng, threads); break;
        case KMeansInit::GreedyPlusPlus: c = kmeanspp_init(x, k, greedy_trials(k), rng, threads); break;
        case KMeansInit::Random: c = random_init(x, k, rng); break;
    }

    std::vector<int32_t> assign(n, -1), prev(n, -1);
    std::vector<float> err(n);
    std::vector<ChunkStats> stats(num_chunks(n));
    std::vector<double> sums(k * d), sse(k);
    std::vector<int64_t> count(k), far(k);
    std::vector<float> far_err(k);
    double prev_obj = std::numeric_limits<double>::infinity();

    for (int it = 0; it < opt.max_iter; ++it) {
        assign_all(x, c, threads, prev.data(), assign.data(), err.data(), &stats);
        std::fill(sums.begin(), sums.end(), 0.0);
        std::fill(sse.begin(), sse.end(), 0.0);
        std::fill(count.begin(), count.end(), 0);
        std::fill(far.begin(), far.end(), -1);
        std::fill(far_err.begin(), far_err.end(), -1.0f);
        int64_t changed = 0;
        double obj = 0.0;
        for (const ChunkStats& s : stats) {
            for (int64_t i = 0; i < k * d; ++i) sums[i] += s.sums[i];
            for (int64_t j = 0; j < k; ++j) {
                count[j] += s.count[j];
                sse[j] += s.sse[j];
                if (s.far_err[j] > far_err[j]) {
                    far_err[j] = s.far_err[j];
                    far[j] = s.far[j];
                }
            }
            changed += s.changed;
        }
        for (int64_t j = 0; j < k; ++j) obj += sse[j];
        res.iterations = it + 1;
        res.objective.push_back(obj);
        if (on_iteration) on_iteration(it + 1, obj);

        for (int64_t j = 0; j < k; ++j) {
            if (count[j] == 0) continue;
            const double inv = 1.0 / static_cast<double>(count[j]);
            for (int64_t l = 0; l < d; ++l) c(j, l) = static_cast<float>(sums[j * d + l] * inv);
        }
        // Unchanged assignments: a fixed point, further iterations change nothing.
        if (changed == 0) break;
        repair_empty(x, c, count, sse, far);

        if (obj == 0.0) break;
        if (opt.tol > 0.0 && it > 0 && prev_obj - obj <= opt.tol * prev_obj) break;
        prev_obj = obj;
        std::swap(assign, prev);
    }

    res.assign.resize(n_all);
    res.inertia = kmeans_assign(x_all, c, threads, res.assign.data());
    return res;
}

}  // namespace

int greedy_trials(int64_t k) { return 2 + static_cast<int>(std::log(static_cast<double>(std::max<int64_t>(k, 1)))); }

KMeansResult kmeans(const XRef& x, const KMeansOptions& opt, const KMeansIterationFn& on_iteration) {
    KMeansResult best = kmeans_once(x, opt, on_iteration);
    int all_iterations = best.iterations;
    // inertia 0: exact (e.g. k >= training vectors); no restart can do better.
    for (int r = 1; r < opt.n_init && best.inertia > 0.0; ++r) {
        KMeansOptions o = opt;
        o.seed = derive_seed(opt.seed, kRestartStream + static_cast<uint64_t>(r));
        KMeansResult res = kmeans_once(x, o, on_iteration);
        all_iterations += res.iterations;
        if (res.inertia < best.inertia) best = std::move(res);
    }
    best.all_iterations = all_iterations;
    return best;
}

}  // namespace qcnn
