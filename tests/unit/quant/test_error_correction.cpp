// Error correction on single random layers: calibration statistics against brute force, the
// D step against the stacked least-squares solution, the B step against exhaustive search,
// monotonicity of the objective, EC versus plain PQ, determinism, progress and cancel.
#include <gtest/gtest.h>

#include <Eigen/QR>
#include <cstring>

#include "core/quant/error_correction.h"
#include "ec_test_util.h"

namespace qcnn {
namespace {

using namespace ectest;

std::vector<Problem> problems() {
    std::vector<Problem> v;
    v.push_back(conv_problem(4, 6, conv_params(3, 3, 1, 1, 1, 1), 4, 6, 7, 0, 11));
    v.push_back(conv_problem(4, 6, conv_params(3, 3, 1, 1, 1, 1), 5, 7, 6, 9, 12));
    ConvParams odd = conv_params(3, 2, 2, 1, 2, 2);
    odd.pad_bottom = 0;
    odd.pad_right = 2;
    v.push_back(conv_problem(6, 4, odd, 4, 9, 8, 0, 13));
    v.push_back(conv_problem(6, 4, odd, 4, 9, 8, 5, 14));
    v.push_back(conv_problem(6, 9, conv_params(1, 1, 1, 0, 1, 1), 3, 5, 5, 0, 15));
    v.push_back(fc_problem(12, 9, 7, 3, 16));
    v.push_back(fc_problem(16, 33, 40, 1, 17));
    return v;
}

// C_s' / K for a problem: dsub divides the channels per group, K small enough that every
// codeword is used.
PQConfig config_for(const Problem& pr) {
    const int64_t csg = pr.layer.in_channels / pr.layer.groups;
    return PQConfig{csg % 2 == 0 ? 2 : (csg % 3 == 0 ? 3 : 1), 4};
}

PQWeights init_for(const Problem& pr, uint64_t seed = 1) {
    const PQConfig c = config_for(pr);
    return kmeans_init(pr, c.dsub, c.K, seed);
}

TEST(Calibration, StatisticsGiveTheBruteForceObjective) {
    for (const Problem& pr : problems()) {
        SCOPED_TRACE(pr.what);
        const int64_t n = pr.input.shape[0];
        if (pr.layer.kind == LayerKind::Conv) {
            const int64_t hw = pr.target.shape[2] * pr.target.shape[3];
            const int64_t per = pr.positions > 0 ? std::min(pr.positions, hw) : hw;
            EXPECT_EQ(pr.stats.rows, n * per);
        } else {
            EXPECT_EQ(pr.stats.rows, pr.input.size() / pr.layer.in_channels);
        }
        EXPECT_EQ(pr.stats.images, n);
        // The float weights reproduce the targets (up to their float rounding).
        EXPECT_LE(pr.stats.objective(pr.weight), 1e-10 * pr.stats.response_sq);
        // A quantized weight: the Gram form equals the brute-force sum over the same rows.
        const Tensor w_hat = init_for(pr).decode();
        const double brute = pr.brute_objective(w_hat);
        EXPECT_GT(brute, 1e-3 * pr.stats.response_sq);
        EXPECT_NEAR(pr.stats.objective(w_hat), brute, 1e-5 * brute);
        // response_sq is the sum of T^2 over the rows: the zero weight's error is ||T - bias||^2.
        Tensor zero(pr.weight.shape, 0.0f);
        EXPECT_NEAR(pr.stats.objective(zero), pr.brute_objective(zero), 1e-6 * pr.brute_objective(zero));
        EXPECT_NEAR(pr.stats.relative_error(brute), std::sqrt(brute / pr.stats.response_sq), 1e-12);
    }
}

TEST(Calibration, ResponseSquareIsTheTargetsSquaredNorm) {
    const Problem pr = fc_problem(8, 5, 6, 2, 3);
    double s = 0;
    for (float v : pr.target.data) s += double(v) * v;
    EXPECT_NEAR(pr.stats.response_sq, s, 1e-9 * s);
}

TEST(Calibration, SameBitsForAnyThreadCount) {
    const Problem pr = conv_problem(8, 6, conv_params(3, 3, 1, 1, 1, 1), 6, 12, 12, 0, 21);
    for (int threads : {1, 2, 3}) {
        LayerStats s = LayerStats::empty(pr.layer);
        accumulate_stats(s, pr.input, pr.target, 0, 0, pr.seed, threads);
        LayerStats r = LayerStats::empty(pr.layer);
        accumulate_stats(r, pr.input, pr.target, 0, 0, pr.seed, 1);
        ASSERT_EQ(s.gram[0].size(), r.gram[0].size());
        EXPECT_EQ(std::memcmp(s.gram[0].data(), r.gram[0].data(), sizeof(double) * r.gram[0].size()), 0) << threads;
        EXPECT_EQ(std::memcmp(s.cross[0].data(), r.cross[0].data(), sizeof(double) * r.cross[0].size()), 0) << threads;
        EXPECT_EQ(s.target_sq, r.target_sq);
        // The Gram matrix is exactly symmetric.
        EXPECT_TRUE(s.gram[0] == s.gram[0].transpose());
    }
}

TEST(Calibration, RejectsShapesThatDoNotFitTheLayer) {
    const Problem pr = conv_problem(4, 6, conv_params(3, 3, 1, 1, 1, 1), 2, 6, 6, 0, 5);
    LayerStats s = LayerStats::empty(pr.layer);
    Tensor bad_target({2, 6, 5, 6});
    EXPECT_THROW(accumulate_stats(s, pr.input, bad_target, 0, 0, 0, 1), Error);
    Tensor bad_input({2, 3, 6, 6});
    EXPECT_THROW(accumulate_stats(s, bad_input, pr.target, 0, 0, 0, 1), Error);
    const Problem fc = fc_problem(8, 5, 3, 1, 6);
    LayerStats f = LayerStats::empty(fc.layer);
    EXPECT_THROW(accumulate_stats(f, Tensor({3, 7}), Tensor({3, 5}), 0, 0, 0, 1), Error);
    EXPECT_THROW(accumulate_stats(f, Tensor({3, 8}), Tensor({2, 5}), 0, 0, 0, 1), Error);
}

TEST(Calibration, SamplePositions) {
    for (uint64_t seed : {1u, 2u, 3u}) {
        const std::vector<int64_t> p = sample_positions(784, 64, seed);
        ASSERT_EQ(p.size(), 64u) << "seed " << seed;
        for (size_t i = 0; i < p.size(); ++i) {
            EXPECT_GE(p[i], 0);
            EXPECT_LT(p[i], 784);
            if (i) {
                EXPECT_LT(p[i - 1], p[i]) << "ascending and distinct, seed " << seed;
            }
        }
        EXPECT_EQ(p, sample_positions(784, 64, seed));
    }
    EXPECT_NE(sample_positions(784, 64, 1), sample_positions(784, 64, 2));
    EXPECT_EQ(sample_positions(5, 0, 1), (std::vector<int64_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(sample_positions(5, 9, 1), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Calibration, CalibrationIndicesArePrefixesOfOneShuffle) {
    const std::vector<int64_t> a = calibration_indices(60000, 500, 7);
    const std::vector<int64_t> b = calibration_indices(60000, 5000, 7);
    ASSERT_EQ(a.size(), 500u);
    ASSERT_EQ(b.size(), 5000u);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()));
    std::vector<int64_t> sorted = b;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
    EXPECT_GE(sorted.front(), 0);
    EXPECT_LT(sorted.back(), 60000);
    EXPECT_FALSE(std::is_sorted(a.begin(), a.end()));
    EXPECT_NE(calibration_indices(60000, 500, 8), a);
    EXPECT_EQ(calibration_indices(10, 50, 7).size(), 10u);
}

TEST(EcSolver, ObjectiveNeverIncreasesAndIsTheDecodedWeightsObjective) {
    for (const Problem& pr : problems()) {
        SCOPED_TRACE(pr.what);
        EcSolver s(pr.stats, init_for(pr), 1e-6, 2);
        const double first = s.objective();
        EXPECT_NEAR(first, pr.stats.objective(init_for(pr).decode()), 1e-9 * pr.stats.response_sq);
        double prev = first;
        for (int sweep = 0; sweep < 3; ++sweep)
            for (int64_t m = 0; m < s.subspaces(); ++m)
                for (int step = 0; step < 2; ++step) {
                    const double obj = step == 0 ? s.d_step(m) : s.b_step(m);
                    EXPECT_LE(obj, prev + 1e-12 * first) << "sweep " << sweep << " subspace " << m << " step " << step;
                    EXPECT_NEAR(obj, pr.stats.objective(s.weights().decode()), 1e-9 * pr.stats.response_sq)
                        << "sweep " << sweep << " subspace " << m << " step " << step;
                    prev = obj;
                }
        EXPECT_LT(prev, 0.95 * first);
        const double brute = pr.brute_objective(s.weights().decode());
        EXPECT_NEAR(prev, brute, 1e-4 * brute + 1e-9 * pr.stats.response_sq);
        s.weights().validate("after EC");
    }
}

// min over the codebook of subspace m with the codes fixed, solved by stacking every response
// term into one least-squares problem whose columns are the layer's responses to unit codeword
// entries (computed with the reference conv / FC loops).
Eigen::VectorXd stacked_least_squares(const Problem& pr, const PQWeights& w, int64_t m) {
    const int64_t K = w.geo.K, dsub = w.geo.dsub;
    auto response = [&](const PQWeights& q, bool bias) {
        const std::vector<float> none;
        const Tensor wd = q.decode();
        return pr.layer.kind == LayerKind::Fc ? fc_reference(pr.input, wd, bias ? pr.bias : none)
                                              : conv_reference(pr.input, pr.layer.conv, wd, bias ? pr.bias : none);
    };
    PQWeights zero_m = w;
    std::fill(zero_m.codebooks.begin() + m * K * dsub, zero_m.codebooks.begin() + (m + 1) * K * dsub, 0.0f);
    const Tensor base = response(zero_m, true);
    const int64_t rows = base.size();
    Eigen::VectorXd t(rows);
    for (int64_t i = 0; i < rows; ++i) t(i) = double(pr.target.data[i]) - base.data[i];
    Eigen::MatrixXd a(rows, K * dsub);
    PQWeights unit = w;
    std::fill(unit.codebooks.begin(), unit.codebooks.end(), 0.0f);
    for (int64_t j = 0; j < K * dsub; ++j) {
        unit.codebooks[m * K * dsub + j] = 1.0f;
        const Tensor col = response(unit, false);
        for (int64_t i = 0; i < rows; ++i) a(i, j) = col.data[i];
        unit.codebooks[m * K * dsub + j] = 0.0f;
    }
    return a.colPivHouseholderQr().solve(t);
}

TEST(EcSolver, DStepEqualsTheStackedLeastSquaresSolution) {
    for (const Problem& pr : problems()) {
        if (pr.positions != 0) continue;  // the stacked problem uses every position
        SCOPED_TRACE(pr.what);
        const PQWeights init = init_for(pr);
        const std::vector<uint8_t> codes = init.unpacked_codes();
        EcSolver s(pr.stats, init, 1e-12, 1);
        for (int64_t m = 0; m < s.subspaces(); ++m) {
            // Every codeword of m is used (else the stacked problem is rank-deficient).
            const PQGeometry& g = init.geo;
            std::vector<int> used(g.K, 0);
            const int64_t ctg = g.outputs_per_group(), Mg = g.subspaces_per_group(), P = g.kernel_size();
            for (int64_t c = (m / Mg) * ctg; c < (m / Mg + 1) * ctg; ++c)
                for (int64_t p = 0; p < P; ++p) used[codes[(c * P + p) * Mg + m % Mg]] = 1;
            ASSERT_EQ(std::count(used.begin(), used.end(), 1), g.K) << "subspace " << m;

            const PQWeights before = s.weights();
            const Eigen::VectorXd expect = stacked_least_squares(pr, before, m);
            s.d_step(m);
            const PQWeights after = s.weights();
            EXPECT_EQ(after.codes, before.codes);
            const double scale = expect.cwiseAbs().maxCoeff();
            for (int64_t j = 0; j < g.K * g.dsub; ++j)
                EXPECT_NEAR(after.codebooks[m * g.K * g.dsub + j], expect(j), 2e-4 * scale)
                    << "subspace " << m << " entry " << j;
            // The other subspaces are untouched.
            for (int64_t i = 0; i < int64_t(before.codebooks.size()); ++i)
                if (i / (g.K * g.dsub) != m) {
                    EXPECT_EQ(after.codebooks[i], before.codebooks[i]);
                }
        }
    }
}

TEST(EcSolver, BStepPicksTheBestCodeOfEveryOutputAndOffset) {
    for (const Problem& pr : problems()) {
        SCOPED_TRACE(pr.what);
        EcSolver s(pr.stats, init_for(pr, 2), 1e-6, 2);
        for (int64_t m = 0; m < s.subspaces(); ++m) {
            s.d_step(m);
            int64_t changes = 0;
            const double obj = s.b_step(m, &changes);
            // No single code of subspace m can be changed for a lower objective (FC: this is
            // the exact argmin; conv: the coordinate-wise optimum the sweeps converge to).
            const PQWeights w = s.weights();
            std::vector<uint8_t> codes = w.unpacked_codes();
            const PQGeometry& g = w.geo;
            const int64_t ctg = g.outputs_per_group(), Mg = g.subspaces_per_group(), P = g.kernel_size();
            for (int64_t c = (m / Mg) * ctg; c < (m / Mg + 1) * ctg; ++c)
                for (int64_t p = 0; p < P; ++p) {
                    const int64_t i = (c * P + p) * Mg + m % Mg;
                    const uint8_t keep = codes[i];
                    for (int64_t k = 0; k < g.K; ++k) {
                        if (k == keep) continue;
                        codes[i] = static_cast<uint8_t>(k);
                        PQWeights alt = w;
                        alt.codes = pack_codes(codes, g.bits());
                        EXPECT_GE(pr.stats.objective(alt.decode()), obj - 1e-9 * pr.stats.response_sq)
                            << "subspace " << m << " output " << c << " offset " << p << " code " << k;
                    }
                    codes[i] = keep;
                }
        }
    }
}

TEST(ErrorCorrection, BetterResponseThanPlainPQ) {
    for (const Problem& pr : problems()) {
        SCOPED_TRACE(pr.what);
        const PQWeights init = init_for(pr);
        EcOptions o;
        o.iterations = 4;
        o.tol = 0;
        const EcResult r = error_correct(pr.stats, init, o, "test");
        const double pq = pr.brute_objective(init.decode());
        const double ec = pr.brute_objective(r.weights.decode());
        EXPECT_LE(ec, pq);
        EXPECT_LT(ec, 0.95 * pq);
        EXPECT_EQ(r.iterations, 4);
        ASSERT_EQ(r.objective.size(), size_t(1 + 2 * 4 * init.geo.subspaces()));
        for (size_t i = 1; i < r.objective.size(); ++i) EXPECT_LE(r.objective[i], r.objective[i - 1] + 1e-12 * r.objective[0]);
        EXPECT_NEAR(r.error_before, std::sqrt(pq / pr.stats.response_sq), 1e-5 * r.error_before);
        EXPECT_NEAR(r.error_after, std::sqrt(ec / pr.stats.response_sq), 1e-4 * r.error_after);
        EXPECT_LT(r.error_after, r.error_before);
        EXPECT_EQ(r.weights.geo, init.geo);
    }
}

TEST(Calibration, BiasShiftObjectiveMatchesBruteForce) {
    for (const Problem& pr : problems()) {
        SCOPED_TRACE(pr.what);
        const Tensor w_hat = init_for(pr).decode();
        std::vector<float> b = as_vector(random_tensor({pr.layer.out_channels}, 5, 0.3f));
        Problem shifted = pr;
        shifted.bias = b;
        const double brute = shifted.brute_objective(w_hat);
        EXPECT_NEAR(pr.stats.objective(w_hat, b), brute, 1e-5 * brute);
        EXPECT_EQ(pr.stats.objective(w_hat, pr.bias), pr.stats.objective(w_hat));
    }
}

TEST(EcSolver, BiasStepIsExactAndMonotone) {
    for (const Problem& pr : problems()) {
        SCOPED_TRACE(pr.what);
        EcSolver s(pr.stats, init_for(pr), 1e-6, 2, "test", true);
        const double first = s.objective();
        double prev = first;
        for (int sweep = 0; sweep < 2; ++sweep) {
            const double after_bias = s.bias_step();
            EXPECT_LE(after_bias, prev);
            const Tensor w = s.weights().decode();
            const std::vector<float> b = s.bias();
            ASSERT_EQ(int64_t(b.size()), pr.layer.out_channels);
            EXPECT_NEAR(after_bias, pr.stats.objective(w, b), 1e-9 * pr.stats.response_sq);
            // Exact in every output's bias: moving one by +-eps does not help.
            for (int64_t c = 0; c < pr.layer.out_channels; ++c)
                for (float eps : {-1e-3f, 1e-3f}) {
                    std::vector<float> bb = b;
                    bb[c] += eps;
                    EXPECT_GE(pr.stats.objective(w, bb), after_bias - 1e-9 * pr.stats.response_sq) << "output " << c;
                }
            prev = after_bias;
            for (int64_t m = 0; m < s.subspaces(); ++m) {
                const double d = s.d_step(m);
                EXPECT_LE(d, prev);
                const double bstep = s.b_step(m);
                EXPECT_LE(bstep, d);
                EXPECT_NEAR(bstep, pr.stats.objective(s.weights().decode(), s.bias()), 1e-9 * pr.stats.response_sq);
                prev = bstep;
            }
        }
        // Against the plain objective: refitting the biases can only help.
        EcOptions o;
        o.iterations = 2;
        const EcResult plain = error_correct(pr.stats, init_for(pr), o);
        o.fit_bias = true;
        const EcResult with_bias = error_correct(pr.stats, init_for(pr), o);
        EXPECT_EQ(plain.bias, pr.bias);
        ASSERT_EQ(with_bias.objective.size(), size_t(1 + 1 + 2 * (2 * s.subspaces() + 1)));
        for (size_t i = 1; i < with_bias.objective.size(); ++i) EXPECT_LE(with_bias.objective[i], with_bias.objective[i - 1]);
        Problem refit = pr;
        refit.bias = with_bias.bias;
        EXPECT_NEAR(with_bias.objective.back(), refit.brute_objective(with_bias.weights.decode()),
                    1e-4 * with_bias.objective.back() + 1e-9 * pr.stats.response_sq);
    }
}

TEST(ErrorCorrection, StopsEarlyByTolerance) {
    const Problem pr = fc_problem(16, 33, 40, 1, 17);
    EcOptions o;
    o.iterations = 50;
    o.tol = 1e-3;
    const EcResult r = error_correct(pr.stats, init_for(pr), o);
    EXPECT_LT(r.iterations, 50);
    EXPECT_GE(r.iterations, 1);
    o.iterations = 0;
    const EcResult none = error_correct(pr.stats, init_for(pr), o);
    EXPECT_EQ(none.objective.size(), 1u);
    EXPECT_EQ(none.weights.codebooks, init_for(pr).codebooks);
}

TEST(ErrorCorrection, SameBitsForAnySeedRepeatAndThreadCount) {
    for (const Problem& pr : problems()) {
        SCOPED_TRACE(pr.what);
        EcOptions o;
        o.iterations = 3;
        o.threads = 1;
        const EcResult a = error_correct(pr.stats, init_for(pr), o);
        const EcResult b = error_correct(pr.stats, init_for(pr), o);
        o.threads = 2;
        const EcResult c = error_correct(pr.stats, init_for(pr), o);
        for (const EcResult* r : {&b, &c}) {
            EXPECT_EQ(std::memcmp(a.weights.codebooks.data(), r->weights.codebooks.data(),
                                  sizeof(float) * a.weights.codebooks.size()),
                      0);
            EXPECT_EQ(a.weights.codes, r->weights.codes);
            EXPECT_EQ(a.objective, r->objective);
        }
    }
}

TEST(ErrorCorrection, DeadInputChannelsKeepTheirKMeansValues) {
    // Input channel 1 is always zero (a dead ReLU channel): its Gram rows vanish, the D step
    // is rank-deficient, and the proximal ridge keeps that coordinate where k-means put it.
    Problem pr = conv_problem(4, 6, conv_params(3, 3, 1, 1, 1, 1), 4, 6, 6, 0, 31);
    const int64_t hw = 36;
    for (int64_t n = 0; n < 4; ++n) std::fill_n(pr.input.data.begin() + (n * 4 + 1) * hw, hw, 0.0f);
    pr.target = conv_reference(pr.input, pr.layer.conv, pr.weight, pr.bias);
    pr.stats = LayerStats::empty(pr.layer);
    accumulate_stats(pr.stats, pr.input, pr.target, 0, 0, 0, 1);
    const PQWeights init = kmeans_init(pr, 2, 4, 3);
    EcOptions o;
    o.iterations = 3;
    const EcResult r = error_correct(pr.stats, init, o);
    for (float v : r.weights.codebooks) EXPECT_TRUE(std::isfinite(v));
    for (size_t i = 1; i < r.objective.size(); ++i) EXPECT_LE(r.objective[i], r.objective[i - 1] + 1e-12 * r.objective[0]);
    EXPECT_LT(r.objective.back(), 0.9 * r.objective.front());
    // Subspace 0 holds channels 0 and 1; coordinate l = 1 of each codeword is the dead channel.
    for (int64_t k = 0; k < 4; ++k)
        EXPECT_NEAR(r.weights.codebooks[k * 2 + 1], init.codebooks[k * 2 + 1], 1e-5f * (1 + std::abs(init.codebooks[k * 2 + 1])))
            << "codeword " << k;
}

TEST(ErrorCorrection, ProgressAndCancel) {
    const Problem pr = conv_problem(4, 6, conv_params(3, 3, 1, 1, 1, 1), 4, 6, 7, 0, 11);
    EcOptions o;
    o.iterations = 3;
    o.tol = 0;
    std::vector<Progress> seen;
    error_correct(pr.stats, init_for(pr), o, "conv7", [&](const Progress& p) {
        seen.push_back(p);
        return true;
    });
    const int64_t M = 2;
    ASSERT_EQ(seen.size(), size_t(3 * M + 1));
    for (size_t i = 0; i < seen.size(); ++i) {
        EXPECT_EQ(seen[i].stage, "error-correction");
        EXPECT_EQ(seen[i].layer, "conv7");
        EXPECT_EQ(seen[i].done, int64_t(i));
        EXPECT_EQ(seen[i].total, 3 * M);
    }
    int calls = 0;
    EXPECT_THROW(error_correct(pr.stats, init_for(pr), o, "conv7", [&](const Progress&) { return ++calls < 3; }),
                 Cancelled);
    EXPECT_EQ(calls, 3);
}

TEST(ErrorCorrection, RejectsWeightsOfAnotherLayer) {
    const Problem pr = conv_problem(4, 6, conv_params(3, 3, 1, 1, 1, 1), 2, 5, 5, 0, 11);
    const Problem other = conv_problem(4, 6, conv_params(1, 1, 1, 0, 1, 1), 2, 5, 5, 0, 11);
    try {
        EcSolver s(pr.stats, init_for(other), 1e-6, 1, "conv3");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("layer conv3"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("do not match"), std::string::npos) << e.what();
    }
    const Problem fc = fc_problem(8, 6, 4, 1, 3);
    EXPECT_THROW(EcSolver(fc.stats, kmeans_init(fc_problem(8, 5, 4, 1, 3), 2, 4, 1), 1e-6, 1), Error);
}

}  // namespace
}  // namespace qcnn
