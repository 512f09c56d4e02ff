// k-means clustering (Lloyd) for product quantization.
//
// - Initialisation: k-means++ (D^2 sampling, Arthur & Vassilvitskii 2007) on the training
//   vectors. Exact squared distances, so already-chosen points have D^2 = 0 and with
//   k >= number of distinct vectors every distinct vector becomes a centroid.
//   KMeansInit::GreedyPlusPlus (the default) samples greedy_trials(k) = 2 + floor(ln k)
//   candidates per step and keeps the one that lowers the potential sum(D^2) most (the
//   "greedy k-means++" of Arthur & Vassilvitskii's paper and scikit-learn): a few times the
//   seeding cost (still below one Lloyd iteration per candidate) for a markedly better start,
//   which matters on small weight sets where Lloyd stops in the first local minimum.
//   KMeansInit::Random picks k distinct training vectors uniformly (FAISS's choice).
// - Lloyd iterations: assignment by argmin_j ||c_j||^2 - 2 x.c_j (the ||x||^2 term is
//   constant per point) with the dot products from Eigen GEMM blocks of kBlockRows points;
//   ties go to the lowest centroid index. The per-point error of the chosen centroid is then
//   computed exactly as ||x - c||^2 (the objective, and what empty-cluster repair uses).
// - Stop after max_iter iterations, when no assignment changed, when the objective is 0, or
//   when the relative decrease of the objective falls below tol (tol = 0: never).
// - Empty clusters are repaired after each update like FAISS: split the most populated
//   cluster whose points are not all identical; its centroid c becomes c + e and c - e with
//   e = (x_far - c) / 256, x_far its farthest point (FAISS perturbs by 1/1024 in fixed
//   directions; aiming at x_far guarantees the new centroid wins at least that point).
// - Optional subsampling of the training vectors (seeded), then a final assignment of all
//   vectors.
// - With k >= n training vectors, the centroids are the vectors themselves (repeated to fill
//   k) and no iteration runs.
//
// Determinism: the result depends only on (x, options minus threads). Work is split into
// fixed chunks of kChunkRows points independent of the thread count; each chunk produces
// assignments and partial sums (double) that are combined in chunk order. GEMM blocks are
// small enough that Eigen never parallelises them internally.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <Eigen/Core>

#include "core/tensor.h"

namespace qcnn {

enum class KMeansInit { GreedyPlusPlus, PlusPlus, Random };

// Candidates per step of greedy k-means++: 2 + floor(ln k).
int greedy_trials(int64_t k);

struct KMeansOptions {
    int64_t k = 16;          // number of centroids, >= 1
    KMeansInit init = KMeansInit::GreedyPlusPlus;
    int max_iter = 25;       // Lloyd iterations (assignment + update), >= 0
    double tol = 0.0;        // stop when (prev - obj) <= tol * prev; 0 = run all iterations
    int64_t max_train = 0;   // > 0: train on a seeded random subset of this many vectors
    uint64_t seed = 0;
    int threads = 1;         // resolved thread count (>= 1); does not change the result
    // Restarts: run n_init times (run r > 0 seeded derive_seed(seed, kRestartStream + r)) and
    // keep the lowest inertia (the first on ties; no restart after an exact run, inertia 0).
    // Every run calls on_iteration (its
    // iteration numbers start at 1 again), so a cancel is seen during restarts too.
    int n_init = 1;
};

inline constexpr uint64_t kRestartStream = 0x524553'54'0000ULL;  // "REST"

struct KMeansResult {
    RowMatrixXf centroids;        // k x d, row-major
    std::vector<int32_t> assign;  // n: index of the nearest centroid of every input vector
    double inertia = 0;           // sum over all n vectors of ||x - c_assign||^2
    int iterations = 0;           // Lloyd iterations of the run kept
    int all_iterations = 0;       // Lloyd iterations over all n_init runs
    std::vector<double> objective;  // training objective (sum of squared errors) per iteration
};

// Called after each Lloyd iteration with (iteration 1-based, objective). May throw (e.g.
// qcnn::Cancelled); it is called on the calling thread, outside parallel regions.
using KMeansIterationFn = std::function<void(int iteration, double objective)>;

// x: n x d, row-major, n >= 1, finite. Contract violations (k < 1, n < 1) assert.
// k > n is allowed: the surplus centroids repeat existing ones and stay unused.
KMeansResult kmeans(const Eigen::Ref<const RowMatrixXf>& x, const KMeansOptions& opt,
                    const KMeansIterationFn& on_iteration = {});

// Nearest centroid of every row of x under the same rule kmeans uses (GEMM blocks, ties to
// the lowest index). assign: n entries. Returns the sum of exact squared errors.
double kmeans_assign(const Eigen::Ref<const RowMatrixXf>& x, const Eigen::Ref<const RowMatrixXf>& centroids,
                     int threads, int32_t* assign);

}  // namespace qcnn
