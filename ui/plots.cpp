#include "ui/plots.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMouseEvent>
#include <QRegularExpression>
#include <QTimer>
#include <QToolButton>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>
#include <qcustomplot.h>

#include "ui/format.h"

namespace qcnn::ui {

namespace {

const QColor kRunColor(0x4f, 0x7c, 0xac);
const QColor kMeasuredColor(0xe0, 0x7a, 0x2f);
const QColor kFrontColor(0xc0, 0x39, 0x2b);
const QColor kFloatColor(0x55, 0x55, 0x55);

// Range [lo, hi] padded by 8% (and made non-empty).
void setPaddedRange(QCPAxis* axis, double lo, double hi) {
    if (!(hi > lo)) {
        lo -= 0.5;
        hi += 0.5;
    }
    const double pad = (hi - lo) * 0.08;
    axis->setRange(lo - pad, hi + pad);
}

// Points with horizontal error bars: QCPErrorBars pairs its i-th entry with the graph's i-th
// point in key order, so both get the points sorted by x.
void setPointsWithIntervals(QCPGraph* graph, QCPErrorBars* bars, const QVector<double>& x, const QVector<double>& y,
                            const QVector<double>& minus, const QVector<double>& plus) {
    std::vector<int> order(x.size());
    for (int i = 0; i < x.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return x[a] < x[b]; });
    QVector<double> sx, sy, sm, sp;
    for (int i : order) {
        sx << x[i];
        sy << y[i];
        sm << minus[i];
        sp << plus[i];
    }
    graph->setData(sx, sy, true);
    bars->setData(sm, sp);
}

QString runTooltip(const RunRecord& r) {
    const RunRow& row = r.row;
    return QObject::tr("<b>run %1</b><br>%2<br>EC %3, seed %4<br>top-1 %5 (float %6)<br>compression %7, speed-up %8%9")
        .arg(row.run_index + 1)
        .arg(row.settings.empty() ? QObject::tr("all dense") : QString::fromStdString(row.settings).toHtmlEscaped(),
             QString::fromStdString(row.ec))
        .arg(row.seed)
        .arg(formatPercent(row.top1), formatPercent(row.top1_float), formatRatio(row.compression),
             formatRatio(row.theoretical_speedup),
             r.measured() ? QObject::tr(" (measured %1; %2)").arg(formatMeasuredSpeedup(row), speedQualityText(row))
                          : QString());
}

}  // namespace

// ---------------------------------------------------------------------------------------

PlotPanel::PlotPanel(const QString& title, QWidget* parent)
    : QWidget(parent), plot_(new QCustomPlot(this)), title_(title), replotTimer_(new QTimer(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->setSpacing(2);
    auto* header = new QHBoxLayout;
    auto* label = new QLabel(QStringLiteral("<b>%1</b>").arg(title.toHtmlEscaped()));
    header->addWidget(label, 1);
    for (bool pdf : {false, true}) {
        auto* b = new QToolButton;
        b->setText(pdf ? tr("PDF") : tr("PNG"));
        b->setToolTip(pdf ? tr("Export this plot as PDF") : tr("Export this plot as PNG"));
        b->setAutoRaise(true);
        connect(b, &QToolButton::clicked, this, [this, pdf] { exportDialog(pdf); });
        header->addWidget(b);
    }
    layout->addLayout(header);
    layout->addWidget(plot_, 1);
    setMinimumSize(240, 190);

    plot_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(plot_, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        QMenu menu(this);
        menu.addAction(tr("Export PNG..."), this, [this] { exportDialog(false); });
        menu.addAction(tr("Export PDF..."), this, [this] { exportDialog(true); });
        menu.exec(plot_->mapToGlobal(pos));
    });
    replotTimer_->setSingleShot(true);
    replotTimer_->setInterval(kReplotIntervalMs);
    connect(replotTimer_, &QTimer::timeout, this, &PlotPanel::replotNow);
}

void PlotPanel::replotNow() {
    replotTimer_->stop();
    ++replots_;
    plot_->replot();
}

