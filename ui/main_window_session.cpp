// MainWindow's session file, reopen offer, close prompt, time estimate and data set opening
// (issue 16 section 4, issue 18 items 3, 4, 5), kept apart from the window's layout and run path.
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QStatusBar>
#include <QTimer>
#include <exception>

#include "core/data/dataset.h"
#include "core/data/training_split.h"
#include "core/eval/run_work.h"
#include "ui/background.h"
#include "ui/format.h"
#include "ui/layer_table_model.h"
#include "ui/main_window.h"
#include "ui/plots.h"
#include "ui/results_model.h"
#include "ui/run_job.h"
#include "ui/session_file.h"

namespace qcnn::ui {

namespace {

struct DatasetOpenResult {
    DatasetSplits splits;
    int64_t size = 0;
    QString error;
};

QString rangeText(const TimeEstimate& t) {
    return QObject::tr("%1 (%2 to %3)").arg(formatDuration(t.typical), formatDuration(t.low), formatDuration(t.high));
}

}  // namespace

void MainWindow::setupSession() {
    session_ = std::make_unique<SessionFile>();
    statusEstimate_ = new QLabel;
    statusEstimate_->setObjectName(QStringLiteral("statusEstimate"));
    statusEstimate_->setToolTip(tr("Estimated time of one run of the table's settings with the EC mode of the run options: "
                                   "the cost model's work per stage (k-means, calibration, EC solve, evaluation) at the "
                                   "rates measured by this session's runs (per EC mode), or about 1 GFLOP/s before the first"));
    statusBar()->addPermanentWidget(statusEstimate_);
    connect(progressTimer_, &QTimer::timeout, this, &MainWindow::observeStages);
    connect(layerModel_, &LayerTableModel::settingsChanged, this, &MainWindow::updateEstimate);
    connect(ecCombo_, &QComboBox::currentIndexChanged, this, &MainWindow::updateEstimate);
    connect(this, &MainWindow::floatEvaluated, this, &MainWindow::updateEstimate);
    connect(this, &MainWindow::runStarted, this, [this](int runs) {
        try {
            const EcMode ec = runOptions().ec.front();
            statusBar()->showMessage(
                tr("%n run(s) started; one run: about %1", "", runs).arg(rangeText(estimateRunTime(ec))), 8000);
        } catch (const Error&) {  // the form was edited since the start: no estimate to show
            statusBar()->showMessage(tr("%n run(s) started", "", runs), 8000);
        }
    });
    updateEstimate();
    QTimer::singleShot(0, this, [this] { offerSessionReopen(); });
}

void MainWindow::setQuestionHandler(QuestionHandler handler) { questionHandler_ = std::move(handler); }
void MainWindow::setSavePathHandler(SavePathHandler handler) { savePathHandler_ = std::move(handler); }

int MainWindow::ask(const QString& title, const QString& text, const QStringList& buttons) {
    if (questionHandler_) return questionHandler_(title, text, buttons);
    QMessageBox box(QMessageBox::Question, title, text, QMessageBox::NoButton, this);
    QList<QPushButton*> pushed;
    for (const QString& b : buttons) pushed << box.addButton(b, pushed.isEmpty() ? QMessageBox::AcceptRole : QMessageBox::RejectRole);
    if (pushed.size() > 1) box.setEscapeButton(pushed[1]);  // Esc: the choice that changes nothing
    box.exec();
    return static_cast<int>(pushed.indexOf(qobject_cast<QPushButton*>(box.clickedButton())));
}

QString MainWindow::sessionPath() const { return session_ ? session_->path() : QString(); }

bool MainWindow::hasUnexportedResults() const { return results_->rowCount() > exportedRuns_; }

// ----- session file -----------------------------------------------------------------------

void MainWindow::afterRunAdded(const RunRecord& received, int run) {
    const RunRecord& r = results_->record(run);
    if (session_) {
        try {
            session_->append(r, job_ ? &job_->spec() : nullptr);
        } catch (const std::exception& e) {
            if (!sessionWarned_)  // once: the runs stay in the table and can be exported
                showError(tr("Cannot keep the run in the session file"), QString::fromStdString(e.what()));
            sessionWarned_ = true;
        }
    }
    // The time model learns this run's seconds per stage (the run's index within its job).
    const int index = static_cast<int>(received.row.run_index);
    const auto clock = stageClocks_.find(index);
    if (clock == stageClocks_.end() || !network_ || r.model != QFile::encodeName(modelPath_).toStdString()) return;
    if (index == clockedRun_) {
        clock->second.stop();
        clockedRun_ = -1;
    }
    try {
        const EcMode ec = parse_ec_mode(r.row.ec);
        // The first run of a job evaluates the float model too unless it was cached.
        timeModel_.observe(ec, runWork(r.row.settings, ec, index == 0 && !jobFloatCached_), clock->second.seconds());
    } catch (const std::exception&) {
        // Settings of another network: nothing to learn for this one.
    }
    stageClocks_.erase(clock);
    updateEstimate();
}

void MainWindow::observeStages() {
    if (!job_) return;
    if (clockedJob_ != job_.get()) {  // a new job
        clockedJob_ = job_.get();
        stageClocks_.clear();
        clockedRun_ = -1;
        jobFloatCached_ = floatEval_ && floatEvalKey_ == floatKey();
    }
    const RunJob::Snapshot s = job_->snapshot();
    if (s.run != clockedRun_) {
        if (clockedRun_ >= 0) stageClocks_[clockedRun_].stop();
        clockedRun_ = s.run;
    }
    stageClocks_[s.run].observe(s.stage.toStdString());
}

int MainWindow::offerSessionReopen() {
    if (sessionOffered_) return 0;
    sessionOffered_ = true;
    int reopened = 0;
    QStringList unclean;
    try {
        unclean = SessionFile::uncleanSessions();
    } catch (const std::exception&) {
        return 0;  // no sessions directory to read: nothing to offer
    }
    for (const QString& path : unclean) {
        std::vector<RunRecord> records;
        try {
            records = SessionFile::readSession(path);
        } catch (const std::exception& e) {
            statusBar()->showMessage(tr("Cannot read the previous session %1: %2").arg(path, QString::fromStdString(e.what())), 10000);
            continue;
        }
        const QString when = QFileInfo(path).lastModified().toString(Qt::ISODate);
        const int choice = records.empty() ? 1
                                           : ask(tr("Reopen the previous session?"),
                                                 tr("The workbench did not close cleanly (last run written %1). Its session "
                                                    "file\n%2\nholds %n finished run(s). Reopen it? Its runs come back into "
                                                    "the results table.", "", static_cast<int>(records.size()))
                                                     .arg(when, QDir::toNativeSeparators(path)),
                                                 {tr("Reopen"), tr("Do not reopen (keep the file)")});
        try {
            SessionFile::markHandled(path, choice == 0 ? "recovered" : "interrupted");
        } catch (const std::exception&) {
            // Offered again next time: harmless.
        }
        if (choice != 0) continue;
        for (RunRecord& rec : records) {
            const int run = results_->addRecord(std::move(rec));
            if (session_) {
                try {
                    session_->append(results_->record(run), nullptr);
                } catch (const std::exception&) {
                    sessionWarned_ = true;  // still in the old file, which stays on disk
                }
            }
            ++reopened;
        }
        statusBar()->showMessage(tr("Reopened %n run(s) of %1", "", static_cast<int>(records.size())).arg(path), 10000);
    }
    if (reopened > 0) {
        compressionPlot_->recordsChanged();
        speedupPlot_->recordsChanged();
        selectRun(results_->rowCount() - 1);
        updateActions();
    }
    return reopened;
}

// ----- close prompt -----------------------------------------------------------------------

bool MainWindow::confirmClose() {
    const bool running = isRunning();
    const int unexported = results_->rowCount() - exportedRuns_;
    if (!running && unexported <= 0) return true;
    QStringList lines;
    if (running) lines << tr("A run is in progress (%1).").arg(progressLabel_->text());
    if (unexported > 0) lines << tr("%n finished run(s) not exported.", "", unexported);
    if (session_ && !session_->path().isEmpty())
        lines << tr("Every finished run is kept anyway in the session file\n%1\n(HDF5, the sweeps layout).")
                     .arg(QDir::toNativeSeparators(session_->path()));
    else if (running)
        lines << tr("Every run that finishes is kept in the session file under %1.").arg(QDir::toNativeSeparators(SessionFile::sessionsDir()));
    const QStringList buttons = running ? QStringList{tr("Cancel run and quit"), tr("Keep running"), tr("Export first...")}
                                        : QStringList{tr("Quit"), tr("Keep open"), tr("Export first...")};
    const int choice = ask(tr("Close QCNN Workbench?"), lines.join(QLatin1Char('\n')), buttons);
    if (choice == 0) {
        if (job_) job_->cancel();
        return true;
    }
    if (choice != 2 || results_->rowCount() == 0) return false;
    const QString title = tr("Export Results (HDF5 or CSV)");
    const QString path = savePathHandler_ ? savePathHandler_(title, QStringLiteral("results.h5"))
                                          : QFileDialog::getSaveFileName(this, title, QStringLiteral("results.h5"),
                                                                         tr("HDF5 files (*.h5 *.hdf5);;CSV files (*.csv)"));
    if (path.isEmpty()) return false;
    const bool exported = path.endsWith(QLatin1String(".csv"), Qt::CaseInsensitive) ? exportResultsCsv(path) : exportResultsHdf5(path);
    if (exported && running) statusBar()->showMessage(tr("Exported; the run goes on (close again to quit)"), 8000);
    return exported && !running;
}

// ----- time estimate ----------------------------------------------------------------------

StageValues MainWindow::runWork(const std::string& settings, EcMode ec, bool evaluateFloat) const {
    const ResolvedSettings resolved = resolve_settings(*network_, parse_layer_settings(settings));
    std::vector<QuantSetting> perLayer;
    for (const auto& l : resolved.layers) perLayer.push_back(l.setting);
    const NetworkCost cost = network_cost(layerModel_->geometry(), perLayer);
    SweepPoint point;
    point.layers = settings;
    point.ec = ec;
    const SweepSpec spec = currentSpec();
    // Limit 0 evaluates every image: as many as the float evaluation counted (10,000 before it).
    const int64_t images = spec.base.limit > 0 ? spec.base.limit : (floatEval_ ? floatEval_->samples : 10000);
    return run_work(cost, run_work_options(run_spec(spec, point), images, evaluateFloat, spec.measure_speed));
}

TimeEstimate MainWindow::estimateRunTime(EcMode ec) const {
    if (!network_ || !layerModel_->hasCost()) return {};
    try {
        const bool floatCached = floatEval_ && floatEvalKey_ == floatKey();
        return timeModel_.estimate(ec, runWork(layerModel_->settingsText().toStdString(), ec, !floatCached));
    } catch (const std::exception&) {
        return {};  // settings the table would not run either
    }
}

QString MainWindow::estimateText() const { return statusEstimate_ ? statusEstimate_->text() : QString(); }

void MainWindow::updateEstimate() {
    if (!statusEstimate_) return;
    if (!network_) {
        statusEstimate_->clear();
        return;
    }
    EcMode ec;
    try {
        ec = runOptions().ec.front();
    } catch (const Error&) {  // a form field being edited does not hold a valid value yet
        statusEstimate_->clear();
        return;
    }
    const int seen = timeModel_.observations(ec);
    statusEstimate_->setText(tr("next run ~%1%2").arg(rangeText(estimateRunTime(ec)),
                                                     seen > 0 ? QString() : tr(", rough until an EC %1 run").arg(QString::fromStdString(to_string(ec)))));
}

// ----- data sets --------------------------------------------------------------------------

void MainWindow::openDataset(const QString& spec) {
    const quint64 generation = ++datasetGeneration_;
    statusBar()->showMessage(tr("Opening %1 ...").arg(spec));
    runInBackground(
        this,
        [s = spec.toStdString()] {
            DatasetOpenResult r;
            try {
                r.splits = dataset_splits(s);
                r.size = open_dataset(r.splits.eval)->size();
                DataOptions first;
                first.limit = 1;
                if (r.splits.calib) open_dataset(*r.splits.calib, first);  // a readable training split
            } catch (const std::bad_alloc&) {
                r.error = tr("out of memory");
            } catch (const std::exception& e) {
                r.error = QString::fromStdString(e.what());
            }
            return r;
        },
        [this, generation, spec](DatasetOpenResult r) {
            if (generation != datasetGeneration_) return;  // a newer request superseded it
            statusBar()->clearMessage();
            if (!r.error.isEmpty()) {
                showError(tr("Cannot open the data set"), r.error);
                statusBar()->showMessage(tr("%1 was not opened; Data is still %2").arg(spec, dataEdit_->text()), 10000);
                emit datasetOpened(spec, false);
                return;
            }
            dataEdit_->setText(QString::fromStdString(r.splits.eval));
            if (r.splits.calib) {
                calibDataEdit_->setText(QString::fromStdString(*r.splits.calib));
                calibDataEdit_->setPlaceholderText(tr("training split of Data"));
                statusBar()->showMessage(tr("Data: %1 (%2 images); calibration: %3")
                                             .arg(QString::fromStdString(r.splits.eval), formatThousands(r.size),
                                                  QString::fromStdString(*r.splits.calib)),
                                         10000);
            } else {
                calibDataEdit_->clear();
                calibDataEdit_->setPlaceholderText(tr("required: no training split of Data is known"));
                calibDataEdit_->setFocus();
                statusBar()->showMessage(tr("No training split is known for %1: set Calib. data to a data set of training "
                                            "images before running (or the evaluation set itself, by its spec)")
                                             .arg(QString::fromStdString(r.splits.eval)));
            }
            dataOptionsChanged();
            emit datasetOpened(spec, true);
        });
}

}  // namespace qcnn::ui
