#include "ui/sweep_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QRegularExpression>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/quant/settings.h"
#include "ui/format.h"
#include "ui/layer_table_model.h"

namespace qcnn::ui {

namespace {

enum GridColumn { ColLayers, ColDsub, ColK, ColDense, ColValues, GridColumns };

QString joinNumbers(const std::vector<int64_t>& v) {
    QStringList s;
    for (int64_t x : v) s << QString::number(x);
    return s.join(QStringLiteral(", "));
}

// A group's values in the sweep spec's product form: "dense" first when asked, then every
// C_s' (outer) x every K.
std::vector<std::string> productValues(const std::vector<int64_t>& dsubs, const std::vector<int64_t>& ks, bool dense) {
    std::vector<std::string> out;
    if (dense) out.push_back("dense");
    for (int64_t d : dsubs)
        for (int64_t k : ks) out.push_back(std::to_string(d) + "/" + std::to_string(k));
    return out;
}

// The C_s' and K lists (and dense) whose product form is exactly `values`; false when there
// are none (a ":noec" value, another order, a value that does not parse).
bool asProduct(const std::vector<std::string>& values, std::vector<int64_t>& dsubs, std::vector<int64_t>& ks, bool& dense) {
    dsubs.clear();
    ks.clear();
    dense = false;
    for (const std::string& v : values) {
        QuantSetting s;
        try {
            s = parse_layer_settings("x=" + v).layers.at(0).second;
        } catch (const std::exception&) {
            return false;
        }
        if (s.dense) {
            dense = true;
            continue;
        }
        if (std::find(dsubs.begin(), dsubs.end(), s.pq.dsub) == dsubs.end()) dsubs.push_back(s.pq.dsub);
        if (std::find(ks.begin(), ks.end(), s.pq.K) == ks.end()) ks.push_back(s.pq.K);
    }
    return !values.empty() && productValues(dsubs, ks, dense) == values;
}

// The canonical text of one value of a values list ("4 / 16" -> "4/16"); as typed when it
// does not parse (problem() reports it).
std::string canonicalValue(const QString& value) {
    const std::string v = value.trimmed().toStdString();
    try {
        return parse_layer_settings("x=" + v).layers.at(0).second.to_string();
    } catch (const std::exception&) {
        return v;
    }
}

}  // namespace

SweepDialog::SweepDialog(const LayerTableModel* layers, Estimator estimator, QWidget* parent)
    : QDialog(parent),
      layers_(layers),
      estimator_(std::move(estimator)),
      table_(new QTableWidget(0, GridColumns)),
      ecNone_(new QCheckBox(tr("none"))),
      ecLayer_(new QCheckBox(tr("layer"))),
      ecNetwork_(new QCheckBox(tr("network"))),
      seeds_(new QLineEdit(QStringLiteral("0"))),
      summary_(new QLabel),
      buttons_(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel)) {
    setWindowTitle(tr("Sweep"));
    table_->setHorizontalHeaderLabels({tr("Layers"), tr("C_s' values"), tr("K values"), tr("+ dense"), tr("or values")});
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    table_->verticalHeader()->setVisible(false);
    table_->setToolTip(tr("Each row is one layer group; a run takes one value of every group. Layers not in a "
                          "group keep the layer table's setting."));
    table_->horizontalHeaderItem(ColValues)
        ->setToolTip(tr("Instead of C_s' values x K values: the group's values in run order, comma-separated, e.g. "
                        "\"8/128, 4/16:noec, dense\" (:noec keeps the layers out of error correction)"));

    auto* add = new QPushButton(tr("Add group"));
    auto* remove = new QPushButton(tr("Remove group"));
    connect(add, &QPushButton::clicked, this, [this] { addGroup(QStringLiteral("conv"), QStringLiteral("4"), QStringLiteral("16"), false); });
    connect(remove, &QPushButton::clicked, this, [this] {
        const int row = table_->currentRow() >= 0 ? table_->currentRow() : table_->rowCount() - 1;
        if (row >= 0) table_->removeRow(row);
        refresh();
    });
    auto* groupButtons = new QHBoxLayout;
    groupButtons->addWidget(add);
    groupButtons->addWidget(remove);
    groupButtons->addStretch(1);

    auto* ecRow = new QHBoxLayout;
    for (QCheckBox* c : {ecNone_, ecLayer_, ecNetwork_}) {
        ecRow->addWidget(c);
        connect(c, &QCheckBox::toggled, this, &SweepDialog::refresh);
    }
    ecRow->addStretch(1);
    ecNone_->setChecked(true);
    connect(seeds_, &QLineEdit::textChanged, this, &SweepDialog::refresh);

    auto* form = new QFormLayout;
    form->addRow(tr("Error correction:"), ecRow);
    form->addRow(tr("Seeds:"), seeds_);

    summary_->setWordWrap(true);
    buttons_->button(QDialogButtonBox::Ok)->setText(tr("Start sweep"));
    connect(buttons_, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(tr("Grid per layer group (C_s' values x K values, optionally dense):")));
    layout->addWidget(table_, 1);
    layout->addLayout(groupButtons);
    layout->addLayout(form);
    layout->addWidget(summary_);
    layout->addWidget(buttons_);
    resize(760, 420);

    addGroup(QStringLiteral("conv"), QStringLiteral("4, 8"), QStringLiteral("16, 64, 128"), false);
    addGroup(QStringLiteral("fc"), QStringLiteral("4"), QStringLiteral("16, 32"), false);
}