void PlotPanel::requestReplot() {
    if (!replotTimer_->isActive()) replotTimer_->start();
}

bool PlotPanel::exportPng(const QString& path, QString* error) {
    replotNow();
    if (plot_->savePng(path, 0, 0, 2.0)) return true;
    if (error) *error = tr("%1: cannot write the PNG file").arg(QDir::toNativeSeparators(path));
    return false;
}

bool PlotPanel::exportPdf(const QString& path, QString* error) {
    replotNow();
    if (plot_->savePdf(path)) return true;
    if (error) *error = tr("%1: cannot write the PDF file").arg(QDir::toNativeSeparators(path));
    return false;
}

void PlotPanel::exportDialog(bool pdf) {
    QString name = title_.toLower();
    name.replace(QRegularExpression(QStringLiteral("[^a-z0-9]+")), QStringLiteral("-"));
    const QString path = QFileDialog::getSaveFileName(this, pdf ? tr("Export PDF") : tr("Export PNG"),
                                                      name + (pdf ? ".pdf" : ".png"),
                                                      pdf ? tr("PDF files (*.pdf)") : tr("PNG images (*.png)"));
    if (path.isEmpty()) return;
    QString error;
    if (!(pdf ? exportPdf(path, &error) : exportPng(path, &error))) emit exportFailed(path, error);
}

// ---------------------------------------------------------------------------------------

TradeoffPlot::TradeoffPlot(TradeoffAxis axis, QWidget* parent)
    : PlotPanel(axis == TradeoffAxis::Compression ? tr("Top-1 vs compression") : tr("Top-1 vs speed-up"), parent),
      axis_(axis),
      floatTop1_(std::numeric_limits<double>::quiet_NaN()) {
    plot_->xAxis->setLabel(axis == TradeoffAxis::Compression ? tr("compression (weights)") : tr("speed-up"));
    plot_->yAxis->setLabel(tr("top-1 (%)"));

    front_ = plot_->addGraph();
    front_->setName(tr("Pareto front"));
    front_->setPen(QPen(kFrontColor, 2));
    front_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(kFrontColor, 2), Qt::white, 11));

    runs_ = plot_->addGraph();
    runs_->setName(axis == TradeoffAxis::Compression ? tr("runs") : tr("theoretical"));
    runs_->setLineStyle(QCPGraph::lsNone);
    runs_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kRunColor, 7));

    if (axis == TradeoffAxis::Speedup) {
        measured_ = plot_->addGraph();
        measured_->setName(tr("measured"));
        measured_->setLineStyle(QCPGraph::lsNone);
        measured_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssTriangle, QPen(kMeasuredColor, 2), kMeasuredColor, 8));
        noisy_ = plot_->addGraph();
        noisy_->setName(tr("measured, noisy"));
        noisy_->setLineStyle(QCPGraph::lsNone);
        noisy_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssTriangle, QPen(kMeasuredColor, 1.5), Qt::NoBrush, 8));
        auto intervals = [this](QCPGraph* g, Qt::PenStyle style) {
            auto* bars = new QCPErrorBars(plot_->xAxis, plot_->yAxis);
            bars->setDataPlottable(g);
            bars->setErrorType(QCPErrorBars::etKeyError);
            bars->setPen(QPen(kMeasuredColor, 1, style));
            bars->setWhiskerWidth(6);
            bars->removeFromLegend();
            return bars;
        };
        measuredBars_ = intervals(measured_, Qt::SolidLine);
        noisyBars_ = intervals(noisy_, Qt::DotLine);
    }

    selectedGraph_ = plot_->addGraph();
    selectedGraph_->setName(tr("selected"));
    selectedGraph_->setLineStyle(QCPGraph::lsNone);
    selectedGraph_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(Qt::black, 2), Qt::NoBrush, 16));
    selectedGraph_->removeFromLegend();

    floatLine_ = new QCPItemStraightLine(plot_);
    floatLine_->setPen(QPen(kFloatColor, 1.5, Qt::DashLine));
    floatLabel_ = new QCPItemText(plot_);
    floatLabel_->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
    floatLabel_->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
    floatLabel_->position->setTypeY(QCPItemPosition::ptPlotCoords);
    floatLabel_->setColor(kFloatColor);

    plot_->legend->setVisible(true);
    plot_->legend->setFont(QFont(font().family(), 8));
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignLeft);
    plot_->setMouseTracking(true);
    plot_->installEventFilter(this);
    rebuild();
}

