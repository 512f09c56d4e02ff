#include "ui/format.h"

#include <algorithm>
#include <cmath>

#include "core/cli/command.h"

namespace qcnn::ui {

QString formatBytes(int64_t bytes) {
    const double b = static_cast<double>(bytes);
    if (bytes < 1024) return QStringLiteral("%1 B").arg(bytes);
    if (b < 1024.0 * 1024.0) return QStringLiteral("%1 KB").arg(b / 1024.0, 0, 'f', b < 10 * 1024.0 ? 2 : 1);
    if (b < 1024.0 * 1024.0 * 1024.0) return QStringLiteral("%1 MB").arg(b / (1024.0 * 1024.0), 0, 'f', 2);
    return QStringLiteral("%1 GB").arg(b / (1024.0 * 1024.0 * 1024.0), 0, 'f', 2);
}

QString formatRatio(double ratio) {
    if (!std::isfinite(ratio)) return QStringLiteral("-");
    return QStringLiteral("%1x").arg(ratio, 0, 'f', 2);
}

QString formatMeasuredSpeedup(const RunRow& r) { return QString::fromStdString(measured_speedup_text(r)); }

QString speedQualityText(const RunRow& r) {
    if (!std::isfinite(r.measured_speedup)) return {};
    const double spread = std::max(r.dense_ms_spread, r.quantized_ms_spread);
    QString s = (r.speed_noisy ? QStringLiteral("noisy: spread %1%") : QStringLiteral("spread %1%"))
                    .arg(std::isfinite(spread) ? spread * 100.0 : 0.0, 0, 'f', 0);
    if (r.speed_preempted_rounds > 0)
        s += QStringLiteral(", %1 of %2 rounds preempted").arg(r.speed_preempted_rounds).arg(r.speed_rounds);
    if (r.dense_reused) s += QStringLiteral(", dense time of the session reused");
    return s;
}

QString formatPercent(double fraction, int decimals) {
    if (!std::isfinite(fraction)) return QStringLiteral("-");
    return QString::fromStdString(cli::percent(fraction, decimals));
}

QString formatThousands(int64_t v) { return QString::fromStdString(cli::thousands(v)); }

QString formatDuration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return QStringLiteral("-");
    const int64_t s = std::llround(seconds);
    if (s < 60) return QStringLiteral("%1 s").arg(std::max<int64_t>(s, 1));
    if (s < 3600) return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

}  // namespace qcnn::ui