void SweepDialog::enableCluster(SpecMaker makeSpec, QString qcnnBinary) {
    makeSpec_ = std::move(makeSpec);
    qcnnBinary_ = std::move(qcnnBinary);
    auto* cluster = buttons_->addButton(tr("Run on cluster..."), QDialogButtonBox::ActionRole);
    cluster->setObjectName(QStringLiteral("runOnCluster"));
    cluster->setToolTip(tr("Submit the sweep to Slurm as a job array with one merge job (docs/cluster.md); the "
                           "runs appear here as the tasks finish them"));
    connect(cluster, &QPushButton::clicked, this, &SweepDialog::askCluster);
    refresh();
}

bool SweepDialog::runOnCluster(const QString& results, const SlurmOptions& options, QString* error) {
    try {
        if (!makeSpec_) fail("no cluster support in this dialog");
        const std::string out = QFile::encodeName(QFileInfo(results).absoluteFilePath()).toStdString();
        const std::string specPath = out + ".spec.json";
        save_sweep_spec(specPath, makeSpec_(grid(), ecModes(), seeds()));
        ClusterSweep c = plan_cluster_sweep(specPath, out, options, QFile::encodeName(qcnnBinary_).toStdString());
        std::vector<int64_t> tasks;
        for (int64_t i = 0; i < options.shards; ++i) tasks.push_back(i);
        submitted_ = on_path("sbatch");
        if (submitted_)
            submit_cluster_sweep(c, tasks);
        else
            write_cluster_scripts(c, tasks);
        cluster_ = c;
        return true;
    } catch (const std::exception& e) {
        if (error) *error = QString::fromStdString(e.what());
        return false;
    }
}

