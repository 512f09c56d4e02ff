#include "core/cost/time_estimate.h"

#include <algorithm>
#include <cmath>

#include "core/quant/kmeans.h"
#include "core/quant/product_quantizer.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

constexpr int idx(RunStage s) { return static_cast<int>(s); }

// Response errors run on up to this many calibration images (run_quantization).
constexpr int64_t kResponseImages = 256;
// The speed stage's work per run: its prior is then 1 s per run.
constexpr double kSpeedUnits = 1e9;

}  // namespace

std::string to_string(RunStage s) {
    switch (s) {
        case RunStage::KMeans: return "k-means";
        case RunStage::Calibration: return "calibration";
        case RunStage::EcSolve: return "EC solve";
        case RunStage::Evaluation: return "evaluation";
        case RunStage::Speed: return "speed";
    }
    return "?";
}

bool run_stage_of(const std::string& p, RunStage* stage) {
    RunStage s;
    if (p == "kmeans" || p == "quantize") s = RunStage::KMeans;
    else if (p == "calibration data" || p == "calibration" || p == "response-error") s = RunStage::Calibration;
    else if (p == "error-correction") s = RunStage::EcSolve;
    else if (p == "evaluate" || p == "evaluate float" || p == "evaluate quantized") s = RunStage::Evaluation;
    else if (p == "measure speed") s = RunStage::Speed;
    else return false;
    *stage = s;
    return true;
}

StageValues run_work(const NetworkCost& cost, const RunWorkOptions& o) {
    StageValues w{};
    const bool ec = o.ec != EcMode::None;
    int64_t calib = o.calib_images > 0 ? o.calib_images : (ec ? QuantizeOptions{}.ec_fc_images : 256);
    if (o.calib_available > 0) calib = std::min(calib, o.calib_available);
    const double conv_images = double(std::min(calib, std::max<int64_t>(o.ec_conv_images, 1)));
    double upto = 0;  // dense FLOPs of the weight layers up to this one: the forward pass that feeds it
    for (const LayerCost& c : cost.layers) {
        const LayerGeometry& g = c.geometry;
        upto += double(c.flops_dense);
        if (c.setting.dense) continue;
        const double P = double(g.k_h * g.k_w), K = double(c.setting.pq.K), dsub = double(c.setting.pq.dsub);
        const double M = double(c.m);
        // k-means (core/quant/product_quantizer): per subspace, n_init runs (pq_restarts: up to 16
        // on small layers) of greedy k-means++ seeding (greedy_trials(K) candidates per centroid)
        // and the Lloyd iterations, each pass comparing the (C_t/g)*P sub-vectors with K
        // centroids of dsub floats (+1: the per-pair work that does not scale with dsub).
        const int64_t vectors = g.c_t / std::max<int64_t>(g.group, 1) * g.k_h * g.k_w;
        const double runs = double(pq_restarts(vectors, c.setting.pq.K));
        const double passes = double(o.kmeans_iters + greedy_trials(c.setting.pq.K));
        w[idx(RunStage::KMeans)] += double(c.m) * runs * double(vectors) * K * (dsub + 1) * passes;
        if (!ec) continue;
        // Calibration: the forward pass to the layer over its images, and the Gram statistics
        // (rows x receptive field^2 per group).
        const bool conv = g.kind == LayerKind::Conv;
        const double images = conv ? conv_images : double(calib);
        const double positions =
            double(g.h_t * g.w_t) > 0 && o.ec_positions > 0 && conv ? std::min<double>(double(o.ec_positions), double(g.h_t * g.w_t))
                                                                    : double(g.h_t * g.w_t);
        const double field = double(g.c_s / std::max<int64_t>(g.group, 1)) * P;
        w[idx(RunStage::Calibration)] += images * (upto + positions * field * field * double(g.group));
        // EC solve: per sweep and subspace, the D step's (K*dsub)^3 solve (conv: joint; FC: K
        // blocks of dsub^3) and building H, and the B step's search over K per output and offset.
        const double solve = conv ? std::pow(K * dsub, 3.0) / 3.0 : K * std::pow(dsub, 3.0);
        w[idx(RunStage::EcSolve)] += double(o.ec_iters) * M * (solve + double(g.c_t) * P * (P * dsub * dsub + K * dsub * P));
    }
    const double per_image_q = double(cost.flops_qcnn), per_image_d = double(cost.flops_dense);
    // Response errors: dense and quantized passes over up to 256 calibration images.
    w[idx(RunStage::Calibration)] += double(std::min(calib, kResponseImages)) * (per_image_d + per_image_q);
    w[idx(RunStage::Evaluation)] = double(o.eval_images) * (per_image_q + (o.evaluate_float ? per_image_d : 0.0));
    w[idx(RunStage::Speed)] = o.measure_speed ? kSpeedUnits : 0.0;
    return w;
}

void StageClock::observe(const std::string& progress_stage, Clock::time_point now) {
    if (current_ >= 0) seconds_[current_] += std::chrono::duration<double>(now - since_).count();
    since_ = now;
    RunStage s;
    if (run_stage_of(progress_stage, &s)) current_ = idx(s);
}

void StageClock::stop(Clock::time_point now) {
    observe("", now);
    current_ = -1;
}

void StageClock::reset() {
    seconds_ = {};
    current_ = -1;
}

TimeEstimate& TimeEstimate::operator+=(const TimeEstimate& o) {
    low += o.low;
    typical += o.typical;
    high += o.high;
    return *this;
}

void TimeModel::observe(EcMode ec, const StageValues& work, const StageValues& seconds) {
    for (int s = 0; s < kRunStages; ++s)
        if (!(work[s] >= 0) || !(seconds[s] >= 0) || !std::isfinite(work[s]) || !std::isfinite(seconds[s]))
            fail("time model: stage ", to_string(RunStage(s)), " has work ", work[s], " and ", seconds[s], " s");
    runs_.push_back({ec, work, seconds});
}

int TimeModel::observations(EcMode ec) const {
    return static_cast<int>(std::count_if(runs_.begin(), runs_.end(), [ec](const Run& r) { return r.ec == ec; }));
}

TimeEstimate TimeModel::estimate_stage(EcMode ec, RunStage stage, double work) const {
    if (!(work > 0)) return {};
    const int s = idx(stage);
    // Rates (seconds per unit) of the runs that did this stage: this EC mode's, else any mode's.
    std::vector<double> rates;
    for (int pass = 0; pass < 2 && rates.empty(); ++pass)
        for (const Run& r : runs_)
            if ((pass == 1 || r.ec == ec) && r.work[s] > 0) rates.push_back(r.seconds[s] / r.work[s]);
    if (rates.empty()) return {work * kPriorSecondsPerUnit / 4, work * kPriorSecondsPerUnit, work * kPriorSecondsPerUnit * 4};
    std::sort(rates.begin(), rates.end());
    const double n = double(rates.size());
    const double median = rates.size() % 2 ? rates[rates.size() / 2] : (rates[rates.size() / 2 - 1] + rates[rates.size() / 2]) / 2;
    const double lo = rates.front() * (n == 1 ? 1 / 1.5 : 1 / 1.25), hi = rates.back() * (n == 1 ? 1.5 : 1.25);
    return {work * lo, work * median, work * hi};
}

TimeEstimate TimeModel::estimate(EcMode ec, const StageValues& work) const {
    TimeEstimate t;
    for (int s = 0; s < kRunStages; ++s) t += estimate_stage(ec, RunStage(s), work[s]);
    return t;
}

}  // namespace qcnn
