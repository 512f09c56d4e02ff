// Product quantizer: geometry and fit errors, decode layout, codes = nearest codewords,
// exactness with few distinct sub-vectors, error vs K, determinism, progress and cancel.
#include <gtest/gtest.h>

#include "quant_test_util.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

#include "core/quant/product_quantizer.h"
#include "core/quant/random.h"

namespace qcnn {
namespace {

Tensor random_weight(Shape s, uint64_t seed) { return testutil::random_tensor(std::move(s), seed); }

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

double mse(const Tensor& a, const Tensor& b) {
    double s = 0;
    for (int64_t i = 0; i < a.size(); ++i) s += (double(a.data[i]) - b.data[i]) * (double(a.data[i]) - b.data[i]);
    return s / a.size();
}

TEST(ProductQuantizer, GeometryFc) {
    const PQGeometry g = pq_geometry(LayerKind::Fc, {10, 12}, 1, {4, 16}, "fc1");
    EXPECT_EQ(g.subspaces(), 3);
    EXPECT_EQ(g.subspaces_per_group(), 3);
    EXPECT_EQ(g.vectors_per_subspace(), 10);
    EXPECT_EQ(g.num_codes(), 30);
    EXPECT_EQ(g.bits(), 4);
    EXPECT_EQ(g.weight_shape(), (Shape{10, 12}));
    EXPECT_EQ(g.config_string(), "4/16");
}

TEST(ProductQuantizer, GeometryGroupedConv) {
    // C_t = 6, C_s = 8, g = 2: 4 channels per group, dsub 2 -> Mg 2, M 4.
    const PQGeometry g = pq_geometry(LayerKind::Conv, {6, 4, 3, 2}, 2, {2, 5}, "conv2");
    EXPECT_EQ(g.in_channels, 8);
    EXPECT_EQ(g.subspaces(), 4);
    EXPECT_EQ(g.subspaces_per_group(), 2);
    EXPECT_EQ(g.vectors_per_subspace(), 3 * 6);
    EXPECT_EQ(g.num_codes(), 6 * 6 * 2);
    EXPECT_EQ(g.bits(), 3);
    EXPECT_EQ(g.weight_shape(), (Shape{6, 4, 3, 2}));
}

TEST(ProductQuantizer, FitErrorsNameLayerAndValidValues) {
    EXPECT_EQ(error_of([] { pq_geometry(LayerKind::Conv, {16, 3, 5, 5}, 1, {8, 128}, "conv1"); }),
              "layer conv1: C_s' = 8 does not divide its 3 input channels; valid C_s' values: 1, 3");
    EXPECT_EQ(error_of([] { pq_geometry(LayerKind::Conv, {8, 6, 3, 3}, 2, {4, 16}, "conv2"); }),
              "layer conv2: C_s' = 4 does not divide its 6 input channels per group; valid C_s' values: 1, 2, 3, 6");
    EXPECT_EQ(error_of([] { pq_geometry(LayerKind::Fc, {10, 12}, 1, {5, 16}, "fc1"); }),
              "layer fc1: C_s' = 5 does not divide its 12 input features; valid C_s' values: 1, 2, 3, 4, 6, 12");
    EXPECT_EQ(error_of([] { pq_geometry(LayerKind::Fc, {10, 12}, 1, {4, 257}, "fc1"); }),
              "layer fc1: K = 257 is out of range (2..256)");
    EXPECT_EQ(error_of([] { pq_geometry(LayerKind::Fc, {10, 12}, 1, {4, 1}, "fc1"); }),
              "layer fc1: K = 1 is out of range (2..256)");
    EXPECT_EQ(error_of([] { pq_geometry(LayerKind::Fc, {10, 12}, 1, {0, 4}, "fc1"); }),
              "layer fc1: C_s' = 0 does not divide its 12 input features; valid C_s' values: 1, 2, 3, 4, 6, 12");
    EXPECT_EQ(pq_fit_problem(LayerKind::Fc, {10, 12}, 1, {6, 4}), "");
    EXPECT_EQ(valid_dsub(12), (std::vector<int64_t>{1, 2, 3, 4, 6, 12}));
}

TEST(ProductQuantizer, DecodeLayoutGroupedConv) {
    // Hand-made codebooks/codes: check every decoded element comes from the right codeword.
    PQWeights q;
    q.geo = pq_geometry(LayerKind::Conv, {4, 4, 2, 1}, 2, {2, 3}, "conv");
    const PQGeometry& g = q.geo;  // M = 4, Mg = 2, P = 2, C_t/g = 2
    q.codebooks.resize(g.subspaces() * g.K * g.dsub);
    for (size_t i = 0; i < q.codebooks.size(); ++i) q.codebooks[i] = static_cast<float>(i);
    std::vector<uint8_t> codes(g.num_codes());
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>((i * 7 + 1) % 3);
    q.codes = pack_codes(codes, g.bits());
    q.validate("test");
    const Tensor w = q.decode();
    ASSERT_EQ(w.shape, (Shape{4, 4, 2, 1}));
    for (int64_t c = 0; c < 4; ++c)
        for (int64_t ci = 0; ci < 4; ++ci)
            for (int64_t p = 0; p < 2; ++p) {
                const int64_t gi = c / 2, j = ci / 2, l = ci % 2;
                const int64_t m = gi * 2 + j;
                const int64_t code = codes[(c * 2 + p) * 2 + j];
                EXPECT_EQ(w.data[(c * 4 + ci) * 2 + p], q.codebooks[(m * 3 + code) * 2 + l])
                    << "c " << c << " ci " << ci << " p " << p;
            }
}

TEST(ProductQuantizer, ValidateRejectsBadSizesAndCodes) {
    PQWeights q;
    q.geo = pq_geometry(LayerKind::Fc, {3, 4}, 1, {2, 3}, "fc");
    q.codebooks.assign(2 * 3 * 2, 0.0f);
    q.codes = pack_codes(std::vector<uint8_t>{0, 1, 2, 0, 1, 3}, 2);  // 3 >= K
    EXPECT_EQ(error_of([&] { q.validate("fc1"); }), "fc1: code 3 at index 5 is >= K = 3");
    q.codes = pack_codes(std::vector<uint8_t>{0, 1, 2, 0, 1}, 2);
    EXPECT_EQ(error_of([&] { q.validate("fc1"); }), "fc1: 5 codes, expected 6");
    q.codes = pack_codes(std::vector<uint8_t>{0, 1, 2, 0, 1, 2}, 2);
    q.codebooks.pop_back();
    EXPECT_EQ(error_of([&] { q.validate("fc1"); }), "fc1: 11 codebook values, expected M*K*C_s' = 2*3*2");
}

// Codes are the nearest codeword of each sub-vector (brute force), in [0, K).
void expect_codes_nearest(const Tensor& w, const PQWeights& q, uint64_t seed) {
    const PQGeometry& g = q.geo;
    const std::vector<uint8_t> codes = q.unpacked_codes();
    const int64_t P = g.kernel_size(), Mg = g.subspaces_per_group(), ctg = g.outputs_per_group();
    for (int64_t m = 0; m < g.subspaces(); ++m) {
        const RowMatrixXf x = pq_training_set(w, g, m);
        const int64_t gi = m / Mg, j = m % Mg;
        for (int64_t r = 0; r < x.rows(); ++r) {
            const int64_t c = gi * ctg + r / P, p = r % P;
            const int64_t code = codes[(c * P + p) * Mg + j];
            ASSERT_LT(code, g.K) << "seed " << seed;
            double best = std::numeric_limits<double>::infinity(), mine = 0;
            for (int64_t k = 0; k < g.K; ++k) {
                double s = 0;
                for (int64_t l = 0; l < g.dsub; ++l) {
                    const double t = double(x(r, l)) - q.codeword(m, k)[l];
                    s += t * t;
                }
                best = std::min(best, s);
                if (k == code) mine = s;
            }
            ASSERT_LE(mine - best, 1e-5 * (1.0 + x.row(r).squaredNorm()))
                << "subspace " << m << " vector " << r << " seed " << seed;
        }
    }
}

TEST(ProductQuantizer, CodesAreNearestCodewords) {
    const uint64_t seed = 5;
    const Tensor fc = random_weight({33, 24}, seed);
    PQTrainOptions o;
    o.seed = seed;
    o.max_iter = 8;
    expect_codes_nearest(fc, train_pq(fc, LayerKind::Fc, 1, {4, 8}, o), seed);
    const Tensor conv = random_weight({12, 6, 3, 3}, seed + 1);
    expect_codes_nearest(conv, train_pq(conv, LayerKind::Conv, 2, {3, 16}, o), seed);
    expect_codes_nearest(conv, train_pq(conv, LayerKind::Conv, 1, {2, 5}, o), seed);
}

TEST(ProductQuantizer, ExactWhenKCoversDistinctSubvectors) {
    // Weights from a small set of values per subspace: few distinct sub-vectors.
    const uint64_t seed = 13;
    Rng rng(seed);
    Tensor conv({8, 4, 3, 3});
    for (auto& v : conv.data) v = static_cast<float>(rng.below(2)) - 0.5f;  // dsub 2: <= 4 distinct
    PQTrainOptions o;
    o.seed = seed;
    const PQWeights q = train_pq(conv, LayerKind::Conv, 2, {2, 4}, o);
    EXPECT_EQ(mse(conv, q.decode()), 0.0) << "seed " << seed;
    EXPECT_TRUE(std::memcmp(conv.ptr(), q.decode().ptr(), sizeof(float) * conv.size()) == 0);

    Tensor fc({40, 6});
    for (auto& v : fc.data) v = static_cast<float>(rng.below(3)) * 0.75f;  // dsub 1: <= 3 distinct
    const PQWeights qf = train_pq(fc, LayerKind::Fc, 1, {1, 3}, o);
    EXPECT_EQ(mse(fc, qf.decode()), 0.0) << "seed " << seed;
    // K >= number of sub-vectors: exact for any data.
    const Tensor r = random_weight({16, 8}, seed);
    EXPECT_EQ(mse(r, train_pq(r, LayerKind::Fc, 1, {4, 16}, o).decode()), 0.0) << "seed " << seed;
    EXPECT_EQ(mse(r, train_pq(r, LayerKind::Fc, 1, {4, 64}, o).decode()), 0.0) << "seed " << seed;
}

TEST(ProductQuantizer, ErrorNonIncreasingInK) {
    const uint64_t seed = 8;
    const Tensor w = random_weight({64, 32}, seed);
    const Tensor c = random_weight({16, 8, 3, 3}, seed + 1);
    PQTrainOptions o;
    o.seed = seed;
    double prev_fc = std::numeric_limits<double>::infinity(), prev_conv = prev_fc;
    for (int64_t K : {2, 4, 8, 16, 32, 64, 128, 256}) {
        PQTrainStats st;
        const PQWeights q = train_pq(w, LayerKind::Fc, 1, {4, K}, o, "fc", {}, &st);
        EXPECT_NEAR(st.mse, mse(w, q.decode()), 1e-9);
        EXPECT_LE(st.mse, prev_fc) << "K " << K << " seed " << seed;
        prev_fc = st.mse;
        const double mc = mse(c, train_pq(c, LayerKind::Conv, 1, {2, K}, o).decode());
        EXPECT_LE(mc, prev_conv) << "K " << K << " seed " << seed;
        prev_conv = mc;
    }
    EXPECT_EQ(prev_fc, 0.0);  // K = 256 > 64 sub-vectors
}

void expect_same(const PQWeights& a, const PQWeights& b, const std::string& what) {
    EXPECT_EQ(a.geo, b.geo) << what;
    ASSERT_EQ(a.codebooks.size(), b.codebooks.size()) << what;
    EXPECT_TRUE(std::memcmp(a.codebooks.data(), b.codebooks.data(), sizeof(float) * a.codebooks.size()) == 0) << what;
    EXPECT_EQ(a.codes, b.codes) << what;
}

TEST(ProductQuantizer, SameSeedSameBitsAnyThreadCount) {
    const uint64_t seed = 99;
    // Many subspaces (parallel over subspaces) and few, large ones (parallel inside k-means).
    const Tensor many = random_weight({64, 48}, seed);
    const Tensor few = random_weight({1200, 8}, seed + 1);
    const Tensor conv = random_weight({24, 4, 3, 3}, seed + 2);
    PQTrainOptions o;
    o.seed = seed;
    o.max_iter = 10;
    for (int threads : {1, 2, 3}) {
        o.threads = 1;
        const PQWeights a = train_pq(many, LayerKind::Fc, 1, {4, 16}, o);
        const PQWeights b = train_pq(few, LayerKind::Fc, 1, {8, 64}, o);
        const PQWeights c = train_pq(conv, LayerKind::Conv, 2, {2, 32}, o);
        o.threads = threads;
        expect_same(a, train_pq(many, LayerKind::Fc, 1, {4, 16}, o), cat("many subspaces, threads ", threads));
        expect_same(b, train_pq(few, LayerKind::Fc, 1, {8, 64}, o), cat("one subspace, threads ", threads));
        expect_same(c, train_pq(conv, LayerKind::Conv, 2, {2, 32}, o), cat("grouped conv, threads ", threads));
    }
    o.seed = seed + 1;
    o.threads = 1;
    const PQWeights other = train_pq(many, LayerKind::Fc, 1, {4, 16}, o);
    o.seed = seed;
    EXPECT_NE(other.codebooks, train_pq(many, LayerKind::Fc, 1, {4, 16}, o).codebooks);
}

TEST(ProductQuantizer, ProgressAndCancel) {
    const Tensor w = random_weight({64, 32}, 1);
    PQTrainOptions o;
    o.max_iter = 5;
    for (int threads : {1, 2}) {
        o.threads = threads;
        std::vector<Progress> seen;
        train_pq(w, LayerKind::Fc, 1, {4, 8}, o, "fc7", [&](const Progress& p) {
            seen.push_back(p);
            return true;
        });
        ASSERT_GE(seen.size(), 2u);
        // 8 subspaces x 5 iterations x the k-means runs of each (64 vectors x K = 8: 16 runs).
        const int64_t total = 8 * 5 * pq_restarts(64, 8);
        EXPECT_EQ(pq_restarts(64, 8), 16);
        EXPECT_EQ(seen.front().done, 0);
        EXPECT_EQ(seen.back().done, total);
        for (const Progress& p : seen) {
            EXPECT_EQ(p.stage, "kmeans");
            EXPECT_EQ(p.layer, "fc7");
            EXPECT_EQ(p.total, total);
            EXPECT_LE(p.done, p.total);
        }
        // One thread reports every iteration, so a cancel takes effect at once. With threads,
        // reports come as the calling thread sees progress; at least the first and last.
        const int stop_at = threads == 1 ? 4 : 2;
        int calls = 0;
        EXPECT_THROW(train_pq(w, LayerKind::Fc, 1, {4, 8}, o, "fc7", [&](const Progress&) { return ++calls < stop_at; }),
                     Cancelled)
            << "threads " << threads;
        EXPECT_EQ(calls, stop_at) << "no call after the cancel, threads " << threads;
    }
}

TEST(ProductQuantizer, RejectsNonFiniteWeights) {
    Tensor w = random_weight({4, 4}, 1);
    w.data[6] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_EQ(error_of([&] { train_pq(w, LayerKind::Fc, 1, {2, 2}, {}, "fc3"); }),
              "layer fc3: weight element 6 is not finite (nan)");
}

TEST(ProductQuantizer, SubsampledTrainingStillCodesEverything) {
    const uint64_t seed = 31;
    const Tensor w = random_weight({2000, 8}, seed);
    PQTrainOptions o;
    o.seed = seed;
    o.max_train = 300;
    const PQWeights q = train_pq(w, LayerKind::Fc, 1, {4, 16}, o);
    expect_codes_nearest(w, q, seed);
}

}  // namespace
}  // namespace qcnn
