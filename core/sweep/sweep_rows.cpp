// One finished run as table rows (speeds from core/eval/speed.h).
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/sweep/results_file.h"
#include "core/sweep/sweep.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string kind_name(LayerKind k) { return k == LayerKind::Conv ? "conv" : "fc"; }

}  // namespace

std::string measured_speedup_text(const RunRow& r) {
    if (!std::isfinite(r.measured_speedup)) return "-";
    char buf[64];
    const double half = 0.5 * (r.measured_speedup_hi - r.measured_speedup_lo);
    if (std::isfinite(half))
        std::snprintf(buf, sizeof buf, "%.2fx \u00b1%.2f", r.measured_speedup, half);
    else
        std::snprintf(buf, sizeof buf, "%.2fx", r.measured_speedup);
    return std::string(buf) + (r.speed_noisy ? " noisy" : "");
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
    row.dense_ms = speed ? speed->dense_ms() : kNaN;
    row.quantized_ms = speed ? speed->quantized_ms() : kNaN;
    row.measured_speedup = speed ? speed->speedup() : kNaN;
    row.dense_ms_spread = speed ? speed->dense.total_ms.spread() : kNaN;
    row.quantized_ms_spread = speed ? speed->quantized.total_ms.spread() : kNaN;
    row.measured_speedup_lo = speed ? speed->speedup_lo() : kNaN;
    row.measured_speedup_hi = speed ? speed->speedup_hi() : kNaN;
    row.speed_noisy = speed && speed->noisy();
    row.dense_reused = speed && speed->dense_reused;
    row.speed_rounds = speed ? speed->rounds : 0;
    row.speed_preempted_rounds = speed ? speed->preempted_rounds : 0;
    row.memory_bytes_dense = r.cost.dense.peak_bytes;
    row.memory_bytes_quantized = r.cost.quantized.peak_bytes;
    row.quantize_seconds = r.quantize_seconds;
    row.eval_seconds = r.quant_eval.seconds;
    row.host = host_name();
    row.finished_utc = utc_now();
    return row;
}

std::vector<LayerRow> layer_rows(const SweepPoint& p, const RunResult& r, const SpeedMeasurement* speed) {
    const size_t n = r.q.layers.size();
    QCNN_ASSERT(r.cost.layers.size() == n && r.response.size() == n, "run result: ", n, " layers, ",
                r.cost.layers.size(), " costed, ", r.response.size(), " response errors");
    QCNN_ASSERT(!speed || (speed->dense.layer_ms.size() == n && speed->quantized.layer_ms.size() == n),
                "speed measurement of ", speed->dense.layer_ms.size(), " layers for ", n);
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
        row.dense_ms = speed ? speed->dense.layer_ms[i].median : kNaN;
        row.quantized_ms = speed ? speed->quantized.layer_ms[i].median : kNaN;
        row.dense_ms_spread = speed ? speed->dense.layer_ms[i].spread() : kNaN;
        row.quantized_ms_spread = speed ? speed->quantized.layer_ms[i].spread() : kNaN;
        row.response_error = r.response[i].layer_error;
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace qcnn
