#include "ui/auto_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

#include "core/cost/cost_model.h"
#include "core/util/error.h"
#include "ui/background.h"
#include "ui/format.h"
#include "ui/layer_table_model.h"
#include "ui/main_window.h"
#include "ui/workbench_session.h"
#include "ui/results_model.h"
#include "ui/sensitivity_heatmap.h"
#include "ui/session_file.h"

namespace qcnn::ui {

namespace {

const AutoObjective kObjectives[] = {AutoObjective::Compression, AutoObjective::Speedup, AutoObjective::MeasuredSpeedup,
                                     AutoObjective::Memory, AutoObjective::Accuracy};
const EcMode kEcModes[] = {EcMode::None, EcMode::Layer, EcMode::Network};

QStringList splitList(const QString& text) {
    QStringList out;
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
        if (!part.trimmed().isEmpty()) out << part.trimmed();
    return out;
}

QString points(double fraction) { return QString::number(100.0 * fraction, 'f', 2); }

QString runSummary(const RunRow& r) {
    return QObject::tr("settings %1\ntop-1 %2 (float %3), drop %4 pt, compression %5, speed-up %6 theoretical, %7 measured")
        .arg(r.settings.empty() ? QStringLiteral("(all dense)") : QString::fromStdString(r.settings), formatPercent(r.top1),
             formatPercent(r.top1_float), points(r.top1_float - r.top1), formatRatio(r.compression),
             formatRatio(r.theoretical_speedup), formatMeasuredSpeedup(r));
}

}  // namespace

QString defaultAutoResultsPath(const QString& sessionPath) {
    const QString dir = sessionPath.isEmpty()
                            ? QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + QStringLiteral("/qcnn-workbench")
                            : QFileInfo(sessionPath).absolutePath();
    return QDir(dir).filePath(QStringLiteral("qcnn-auto.h5"));
}

AutoDialog::AutoDialog(Context context, ResultsModel* results, LayerTableModel* layers, QWidget* parent)
    : QDialog(parent), context_(std::move(context)), results_(results), layers_(layers) {
    setWindowTitle(tr("Find Settings"));
    setObjectName(QStringLiteral("autoDialog"));
    QFont big = font();
    big.setPointSizeF(std::max(12.0, big.pointSizeF() * 1.15));
    setFont(big);

    auto* budget = new QGroupBox(tr("Search"), this);
    auto* form = new QFormLayout(budget);
    maxDropCheck_ = new QCheckBox(tr("Max top-1 drop (pt)"), budget);
    maxDropCheck_->setChecked(true);
    maxDrop_ = new QDoubleSpinBox(budget);
    maxDrop_->setObjectName(QStringLiteral("maxDrop"));
    maxDrop_->setRange(0, 100);
    maxDrop_->setDecimals(2);
    maxDrop_->setSingleStep(0.25);
    maxDrop_->setValue(1.0);
    form->addRow(maxDropCheck_, maxDrop_);
    minCompressionCheck_ = new QCheckBox(tr("Min compression (x)"), budget);
    minCompression_ = new QDoubleSpinBox(budget);
    minCompression_->setObjectName(QStringLiteral("minCompression"));
    minCompression_->setRange(1, 1e6);
    minCompression_->setDecimals(1);
    minCompression_->setValue(10);
    minCompression_->setEnabled(false);
    form->addRow(minCompressionCheck_, minCompression_);
    objective_ = new QComboBox(budget);
    objective_->setObjectName(QStringLiteral("objective"));
    for (AutoObjective o : kObjectives) objective_->addItem(QString::fromStdString(to_string(o)));
    objective_->setToolTip(tr("What to maximise among the verified runs within the budget (accuracy: with a min compression)"));
    form->addRow(tr("Objective"), objective_);
    ec_ = new QComboBox(budget);
    ec_->setObjectName(QStringLiteral("verifyEc"));
    for (EcMode m : kEcModes) ec_->addItem(QString::fromStdString(to_string(m)));
    ec_->setCurrentIndex(2);
    ec_->setToolTip(tr("Error correction of the verification runs (the sensitivity runs use none)"));
    form->addRow(tr("EC for verification"), ec_);
    timeBudget_ = new QDoubleSpinBox(budget);
    timeBudget_->setObjectName(QStringLiteral("timeBudget"));
    timeBudget_->setRange(0, 24 * 60);
    timeBudget_->setDecimals(1);
    timeBudget_->setSuffix(tr(" min"));
    timeBudget_->setSpecialValueText(tr("none"));
    form->addRow(tr("Time budget"), timeBudget_);
    maxCandidates_ = new QSpinBox(budget);
    maxCandidates_->setObjectName(QStringLiteral("maxCandidates"));
    maxCandidates_->setRange(1, 1000);
    maxCandidates_->setValue(AutoRequest{}.max_candidates);
    form->addRow(tr("Max candidates"), maxCandidates_);
    layersEdit_ = new QLineEdit(QStringLiteral("conv,fc"), budget);
    layersEdit_->setObjectName(QStringLiteral("autoLayers"));
    layersEdit_->setToolTip(tr("Layers to choose settings for: conv, fc, aliases or node names, comma-separated"));
    form->addRow(tr("Layers"), layersEdit_);
    QStringList grid;
    for (const std::string& g : default_sensitivity_grid()) grid << QString::fromStdString(g);
    gridEdit_ = new QLineEdit(grid.join(QStringLiteral(", ")), budget);
    gridEdit_->setObjectName(QStringLiteral("autoGrid"));
    gridEdit_->setToolTip(tr("The C_s'/K settings each layer chooses from (besides dense)"));
    gridEdit_->setCursorPosition(0);
    gridEdit_->setMinimumWidth(QFontMetrics(big).horizontalAdvance(gridEdit_->text()) / 2);
    form->addRow(tr("Grid (C_s'/K)"), gridEdit_);
    auto* resultsRow = new QHBoxLayout;
    resultsEdit_ = new QLineEdit(context_.resultsPath, budget);
    resultsEdit_->setObjectName(QStringLiteral("autoResults"));
    resultsEdit_->setToolTip(tr("HDF5 file of the sensitivity table (reused when the same model, data and grid come again) "
                                "and of every candidate run"));
    auto* browse = new QToolButton(budget);
    browse->setText(QStringLiteral("..."));
    connect(browse, &QToolButton::clicked, this, [this] {
        const QString p = QFileDialog::getSaveFileName(this, tr("Results File"), resultsEdit_->text(),
                                                       tr("HDF5 results (*.h5 *.hdf5)"), nullptr,
                                                       QFileDialog::DontConfirmOverwrite);
        if (!p.isEmpty()) resultsEdit_->setText(p);
    });
    resultsRow->addWidget(resultsEdit_, 1);
    resultsRow->addWidget(browse);
    form->addRow(tr("Results file"), resultsRow);

    connect(maxDropCheck_, &QCheckBox::toggled, maxDrop_, &QWidget::setEnabled);
    connect(minCompressionCheck_, &QCheckBox::toggled, this, [this](bool on) {
        minCompression_->setEnabled(on);
        const bool accuracy = objective_->currentIndex() == 4;
        if (on != accuracy) objective_->setCurrentIndex(on ? 4 : 0);
    });

    heatmap_ = new SensitivityHeatmap(this);
    heatmap_->setVisible(false);
    progressLabel_ = new QLabel(this);
    progressLabel_->setObjectName(QStringLiteral("autoProgress"));
    bar_ = new QProgressBar(this);
    bar_->setVisible(false);
    outcomeLabel_ = new QLabel(this);
    outcomeLabel_->setObjectName(QStringLiteral("autoOutcome"));
    outcomeLabel_->setWordWrap(true);
    outcomeLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* buttons = new QDialogButtonBox(this);
    startButton_ = buttons->addButton(tr("Start"), QDialogButtonBox::ActionRole);
    cancelButton_ = buttons->addButton(tr("Cancel Search"), QDialogButtonBox::ActionRole);
    buttons->addButton(QDialogButtonBox::Close);
    connect(startButton_, &QPushButton::clicked, this, [this] { start(); });
    connect(cancelButton_, &QPushButton::clicked, this, &AutoDialog::cancel);
    connect(buttons, &QDialogButtonBox::rejected, this, &AutoDialog::reject);

    auto* top = new QHBoxLayout;
    top->addWidget(budget);
    top->addWidget(heatmap_, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top, 1);
    layout->addWidget(progressLabel_);
    layout->addWidget(bar_);
    layout->addWidget(outcomeLabel_);
    layout->addWidget(buttons);

    timer_ = new QTimer(this);
    timer_->setInterval(100);
    connect(timer_, &QTimer::timeout, this, &AutoDialog::poll);
    updateControls();
}

AutoDialog::~AutoDialog() {
    cancel_ = true;
    delete call_.data();  // waits for the worker; its result is dropped
    poll();               // candidates verified before the cancel still reach the results model
}

void AutoDialog::setMaxDrop(double pts) {
    maxDropCheck_->setChecked(pts >= 0);
    if (pts >= 0) maxDrop_->setValue(pts);
}

void AutoDialog::setMinCompression(double x) {
    minCompressionCheck_->setChecked(x > 0);
    if (x > 0) minCompression_->setValue(x);
}

void AutoDialog::setObjective(AutoObjective o) {
    for (int i = 0; i < static_cast<int>(std::size(kObjectives)); ++i)
        if (kObjectives[i] == o) objective_->setCurrentIndex(i);
}

void AutoDialog::setVerifyEc(EcMode ec) {
    for (int i = 0; i < static_cast<int>(std::size(kEcModes)); ++i)
        if (kEcModes[i] == ec) ec_->setCurrentIndex(i);
}

void AutoDialog::setTimeBudgetMinutes(double minutes) { timeBudget_->setValue(minutes); }
void AutoDialog::setMaxCandidates(int n) { maxCandidates_->setValue(n); }
void AutoDialog::setLayersFilter(const QString& layers) { layersEdit_->setText(layers); }
void AutoDialog::setGrid(const QString& grid) {
    gridEdit_->setText(grid);
    gridEdit_->setCursorPosition(0);
}
void AutoDialog::setResultsPath(const QString& path) { resultsEdit_->setText(path); }
QString AutoDialog::resultsPath() const { return resultsEdit_->text().trimmed(); }

AutoRequest AutoDialog::request() const {
    AutoRequest q;
    q.sensitivity.options = context_.options;
    q.sensitivity.options.base.model = context_.modelPath.toStdString();
    q.sensitivity.options.base.layers.clear();
    q.sensitivity.options.grid.clear();
    q.sensitivity.options.ec = {EcMode::None};
    q.sensitivity.options.base.threads = 0;  // not part of the analysis' identity (run_auto gets the count)
    q.sensitivity.layers = splitList(layersEdit_->text()).join(QLatin1Char(',')).toStdString();
    if (q.sensitivity.layers.empty()) fail("Find settings: Layers is empty (give conv, fc, aliases or node names)");
    q.sensitivity.grid.clear();
    for (const QString& g : splitList(gridEdit_->text())) q.sensitivity.grid.push_back(g.toStdString());
    if (q.sensitivity.grid.empty()) fail("Find settings: Grid is empty (give C_s'/K settings such as 4/16, 8/32)");
    q.verify_ec = kEcModes[ec_->currentIndex()];
    q.objective = kObjectives[objective_->currentIndex()];
    q.max_drop = maxDropCheck_->isChecked() ? maxDrop_->value() / 100.0 : std::numeric_limits<double>::infinity();
    q.min_compression = minCompressionCheck_->isChecked() ? minCompression_->value() : 0.0;
    if (!maxDropCheck_->isChecked() && q.min_compression <= 0)
        fail("Find settings: give a budget (Max top-1 drop, or Min compression with the accuracy objective)");
    if (q.min_compression > 0 && q.objective != AutoObjective::Accuracy)
        fail("Find settings: Min compression goes with the objective accuracy (the most accurate run at that compression)");
    if (q.min_compression <= 0 && q.objective == AutoObjective::Accuracy)
        fail("Find settings: the objective accuracy needs Min compression (otherwise the answer is the float network)");
    q.time_budget_seconds = 60.0 * timeBudget_->value();
    q.max_candidates = maxCandidates_->value();
    if (resultsPath().isEmpty()) fail("Find settings: Results file is empty");
    return q;
}

void AutoDialog::showError(const QString& title, const QString& message) {
    if (onError_)
        onError_(title, message);
    else
        QMessageBox::warning(this, title, message);
}

bool AutoDialog::start() {
    if (isRunning()) return false;
    if (!context_.network) {
        showError(tr("Find settings"), tr("Open a model first."));
        return false;
    }
    AutoRequest q;
    try {
        q = request();
        plan_ = plan_sensitivity(*context_.network, q.sensitivity);
        const QFileInfo results(resultsPath());
        if (!results.absoluteDir().exists() && !QDir().mkpath(results.absolutePath()))
            fail("Find settings: cannot create the folder of the results file ", results.absolutePath().toStdString());
    } catch (const std::exception& e) {
        showError(tr("Find settings"), QString::fromUtf8(e.what()));
        return false;
    }
    const int threads = context_.options.base.threads;
    const std::string path = resultsPath().toStdString();
    const std::string model = context_.modelPath.toStdString(), data = context_.options.base.data;
    cancel_ = false;
    status_.clear();
    outcome_.reset();
    added_.clear();
    outcomeText_.clear();
    shownTop_.clear();
    {
        std::lock_guard lock(mutex_);
        snapshot_ = Snapshot{};
    }
    heatmap_->clear();
    heatmap_->setVisible(false);
    // The callbacks run on the worker: they only queue work for the GUI thread.
    q.on_sensitivity = [this](const SensitivityTable& t) {
        post([this, entries = t.entries] {
            heatmap_->setTable(plan_.spec, entries);
            heatmap_->setVisible(true);
            emit sensitivityReady();
        });
    };
    q.on_candidate = [this, model, data](const RunRow& row, const std::vector<LayerRow>& layers) {
        post([this, rec = recordFromRows(row, layers, model, data)]() mutable {
            const int run = addRecord_ ? addRecord_(std::move(rec)) : results_->addRecord(std::move(rec));
            added_.push_back(run);
            emit candidateAdded(run);
        });
    };
    call_ = runInBackground(
        this,
        [this, q = std::move(q), path, threads]() {
            Result r;
            try {
                r.outcome = run_auto(q, path, threads, [this](const Progress& p) { return onProgress(p); });
                r.status = QStringLiteral("completed");
            } catch (const Cancelled&) {
                r.status = QStringLiteral("cancelled");
            } catch (const std::bad_alloc&) {
                r.status = QStringLiteral("failed");
                r.message = tr("out of memory");
            } catch (const std::exception& e) {
                r.status = QStringLiteral("failed");
                r.message = QString::fromUtf8(e.what());
            }
            return r;
        },
        [this](Result r) { finish(std::move(r)); });
    timer_->start();
    updateControls();
    progressLabel_->setText(tr("starting"));
    return true;
}

bool AutoDialog::isRunning() const { return !call_.isNull(); }

void AutoDialog::cancel() {
    if (!isRunning()) return;
    cancel_ = true;
    progressLabel_->setText(tr("cancelling..."));
    updateControls();
}

void AutoDialog::reject() {
    if (isRunning()) {
        cancel();  // the dialog closes when the search has stopped
        connect(this, &AutoDialog::searchFinished, this, &QDialog::reject, Qt::SingleShotConnection);
        return;
    }
    QDialog::reject();
}

bool AutoDialog::onProgress(const Progress& p) {
    {
        std::lock_guard lock(mutex_);
        if (p.stage == "sweep" || p.stage == "auto") {
            snapshot_.top = p.stage == "sweep" ? "sensitivity" : "candidates";
            snapshot_.topDone = p.done;
            snapshot_.topTotal = p.total;
        } else {
            snapshot_.inner = p.stage + (p.layer.empty() ? "" : " " + p.layer);
            snapshot_.innerDone = p.done;
            snapshot_.innerTotal = p.total;
        }
    }
    return !cancel_.load();
}

void AutoDialog::post(std::function<void()> event) {
    std::lock_guard lock(mutex_);
    outbox_.push_back(std::move(event));
}

QString AutoDialog::progressText() const { return progressLabel_->text(); }
QString AutoDialog::outcomeText() const { return outcomeText_; }

void AutoDialog::poll() {
    std::vector<std::function<void()>> events;
    Snapshot s;
    {
        std::lock_guard lock(mutex_);
        events.swap(outbox_);
        s = snapshot_;
    }
    for (auto& e : events) e();
    if (!isRunning() || cancel_) return;
    if (s.top != shownTop_) {
        shownTop_ = s.top;
        topStart_ = std::chrono::steady_clock::now();
    }
    QString text;
    if (s.top == "sensitivity") {
        text = tr("Sensitivity: run %1 of %2").arg(std::min(s.topDone + 1, s.topTotal)).arg(s.topTotal);
        // The runs of an analysis are alike (one layer each): the rate so far gives the rest.
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - topStart_).count();
        if (s.topDone > 0 && s.topDone < s.topTotal)
            text += tr(" · ETA %1").arg(formatDuration(elapsed / static_cast<double>(s.topDone) * static_cast<double>(s.topTotal - s.topDone)));
    } else if (s.top == "candidates") {
        text = tr("Verifying: candidate %1 of at most %2").arg(s.topDone + 1).arg(s.topTotal);
    } else {
        text = tr("Preparing");
    }
    if (!s.inner.empty()) text += QStringLiteral(" · ") + QString::fromStdString(s.inner);
    progressLabel_->setText(text);
    bar_->setVisible(true);
    bar_->setRange(0, static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(s.topTotal, 1 << 30))));
    bar_->setValue(static_cast<int>(std::min(s.topDone, s.topTotal)));
}