void TradeoffPlot::setRecords(const std::vector<RunRecord>* records) {
    records_ = records;
    rebuild();
}

void TradeoffPlot::recordsChanged() { rebuild(); }

void TradeoffPlot::setFloatTop1(double top1) {
    floatTop1_ = top1;
    rebuild();
}

void TradeoffPlot::setSelectedRun(int run) {
    selected_ = run;
    rebuild();
}

double TradeoffPlot::xOf(const RunRecord& r) const {
    return axis_ == TradeoffAxis::Compression ? r.row.compression : r.row.theoretical_speedup;
}

std::vector<int> TradeoffPlot::paretoFront(const std::vector<std::pair<double, double>>& points) {
    std::vector<int> order(points.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    // Decreasing x, then decreasing top-1: walking it, a run is on the front when it beats
    // the best top-1 seen so far (every run seen has at least its x).
    std::sort(order.begin(), order.end(), [&](int a, int b) {
        if (points[a].first != points[b].first) return points[a].first > points[b].first;
        if (points[a].second != points[b].second) return points[a].second > points[b].second;
        return a < b;
    });
    std::vector<int> front;
    double best = -std::numeric_limits<double>::infinity();
    for (int i : order)
        if (points[i].second > best) {
            best = points[i].second;
            front.push_back(i);
        }
    std::reverse(front.begin(), front.end());
    return front;
}

void TradeoffPlot::rebuild() {
    QVector<double> x, y, mx, my, mlo, mhi, nx, ny, nlo, nhi, fx, fy;
    std::vector<std::pair<double, double>> pts;
    double xlo = 1, xhi = 1, ylo = 100, yhi = 0;
    auto extend = [&](double px, double py) {
        xlo = std::min(xlo, px);
        xhi = std::max(xhi, px);
        ylo = std::min(ylo, py);
        yhi = std::max(yhi, py);
    };
    if (records_) {
        for (const RunRecord& r : *records_) {
            const double px = xOf(r), py = r.row.top1 * 100.0;
            x << px;
            y << py;
            pts.emplace_back(px, py);
            extend(px, py);
            if (measured_ && r.measured()) {
                // Interval [lo, hi] around the median; NaN (a file without it) draws no bar.
                const double m = r.row.measured_speedup;
                const double lo = std::isfinite(r.row.measured_speedup_lo) ? m - r.row.measured_speedup_lo : 0.0;
                const double hi = std::isfinite(r.row.measured_speedup_hi) ? r.row.measured_speedup_hi - m : 0.0;
                (r.row.speed_noisy ? nx : mx) << m;
                (r.row.speed_noisy ? ny : my) << py;
                (r.row.speed_noisy ? nlo : mlo) << lo;
                (r.row.speed_noisy ? nhi : mhi) << hi;
                // A noisy interval can be very wide: only clean ones set the axis range.
                extend(r.row.speed_noisy ? m : m - lo, py);
                extend(r.row.speed_noisy ? m : m + hi, py);
            }
        }
        for (int i : paretoFront(pts)) {
            fx << pts[i].first;
            fy << pts[i].second;
        }
    }
    runs_->setData(x, y);
    front_->setData(fx, fy, true);
    if (measured_) {
        setPointsWithIntervals(measured_, measuredBars_, mx, my, mlo, mhi);
        setPointsWithIntervals(noisy_, noisyBars_, nx, ny, nlo, nhi);
    }
    QVector<double> sx, sy;
    if (records_ && selected_ >= 0 && selected_ < static_cast<int>(records_->size())) {
        sx << xOf((*records_)[selected_]);
        sy << (*records_)[selected_].row.top1 * 100.0;
    }
    selectedGraph_->setData(sx, sy);

    const bool haveFloat = std::isfinite(floatTop1_);
    floatLine_->setVisible(haveFloat);
    floatLabel_->setVisible(haveFloat);
    if (haveFloat) {
        const double f = floatTop1_ * 100.0;
        floatLine_->point1->setCoords(0, f);
        floatLine_->point2->setCoords(1, f);
        floatLabel_->position->setCoords(0.98, f);
        floatLabel_->setText(tr("float %1").arg(formatPercent(floatTop1_)));
        extend(xlo, f);
    }
    if (x.isEmpty()) {
        plot_->xAxis->setRange(0, 10);
        plot_->yAxis->setRange(50, 100);
    } else {
        setPaddedRange(plot_->xAxis, std::min(xlo, 1.0), xhi);
        setPaddedRange(plot_->yAxis, ylo, std::min(yhi + 0.5, 100.5));
    }
    requestReplot();
}

QString TradeoffPlot::tooltipOf(int run) const {
    if (!records_ || run < 0 || run >= static_cast<int>(records_->size())) return {};
    return runTooltip((*records_)[run]);
}

int TradeoffPlot::runAt(const QPoint& pos) const {
    if (!records_) return -1;
    int best = -1;
    double bestD = 8.0 * 8.0;
    auto consider = [&](int i, double px, double py) {
        const double dx = plot_->xAxis->coordToPixel(px) - pos.x(), dy = plot_->yAxis->coordToPixel(py) - pos.y();
        if (dx * dx + dy * dy <= bestD) {
            bestD = dx * dx + dy * dy;
            best = i;
        }
    };
    for (size_t i = 0; i < records_->size(); ++i) {
        const RunRecord& r = (*records_)[i];
        consider(static_cast<int>(i), xOf(r), r.row.top1 * 100.0);
        if (measured_ && r.measured()) consider(static_cast<int>(i), r.row.measured_speedup, r.row.top1 * 100.0);
    }
    return best;
}

bool TradeoffPlot::eventFilter(QObject* watched, QEvent* event) {
    if (watched == plot_ && records_) {
        if (event->type() == QEvent::MouseMove) {
            auto* e = static_cast<QMouseEvent*>(event);
            const int run = runAt(e->pos());
            if (run >= 0)
                QToolTip::showText(e->globalPosition().toPoint(), tooltipOf(run), plot_);
            else
                QToolTip::hideText();
        } else if (event->type() == QEvent::MouseButtonRelease) {
            auto* e = static_cast<QMouseEvent*>(event);
            if (e->button() == Qt::LeftButton) {
                const int run = runAt(e->pos());
                if (run >= 0) emit runClicked(run);
            }
        }
    }
    return PlotPanel::eventFilter(watched, event);
}

// ---------------------------------------------------------------------------------------

// What the bars are: the cost model's accounted bytes (core/cost/cost_model.h MemoryReport),
// not a measurement of this process; the measured peak RSS beside the accounted bytes comes from
// `qcnn eval` (one network per process) and is said so in the tooltip.
MemoryPlot::MemoryPlot(QWidget* parent) : PlotPanel(tr("Run-time memory (accounted, not measured)"), parent) {
    plot_->yAxis->setLabel(tr("KB accounted by the cost model"));
    plot_->setToolTip(
        tr("Bytes the cost model accounts for: weights and biases as stored, peak live activations and the "
           "largest LUT buffer.\nNot measured: the workbench runs many networks in one process, "
           "so its resident memory says nothing about one of them.\nThe measured peak RSS of a saved model "
           "is printed beside the accounted bytes by `qcnn eval --model FILE` (docs/results.md, Run-time "
           "memory)."));
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    ticker->addTick(1, tr("dense"));
    ticker->addTick(2, tr("Q-CNN"));
    plot_->xAxis->setTicker(ticker);
    plot_->xAxis->setRange(0.4, 2.6);
    plot_->xAxis->grid()->setVisible(false);
    auto makeBars = [this](const QString& name, QColor color) {
        auto* b = new QCPBars(plot_->xAxis, plot_->yAxis);
        b->setName(name);
        b->setWidth(0.55);
        b->setPen(QPen(color.darker(140)));
        b->setBrush(color);
        return b;
    };
    weights_ = makeBars(tr("weights + biases"), QColor(0x4f, 0x7c, 0xac));
    activations_ = makeBars(tr("activations"), QColor(0x9c, 0xc2, 0x6b));
    luts_ = makeBars(tr("LUTs"), QColor(0xf2, 0xa5, 0x41));
    activations_->moveAbove(weights_);
    luts_->moveAbove(activations_);
    plot_->legend->setVisible(true);
    plot_->legend->setFont(QFont(font().family(), 8));
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    setRecord(nullptr);
}

void MemoryPlot::setRecord(const RunRecord* r) {
    const QVector<double> keys{1, 2};
    if (!r) {
        for (QCPBars* b : {weights_, activations_, luts_}) b->data()->clear();
        plot_->yAxis->setRange(0, 1);
        requestReplot();
        return;
    }
    auto kb = [](int64_t b) { return static_cast<double>(b) / 1024.0; };
    const MemoryReport& d = r->memoryDense;
    const MemoryReport& q = r->memoryQuantized;
    weights_->setData(keys, {kb(d.weight_bytes + d.bias_bytes), kb(q.weight_bytes + q.bias_bytes)}, true);
    activations_->setData(keys, {kb(d.activation_bytes), kb(q.activation_bytes)}, true);
    luts_->setData(keys, {kb(d.lut_bytes), kb(q.lut_bytes)}, true);
    const double top = std::max(kb(d.weight_bytes + d.bias_bytes + d.activation_bytes + d.lut_bytes),
                                kb(q.weight_bytes + q.bias_bytes + q.activation_bytes + q.lut_bytes));
    plot_->yAxis->setRange(0, top > 0 ? top * 1.6 : 1.0);  // room for the legend above the bars
    requestReplot();
}

// ---------------------------------------------------------------------------------------

ResponseErrorPlot::ResponseErrorPlot(QWidget* parent) : PlotPanel(tr("Response error per layer"), parent) {
    plot_->yAxis->setLabel(tr("relative L2 error (%)"));
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    plot_->xAxis->grid()->setVisible(false);
    bars_ = new QCPBars(plot_->xAxis, plot_->yAxis);
    bars_->setName(tr("response error"));
    bars_->setWidth(0.6);
    bars_->setPen(QPen(QColor(0x8e, 0x44, 0xad).darker(130)));
    bars_->setBrush(QColor(0xb5, 0x8f, 0xd0));
    setRecord(nullptr);
}

void ResponseErrorPlot::setRecord(const RunRecord* r) {
    QVector<double> keys, values;
    QVector<QString> labels;
    if (r)
        for (const LayerRow& l : r->layers) {
            keys << keys.size() + 1;
            values << l.response_error * 100.0;
            labels << QString::fromStdString(l.alias.empty() ? l.name : l.alias);
        }
    bars_->setData(keys, values, true);
    qSharedPointerCast<QCPAxisTickerText>(plot_->xAxis->ticker())->setTicks(keys, labels);
    plot_->xAxis->setTickLabelRotation(keys.size() > 5 ? -40 : 0);  // many layers: slanted names do not overlap
    plot_->xAxis->setRange(0.3, std::max<double>(keys.size(), 1) + 0.7);
    const double top = values.isEmpty() ? 0 : *std::max_element(values.begin(), values.end());
    plot_->yAxis->setRange(0, top > 0 ? top * 1.2 : 1.0);
    requestReplot();
}

}  // namespace qcnn::ui
