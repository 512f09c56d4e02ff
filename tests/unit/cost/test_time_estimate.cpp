// The run-time estimate (core/cost/time_estimate.h): stage clock, rates and ranges, the work
// model's scaling, and (issue 18 item 4) the estimate against real measured runs of the bundled
// LeNet-5 and VGG on Fashion-MNIST, EC none and EC layer.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/cost/time_estimate.h"
#include "core/eval/run.h"
#include "core/eval/run_work.h"
#include "core/eval/model_summary.h"
#include "core/quant/kmeans.h"
#include "core/quant/product_quantizer.h"

namespace qcnn {
namespace {

using Clock = StageClock::Clock;
using std::chrono::milliseconds;

TEST(TimeEstimate, ProgressStagesMapToRunStages) {
    RunStage s;
    ASSERT_TRUE(run_stage_of("kmeans", &s));
    EXPECT_EQ(s, RunStage::KMeans);
    ASSERT_TRUE(run_stage_of("quantize", &s));
    EXPECT_EQ(s, RunStage::KMeans);
    ASSERT_TRUE(run_stage_of("calibration", &s));
    EXPECT_EQ(s, RunStage::Calibration);
    ASSERT_TRUE(run_stage_of("response-error", &s));
    EXPECT_EQ(s, RunStage::Calibration);
    ASSERT_TRUE(run_stage_of("error-correction", &s));
    EXPECT_EQ(s, RunStage::EcSolve);
    ASSERT_TRUE(run_stage_of("evaluate quantized", &s));
    EXPECT_EQ(s, RunStage::Evaluation);
    ASSERT_TRUE(run_stage_of("measure speed", &s));
    EXPECT_EQ(s, RunStage::Speed);
    EXPECT_FALSE(run_stage_of("sweep", &s));
    EXPECT_FALSE(run_stage_of("", &s));
}

TEST(TimeEstimate, StageClockChargesEachIntervalToTheStageBeforeIt) {
    StageClock c;
    const Clock::time_point t0{};
    c.observe("sweep", t0);                    // no stage yet: not counted
    c.observe("kmeans", t0 + milliseconds(100));
    c.observe("kmeans", t0 + milliseconds(300));
    c.observe("", t0 + milliseconds(400));     // no stage name: still k-means
    c.observe("error-correction", t0 + milliseconds(500));
    c.observe("evaluate quantized", t0 + milliseconds(1500));
    c.stop(t0 + milliseconds(1750));
    c.observe("kmeans", t0 + milliseconds(5000));  // after stop: the gap is nobody's
    c.stop(t0 + milliseconds(5050));
    const StageValues& s = c.seconds();
    EXPECT_NEAR(s[int(RunStage::KMeans)], 0.4 + 0.05, 1e-9);
    EXPECT_NEAR(s[int(RunStage::EcSolve)], 1.0, 1e-9);
    EXPECT_NEAR(s[int(RunStage::Evaluation)], 0.25, 1e-9);
    EXPECT_EQ(s[int(RunStage::Calibration)], 0.0);
    c.reset();
    EXPECT_EQ(c.seconds()[int(RunStage::KMeans)], 0.0);
}

TEST(TimeEstimate, RatesPerModeFallBackToAnyModeThenThePrior) {
    TimeModel m;
    StageValues work{};
    work[int(RunStage::KMeans)] = 1e9;
    work[int(RunStage::EcSolve)] = 2e9;
    // Before any run: 1 GFLOP/s, 0.25x..4x.
    TimeEstimate t = m.estimate(EcMode::Layer, work);
    EXPECT_DOUBLE_EQ(t.typical, 3.0);
    EXPECT_DOUBLE_EQ(t.low, 0.75);
    EXPECT_DOUBLE_EQ(t.high, 12.0);

    StageValues w1{}, s1{};
    w1[int(RunStage::KMeans)] = 1e9;
    s1[int(RunStage::KMeans)] = 0.5;  // 2 GFLOP/s
    m.observe(EcMode::None, w1, s1);
    EXPECT_EQ(m.observations(EcMode::None), 1);
    EXPECT_EQ(m.observations(EcMode::Layer), 0);
    // k-means from the EC-none run (any mode); EC solve still the prior.
    t = m.estimate(EcMode::Layer, work);
    EXPECT_DOUBLE_EQ(t.typical, 0.5 + 2.0);
    EXPECT_DOUBLE_EQ(t.low, 0.5 / 1.5 + 0.5);
    EXPECT_DOUBLE_EQ(t.high, 0.5 * 1.5 + 8.0);

    StageValues w2{}, s2{};
    w2[int(RunStage::KMeans)] = 1e9;
    s2[int(RunStage::KMeans)] = 2.0;
    w2[int(RunStage::EcSolve)] = 1e9;
    s2[int(RunStage::EcSolve)] = 4.0;
    m.observe(EcMode::Layer, w2, s2);
    // EC layer's own rates now: k-means 2 s per 1e9, EC solve 4 s per 1e9.
    t = m.estimate(EcMode::Layer, work);
    EXPECT_DOUBLE_EQ(t.typical, 2.0 + 8.0);
    // EC none keeps its own k-means rate.
    EXPECT_DOUBLE_EQ(m.estimate(EcMode::None, w1).typical, 0.5);
    // Two runs of a mode: the range spans their rates, widened by 25%.
    StageValues s3 = s2;
    s3[int(RunStage::KMeans)] = 3.0;
    m.observe(EcMode::Layer, w2, s3);
    t = m.estimate_stage(EcMode::Layer, RunStage::KMeans, 1e9);
    EXPECT_DOUBLE_EQ(t.typical, 2.5);
    EXPECT_DOUBLE_EQ(t.low, 2.0 / 1.25);
    EXPECT_DOUBLE_EQ(t.high, 3.0 * 1.25);
    EXPECT_THROW(m.observe(EcMode::None, w1, StageValues{-1, 0, 0, 0, 0}), Error);
}

LayerGeometry conv(int64_t cs, int64_t ct, int64_t hw) {
    LayerGeometry g;
    g.alias = "conv";
    g.c_s = cs;
    g.c_t = ct;
    g.h_s = g.w_s = g.h_t = g.w_t = hw;
    g.k_h = g.k_w = 3;
    return g;
}

TEST(TimeEstimate, WorkScalesWithTheSettingsAndTheRunOptions) {
    const std::vector<LayerGeometry> layers{conv(16, 32, 8), conv(32, 32, 4)};
    const QuantSetting k16 = QuantSetting::make_pq(4, 16), k64 = QuantSetting::make_pq(4, 64), dense;
    RunWorkOptions o;
    o.eval_images = 1000;
    const StageValues a = run_work(network_cost(layers, {k16, k16}), o);
    const StageValues b = run_work(network_cost(layers, {k64, k64}), o);
    const StageValues d = run_work(network_cost(layers, {dense, dense}), o);
    // k-means' work: subspaces x restarts (pq_restarts: 16 for these small layers at K = 16, 14
    // at K = 64) x vectors x K x (dsub + 1) x (iterations + seeding candidates).
    const auto kmeans = [](int64_t vectors, int64_t K, int64_t M, int iters) {
        return double(M) * pq_restarts(vectors, K) * double(vectors) * double(K) * 5.0 * (iters + greedy_trials(K));
    };
    EXPECT_NEAR(a[int(RunStage::KMeans)], kmeans(32 * 9, 16, 4, 25) + kmeans(32 * 9, 16, 8, 25), 1e-9 * a[int(RunStage::KMeans)]);
    EXPECT_NEAR(b[int(RunStage::KMeans)], kmeans(32 * 9, 64, 4, 25) + kmeans(32 * 9, 64, 8, 25), 1e-9 * b[int(RunStage::KMeans)]);
    EXPECT_GT(b[int(RunStage::KMeans)], a[int(RunStage::KMeans)]);
    EXPECT_EQ(d[int(RunStage::KMeans)], 0.0);
    EXPECT_EQ(a[int(RunStage::EcSolve)], 0.0);  // EC none
    EXPECT_EQ(a[int(RunStage::Speed)], 0.0);
    o.ec = EcMode::Layer;
    const StageValues e = run_work(network_cost(layers, {k16, k16}), o);
    EXPECT_GT(e[int(RunStage::EcSolve)], 0.0);
    EXPECT_GT(e[int(RunStage::Calibration)], a[int(RunStage::Calibration)]);
    o.ec_iters *= 2;
    EXPECT_NEAR(run_work(network_cost(layers, {k16, k16}), o)[int(RunStage::EcSolve)], 2 * e[int(RunStage::EcSolve)],
                1e-9 * e[int(RunStage::EcSolve)]);
    o.eval_images = 3000;
    EXPECT_NEAR(run_work(network_cost(layers, {k16, k16}), o)[int(RunStage::Evaluation)], 3 * e[int(RunStage::Evaluation)],
                1e-9 * e[int(RunStage::Evaluation)]);
    o.kmeans_iters = 50;
    EXPECT_NEAR(run_work(network_cost(layers, {k16, k16}), o)[int(RunStage::KMeans)],
                kmeans(32 * 9, 16, 4, 50) + kmeans(32 * 9, 16, 8, 50), 1e-9 * a[int(RunStage::KMeans)]);
}

// ----- against real runs ------------------------------------------------------------------

struct Measured {
    StageValues work, seconds;
    double wall = 0;
};

Measured measure(const std::string& model, const std::string& layers, EcMode ec, int64_t limit, const EvalResult* float_eval,
                 EvalResult* float_out) {
    RunSpec s;
    s.model = model;
    s.data = "fashion-mnist:test";
    s.layers = layers;
    s.ec = ec;
    s.limit = limit;
    s.threads = 1;  // one core: the shared test machine's other work disturbs it least
    s.kmeans_iters = 6;
    s.calib_images = 400;
    s.ec_conv_images = 100;
    s.ec_positions = 16;
    s.ec_iters = 2;
    StageClock clock;
    const auto t0 = Clock::now();
    const RunResult r = run_quantization(s, float_eval, [&](const Progress& p) {
        clock.observe(p.stage);
        return true;
    });
    clock.stop();
    Measured m;
    m.wall = std::chrono::duration<double>(Clock::now() - t0).count();
    m.seconds = clock.seconds();
    if (float_out) *float_out = r.float_eval;
    const auto net = load_model(model);
    std::vector<QuantSetting> per_layer;
    for (const auto& l : r.q.layers) per_layer.push_back(l.setting);
    const RunWorkOptions o = run_work_options(s, r.quant_eval.samples, float_eval == nullptr, false);
    m.work = run_work(network_cost(network_geometry(*net, net->sample_shape()), per_layer), o);
    return m;
}

// Calibrated on one run per EC mode, the estimate of a run with other settings and twice the
// evaluation images is within 2x of its measured wall time. (The first run also evaluates the
// float model, which its work counts; later runs reuse that evaluation, as the workbench does.)
void checkWithin2x(const std::string& name, const std::string& calibrate, const std::string& predict) {
    const std::string model = std::string(QCNN_BINARY_DIR) + "/share/qcnn-workbench/datasets/" + name + ".onnx";
    const std::string source = std::string(QCNN_DATASETS_DIR) + "/" + name + ".onnx";
    const std::string path = std::filesystem::exists(model) ? model : source;
    if (!std::filesystem::exists(path) || !std::filesystem::exists(QCNN_FASHION_MNIST_DIR))
        GTEST_SKIP() << "needs " << path << " and " << QCNN_FASHION_MNIST_DIR;
    EvalResult float_eval;
    TimeModel tm;
    bool first = true;
    for (EcMode ec : {EcMode::None, EcMode::Layer}) {
        const Measured cal = measure(path, calibrate, ec, 150, first ? nullptr : &float_eval, first ? &float_eval : nullptr);
        first = false;
        tm.observe(ec, cal.work, cal.seconds);
        const Measured run = measure(path, predict, ec, 300, &float_eval, nullptr);
        const TimeEstimate t = tm.estimate(ec, run.work);
        std::printf("%s EC %s: calibration run (%s) %.2f s; run (%s): estimate %.2f s (%.2f to %.2f), measured %.2f s\n",
                    name.c_str(), to_string(ec).c_str(), calibrate.c_str(), cal.wall, predict.c_str(), t.typical, t.low, t.high,
                    run.wall);
        for (int k = 0; k < kRunStages; ++k)
            std::printf("  %-12s calibration %6.2f s; estimate %6.2f s, measured %6.2f s\n", to_string(RunStage(k)).c_str(),
                        cal.seconds[k], tm.estimate_stage(ec, RunStage(k), run.work[k]).typical, run.seconds[k]);
        EXPECT_GT(t.typical, run.wall / 2) << name << " EC " << to_string(ec);
        EXPECT_LT(t.typical, run.wall * 2) << name << " EC " << to_string(ec);
        EXPECT_LE(t.low, t.typical);
        EXPECT_GE(t.high, t.typical);
    }
}

TEST(TimeEstimate, WithinTwiceTheMeasuredTimeOfLenet) { checkWithin2x("lenet5", "conv=4/16,fc=4/16", "conv=2/32,fc=2/32"); }
TEST(TimeEstimate, WithinTwiceTheMeasuredTimeOfVgg) { checkWithin2x("vgg7", "conv=8/16,fc=4/16", "conv=4/32,fc=4/32"); }

}  // namespace
}  // namespace qcnn
