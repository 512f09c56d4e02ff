// One finished run as table rows, and the measured latency of dense vs quantized networks.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <random>

#include "core/graph/plan.h"
#include "core/sweep/sweep.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double median(std::vector<double> v) {
    QCNN_ASSERT(!v.empty(), "median of no values");
    const size_t mid = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
    const double hi = v[mid];
    if (v.size() % 2) return hi;
    return 0.5 * (hi + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid)));
}

// Median milliseconds of forward passes of each network on `input` (whole network, and each
// node of `layer_nodes`), after one warm-up pass each (planning, buffers, LUT scratch). The
// networks' passes alternate, repeated until `budget_seconds` have passed (at least 3, at most
// 10,000 rounds), so a burst of load on a shared machine hits both sides alike instead of
// skewing their ratio.
struct Timing {
    double total_ms = 0;
    std::vector<double> layer_ms;
};
std::vector<Timing> time_networks(const std::vector<const Network*>& nets, const Tensor& input, int threads,
                                  LutKernel kernel, double budget_seconds, const std::vector<int>& layer_nodes) {
    using Clock = std::chrono::steady_clock;
    std::vector<std::unique_ptr<Engine>> engines;
    std::vector<double> node_seconds;
    for (const Network* net : nets) {
        engines.push_back(std::make_unique<Engine>(std::make_shared<const Network>(*net), threads));
        engines.back()->set_lut_kernel(kernel);
        engines.back()->forward(input, &node_seconds);
    }
    std::vector<std::vector<double>> totals(nets.size());
    std::vector<std::vector<std::vector<double>>> per_layer(nets.size(), std::vector<std::vector<double>>(layer_nodes.size()));
    const auto start = Clock::now();
    size_t rounds = 0;
    do {
        for (size_t n = 0; n < engines.size(); ++n) {
            const auto t0 = Clock::now();
            engines[n]->forward(input, &node_seconds);
            totals[n].push_back(std::chrono::duration<double>(Clock::now() - t0).count());
            for (size_t l = 0; l < layer_nodes.size(); ++l)
                per_layer[n][l].push_back(node_seconds.at(static_cast<size_t>(layer_nodes[l])));
        }
        ++rounds;
    } while ((rounds < 3 || std::chrono::duration<double>(Clock::now() - start).count() < budget_seconds) &&
             rounds < 10000);
    std::vector<Timing> out(nets.size());
    for (size_t n = 0; n < nets.size(); ++n) {
        out[n].total_ms = 1e3 * median(totals[n]);
        for (auto& v : per_layer[n]) out[n].layer_ms.push_back(1e3 * median(v));
    }
    return out;
}

std::string kind_name(LayerKind k) { return k == LayerKind::Conv ? "conv" : "fc"; }

}  // namespace

SpeedMeasurement measure_speed(const Network& dense, const Network& quantized, const Shape& sample_shape,
                               int threads, LutKernel kernel, double budget_seconds) {
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

    const std::vector<Timing> t = time_networks({&dense, &quantized}, input, threads, kernel, budget_seconds, layers);
    SpeedMeasurement m;
    m.dense_ms = t[0].total_ms;
    m.layer_dense_ms = t[0].layer_ms;
    m.quantized_ms = t[1].total_ms;
    m.layer_quantized_ms = t[1].layer_ms;
    return m;
}

RunRow run_row(const SweepPoint& p, const RunResult& r, const SpeedMeasurement* speed) {
    RunRow row;
    row.run_index = p.index;
    row.settings = p.layers;
    row.ec = to_string(p.ec);
    row.seed = p.seed;
    row.top1 = r.quant_eval.top1;
    row.top5 = r.quant_eval.top5;
    row.top1_float = r.float_eval.top1;
    row.top5_float = r.float_eval.top5;
    row.compression = r.cost.compression();
    row.theoretical_speedup = r.cost.speedup();
    row.dense_ms = speed ? speed->dense_ms : kNaN;
    row.quantized_ms = speed ? speed->quantized_ms : kNaN;
    row.measured_speedup = speed ? speed->dense_ms / speed->quantized_ms : kNaN;
    row.memory_bytes_dense = r.cost.dense.peak_bytes;
    row.memory_bytes_quantized = r.cost.quantized.peak_bytes;
    row.quantize_seconds = r.quantize_seconds;
    row.eval_seconds = r.quant_eval.seconds;
    return row;
}

std::vector<LayerRow> layer_rows(const SweepPoint& p, const RunResult& r, const SpeedMeasurement* speed) {
    const size_t n = r.q.layers.size();
    QCNN_ASSERT(r.cost.layers.size() == n && r.response.size() == n, "run result: ", n, " layers, ",
                r.cost.layers.size(), " costed, ", r.response.size(), " response errors");
    QCNN_ASSERT(!speed || (speed->layer_dense_ms.size() == n && speed->layer_quantized_ms.size() == n),
                "speed measurement of ", speed->layer_dense_ms.size(), " layers for ", n);
    std::vector<LayerRow> rows;
    for (size_t i = 0; i < n; ++i) {
        const LayerQuantInfo& l = r.q.layers[i];
        const LayerCost& c = r.cost.layers[i];
        const LayerGeometry& g = c.geometry;
        LayerRow row;
        row.run_index = p.index;
        row.name = l.name;
        row.alias = l.alias;
        row.op = kind_name(l.kind);
        row.subspace_dim = l.setting.dense ? 0 : l.setting.pq.dsub;
        row.codewords = l.setting.dense ? 0 : l.setting.pq.K;
        row.ec = l.error_corrected ? to_string(p.ec) : "none";
        row.params = g.k_h * g.k_w * (g.c_s / g.group) * g.c_t + (g.bias ? g.c_t : 0);
        row.bytes_dense = c.weight_bits_dense / 8;
        row.bytes_quantized = (c.weight_bits_qcnn + 7) / 8;
        row.flops_dense = c.flops_dense;
        row.flops_quantized = c.flops_qcnn;
        row.theoretical_speedup = c.speedup();
        row.dense_ms = speed ? speed->layer_dense_ms[i] : kNaN;
        row.quantized_ms = speed ? speed->layer_quantized_ms[i] : kNaN;
        row.response_error = r.response[i].layer_error;
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace qcnn
