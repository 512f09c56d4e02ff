// The sensitivity heat map (issue 15): one row per analysed layer, one column per C_s'/K setting
// of the grid, each cell coloured by the top-1 drop (percentage points) of the network with only
// that layer quantized with that setting, on a colour scale drawn beside it with its unit. A cell
// that was not run (the setting does not fit the layer, or the analysis stopped early) stays
// blank. Hovering a cell shows its numbers: drop, compression and theoretical speed-up of the
// layer, measured layer speed-up when timed, relative response error. Painted with large fonts
// for projection. Filled from a sensitivity plan's spec (rows and columns) and its entries
// (core/auto/sensitivity.h), or read from a results file's /sensitivity/<id> group.
#pragma once

#include <QColor>
#include <QString>
#include <QStringList>
#include <QWidget>
#include <optional>
#include <vector>

#include "core/auto/sensitivity.h"

namespace qcnn::ui {

class SensitivityHeatmap : public QWidget {
    Q_OBJECT

public:
    explicit SensitivityHeatmap(QWidget* parent = nullptr);

    // Rows: the spec's groups (one layer each, in order); columns: every setting of any group,
    // in first-seen order. Entries fill the cells they name; entries of other cells are ignored.
    void setTable(const SweepSpec& spec, const std::vector<SensitivityEntry>& entries);
    void setTable(QStringList layers, QStringList settings, const std::vector<SensitivityEntry>& entries);
    void clear();

    const QStringList& layers() const { return layers_; }
    const QStringList& settings() const { return settings_; }
    // The entry of a cell; nullopt when that cell was not run.
    std::optional<SensitivityEntry> entry(int row, int column) const;
    int filledCells() const;
    // The colour scale: 0 pt .. maxDropPoints() (at least 1 pt; the largest drop rounded up).
    double maxDropPoints() const { return maxDrop_; }
    QColor colorForDrop(double dropPoints) const;
    // Geometry of the painted grid (widget coordinates) and the cell under a point (row, col),
    // {-1, -1} outside.
    QRect cellRect(int row, int column) const;
    std::pair<int, int> cellAt(const QPoint& p) const;
    // The hover text of a cell ("" for a blank one) and the text shown by the last hover.
    QString cellToolTip(int row, int column) const;
    const QString& hoverText() const { return hover_; }

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;

private:
    struct Layout {
        QRect grid;       // the cells
        QRect scale;      // the colour bar
        int top = 0;      // where the title starts
        int cellW = 0, cellH = 0;
    };
    Layout layout() const;
    QFont bigFont(double scale = 1.0) const;

    QStringList layers_, settings_;
    std::vector<std::optional<SensitivityEntry>> cells_;  // row-major
    double maxDrop_ = 1.0;
    QString hover_;
};

// The newest analysis in a results file's /sensitivity group (its plan spec and entries).
// Throws qcnn::Error naming the file when it has none or cannot be read.
struct SensitivityResults {
    std::string id;
    SweepSpec spec;
    std::vector<SensitivityEntry> entries;
    std::string status;  // "completed", "running", "cancelled", ...
};
SensitivityResults readSensitivityResults(const QString& path);

// File > Open Sensitivity Results...: asks for a file and shows its heat map in a window (errors
// in a message box).
void openSensitivityResultsDialog(QWidget* parent);
// Shows `results` read from `path` in a non-modal window owned by `parent`; returns the heat map.
SensitivityHeatmap* showSensitivityResults(QWidget* parent, const QString& path, const SensitivityResults& results);

}  // namespace qcnn::ui
