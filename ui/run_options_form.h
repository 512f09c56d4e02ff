// The workbench's run-options form, generated from core's run-option table
// (core/sweep/run_options.h): one labelled widget per option the table puts on the form, in
// table order, with the table's bounds, choices and help (tooltip: help, default, CLI flag and
// spec key). Integers that fit an int are spin boxes; wider ones (seeds up to 2^63-1, the image
// limit) are line edits checked by the table, as are texts and number lists. A new run option
// appears here without an edit of this file.
//
// The form edits a SweepSpec: setSpec() shows its options, apply() writes them back and leaves
// every other key alone (a Dimension option, ec and seeds: its first value), so a loaded spec
// keeps every key through the form.
#pragma once

#include <QString>
#include <QWidget>
#include <map>
#include <string>
#include <string_view>

#include "core/sweep/sweep.h"

namespace qcnn::ui {

class RunOptionsForm : public QWidget {
    Q_OBJECT

public:
    explicit RunOptionsForm(QWidget* parent = nullptr);

    // Shows every on-form option of `spec`.
    void setSpec(const SweepSpec& spec);
    // Writes every on-form option into `spec`; throws qcnn::Error naming the option's label and
    // key ("Seed (seeds) expects an integer >= 0, got 'x'") when a field does not hold a valid value.
    void apply(SweepSpec& spec) const;
    // The widget of option `key` (nullptr when the form does not show it); object name: the
    // table's `widget` ("itersSpin").
    QWidget* widget(std::string_view key) const;
    // The text the form holds for option `key` (what apply() reads).
    QString text(std::string_view key) const;
    void setText(std::string_view key, const QString& text);

signals:
    // A value was edited (line edits: when editing finished).
    void edited(const QString& key);

private:
    std::map<std::string, QWidget*, std::less<>> widgets_;
};

}  // namespace qcnn::ui