void SweepDialog::askCluster() {
    const QString results = QFileDialog::getSaveFileName(this, tr("Cluster sweep results"), QStringLiteral("cluster.h5"),
                                                         tr("HDF5 results (*.h5)"));
    if (results.isEmpty()) return;
    QDialog ask(this);
    ask.setWindowTitle(tr("Run on cluster"));
    auto* shards = new QSpinBox;
    shards->setRange(1, 100000);
    shards->setValue(static_cast<int>(std::min<int64_t>(runCount(), 16)));
    shards->setToolTip(tr("Array tasks; shard I runs every run whose index i has i mod N == I"));
    auto* cpus = new QSpinBox;
    cpus->setRange(1, 4096);
    cpus->setToolTip(tr("CPUs of each task, also its threads"));
    auto* partition = new QLineEdit;
    auto* time = new QLineEdit;
    time->setPlaceholderText(tr("e.g. 02:00:00 (default: the partition's)"));
    auto* mem = new QLineEdit;
    mem->setPlaceholderText(tr("e.g. 8G (default: the partition's)"));
    auto* extra = new QLineEdit;
    extra->setPlaceholderText(tr("more sbatch options, space-separated, e.g. --qos=short"));
    auto* form = new QFormLayout(&ask);
    form->addRow(tr("Shards:"), shards);
    form->addRow(tr("CPUs per task:"), cpus);
    form->addRow(tr("Partition:"), partition);
    form->addRow(tr("Time limit:"), time);
    form->addRow(tr("Memory:"), mem);
    form->addRow(tr("sbatch options:"), extra);
    auto* box = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    box->button(QDialogButtonBox::Ok)->setText(on_path("sbatch") ? tr("Submit") : tr("Write scripts"));
    connect(box, &QDialogButtonBox::accepted, &ask, &QDialog::accept);
    connect(box, &QDialogButtonBox::rejected, &ask, &QDialog::reject);
    form->addRow(box);
    if (ask.exec() != QDialog::Accepted) return;
    SlurmOptions o;
    o.shards = shards->value();
    o.cpus_per_task = cpus->value();
    o.partition = partition->text().trimmed().toStdString();
    o.time = time->text().trimmed().toStdString();
    o.mem = mem->text().trimmed().toStdString();
    for (const QString& a : extra->text().split(QLatin1Char(' '), Qt::SkipEmptyParts)) o.sbatch_args.push_back(a.toStdString());
    QString error;
    if (!runOnCluster(results, o, &error)) {
        QMessageBox::warning(this, tr("Cannot run on the cluster"), error);
        return;
    }
    if (!submitted_) {
        // No sbatch here: the scripts to copy to a login node, with the command that submits them.
        std::ifstream f(cluster_->array_script());
        std::ostringstream text;
        text << f.rdbuf();
        QDialog show(this);
        show.setWindowTitle(tr("Slurm scripts"));
        auto* layout = new QVBoxLayout(&show);
        auto* label = new QLabel(tr("sbatch is not on PATH here. On the cluster's login node (same paths, shared file "
                                    "system) run:\n  sh %1\nThe runs appear in the workbench as the tasks write them.")
                                     .arg(QString::fromStdString(cluster_->submit_script())));
        label->setTextInteractionFlags(Qt::TextSelectableByMouse);
        layout->addWidget(label);
        auto* script = new QPlainTextEdit(QString::fromStdString(text.str()));
        script->setReadOnly(true);
        layout->addWidget(script, 1);
        auto* close = new QDialogButtonBox(QDialogButtonBox::Close);
        connect(close, &QDialogButtonBox::rejected, &show, &QDialog::accept);
        layout->addWidget(close);
        show.resize(720, 420);
        show.exec();
    }
    accept();
}

void SweepDialog::addGroup(const QString& layers, const QString& dsubs, const QString& ks, bool dense) {
    addRow(layers, dsubs, ks, dense, {});
}

void SweepDialog::addValuesGroup(const QString& layers, const QString& values) { addRow(layers, {}, {}, false, values); }

void SweepDialog::addRow(const QString& layers, const QString& dsubs, const QString& ks, bool dense, const QString& values) {
    const int row = table_->rowCount();
    table_->insertRow(row);
    auto* combo = new QComboBox;
    combo->setEditable(true);
    combo->addItems({QStringLiteral("conv"), QStringLiteral("fc")});
    for (const LayerGeometry& g : layers_->geometry().layers) combo->addItem(QString::fromStdString(g.alias));
    combo->setCurrentText(layers);
    connect(combo, &QComboBox::currentTextChanged, this, &SweepDialog::refresh);
    table_->setCellWidget(row, ColLayers, combo);
    for (int col : {ColDsub, ColK}) {
        auto* edit = new QLineEdit(col == ColDsub ? dsubs : ks);
        edit->setPlaceholderText(col == ColDsub ? tr("e.g. 2, 4, 8") : tr("e.g. 16, 64, 256"));
        connect(edit, &QLineEdit::textChanged, this, &SweepDialog::refresh);
        table_->setCellWidget(row, col, edit);
    }
    auto* box = new QCheckBox;
    box->setChecked(dense);
    connect(box, &QCheckBox::toggled, this, &SweepDialog::refresh);
    table_->setCellWidget(row, ColDense, box);
    auto* list = new QLineEdit(values);
    list->setPlaceholderText(tr("e.g. 8/128, 4/16:noec, dense"));
    connect(list, &QLineEdit::textChanged, this, &SweepDialog::refresh);
    table_->setCellWidget(row, ColValues, list);
    refresh();
}

