// Number formatting shared by the workbench's tables, labels and tooltips.
#pragma once

#include <QString>
#include <cstdint>

#include "core/sweep/sweep.h"

namespace qcnn::ui {

// "512 B", "12.5 KB", "3.20 MB" (1 KB = 1024 bytes).
QString formatBytes(int64_t bytes);
// "3.21x" (ratios: speed-up, compression); "-" for a non-finite value.
QString formatRatio(double ratio);
// A run's measured speed-up: "1.90x ±0.20", "... noisy", "-" (measured_speedup_text()).
QString formatMeasuredSpeedup(const RunRow& r);
// How far to trust it: "noisy: spread 35%" or "spread 3%" (the larger relative interquartile
// range of the dense and the quantized latency), with the preempted rounds left out when
// there were any; "" when not measured.
QString speedQualityText(const RunRow& r);
// "91.53%" for 0.9153; "-" for a non-finite value.
QString formatPercent(double fraction, int decimals = 2);
// "1,234,567".
QString formatThousands(int64_t v);
// "45 s", "3 min 20 s", "1 h 05 min".
QString formatDuration(double seconds);

}  // namespace qcnn::ui
