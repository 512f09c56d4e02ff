// k-means edge cases from the hardening issue: K above the number of distinct vectors,
// constant data, fewer samples than K; every init and with subsampling. The result must be
// finite, every vector assigned to an existing centroid, and the inertia exact (0 where the
// centroids can cover every distinct vector).
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "core/quant/kmeans.h"

namespace qcnn {
namespace {

// Checks the invariants every result must satisfy and returns the recomputed inertia.
double check_result(const RowMatrixXf& x, const KMeansResult& r, int64_t k) {
    EXPECT_EQ(r.centroids.rows(), k);
    EXPECT_EQ(r.centroids.cols(), x.cols());
    EXPECT_TRUE(r.centroids.allFinite());
    EXPECT_EQ(static_cast<int64_t>(r.assign.size()), x.rows());
    EXPECT_TRUE(std::isfinite(r.inertia));
    for (double o : r.objective) EXPECT_TRUE(std::isfinite(o));
    double inertia = 0;
    for (int64_t i = 0; i < x.rows(); ++i) {
        const int32_t a = r.assign[static_cast<size_t>(i)];
        EXPECT_GE(a, 0);
        EXPECT_LT(a, k);
        if (a < 0 || a >= k) continue;
        inertia += (x.row(i) - r.centroids.row(a)).squaredNorm();
    }
    EXPECT_NEAR(r.inertia, inertia, 1e-6 * (1 + inertia));
    return inertia;
}

const KMeansInit kInits[] = {KMeansInit::GreedyPlusPlus, KMeansInit::PlusPlus, KMeansInit::Random};

TEST(KMeansEdge, KAboveDistinctVectorsGivesZeroInertia) {
    // 40 vectors, only 3 distinct; K = 16.
    RowMatrixXf x(40, 4);
    const float base[3][4] = {{1, 2, 3, 4}, {-1, 0, 0.5f, 2}, {7, 7, -7, 0}};
    for (int i = 0; i < 40; ++i)
        for (int j = 0; j < 4; ++j) x(i, j) = base[(i * 7) % 3][j];
    for (KMeansInit init : kInits) {
        KMeansOptions o;
        o.k = 16;
        o.init = init;
        o.seed = 3;
        const KMeansResult r = kmeans(x, o);
        EXPECT_EQ(check_result(x, r, o.k), 0.0) << int(init);
        // Every distinct vector is a centroid.
        for (const auto& b : base) {
            bool found = false;
            for (int64_t c = 0; c < o.k; ++c)
                found |= (r.centroids.row(c) - Eigen::Map<const Eigen::RowVector4f>(b)).squaredNorm() == 0.0f;
            EXPECT_TRUE(found) << int(init);
        }
    }
}

TEST(KMeansEdge, ConstantDataGivesTheConstantAndZeroInertia) {
    RowMatrixXf x = RowMatrixXf::Constant(100, 8, 0.375f);
    for (KMeansInit init : kInits)
        for (int64_t k : {1, 2, 16, 256}) {
            KMeansOptions o;
            o.k = k;
            o.init = init;
            o.seed = 11;
            o.max_iter = 10;
            const KMeansResult r = kmeans(x, o);
            EXPECT_EQ(check_result(x, r, k), 0.0) << "k " << k << " init " << int(init);
            for (int64_t i = 0; i < x.rows(); ++i)
                EXPECT_EQ(r.centroids.row(r.assign[static_cast<size_t>(i)]), x.row(i)) << "k " << k;
        }
}

TEST(KMeansEdge, ConstantZeroDataStaysFinite) {
    RowMatrixXf x = RowMatrixXf::Zero(5, 3);
    KMeansOptions o;
    o.k = 4;
    const KMeansResult r = kmeans(x, o);
    EXPECT_EQ(check_result(x, r, o.k), 0.0);
}

TEST(KMeansEdge, FewerSamplesThanK) {
    RowMatrixXf x(3, 2);
    x << 1, 2, 3, 4, -5, 6;
    for (KMeansInit init : kInits) {
        KMeansOptions o;
        o.k = 8;
        o.init = init;
        const KMeansResult r = kmeans(x, o);
        EXPECT_EQ(check_result(x, r, o.k), 0.0) << int(init);
        std::set<int32_t> used(r.assign.begin(), r.assign.end());
        EXPECT_EQ(used.size(), 3u) << int(init);
    }
    // A single sample.
    RowMatrixXf one(1, 5);
    one << 1, -1, 2, -2, 0;
    KMeansOptions o;
    o.k = 256;
    EXPECT_EQ(check_result(one, kmeans(one, o), o.k), 0.0);
}

TEST(KMeansEdge, SubsampleSmallerThanKAndDuplicatesWithRestarts) {
    // 200 vectors, 5 distinct, trained on a subsample of 4 with K = 16 and 3 restarts.
    RowMatrixXf x(200, 2);
    for (int i = 0; i < 200; ++i) x.row(i) << float(i % 5), float((i % 5) * (i % 5));
    KMeansOptions o;
    o.k = 16;
    o.max_train = 4;
    o.n_init = 3;
    o.seed = 5;
    const KMeansResult r = kmeans(x, o);
    check_result(x, r, o.k);
}

TEST(KMeansEdge, HugeAndTinyMagnitudesStayFinite) {
    RowMatrixXf x(64, 4);
    for (int i = 0; i < 64; ++i)
        for (int j = 0; j < 4; ++j) x(i, j) = (i % 2 ? 1e18f : 1e-30f) * float((i + j) % 7 - 3);
    KMeansOptions o;
    o.k = 8;
    o.seed = 2;
    const KMeansResult r = kmeans(x, o);
    check_result(x, r, o.k);
}

}  // namespace
}  // namespace qcnn
