#include "ui/plots.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QImage>
#include <QImageWriter>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMouseEvent>
#include <QRegularExpression>
#include <QResizeEvent>
#include <QSpinBox>
#include <QTimer>
#include <QToolButton>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>
#include <qcustomplot.h>

#include "ui/format.h"
#include "ui/session_file.h"

namespace qcnn::ui {

namespace {

const QColor kRunColor(0x4f, 0x7c, 0xac);
const QColor kMeasuredColor(0xe0, 0x7a, 0x2f);
const QColor kFrontColor(0xc0, 0x39, 0x2b);
const QColor kFloatColor(0x55, 0x55, 0x55);
const QColor kOtherColor(0xb4, 0xb4, 0xb4);

// Range [lo, hi] widened to at least `minSpan` around its middle, then padded on each side by
// an eighth of it (at least minSpan / 4): a single run (lo == hi) sits in the middle of the
// axis, and no point sits on an edge.
void setPaddedRange(QCPAxis* axis, double lo, double hi, double minSpan) {
    if (hi - lo < minSpan) {
        const double mid = (lo + hi) / 2;
        lo = mid - minSpan / 2;
        hi = mid + minSpan / 2;
    }
    const double pad = std::max((hi - lo) / 8, minSpan / 4);
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
    const QString model = QFileInfo(QFile::decodeName(r.model.c_str())).fileName();
    return QObject::tr("<b>run %1</b>%10<br>%2<br>EC %3, seed %4<br>top-1 %5 (float %6)<br>compression %7, speed-up %8%9")
        .arg(row.run_index + 1)
        .arg(row.settings.empty() ? QObject::tr("all dense") : QString::fromStdString(row.settings).toHtmlEscaped(),
             QString::fromStdString(row.ec))
        .arg(row.seed)
        .arg(formatPercent(row.top1), formatPercent(row.top1_float), formatRatio(row.compression),
             formatRatio(row.theoretical_speedup),
             r.measured() ? QObject::tr(" (measured %1; %2)").arg(formatMeasuredSpeedup(row), speedQualityText(row))
                          : QString(),
             model.isEmpty() ? QString()
                             : QObject::tr(" &mdash; %1 on %2").arg(model.toHtmlEscaped(),
                                                                   QString::fromStdString(r.data).toHtmlEscaped()));
}

}  // namespace

// ---------------------------------------------------------------------------------------

PlotPanel::PlotPanel(const QString& title, QWidget* parent)
    : QWidget(parent), plot_(new QCustomPlot(this)), title_(title), titleLabel_(new QLabel), replotTimer_(new QTimer(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->setSpacing(2);
    auto* header = new QHBoxLayout;
    titleLabel_->setText(QStringLiteral("<b>%1</b>").arg(title.toHtmlEscaped()));
    titleLabel_->setWordWrap(true);  // a narrow panel wraps its title instead of cutting it
    header->addWidget(titleLabel_, 1);
    for (bool pdf : {false, true}) {
        auto* b = new QToolButton;
        b->setText(pdf ? tr("PDF") : tr("PNG"));
        b->setToolTip(pdf ? tr("Export this plot as PDF") : tr("Export this plot as PNG (size, DPI, title)"));
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
    plot_->installEventFilter(this);
    replotTimer_->setSingleShot(true);
    replotTimer_->setInterval(kReplotIntervalMs);
    connect(replotTimer_, &QTimer::timeout, this, &PlotPanel::replotNow);
}

void PlotPanel::replotNow() {
    replotTimer_->stop();
    ++replots_;
    fitLegend(plot_->width());
    plot_->replot();
}

void PlotPanel::showLegendBelow() {
    QCPLegend* legend = plot_->legend;
    legend->setVisible(true);
    legend->setFont(QFont(font().family(), 8));
    legend->setBorderPen(Qt::NoPen);
    legend->setBrush(Qt::NoBrush);
    plot_->axisRect()->insetLayout()->take(legend);
    plot_->plotLayout()->addElement(1, 0, legend);
    plot_->plotLayout()->setRowStretchFactor(1, 0.001);
}

void PlotPanel::fitLegend(int width) {
    QCPLegend* legend = plot_->legend;
    if (legend->layout() != plot_->plotLayout()) return;  // an inset legend
    // The entries' widths (the grid's cells can be empty: item() is null there).
    std::vector<int> widths;
    for (int i = 0; i < legend->elementCount(); ++i)
        if (QCPAbstractLegendItem* item = legend->item(i)) widths.push_back(item->minimumOuterSizeHint().width());
    const int n = static_cast<int>(widths.size());
    if (n == 0) return;
    // The most columns whose widest entries, side by side, fit `width`.
    const QMargins m = legend->margins();
    int columns = n;
    for (; columns > 1; --columns) {
        int total = m.left() + m.right() + (columns - 1) * legend->columnSpacing();
        for (int c = 0; c < columns; ++c) {
            int widest = 0;
            for (int i = c; i < n; i += columns) widest = std::max(widest, widths[i]);
            total += widest;
        }
        if (total <= width) break;
    }
    legend->setWrap(columns);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);  // also closes the gaps of removed entries
}

bool PlotPanel::eventFilter(QObject* watched, QEvent* event) {
    // Before QCustomPlot lays itself out for the new size: the legend's columns for it.
    if (watched == plot_ && event->type() == QEvent::Resize) fitLegend(static_cast<QResizeEvent*>(event)->size().width());
    return QWidget::eventFilter(watched, event);
}

void PlotPanel::requestReplot() {
    if (!replotTimer_->isActive()) replotTimer_->start();
}

bool PlotPanel::exportPng(const QString& path, QString* error) { return exportPng(path, kPngSize, kPngDpi, title_, error); }

bool PlotPanel::exportPng(const QString& path, QSize size, double dpi, const QString& title, QString* error) {
    struct RestoreLegend {
        PlotPanel* p;
        ~RestoreLegend() { p->fitLegend(p->plot_->width()); }
    } restoreLegend{this};
    const QString where = QDir::toNativeSeparators(path);
    auto fail = [&](const QString& why) {
        if (error) *error = tr("%1: %2").arg(where, why);
        return false;
    };
    if (size.width() < 16 || size.height() < 16 || size.width() > 16384 || size.height() > 16384)
        return fail(tr("image size %1 x %2 pixels is out of range (16 to 16384)").arg(size.width()).arg(size.height()));
    if (!(dpi >= 24 && dpi <= 1200)) return fail(tr("%1 DPI is out of range (24 to 1200)").arg(dpi));
    // Rendered at dpi / 96 on a logical canvas of size / scale, so the image has exactly `size`
    // pixels; the title is a text element above the axes for the time of the export.
    const double scale = dpi / 96.0;
    QCPTextElement* heading = nullptr;
    fitLegend(qRound(size.width() / scale));
    if (!title.isEmpty()) {
        plot_->plotLayout()->insertRow(0);
        QFont f = font();
        f.setPointSizeF(f.pointSizeF() * 1.3);
        f.setBold(true);
        heading = new QCPTextElement(plot_, title, f);
        plot_->plotLayout()->addElement(0, 0, heading);
    }
    QImage image(size, QImage::Format_ARGB32);
    image.fill(Qt::white);
    {
        QCPPainter painter(&image);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.scale(scale, scale);
        plot_->toPainter(&painter, std::max(1, qRound(size.width() / scale)), std::max(1, qRound(size.height() / scale)));
    }
    if (heading) {
        plot_->plotLayout()->remove(heading);
        plot_->plotLayout()->simplify();
    }
    replotNow();  // the on-screen layout again
    const int dpm = qRound(dpi / 0.0254);
    image.setDotsPerMeterX(dpm);
    image.setDotsPerMeterY(dpm);
    QImageWriter writer(path, "png");
    if (writer.write(image)) return true;
    return fail(tr("cannot write the PNG file (%1)").arg(writer.errorString()));
}

bool PlotPanel::exportPdf(const QString& path, QString* error) {
    replotNow();
    if (plot_->savePdf(path)) return true;
    if (error) *error = tr("%1: cannot write the PDF file").arg(QDir::toNativeSeparators(path));
    return false;
}

bool PlotPanel::exportTo(const QString& path, const PngOptions& png) {
    QString error;
    const bool pdf = path.endsWith(QLatin1String(".pdf"), Qt::CaseInsensitive);
    if (pdf ? exportPdf(path, &error) : exportPng(path, png.size, png.dpi, png.title, &error)) return true;
    emit exportFailed(path, error);
    return false;
}

void PlotPanel::exportDialog(bool pdf) {
    QString name = title_.toLower();
    name.replace(QRegularExpression(QStringLiteral("[^a-z0-9]+")), QStringLiteral("-"));
    const QString path = QFileDialog::getSaveFileName(this, pdf ? tr("Export PDF") : tr("Export PNG"),
                                                      name + (pdf ? ".pdf" : ".png"),
                                                      pdf ? tr("PDF files (*.pdf)") : tr("PNG images (*.png)"));
    if (path.isEmpty()) return;
    PngOptions png;
    png.title = title_;
    if (!pdf) {
        PngExportDialog dialog(png, this);
        if (dialog.exec() != QDialog::Accepted) return;
        png = dialog.options();
    }
    exportTo(path, png);
}

// ---------------------------------------------------------------------------------------

PngExportDialog::PngExportDialog(const PlotPanel::PngOptions& start, QWidget* parent)
    : QDialog(parent), width_(new QSpinBox), height_(new QSpinBox), dpi_(new QDoubleSpinBox), title_(new QLineEdit) {
    setWindowTitle(tr("Export PNG"));
    for (QSpinBox* s : {width_, height_}) {
        s->setRange(16, 16384);
        s->setSuffix(tr(" px"));
    }
    width_->setValue(start.size.width());
    height_->setValue(start.size.height());
    dpi_->setRange(24, 1200);
    dpi_->setDecimals(0);
    dpi_->setValue(start.dpi);
    dpi_->setToolTip(tr("Stored in the file; text and lines are drawn at DPI / 96 times their size on screen"));
    title_->setText(start.title);
    title_->setPlaceholderText(tr("no title"));
    auto* form = new QFormLayout(this);
    form->addRow(tr("Width"), width_);
    form->addRow(tr("Height"), height_);
    form->addRow(tr("DPI"), dpi_);
    form->addRow(tr("Title"), title_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(buttons);
}

PlotPanel::PngOptions PngExportDialog::options() const {
    PlotPanel::PngOptions o;
    o.size = QSize(width_->value(), height_->value());
    o.dpi = dpi_->value();
    o.title = title_->text().trimmed();
    return o;
}

// ---------------------------------------------------------------------------------------

const RunRecord* PlotContext::record(int run) const {
    return run >= 0 && run < size() ? &(*records)[run] : nullptr;
}

bool PlotContext::isCurrent(const RunRecord& r) const { return model.empty() || (r.model == model && r.data == data); }

int PlotContext::shownRun() const {
    if (record(selectedRun)) return selectedRun;
    for (int i = size() - 1; i >= 0; --i)
        if (isCurrent((*records)[i])) return i;
    return -1;
}

double PlotContext::currentFloatTop1() const {
    if (std::isfinite(floatTop1)) return floatTop1;
    for (int i = size() - 1; i >= 0; --i)
        if (isCurrent((*records)[i]) && std::isfinite((*records)[i].row.top1_float)) return (*records)[i].row.top1_float;
    return std::numeric_limits<double>::quiet_NaN();
}

// ---------------------------------------------------------------------------------------

TradeoffPlot::TradeoffPlot(TradeoffAxis axis, QWidget* parent)
    : RunPlot(axis == TradeoffAxis::Compression ? tr("Top-1 vs compression") : tr("Top-1 vs speed-up"), parent),
      axis_(axis) {
    plot_->xAxis->setLabel(axis == TradeoffAxis::Compression ? tr("compression (weights)") : tr("speed-up"));
    plot_->yAxis->setLabel(tr("top-1 (%)"));

    others_ = plot_->addGraph();  // first: drawn below the current model's runs
    others_->setName(tr("other models"));
    others_->setLineStyle(QCPGraph::lsNone);
    others_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kOtherColor, 6));

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
        // The selected run's theoretical and measured points, joined.
        selectedLink_ = plot_->addGraph();
        selectedLink_->setPen(QPen(Qt::black, 1, Qt::DotLine));
        selectedLink_->setLineStyle(QCPGraph::lsLine);
        selectedLink_->removeFromLegend();
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

    showLegendBelow();
    plot_->setMouseTracking(true);
    refresh(PlotContext{});
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

void TradeoffPlot::refresh(const PlotContext& context) {
    ctx_ = context;
    QVector<double> x, y, ox, oy, mx, my, mlo, mhi, nx, ny, nlo, nhi, fx, fy;
    std::vector<std::pair<double, double>> pts;  // the current model's runs: its Pareto front
    double xlo = 1, xhi = 1, ylo = 100, yhi = 0;  // x from 1 (dense) on
    bool any = false;
    auto extend = [&](double px, double py) {
        xlo = std::min(xlo, px);
        xhi = std::max(xhi, px);
        ylo = std::min(ylo, py);
        yhi = std::max(yhi, py);
        any = true;
    };
    for (int i = 0; i < ctx_.size(); ++i) {
        const RunRecord& r = (*ctx_.records)[i];
        if (!ctx_.isDrawn(r)) continue;
        const double px = xOf(r), py = r.row.top1 * 100.0;
        extend(px, py);
        if (!ctx_.isCurrent(r)) {
            ox << px;
            oy << py;
            continue;
        }
        x << px;
        y << py;
        pts.emplace_back(px, py);
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
    runs_->setData(x, y);
    others_->setData(ox, oy);
    for (QCPGraph* g : {others_, measured_, noisy_})
        if (g && g->data()->isEmpty()) g->removeFromLegend();
        else if (g) g->addToLegend();
    front_->setData(fx, fy, true);
    if (measured_) {
        setPointsWithIntervals(measured_, measuredBars_, mx, my, mlo, mhi);
        setPointsWithIntervals(noisy_, noisyBars_, nx, ny, nlo, nhi);
    }
    // The selected run: its point and its measured point ringed, joined by a dotted line.
    QVector<double> sx, sy;
    if (const RunRecord* r = ctx_.record(ctx_.selectedRun); r && ctx_.isDrawn(*r)) {
        sx << xOf(*r);
        sy << r->row.top1 * 100.0;
        if (measured_ && r->measured() && ctx_.isCurrent(*r)) {
            sx << r->row.measured_speedup;
            sy << r->row.top1 * 100.0;
        }
    }
    selectedGraph_->setData(sx, sy);
    if (selectedLink_) selectedLink_->setData(sx.size() == 2 ? sx : QVector<double>{}, sx.size() == 2 ? sy : QVector<double>{});

    const double floatTop1 = ctx_.currentFloatTop1();
    const bool haveFloat = std::isfinite(floatTop1);
    floatLine_->setVisible(haveFloat);
    floatLabel_->setVisible(haveFloat);
    if (haveFloat) {
        const double f = floatTop1 * 100.0;
        floatLine_->point1->setCoords(0, f);
        floatLine_->point2->setCoords(1, f);
        floatLabel_->position->setCoords(0.98, f);
        floatLabel_->setText(tr("float %1").arg(formatPercent(floatTop1)));
        if (any) extend(xlo, f);
    }
    if (!any) {
        plot_->xAxis->setRange(0, 10);
        plot_->yAxis->setRange(50, 100);
    } else {
        // At least 1x wide and 4 points of top-1 high: a single run sits inside the axes.
        setPaddedRange(plot_->xAxis, xlo, xhi, 1.0);
        setPaddedRange(plot_->yAxis, ylo, yhi, 4.0);
        // Top-1 ends at 100%: a range widened past 101 moves down, keeping a tenth of it above
        // the highest point.
        const QCPRange yr = plot_->yAxis->range();
        const double upper = std::min(yr.upper, std::max(101.0, yhi + 0.1 * yr.size()));
        plot_->yAxis->setRange(yr.lower - (yr.upper - upper), upper);
    }
    requestReplot();
}

QString TradeoffPlot::tooltipOf(int run) const {
    const RunRecord* r = ctx_.record(run);
    return r ? runTooltip(*r) : QString();
}

int TradeoffPlot::pointAt(const QPoint& pos, bool* measured) const {
    int best = -1;
    double bestD = 8.0 * 8.0;
    auto consider = [&](int i, double px, double py, bool m) {
        const double dx = plot_->xAxis->coordToPixel(px) - pos.x(), dy = plot_->yAxis->coordToPixel(py) - pos.y();
        if (dx * dx + dy * dy <= bestD) {
            bestD = dx * dx + dy * dy;
            best = i;
            if (measured) *measured = m;
        }
    };
    for (int i = 0; i < ctx_.size(); ++i) {
        const RunRecord& r = (*ctx_.records)[i];
        if (!ctx_.isDrawn(r)) continue;
        consider(i, xOf(r), r.row.top1 * 100.0, false);
        if (measured_ && r.measured() && ctx_.isCurrent(r)) consider(i, r.row.measured_speedup, r.row.top1 * 100.0, true);
    }
    return best;
}

int TradeoffPlot::runAt(const QPoint& pos) const { return pointAt(pos, nullptr); }

QString TradeoffPlot::tooltipAt(const QPoint& pos) const {
    bool measured = false;
    const int run = pointAt(pos, &measured);
    if (run < 0) return {};
    return measured ? tr("<i>measured speed-up of run %1</i><br>%2").arg(ctx_.record(run)->row.run_index + 1).arg(tooltipOf(run)) : tooltipOf(run);
}

bool TradeoffPlot::eventFilter(QObject* watched, QEvent* event) {
    if (watched == plot_) {
        if (event->type() == QEvent::MouseMove) {
            auto* e = static_cast<QMouseEvent*>(event);
            const QString tip = tooltipAt(e->pos());
            if (!tip.isEmpty())
                QToolTip::showText(e->globalPosition().toPoint(), tip, plot_);
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
    return RunPlot::eventFilter(watched, event);
}

// ---------------------------------------------------------------------------------------

// What the bars are: the cost model's accounted bytes (core/cost/cost_model.h MemoryReport),
// not a measurement of this process; the measured peak RSS beside the accounted bytes comes from
// `qcnn eval` (one network per process) and is said so in the tooltip.
MemoryPlot::MemoryPlot(QWidget* parent) : RunPlot(tr("Run-time memory"), parent) {
    plot_->yAxis->setLabel(tr("KB"));
    plot_->setToolTip(
        tr("Bars: the bytes the cost model accounts: weights and biases as stored, peak live activations and the "
           "largest LUT buffer.\nDiamonds (after Results > Measure Run-time Memory): measured. The run's quantized "
           "model is saved and `qcnn eval --batch 1 --threads 1 --limit 1` runs on it in a child process (the float "
           "model likewise, once per model); the diamond is its peak RSS minus its fixed footprint (the footprint "
           "before the model loaded: code, libraries, the data set; plus the library code paged in to load and run "
           "the model), i.e. what the model added to the process."));
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
    measured_ = plot_->addGraph();
    measured_->setName(tr("measured: peak RSS - process without model"));
    measured_->setLineStyle(QCPGraph::lsNone);
    measured_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(Qt::black, 1.5), QColor(0xd6, 0x27, 0x28), 11));
    showLegendBelow();
    setRecord(nullptr);
}

void MemoryPlot::refresh(const PlotContext& context) { setRecord(context.record(context.shownRun())); }

void MemoryPlot::setRecord(const RunRecord* r) {
    if (!r) {
        for (QCPBars* b : {weights_, activations_, luts_}) b->data()->clear();
        measured_->data()->clear();
        plot_->yAxis->setRange(0, 1);
        requestReplot();
        return;
    }
    auto kb = [](int64_t b) { return static_cast<double>(b) / 1024.0; };
    const MemoryReport& d = r->memoryDense;
    const MemoryReport& q = r->memoryQuantized;
    // Zero-byte parts get no bar: a zero-height bar draws its outline as a line across the stack.
    auto set = [&](QCPBars* bars, double dense, double quantized) {
        QVector<double> k, v;
        for (auto [key, kbytes] : {std::pair{1.0, dense}, std::pair{2.0, quantized}})
            if (kbytes > 0) {
                k << key;
                v << kbytes;
            }
        bars->setData(k, v, true);
    };
    set(weights_, kb(d.weight_bytes + d.bias_bytes), kb(q.weight_bytes + q.bias_bytes));
    set(activations_, kb(d.activation_bytes), kb(q.activation_bytes));
    set(luts_, kb(d.lut_bytes), kb(q.lut_bytes));
    double top = std::max(kb(d.weight_bytes + d.bias_bytes + d.activation_bytes + d.lut_bytes),
                          kb(q.weight_bytes + q.bias_bytes + q.activation_bytes + q.lut_bytes));
    QVector<double> mk, mv;
    for (auto [key, m] : {std::pair{1.0, &r->measuredDense}, std::pair{2.0, &r->measuredQuantized}})
        if (m->has_value()) {
            mk << key;
            mv << kb(std::max<int64_t>(0, (*m)->modelBytes()));
            top = std::max(top, mv.back());
        }
    measured_->setData(mk, mv, true);
    plot_->yAxis->setRange(0, top > 0 ? top * 1.08 : 1.0);
    requestReplot();
}

// ---------------------------------------------------------------------------------------

FinetunePlot::FinetunePlot(QWidget* parent) : RunPlot(tr("Fine-tuning"), parent) {
    plot_->xAxis->setLabel(tr("epoch"));
    plot_->yAxis->setLabel(tr("loss"));
    plot_->yAxis2->setLabel(tr("val top-1 (%)"));
    plot_->yAxis2->setVisible(true);
    plot_->setToolTip(tr("Fine-tuning after quantization (run option \"fine-tune\"): the training loss (running mean of "
                         "the epoch, per step while it trains; the mean per epoch afterwards) and the top-1 on the "
                         "held-out part of the training split per epoch (epoch 0: the network as given). The best "
                         "epoch (ringed) is the one the run keeps."));
    liveLoss_ = plot_->addGraph();
    liveLoss_->setName(tr("training loss (running mean)"));
    liveLoss_->setPen(QPen(kRunColor, 1.5));
    epochLoss_ = plot_->addGraph();
    epochLoss_->setName(tr("training loss per epoch"));
    epochLoss_->setPen(QPen(kRunColor, 1.5));
    epochLoss_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, kRunColor, kRunColor, 6));
    val_ = plot_->addGraph(plot_->xAxis, plot_->yAxis2);
    val_->setName(tr("held-out top-1"));
    val_->setPen(QPen(kMeasuredColor, 1.5));
    val_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, kMeasuredColor, kMeasuredColor, 6));
    best_ = plot_->addGraph(plot_->xAxis, plot_->yAxis2);
    best_->setName(tr("best epoch (kept)"));
    best_->setLineStyle(QCPGraph::lsNone);
    best_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(kFrontColor, 2), Qt::NoBrush, 14));
    best_->removeFromLegend();  // the tooltip explains the ring; three entries fit a narrow plot
    note_ = new QCPItemText(plot_);
    note_->position->setType(QCPItemPosition::ptAxisRectRatio);
    note_->position->setCoords(0.5, 0.08);
    note_->setPositionAlignment(Qt::AlignHCenter | Qt::AlignTop);
    note_->setColor(kFloatColor);
    showLegendBelow();
    setRecord(nullptr);
}

