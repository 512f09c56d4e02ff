#include "ui/sensitivity_heatmap.h"

#include <QDialog>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMessageBox>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "core/sweep/results_file.h"
#include "core/util/error.h"
#include "core/util/json.h"
#include "ui/format.h"

namespace qcnn::ui {

namespace {

// ColorBrewer's YlOrRd: light (no drop) to dark red (the scale's maximum).
const QColor kStops[] = {QColor(0xff, 0xff, 0xcc), QColor(0xfe, 0xd9, 0x76), QColor(0xfd, 0x8d, 0x3c),
                         QColor(0xe3, 0x1a, 0x1c), QColor(0x80, 0x00, 0x26)};
constexpr int kStopCount = static_cast<int>(sizeof(kStops) / sizeof(kStops[0]));

QString points(double fraction) { return QString::number(100.0 * fraction, 'f', 2); }

}  // namespace

SensitivityHeatmap::SensitivityHeatmap(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setObjectName(QStringLiteral("sensitivityHeatmap"));
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void SensitivityHeatmap::setTable(const SweepSpec& spec, const std::vector<SensitivityEntry>& entries) {
    QStringList layers, settings;
    for (const SweepGroup& g : spec.grid) {
        layers << QString::fromStdString(g.layers);
        for (const std::string& s : g.settings)
            if (!settings.contains(QString::fromStdString(s))) settings << QString::fromStdString(s);
    }
    setTable(layers, settings, entries);
}

void SensitivityHeatmap::setTable(QStringList layers, QStringList settings, const std::vector<SensitivityEntry>& entries) {
    layers_ = std::move(layers);
    settings_ = std::move(settings);
    cells_.assign(static_cast<size_t>(layers_.size() * settings_.size()), std::nullopt);
    double worst = 0;
    for (const SensitivityEntry& e : entries) {
        const int r = static_cast<int>(layers_.indexOf(QString::fromStdString(e.layer)));
        const int c = static_cast<int>(settings_.indexOf(QString::fromStdString(e.setting)));
        if (r < 0 || c < 0) continue;
        cells_[static_cast<size_t>(r * settings_.size() + c)] = e;
        worst = std::max(worst, 100.0 * e.top1_drop());
    }
    maxDrop_ = std::max(1.0, std::ceil(worst - 1e-9));  // 3.0000000000000004 pt is 3
    hover_.clear();
    updateGeometry();
    update();
}

void SensitivityHeatmap::clear() { setTable(QStringList(), QStringList(), {}); }

std::optional<SensitivityEntry> SensitivityHeatmap::entry(int row, int column) const {
    if (row < 0 || column < 0 || row >= layers_.size() || column >= settings_.size()) return std::nullopt;
    return cells_[static_cast<size_t>(row * settings_.size() + column)];
}

int SensitivityHeatmap::filledCells() const {
    return static_cast<int>(std::count_if(cells_.begin(), cells_.end(), [](const auto& c) { return c.has_value(); }));
}

QColor SensitivityHeatmap::colorForDrop(double dropPoints) const {
    const double t = std::clamp(dropPoints / maxDrop_, 0.0, 1.0) * (kStopCount - 1);
    const int i = std::min(static_cast<int>(t), kStopCount - 2);
    const double f = t - i;
    const QColor& a = kStops[i];
    const QColor& b = kStops[i + 1];
    return QColor::fromRgbF(static_cast<float>(a.redF() + f * (b.redF() - a.redF())),
                            static_cast<float>(a.greenF() + f * (b.greenF() - a.greenF())),
                            static_cast<float>(a.blueF() + f * (b.blueF() - a.blueF())));
}

QFont SensitivityHeatmap::bigFont(double scale) const {
    QFont f = font();
    f.setPointSizeF(std::max(14.0, f.pointSizeF() * 1.4) * scale);
    return f;
}

SensitivityHeatmap::Layout SensitivityHeatmap::layout() const {
    const QFontMetrics fm(bigFont());
    const QFontMetrics small(bigFont(0.85));
    int labelW = fm.horizontalAdvance(QStringLiteral("layer"));
    for (const QString& l : layers_) labelW = std::max(labelW, fm.horizontalAdvance(l));
    int colW = fm.horizontalAdvance(QStringLiteral("00.00"));
    for (const QString& s : settings_) colW = std::max(colW, fm.horizontalAdvance(s));
    const int pad = fm.height() / 2;
    const int scaleW = std::max(fm.height() + pad + small.horizontalAdvance(QStringLiteral("00.00 pt")),
                                small.horizontalAdvance(tr("top-1 drop (pt)")));
    const int titleH = fm.height() + pad;            // the title
    const int headH = small.height() + fm.height() + pad;  // "C_s'/K" and the column labels
    Layout l;
    const int availW = width() - (labelW + 2 * pad) - (scaleW + 3 * pad);
    const int availH = height() - titleH - headH - pad;
    const int cols = std::max<int>(1, static_cast<int>(settings_.size()));
    const int rows = std::max<int>(1, static_cast<int>(layers_.size()));
    l.cellW = std::max(colW + pad, availW / cols);
    l.cellH = std::clamp(availH / rows, 2 * fm.height(), 4 * fm.height());
    l.cellW = std::min(l.cellW, 4 * l.cellH);
    // Centred vertically: the title, headings, cells and the legend line below them.
    l.top = std::max(0, (height() - (titleH + headH + l.cellH * rows + 2 * small.height())) / 2);
    l.grid = QRect(labelW + 2 * pad, l.top + titleH + headH, l.cellW * cols, l.cellH * rows);
    l.scale = QRect(l.grid.right() + 2 * pad, l.grid.top(), fm.height(), std::max(l.grid.height(), 6 * fm.height()));
    return l;
}

QRect SensitivityHeatmap::cellRect(int row, int column) const {
    const Layout l = layout();
    return QRect(l.grid.left() + column * l.cellW, l.grid.top() + row * l.cellH, l.cellW, l.cellH);
}

std::pair<int, int> SensitivityHeatmap::cellAt(const QPoint& p) const {
    const Layout l = layout();
    if (layers_.isEmpty() || settings_.isEmpty() || !l.grid.contains(p)) return {-1, -1};
    return {(p.y() - l.grid.top()) / l.cellH, (p.x() - l.grid.left()) / l.cellW};
}

QString SensitivityHeatmap::cellToolTip(int row, int column) const {
    const auto e = entry(row, column);
    if (!e) return {};
    QString text = tr("%1 (%2) at %3\n").arg(QString::fromStdString(e->layer), QString::fromStdString(e->name),
                                             QString::fromStdString(e->setting));
    text += tr("top-1 drop: %1 pt (%2 -> %3)\n").arg(points(e->top1_drop()), formatPercent(e->top1_float), formatPercent(e->top1));
    text += tr("top-5 drop: %1 pt\n").arg(points(e->top5_drop()));
    text += tr("layer compression: %1\n").arg(formatRatio(e->compression));
    text += tr("layer speed-up (theoretical): %1\n").arg(formatRatio(e->theoretical_speedup));
    if (std::isfinite(e->dense_ms) && std::isfinite(e->quantized_ms) && e->quantized_ms > 0)
        text += tr("layer speed-up (measured): %1 (%2 ms -> %3 ms)\n")
                    .arg(formatRatio(e->dense_ms / e->quantized_ms))
                    .arg(e->dense_ms, 0, 'f', 3)
                    .arg(e->quantized_ms, 0, 'f', 3);
    text += tr("response error: %1").arg(QString::number(e->response_error, 'g', 3));
    return text;
}

QSize SensitivityHeatmap::sizeHint() const {
    const QFontMetrics fm(bigFont());
    const int w = fm.horizontalAdvance(QStringLiteral("conv2")) * (3 + static_cast<int>(settings_.size())) + 8 * fm.height();
    const int h = fm.height() * (5 + 2 * static_cast<int>(layers_.size()));
    return {std::max(w, 480), std::max(h, 10 * fm.height())};
}

QSize SensitivityHeatmap::minimumSizeHint() const { return {320, 200}; }

void SensitivityHeatmap::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    p.setRenderHint(QPainter::Antialiasing, false);
    const QFont font = bigFont(), small = bigFont(0.85);
    const QFontMetrics fm(font);
    const int pad = fm.height() / 2;
    p.setPen(palette().text().color());
    if (layers_.isEmpty() || settings_.isEmpty()) {
        p.setFont(font);
        p.drawText(rect(), Qt::AlignCenter, tr("No sensitivity analysis yet"));
        return;
    }
    const Layout l = layout();
    p.setFont(font);
    p.drawText(QRect(0, l.top, width(), fm.height() + pad), Qt::AlignCenter,
               tr("Top-1 drop with only this layer quantized"));
    // Column headings: the settings, "C_s'/K" above them.
    p.setFont(small);
    p.drawText(QRect(l.grid.left(), l.top + fm.height() + pad, l.grid.width(), QFontMetrics(small).height()), Qt::AlignCenter,
               tr("setting C_s'/K"));
    p.setFont(font);
    for (int c = 0; c < settings_.size(); ++c) {
        const QRect cell = cellRect(0, c);
        p.drawText(QRect(cell.left(), l.grid.top() - fm.height() - pad / 2, cell.width(), fm.height()), Qt::AlignCenter,
                   settings_[c]);
    }
    for (int r = 0; r < layers_.size(); ++r) {
        const QRect cell = cellRect(r, 0);
        p.setPen(palette().text().color());
        p.drawText(QRect(0, cell.top(), l.grid.left() - pad, cell.height()), Qt::AlignRight | Qt::AlignVCenter, layers_[r]);
        for (int c = 0; c < settings_.size(); ++c) {
            const QRect box = cellRect(r, c).adjusted(1, 1, -1, -1);
            const auto e = entry(r, c);
            if (!e) {
                p.fillRect(box, palette().base());  // not run: blank
                p.setPen(QPen(QColor(0xcc, 0xcc, 0xcc), 1, Qt::DotLine));
                p.drawRect(box.adjusted(0, 0, -1, -1));
                continue;
            }
            const double drop = 100.0 * e->top1_drop();
            const QColor fill = colorForDrop(drop);
            p.fillRect(box, fill);
            p.setPen(fill.lightnessF() < 0.5 ? Qt::white : Qt::black);
            p.drawText(box, Qt::AlignCenter, QString::number(drop, 'f', 2));
        }
    }
    // The colour scale with its unit.
    p.setPen(palette().text().color());
    const QRect s = l.scale;
    for (int y = 0; y < s.height(); ++y) {
        const double v = maxDrop_ * (1.0 - static_cast<double>(y) / std::max(1, s.height() - 1));
        p.setPen(colorForDrop(v));
        p.drawLine(s.left(), s.top() + y, s.right(), s.top() + y);
    }
    p.setPen(palette().text().color());
    p.drawRect(s.adjusted(0, 0, -1, -1));
    p.setFont(small);
    const QFontMetrics sm(small);
    for (int i = 0; i <= 4; ++i) {
        const double v = maxDrop_ * (4 - i) / 4.0;
        const int y = s.top() + (s.height() - 1) * i / 4;
        p.drawLine(s.right(), y, s.right() + pad / 2, y);
        p.drawText(QPoint(s.right() + pad, y + sm.ascent() / 2),
                   tr("%1 pt").arg(QString::number(v, 'f', maxDrop_ < 4 ? 2 : 1)));
    }
    const QString unit = tr("top-1 drop (pt)");
    const int unitLeft = std::min(s.left(), width() - sm.horizontalAdvance(unit) - 2);
    p.drawText(QRect(unitLeft, s.bottom() + pad / 2, width() - unitLeft, sm.height()), Qt::AlignLeft, unit);
    p.drawText(QRect(0, l.grid.bottom() + pad / 2, l.grid.right(), sm.height()), Qt::AlignLeft,
               tr("blank: not run (does not fit the layer)"));
}

void SensitivityHeatmap::mouseMoveEvent(QMouseEvent* event) {
    const auto [r, c] = cellAt(event->position().toPoint());
    hover_ = cellToolTip(r, c);
    if (hover_.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(),
                           QStringLiteral("<div style='font-size:%1pt; white-space:pre'>%2</div>")
                               .arg(bigFont(0.85).pointSizeF(), 0, 'f', 1)
                               .arg(hover_.toHtmlEscaped()),
                           this, cellRect(r, c));
    QWidget::mouseMoveEvent(event);
}

void SensitivityHeatmap::leaveEvent(QEvent* event) {
    hover_.clear();
    QWidget::leaveEvent(event);
}

SensitivityResults readSensitivityResults(const QString& path) {
    const std::string file = path.toStdString();
    const std::vector<std::string> ids = list_sweeps(file, "sensitivity");
    if (ids.empty()) fail(file, ": no sensitivity analysis in this file (no /sensitivity group; `qcnn sensitivity -o` writes one)");
    SensitivityResults out;
    out.id = ids.back();
    const ResultsFile f = ResultsFile::read(file, out.id, "sensitivity");
    const SweepAttributes a = f.attributes();
    out.status = a.status;
    out.spec = parse_sweep_spec(json::parse(a.spec_canonical, file + ": /sensitivity/" + out.id + " spec"),
                                file + ": /sensitivity/" + out.id);
    out.entries = sensitivity_entries(out.spec, f.runs(), f.layers());
    return out;
}

SensitivityHeatmap* showSensitivityResults(QWidget* parent, const QString& path, const SensitivityResults& results) {
    auto* dialog = new QDialog(parent);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setWindowTitle(QObject::tr("Sensitivity: %1").arg(QFileInfo(path).fileName()));
    auto* layout = new QVBoxLayout(dialog);
    auto* info = new QLabel(QObject::tr("%1, /sensitivity/%2 (%3): %4 layer settings of %5")
                                .arg(QFileInfo(path).fileName(), QString::fromStdString(results.id),
                                     QString::fromStdString(results.status))
                                .arg(results.entries.size())
                                .arg(QFileInfo(QString::fromStdString(results.spec.base.model)).fileName()),
                            dialog);
    info->setWordWrap(true);
    layout->addWidget(info);
    auto* map = new SensitivityHeatmap(dialog);
    map->setTable(results.spec, results.entries);
    layout->addWidget(map, 1);
    dialog->resize(map->sizeHint() + QSize(40, 80));
    dialog->show();
    return map;
}

void openSensitivityResultsDialog(QWidget* parent) {
    const QString path = QFileDialog::getOpenFileName(parent, QObject::tr("Open Sensitivity Results"), QString(),
                                                      QObject::tr("HDF5 results (*.h5 *.hdf5);;All files (*)"));
    if (path.isEmpty()) return;
    try {
        showSensitivityResults(parent, path, readSensitivityResults(path));
    } catch (const std::exception& e) {
        QMessageBox::critical(parent, QObject::tr("Cannot open sensitivity results"), QString::fromUtf8(e.what()));
    }
}

}  // namespace qcnn::ui