QString AutoDialog::unreachableText(const AutoOutcome& o) const {
    QString text = tr("Budget not reachable (%1).").arg(QString::fromStdString(o.search.stop_reason));
    if (const RunRow* r = o.reported()) return text + tr("\nBest found: ") + runSummary(*r);
    // Nothing ran: say how far the analysed settings can go at best (weight bits, as the search counts them).
    if (context_.network && !o.choices.empty() && minCompressionCheck_->isChecked()) {
        const NetworkGeometry geom = network_geometry(*context_.network, context_.network->sample_shape());
        const int64_t dense = network_cost(geom, std::vector<QuantSetting>(geom.layers.size())).weight_bits_dense;
        int64_t bits = dense;
        for (const LayerChoices& c : o.choices) {
            int64_t least = c.options.front().cost;
            for (const LayerOption& x : c.options) least = std::min(least, x.cost);
            bits += least - c.options.front().cost;
        }
        if (bits > 0)
            text += tr("\nThe coarsest analysed settings give at most %1 compression (estimated), less than the %2 asked.")
                        .arg(formatRatio(static_cast<double>(dense) / static_cast<double>(bits)),
                             formatRatio(minCompression_->value()));
    }
    return text + tr("\nNo candidate was run; widen the budget or the grid.");
}

void AutoDialog::finish(Result r) {
    timer_->stop();
    poll();  // the last candidates and the sensitivity table, in order
    call_.clear();
    status_ = r.status;
    bar_->setVisible(false);
    const QString file = resultsPath();
    if (r.status == QLatin1String("completed") && r.outcome) {
        outcome_ = std::move(r.outcome);
        const AutoOutcome& o = *outcome_;
        const QString head = tr("%1 candidate(s) in %2 (%3), stopped: %4; results in %5")
                                 .arg(o.rows.size())
                                 .arg(formatDuration(o.seconds))
                                 .arg(o.sensitivity.reused ? tr("sensitivity reused") : tr("sensitivity measured"))
                                 .arg(QString::fromStdString(o.search.stop_reason), file);
        if (o.met()) {
            const RunRow& best = *o.reported();
            try {
                layers_->setSettingsText(QString::fromStdString(best.settings));
                outcomeText_ = tr("Chosen (EC %1), loaded into the layer table:\n").arg(QString::fromStdString(best.ec)) +
                               runSummary(best) + QStringLiteral("\n") + head;
            } catch (const std::exception& e) {
                outcomeText_ = runSummary(best) + QStringLiteral("\n") + head;
                showError(tr("Find settings"), tr("The chosen settings do not load into the layer table: %1").arg(QString::fromUtf8(e.what())));
            }
        } else {
            outcomeText_ = unreachableText(o) + QStringLiteral("\n") + head;
            showError(tr("Budget not reachable"), outcomeText_);
        }
    } else if (r.status == QLatin1String("cancelled")) {
        outcomeText_ = tr("Cancelled: %n verified candidate(s) kept in the results table and in %1", "",
                          static_cast<int>(added_.size()))
                           .arg(file);
    } else {
        outcomeText_ = tr("Failed: %1").arg(r.message);
        showError(tr("Find settings failed"), r.message);
    }
    progressLabel_->clear();
    outcomeLabel_->setText(outcomeText_);
    updateControls();
    emit searchFinished(r.status, r.message);
}

