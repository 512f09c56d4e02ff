#include "ui/run_options_form.h"

#include <algorithm>
#include <QCheckBox>
#include <QComboBox>
#include <QGridLayout>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpressionValidator>
#include <QSpinBox>
#include <limits>

#include "core/sweep/run_options.h"
#include "core/util/error.h"

namespace qcnn::ui {

namespace {

// Label + widget pairs side by side; the rows grow with the options, so a new option never
// widens the window (the plots dock beside it keeps its room at 1600 px).
constexpr int kColumns = 4;

// The text a Text field shows in full at its minimum width.
constexpr const char* kTextFieldSample = "fashion-mnist:train";

bool fitsSpinBox(const RunOption& o) {
    return o.kind == OptionKind::Integer && o.min >= std::numeric_limits<int>::min() &&
           o.max <= std::numeric_limits<int>::max();
}

QString optionToolTip(const RunOption& o) {
    QString t = QString::fromStdString(help_with_default(o));
    t += QStringLiteral("\n(");
    if (!o.flag.empty()) t += QString::fromStdString(o.flag) + QStringLiteral("; ");
    t += QStringLiteral("spec key \"%1\"").arg(QString::fromStdString(o.key));
    if (o.arity == OptionArity::Dimension)
        t += QStringLiteral("; the first of the spec's list - the sweep dialog edits the whole list");
    return t + QStringLiteral(")");
}

}  // namespace

RunOptionsForm::RunOptionsForm(QWidget* parent) : QWidget(parent) {
    auto* grid = new QGridLayout(this);
    grid->setContentsMargins(0, 4, 0, 0);
    const auto onForm = std::count_if(run_options().begin(), run_options().end(), [](const RunOption& o) { return o.on_form(); });
    const int rows = static_cast<int>((onForm + kColumns - 1) / kColumns);
    int slot = 0;
    for (const RunOption& o : run_options()) {
        if (!o.on_form()) continue;
        const QString key = QString::fromStdString(o.key);
        const QString label = QString::fromStdString(o.label);
        QWidget* w = nullptr;
        if (fitsSpinBox(o)) {
            auto* spin = new QSpinBox;
            spin->setRange(static_cast<int>(o.min), static_cast<int>(o.max));
            if (!o.special.empty()) spin->setSpecialValueText(QString::fromStdString(o.special));
            connect(spin, &QSpinBox::editingFinished, this, [this, key] { emit edited(key); });
            w = spin;
        } else if (o.kind == OptionKind::Choice) {
            auto* combo = new QComboBox;
            for (const std::string& c : o.choices) combo->addItem(QString::fromStdString(c), QString::fromStdString(c));
            connect(combo, &QComboBox::currentIndexChanged, this, [this, key] { emit edited(key); });
            w = combo;
        } else if (o.kind == OptionKind::Flag) {
            auto* check = new QCheckBox(label);
            connect(check, &QCheckBox::toggled, this, [this, key] { emit edited(key); });
            w = check;
        } else {
            auto* edit = new QLineEdit;
            if (o.kind == OptionKind::Integer) {
                // Digits only while typing; the table checks the bounds (apply()).
                edit->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("[0-9]{0,19}")), edit));
                if (!o.special.empty()) edit->setPlaceholderText(QStringLiteral("%1 = %2").arg(o.min).arg(QString::fromStdString(o.special)));
            } else if (!o.special.empty()) {
                edit->setPlaceholderText(QString::fromStdString(o.special));
            }
            // Texts (data specs, paths) get room for a spec such as "fashion-mnist:train" in full.
            if (o.kind == OptionKind::Text)
                edit->setMinimumWidth(edit->fontMetrics().horizontalAdvance(QString::fromLatin1(kTextFieldSample)) + 24);
            connect(edit, &QLineEdit::editingFinished, this, [this, key] { emit edited(key); });
            w = edit;
        }
        w->setObjectName(QString::fromStdString(o.widget));
        w->setToolTip(optionToolTip(o));
        const int row = slot % rows, col = 2 * (slot / rows);
        if (o.kind == OptionKind::Flag) {
            grid->addWidget(w, row, col, 1, 2);
        } else {
            auto* l = new QLabel(label + QStringLiteral(":"));
            l->setBuddy(w);
            l->setToolTip(w->toolTip());
            grid->addWidget(l, row, col);
            grid->addWidget(w, row, col + 1);
        }
        widgets_[o.key] = w;
        ++slot;
    }
    grid->setColumnStretch(1, 2);
    setSpec(SweepSpec{});
}

QWidget* RunOptionsForm::widget(std::string_view key) const {
    const auto it = widgets_.find(key);
    return it == widgets_.end() ? nullptr : it->second;
}

QString RunOptionsForm::text(std::string_view key) const {
    QWidget* w = widget(key);
    QCNN_ASSERT(w, "run option ", key, " is not on the form");
    if (auto* spin = qobject_cast<QSpinBox*>(w)) return QString::number(spin->value());
    if (auto* combo = qobject_cast<QComboBox*>(w)) return combo->currentData().toString();
    if (auto* check = qobject_cast<QCheckBox*>(w)) return check->isChecked() ? QStringLiteral("true") : QStringLiteral("false");
    return static_cast<QLineEdit*>(w)->text().trimmed();
}

void RunOptionsForm::setText(std::string_view key, const QString& text) {
    QWidget* w = widget(key);
    QCNN_ASSERT(w, "run option ", key, " is not on the form");
    if (auto* spin = qobject_cast<QSpinBox*>(w))
        spin->setValue(text.toInt());
    else if (auto* combo = qobject_cast<QComboBox*>(w))
        combo->setCurrentIndex(combo->findData(text));
    else if (auto* check = qobject_cast<QCheckBox*>(w))
        check->setChecked(text == QLatin1String("true"));
    else
        static_cast<QLineEdit*>(w)->setText(text);
}

void RunOptionsForm::setSpec(const SweepSpec& spec) {
    for (const RunOption& o : run_options())
        if (o.on_form()) setText(o.key, QString::fromStdString(option_text(o, spec)));
}

void RunOptionsForm::apply(SweepSpec& spec) const {
    for (const RunOption& o : run_options())
        if (o.on_form()) set_from_text(o, spec, text(o.key).toStdString(), cat(o.label, " (", o.key, ")"));
    check_run_options(spec);
}

}  // namespace qcnn::ui