QString SweepDialog::valuesText(int row) const {
    return qobject_cast<QLineEdit*>(table_->cellWidget(row, ColValues))->text().trimmed();
}

void SweepDialog::removeGroups() {
    table_->setRowCount(0);
    refresh();
}

void SweepDialog::setGrid(const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec,
                          const std::vector<uint64_t>& seeds) {
    table_->setRowCount(0);
    for (const SweepGroup& g : grid) {
        std::vector<int64_t> dsubs, ks;
        bool dense = false;
        if (asProduct(g.settings, dsubs, ks, dense)) {
            addGroup(QString::fromStdString(g.layers), joinNumbers(dsubs), joinNumbers(ks), dense);
        } else {
            QStringList values;
            for (const std::string& v : g.settings) values << QString::fromStdString(v);
            addValuesGroup(QString::fromStdString(g.layers), values.join(QStringLiteral(", ")));
        }
    }
    ecNone_->setChecked(std::find(ec.begin(), ec.end(), EcMode::None) != ec.end());
    ecLayer_->setChecked(std::find(ec.begin(), ec.end(), EcMode::Layer) != ec.end());
    ecNetwork_->setChecked(std::find(ec.begin(), ec.end(), EcMode::Network) != ec.end());
    QStringList s;
    for (uint64_t x : seeds) s << QString::number(x);
    seeds_->setText(s.join(QStringLiteral(", ")));
    refresh();
}

bool SweepDialog::parseList(const QString& text, std::vector<int64_t>& out, QString* error) {
    out.clear();
    for (const QString& part : text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts)) {
        bool ok = false;
        const qlonglong v = part.toLongLong(&ok);
        if (!ok || v < 0) {
            if (error) *error = tr("'%1' is not a number").arg(part);
            return false;
        }
        if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    }
    return true;
}

std::vector<SweepGroup> SweepDialog::grid() const {
    std::vector<SweepGroup> out;
    for (int row = 0; row < table_->rowCount(); ++row) {
        SweepGroup g;
        g.layers = qobject_cast<QComboBox*>(table_->cellWidget(row, ColLayers))->currentText().trimmed().toStdString();
        const QString values = valuesText(row);
        if (!values.isEmpty()) {
            for (const QString& v : values.split(QLatin1Char(','), Qt::SkipEmptyParts))
                if (!v.trimmed().isEmpty()) g.settings.push_back(canonicalValue(v));
        } else {
            std::vector<int64_t> dsubs, ks;
            parseList(qobject_cast<QLineEdit*>(table_->cellWidget(row, ColDsub))->text(), dsubs, nullptr);
            parseList(qobject_cast<QLineEdit*>(table_->cellWidget(row, ColK))->text(), ks, nullptr);
            g.settings = productValues(dsubs, ks, qobject_cast<QCheckBox*>(table_->cellWidget(row, ColDense))->isChecked());
        }
        out.push_back(std::move(g));
    }
    return out;
}

std::vector<EcMode> SweepDialog::ecModes() const {
    std::vector<EcMode> out;
    if (ecNone_->isChecked()) out.push_back(EcMode::None);
    if (ecLayer_->isChecked()) out.push_back(EcMode::Layer);
    if (ecNetwork_->isChecked()) out.push_back(EcMode::Network);
    return out;
}

std::vector<uint64_t> SweepDialog::seeds() const {
    std::vector<int64_t> v;
    parseList(seeds_->text(), v, nullptr);
    return {v.begin(), v.end()};
}

int64_t SweepDialog::runCount() const {
    int64_t n = static_cast<int64_t>(ecModes().size() * seeds().size());
    for (const SweepGroup& g : grid()) n *= static_cast<int64_t>(g.settings.size());
    return n;
}

TimeEstimate SweepDialog::estimatedTime() const {
    TimeEstimate per;
    const auto modes = ecModes();
    if (modes.empty()) return {};
    for (EcMode m : modes) per += estimator_ ? estimator_(m) : TimeEstimate{};
    return per * (static_cast<double>(runCount()) / static_cast<double>(modes.size()));
}

