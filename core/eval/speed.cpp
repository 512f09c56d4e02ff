#include "core/eval/speed.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>

#include "core/graph/plan.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qcnn {

namespace {

// Percentile p in [0, 1] of sorted values, linear interpolation between closest ranks.
double percentile(const std::vector<double>& sorted, double p) {
    const double pos = p * static_cast<double>(sorted.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

TimingStats scaled(TimingStats s, double f) {
    s.median *= f;
    s.q1 *= f;
    s.q3 *= f;
    return s;
}

}  // namespace

double TimingStats::spread() const { return samples > 0 && median > 0 ? (q3 - q1) / median : std::nan(""); }

TimingStats timing_stats(std::vector<double> v) {
    TimingStats s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.median = percentile(v, 0.5);
    s.q1 = percentile(v, 0.25);
    s.q3 = percentile(v, 0.75);
    s.samples = static_cast<int>(v.size());
    return s;
}

SecondsClock steady_seconds() {
    return [] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    };
}

PreemptionCounter process_preemptions() {
    return [] {
        rusage u{};
        getrusage(RUSAGE_SELF, &u);
        return static_cast<long>(u.ru_nivcsw);
    };
}

AlternatingTiming time_alternating(int sides, const TimedPass& pass, const SpeedOptions& o, const SecondsClock& clock,
                                   const PreemptionCounter& preemptions) {
    QCNN_ASSERT(sides >= 1 && o.min_rounds >= 1 && o.max_rounds >= o.min_rounds, "time_alternating: ", sides,
                " sides, rounds ", o.min_rounds, "..", o.max_rounds);
    std::vector<double> parts;
    for (int w = 0; w < o.warmup; ++w)
        for (int s = 0; s < sides; ++s) pass(s, parts);
    // Per side and round: the pass's seconds and its parts' seconds.
    std::vector<std::vector<double>> totals(sides);
    std::vector<std::vector<std::vector<double>>> part_samples(sides);
    std::vector<char> preempted;  // per round
    // Statistics of side `s` (its parts when `part` >= 0) over clean rounds, or all rounds.
    const auto stats = [&](int s, int part, bool clean_only) {
        std::vector<double> v;
        const std::vector<double>& src = part < 0 ? totals[s] : part_samples[s][static_cast<size_t>(part)];
        for (size_t r = 0; r < src.size(); ++r)
            if (!clean_only || !preempted[r]) v.push_back(src[r]);
        return timing_stats(std::move(v));
    };
    AlternatingTiming out;
    int clean_rounds = 0;
    const double start = clock();
    for (;;) {
        const long before = preemptions ? preemptions() : 0;
        for (int s = 0; s < sides; ++s) {
            parts.clear();
            const double t0 = clock();
            pass(s, parts);
            totals[s].push_back(clock() - t0);
            if (part_samples[s].empty()) part_samples[s].resize(parts.size());
            QCNN_ASSERT(parts.size() == part_samples[s].size(), "time_alternating: side ", s, " timed ",
                        parts.size(), " parts, before ", part_samples[s].size());
            for (size_t k = 0; k < parts.size(); ++k) part_samples[s][k].push_back(parts[k]);
        }
        preempted.push_back(preemptions && preemptions() != before);
        clean_rounds += !preempted.back();
        ++out.rounds;
        if (clean_rounds >= o.min_rounds) {
            bool tight = true;
            for (int s = 0; s < sides && tight; ++s) tight = stats(s, -1, true).spread() <= o.target_spread;
            if (tight) {
                out.converged = true;
                break;
            }
        }
        if (out.rounds >= o.max_rounds || (out.rounds >= o.min_rounds && clock() - start >= o.budget_seconds)) break;
    }
    out.preempted_rounds = out.rounds - clean_rounds;
    out.clean = clean_rounds >= o.min_rounds;
    for (int s = 0; s < sides; ++s) {
        out.total.push_back(stats(s, -1, out.clean));
        std::vector<TimingStats> ps;
        for (size_t k = 0; k < part_samples[s].size(); ++k) ps.push_back(stats(s, static_cast<int>(k), out.clean));
        out.parts.push_back(std::move(ps));
    }
    return out;
}

std::optional<NetworkTiming> DenseTimingCache::find(const DenseTimingKey& key) const {
    std::lock_guard lock(mutex_);
    const auto it = kept_.find(key);
    if (it == kept_.end()) return std::nullopt;
    return it->second;
}

void DenseTimingCache::store(const DenseTimingKey& key, const NetworkTiming& t) {
    std::lock_guard lock(mutex_);
    kept_[key] = t;
}

void DenseTimingCache::clear() {
    std::lock_guard lock(mutex_);
    kept_.clear();
}

DenseTimingCache& DenseTimingCache::process() {
    static DenseTimingCache cache;
    return cache;
}

SpeedMeasurement measure_speed_with(const DenseTimingKey& key, const TimedPass& pass, const SpeedOptions& o,
                                    const SecondsClock& clock, DenseTimingCache* cache,
                                    const PreemptionCounter& preemptions) {
    const AlternatingTiming t = time_alternating(2, pass, o, clock, preemptions);
    SpeedMeasurement m;
    m.rounds = t.rounds;
    m.preempted_rounds = t.preempted_rounds;
    NetworkTiming* sides[2] = {&m.dense, &m.quantized};
    for (int s = 0; s < 2; ++s) {
        sides[s]->total_ms = scaled(t.total[s], 1e3);
        for (const TimingStats& p : t.parts[s]) sides[s]->layer_ms.push_back(scaled(p, 1e3));
        sides[s]->noisy = !t.clean || !(sides[s]->total_ms.spread() <= o.noisy_spread);
    }
    if (!cache || key.model_id.empty()) return m;
    if (const std::optional<NetworkTiming> kept = cache->find(key)) {
        const double fresh = m.dense.total_ms.median, was = kept->total_ms.median;
        if (std::abs(fresh - was) <= o.reuse_tolerance * was) {
            m.dense = *kept;
            m.dense_reused = true;
            return m;
        }
    }
    // First measurement of this key, or the machine state changed: keep the fresh one if clean.
    if (!m.dense.noisy) cache->store(key, m.dense);
    return m;
}

SpeedMeasurement measure_speed(const Network& dense, const Network& quantized, const std::string& model_id,
                               const Shape& sample_shape, int threads, LutKernel kernel, const SpeedOptions& options,
                               DenseTimingCache* cache) {
    const std::vector<int> layers = dense.weight_layers();
    if (quantized.weight_layers() != layers)
        fail("measure_speed: the quantized network's weight layers differ from the dense network's (",
             quantized.source, " vs ", dense.source, ")");
    Shape shape = {1};
    shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
    for (int64_t d : shape)
        if (d < 1) fail("measure_speed: ", dense.source, ": the input shape has a dynamic dimension");
    // Fixed pseudo-random input in [0, 1) (seed 0): timings do not depend on the values, but
    // an all-zero input could take shortcuts real images do not.
    Tensor input(shape);
    std::mt19937 rng(0);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    for (float& x : input.data) x = uniform(rng);

    const int resolved = resolve_threads(threads);
    std::unique_ptr<Engine> engines[2];
    const Network* nets[2] = {&dense, &quantized};
    for (int s = 0; s < 2; ++s) {
        engines[s] = std::make_unique<Engine>(std::make_shared<const Network>(*nets[s]), resolved);
        engines[s]->set_lut_kernel(kernel);
    }
    std::vector<double> node_seconds;
    const TimedPass pass = [&](int side, std::vector<double>& layer_seconds) {
        engines[side]->forward(input, &node_seconds);
        for (int node : layers) layer_seconds.push_back(node_seconds.at(static_cast<size_t>(node)));
    };
    return measure_speed_with(DenseTimingKey{model_id, shape, resolved, kernel}, pass, options, steady_seconds(),
                              cache, process_preemptions());
}

}  // namespace qcnn
