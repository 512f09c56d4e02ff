// k-means: argmin correctness, determinism across seeds and thread counts, exactness with
// few distinct points, monotone objective, empty-cluster repair, subsampling.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <set>

#include "core/quant/kmeans.h"
#include "core/quant/random.h"

namespace qcnn {
namespace {

RowMatrixXf random_normal(int64_t n, int64_t d, uint64_t seed) {
    Rng rng(seed);
    RowMatrixXf x(n, d);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t l = 0; l < d; ++l) {
            // Box-Muller from the project's portable generator.
            const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
            x(i, l) = static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
        }
    return x;
}

double dist2(const RowMatrixXf& x, int64_t i, const RowMatrixXf& c, int64_t j) {
    double s = 0;
    for (int64_t l = 0; l < x.cols(); ++l) {
        const double t = static_cast<double>(x(i, l)) - c(j, l);
        s += t * t;
    }
    return s;
}

// Every assignment is the nearest centroid (ties / float-level near-ties may go either way).
void expect_nearest(const RowMatrixXf& x, const RowMatrixXf& c, const std::vector<int32_t>& assign, uint64_t seed) {
    ASSERT_EQ(static_cast<int64_t>(assign.size()), x.rows());
    int64_t exact = 0;
    for (int64_t i = 0; i < x.rows(); ++i) {
        ASSERT_GE(assign[i], 0) << "seed " << seed;
        ASSERT_LT(assign[i], c.rows()) << "seed " << seed;
        double best = std::numeric_limits<double>::infinity();
        int64_t arg = -1;
        for (int64_t j = 0; j < c.rows(); ++j) {
            const double d = dist2(x, i, c, j);
            if (d < best) best = d, arg = j;
        }
        const double scale = x.row(i).squaredNorm() + c.row(assign[i]).squaredNorm() + 1e-30;
        ASSERT_LE(dist2(x, i, c, assign[i]) - best, 1e-5 * scale)
            << "point " << i << " assigned " << assign[i] << " nearest " << arg << " seed " << seed;
        exact += assign[i] == arg;
    }
    EXPECT_GE(exact, x.rows() * 99 / 100) << "seed " << seed;
}

bool same_bits(const RowMatrixXf& a, const RowMatrixXf& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

TEST(KMeans, AssignmentsAreBruteForceArgmin) {
    for (uint64_t seed : {1u, 2u, 3u}) {
        for (int64_t d : {1, 3, 4, 8, 17}) {
            const RowMatrixXf x = random_normal(777, d, seed * 100 + d);
            KMeansOptions o;
            o.k = 37;
            o.max_iter = 5;
            o.seed = seed;
            const KMeansResult r = kmeans(x, o);
            expect_nearest(x, r.centroids, r.assign, seed);
            double inertia = 0;
            for (int64_t i = 0; i < x.rows(); ++i) inertia += dist2(x, i, r.centroids, r.assign[i]);
            EXPECT_NEAR(r.inertia, inertia, 1e-4 * inertia) << "seed " << seed;
        }
    }
}

TEST(KMeans, SameSeedSameBitsAcrossThreadCounts) {
    const uint64_t seed = 7;
    const RowMatrixXf x = random_normal(3001, 8, seed);  // large enough to run in parallel
    for (int64_t max_train : {int64_t{0}, int64_t{2000}}) {
        KMeansOptions o;
        o.k = 64;
        o.max_iter = 12;
        o.seed = seed;
        o.max_train = max_train;
        o.threads = 1;
        const KMeansResult a = kmeans(x, o);
        const KMeansResult b = kmeans(x, o);
        o.threads = 2;
        const KMeansResult c = kmeans(x, o);
        EXPECT_TRUE(same_bits(a.centroids, b.centroids)) << "seed " << seed;
        EXPECT_TRUE(same_bits(a.centroids, c.centroids)) << "threads 1 vs 2, seed " << seed;
        EXPECT_EQ(a.assign, b.assign);
        EXPECT_EQ(a.assign, c.assign) << "threads 1 vs 2, seed " << seed;
        EXPECT_EQ(a.objective, c.objective);
        EXPECT_EQ(a.inertia, c.inertia);
        o.seed = seed + 1;
        const KMeansResult other = kmeans(x, o);
        EXPECT_FALSE(same_bits(a.centroids, other.centroids)) << "a different seed should change the result";
    }
}

// Greedy k-means++ keeps, per step, the best of greedy_trials(k) D^2-sampled candidates: its
// seeding potential (inertia before any Lloyd iteration) is lower than plain k-means++'s on
// average over seeds, and it keeps the same-seed-same-bits property for any thread count.
TEST(KMeans, GreedySeedingBeatsPlainSeeding) {
    EXPECT_EQ(greedy_trials(1), 2);
    EXPECT_EQ(greedy_trials(16), 4);   // 2 + floor(ln 16 = 2.77)
    EXPECT_EQ(greedy_trials(256), 7);  // 2 + floor(5.55)
    const RowMatrixXf x = random_normal(2000, 4, 11);
    double plain = 0, greedy = 0;
    for (uint64_t seed = 0; seed < 12; ++seed) {
        KMeansOptions o;
        o.k = 32;
        o.max_iter = 0;
        o.seed = seed;
        o.init = KMeansInit::PlusPlus;
        plain += kmeans(x, o).inertia;
        o.init = KMeansInit::GreedyPlusPlus;
        const KMeansResult g1 = kmeans(x, o);
        o.threads = 2;
        const KMeansResult g2 = kmeans(x, o);
        EXPECT_TRUE(same_bits(g1.centroids, g2.centroids)) << "seed " << seed;
        greedy += g1.inertia;
    }
    EXPECT_LT(greedy, 0.95 * plain) << "greedy " << greedy << " plain " << plain;
}

TEST(KMeans, ExactWhenKCoversDistinctPoints) {
    // 9 distinct 3-d points, each repeated a different number of times, shuffled.
    const uint64_t seed = 11;
    Rng rng(seed);
    RowMatrixXf distinct(9, 3);
    for (int64_t i = 0; i < 9; ++i)
        for (int64_t l = 0; l < 3; ++l) distinct(i, l) = static_cast<float>(rng.below(41)) * 0.25f - 5.0f;
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < 9; ++i)
        for (int64_t r = 0; r <= i * 3; ++r) rows.push_back(i);
    for (int64_t i = static_cast<int64_t>(rows.size()) - 1; i > 0; --i)
        std::swap(rows[i], rows[rng.below(static_cast<uint64_t>(i + 1))]);
    RowMatrixXf x(rows.size(), 3);
    for (size_t i = 0; i < rows.size(); ++i) x.row(i) = distinct.row(rows[i]);
    for (int64_t k : {9, 10, 16, 200}) {
        KMeansOptions o;
        o.k = k;
        o.seed = seed;
        const KMeansResult r = kmeans(x, o);
        EXPECT_EQ(r.inertia, 0.0) << "k " << k << " seed " << seed;
        for (int64_t i = 0; i < x.rows(); ++i)
            ASSERT_TRUE(r.centroids.row(r.assign[i]) == x.row(i)) << "k " << k << " point " << i << " seed " << seed;
    }
}

TEST(KMeans, MoreCentroidsThanPoints) {
    const RowMatrixXf x = random_normal(5, 4, 5);
    KMeansOptions o;
    o.k = 12;
    o.seed = 5;
    const KMeansResult r = kmeans(x, o);
    EXPECT_EQ(r.centroids.rows(), 12);
    EXPECT_EQ(r.inertia, 0.0);
    std::set<int32_t> used(r.assign.begin(), r.assign.end());
    EXPECT_EQ(used.size(), 5u);
}

TEST(KMeans, ObjectiveNonIncreasingAndErrorDropsWithK) {
    const uint64_t seed = 3;
    const RowMatrixXf x = random_normal(1500, 4, seed);
    double prev = std::numeric_limits<double>::infinity();
    for (int64_t k : {1, 2, 4, 8, 16, 32, 64, 128}) {
        KMeansOptions o;
        o.k = k;
        o.seed = seed;
        o.max_iter = 30;
        const KMeansResult r = kmeans(x, o);
        for (size_t i = 1; i < r.objective.size(); ++i)
            ASSERT_LE(r.objective[i], r.objective[i - 1] * (1 + 1e-6)) << "k " << k << " iteration " << i
                                                                        << " seed " << seed;
        EXPECT_LT(r.inertia, prev) << "k " << k << " seed " << seed;
        prev = r.inertia;
    }
}

TEST(KMeans, FindsSeparatedClusters) {
    // 6 well-separated blobs: k-means++ + Lloyd must find them (inertia ~ the noise energy).
    const uint64_t seed = 9;
    const RowMatrixXf noise = random_normal(600, 2, seed);
    RowMatrixXf x(600, 2);
    for (int64_t i = 0; i < 600; ++i) {
        const int64_t b = i % 6;
        x(i, 0) = static_cast<float>(100.0 * b) + 0.1f * noise(i, 0);
        x(i, 1) = static_cast<float>(50.0 * (b % 2)) + 0.1f * noise(i, 1);
    }
    KMeansOptions o;
    o.k = 6;
    o.seed = seed;
    const KMeansResult r = kmeans(x, o);
    EXPECT_LT(r.inertia, 0.02 * 600 * 2 * 2) << "seed " << seed;
    for (int64_t i = 6; i < 600; ++i) ASSERT_EQ(r.assign[i], r.assign[i % 6]) << "seed " << seed;
}

TEST(KMeans, EmptyClustersAreRepaired) {
    // Random init on data with many duplicates picks duplicate centroids, which start empty
    // (ties go to the lowest index). Repair must split populated clusters into them until all
    // k are used: there are enough distinct points.
    for (uint64_t seed : {21u, 22u, 23u, 24u}) {
        const RowMatrixXf noise = random_normal(200, 2, seed);
        RowMatrixXf x(200, 2);
        for (int64_t i = 0; i < 200; ++i) {
            if (i % 4 != 0) x.row(i) << 3.0f, 3.0f;
            else x.row(i) = noise.row(i);
        }
        KMeansOptions o;
        o.k = 8;
        o.seed = seed;
        o.init = KMeansInit::Random;
        const KMeansResult r = kmeans(x, o);
        std::set<int32_t> used(r.assign.begin(), r.assign.end());
        EXPECT_EQ(used.size(), 8u) << "seed " << seed;
        expect_nearest(x, r.centroids, r.assign, seed);
    }
}

TEST(KMeans, ToleranceStopsEarly) {
    const RowMatrixXf x = random_normal(2000, 4, 17);
    KMeansOptions o;
    o.k = 16;
    o.seed = 17;
    o.max_iter = 200;
    o.tol = 1e-2;
    const KMeansResult r = kmeans(x, o);
    EXPECT_LT(r.iterations, 200);
    ASSERT_GE(r.objective.size(), 2u);
    const size_t n = r.objective.size();
    EXPECT_LE(r.objective[n - 2] - r.objective[n - 1], 1e-2 * r.objective[n - 2]);
}

TEST(KMeans, IterationCallbackCanCancel) {
    const RowMatrixXf x = random_normal(500, 4, 1);
    KMeansOptions o;
    o.k = 8;
    o.max_iter = 50;
    int calls = 0;
    struct Stop {};
    EXPECT_THROW(kmeans(x, o,
                        [&](int it, double) {
                            ++calls;
                            EXPECT_EQ(it, calls);
                            if (it == 3) throw Stop{};
                        }),
                 Stop);
    EXPECT_EQ(calls, 3);
}

TEST(KMeans, SubsampleTrainsOnSubsetButAssignsAll) {
    const uint64_t seed = 4;
    const RowMatrixXf x = random_normal(5000, 4, seed);
    KMeansOptions o;
    o.k = 16;
    o.seed = seed;
    o.max_train = 512;
    const KMeansResult r = kmeans(x, o);
    ASSERT_EQ(r.assign.size(), 5000u);
    expect_nearest(x, r.centroids, r.assign, seed);
    KMeansOptions full = o;
    full.max_train = 0;
    const KMeansResult f = kmeans(x, full);
    EXPECT_LT(r.inertia, 1.1 * f.inertia) << "seed " << seed;
}

}  // namespace
}  // namespace qcnn