QString SweepDialog::problem() const {
    if (!layers_->hasCost()) return tr("Open a model first.");
    std::vector<int64_t> v;
    QString error;
    for (int row = 0; row < table_->rowCount(); ++row) {
        const QString group = qobject_cast<QComboBox*>(table_->cellWidget(row, ColLayers))->currentText().trimmed();
        const std::vector<int> covered = layers_->layersOfGroup(group);
        if (covered.empty()) return tr("Group %1: '%2' names no weight layer (conv, fc or a layer alias).").arg(row + 1).arg(group);
        if (!valuesText(row).isEmpty()) continue;  // a values list: checked value by value below
        for (int col : {ColDsub, ColK})
            if (!parseList(qobject_cast<QLineEdit*>(table_->cellWidget(row, col))->text(), v, &error))
                return tr("Group %1 (%2): %3.").arg(row + 1).arg(group, error);
    }
    const auto g = grid();
    for (size_t i = 0; i < g.size(); ++i) {
        if (g[i].settings.empty()) return tr("Group %1 (%2) has no value.").arg(i + 1).arg(QString::fromStdString(g[i].layers));
        const QString group = QString::fromStdString(g[i].layers);
        const bool perType = group == QLatin1String("conv") || group == QLatin1String("fc");
        for (size_t j = 0; j < g[i].settings.size(); ++j)
            if (std::find(g[i].settings.begin(), g[i].settings.begin() + static_cast<std::ptrdiff_t>(j), g[i].settings[j]) !=
                g[i].settings.begin() + static_cast<std::ptrdiff_t>(j))
                return tr("Group %1 (%2): the value %3 is listed twice.")
                    .arg(i + 1)
                    .arg(group, QString::fromStdString(g[i].settings[j]));
        for (const std::string& value : g[i].settings) {
            try {
                const LayerSettings s = parse_layer_settings(g[i].layers + "=" + value);
                if (perType) continue;  // a per-type default that does not fit leaves the layer dense
                for (int l : layers_->layersOfGroup(group)) {
                    const QuantSetting q = s.layers.at(0).second;
                    if (!q.dense) layer_cost(layers_->geometry().layers[l], q);
                }
            } catch (const std::exception& e) {
                return QString::fromStdString(e.what());
            }
        }
    }
    std::vector<std::string> seen;
    for (const SweepGroup& x : g) {
        if (std::find(seen.begin(), seen.end(), x.layers) != seen.end())
            return tr("Layer group '%1' appears twice.").arg(QString::fromStdString(x.layers));
        seen.push_back(x.layers);
    }
    if (ecModes().empty()) return tr("Pick at least one error-correction mode.");
    if (seeds().empty()) return tr("Give at least one seed.");
    return {};
}

QString SweepDialog::summaryText() const { return summary_->text(); }

void SweepDialog::refresh() {
    for (int row = 0; row < table_->rowCount(); ++row) {
        const bool product = valuesText(row).isEmpty();
        for (int col : {ColDsub, ColK, ColDense}) table_->cellWidget(row, col)->setEnabled(product);
    }
    const QString p = problem();
    const bool ok = p.isEmpty();
    buttons_->button(QDialogButtonBox::Ok)->setEnabled(ok && runCount() > 0);
    if (auto* cluster = buttons_->findChild<QPushButton*>(QStringLiteral("runOnCluster"))) cluster->setEnabled(ok && runCount() > 0);
    if (!ok) {
        summary_->setText(QStringLiteral("<span style='color:#b03a2e'>%1</span>").arg(p.toHtmlEscaped()));
        return;
    }
    const int64_t n = runCount();
    const TimeEstimate t = estimatedTime();
    summary_->setText(tr("<b>%n run(s)</b>, estimated time %1 (%2 to %3; per stage from the cost model at the rates of "
                         "this session's runs of each EC mode, rough before the first).", "", static_cast<int>(n))
                          .arg(formatDuration(t.typical), formatDuration(t.low), formatDuration(t.high)));
}

}  // namespace qcnn::ui