QString FinetunePlot::note() const { return note_->text(); }

void FinetunePlot::refresh(const PlotContext& context) {
    ctx_ = context;
    if (!live_) setRecord(ctx_.record(ctx_.shownRun()));
}

void FinetunePlot::setLiveCurve(const RunJob::FinetuneCurve& curve) {
    live_ = true;
    QVector<double> x, y;
    for (const auto& [e, loss] : curve.points) {
        x << e;
        y << loss;
    }
    liveLoss_->setData(x, y, true);
    for (QCPGraph* g : {epochLoss_, val_, best_}) g->data()->clear();
    plot_->xAxis->setRange(0, std::max(curve.epochs, 1));
    const double top = y.isEmpty() ? 0 : *std::max_element(y.begin(), y.end());
    plot_->yAxis->setRange(0, std::isfinite(top) && top > 0 ? top * 1.1 : 1.0);
    plot_->yAxis2->setRange(0, 100);
    note_->setText({});  // the progress bar says the epoch and loss
    requestReplot();
}

void FinetunePlot::clearLive() {
    if (!live_) return;
    live_ = false;
    setRecord(ctx_.record(ctx_.shownRun()));
}

void FinetunePlot::setRecord(const RunRecord* r) {
    liveLoss_->data()->clear();
    QVector<double> ek, ev, vk, vv, bk, bv;
    const FinetuneRecord* f = r && r->finetune.ran ? &r->finetune : nullptr;
    if (f) {
        vk << 0;
        vv << f->initialValTop1 * 100.0;
        for (const FinetuneEpoch& e : f->epochs) {
            ek << e.epoch;
            ev << e.train_loss;
            vk << e.epoch;
            vv << e.val_top1 * 100.0;
        }
        bk << f->bestEpoch;
        bv << f->bestValTop1 * 100.0;
    }
    epochLoss_->setData(ek, ev, true);
    val_->setData(vk, vv, true);
    best_->setData(bk, bv, true);
    const int epochs = f ? std::max<int>(f->plannedEpochs, static_cast<int>(f->epochs.size())) : 1;
    plot_->xAxis->setRange(-0.2, std::max(epochs, 1) + 0.2);
    double top = 0;
    for (double v : ev)
        if (std::isfinite(v)) top = std::max(top, v);
    plot_->yAxis->setRange(0, top > 0 ? top * 1.15 : 1.0);
    double lo = 100, hi = 0;
    for (double v : vv) lo = std::min(lo, v), hi = std::max(hi, v);
    if (vv.isEmpty()) lo = 0, hi = 100;
    plot_->yAxis2->setRange(std::max(0.0, lo - 5), std::min(100.0, hi + 5));
    if (!r) note_->setText(tr("no run"));
    else if (!f) note_->setText(tr("run %1 was not fine-tuned").arg(fileRunIndex(static_cast<int>(r->row.run_index))));
    else note_->setText(f->diverged ? tr("diverged: kept %1").arg(f->bestEpoch == 0 ? tr("the network as given") : tr("epoch %1").arg(f->bestEpoch))
                                    : QString());  // the results table's Fine-tuning column has the summary
    requestReplot();
}

// ---------------------------------------------------------------------------------------

ResponseErrorPlot::ResponseErrorPlot(QWidget* parent) : RunPlot(tr("Response error per layer"), parent) {
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

void ResponseErrorPlot::refresh(const PlotContext& context) { setRecord(context.record(context.shownRun())); }

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