void AutoDialog::updateControls() {
    const bool running = isRunning();
    startButton_->setEnabled(!running && context_.network);
    cancelButton_->setEnabled(running && !cancel_);
    for (QWidget* w : std::initializer_list<QWidget*>{maxDropCheck_, minCompressionCheck_, objective_, ec_, timeBudget_,
                                                      maxCandidates_, layersEdit_, gridEdit_, resultsEdit_})
        w->setEnabled(!running);
    maxDrop_->setEnabled(!running && maxDropCheck_->isChecked());
    minCompression_->setEnabled(!running && minCompressionCheck_->isChecked());
}

AutoDialog* openAutoDialog(MainWindow* w) {
    if (!w->network()) {
        QMessageBox::information(w, AutoDialog::tr("Find Settings"), AutoDialog::tr("Open a model first."));
        return nullptr;
    }
    AutoDialog::Context c;
    c.network = w->network();
    c.modelPath = w->modelPath();
    try {
        c.options = w->runOptions();
    } catch (const std::exception& e) {
        QMessageBox::warning(w, AutoDialog::tr("Find Settings"), QString::fromUtf8(e.what()));
        return nullptr;
    }
    c.resultsPath = defaultAutoResultsPath(w->sessionPath());
    auto* d = new AutoDialog(std::move(c), w->resultsModel(), w->layerModel(), w);
    d->setAttribute(Qt::WA_DeleteOnClose);
    // Candidates join the session as its own runs do: session file, plots, selection, actions.
    d->setRecordAdder([w](RunRecord rec) { return w->session()->addRecord(std::move(rec)); });
    d->show();
    return d;
}

}  // namespace qcnn::ui
