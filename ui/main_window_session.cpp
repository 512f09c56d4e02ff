// MainWindow's reopen offer, close prompt, time estimate label and data set opening (issue 16
// section 4, issue 18 items 3, 4, 5): the dialogs and labels over WorkbenchSession's session
// file and time model, kept apart from the window's layout and run path.
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
#include "ui/results_model.h"
#include "ui/run_job.h"
#include "ui/session_file.h"
#include "ui/workbench_session.h"

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
    statusEstimate_ = new QLabel;
    statusEstimate_->setObjectName(QStringLiteral("statusEstimate"));
    statusEstimate_->setToolTip(tr("Estimated time of one run of the table's settings with the EC mode of the run options: "
                                   "the cost model's work per stage (k-means, calibration, EC solve, evaluation) at the "
                                   "rates measured by this session's runs (per EC mode), or about 1 GFLOP/s before the first"));
    statusBar()->addPermanentWidget(statusEstimate_);
    connect(workbench_, &WorkbenchSession::estimateChanged, this, &MainWindow::updateEstimate);
    connect(ecCombo_, &QComboBox::currentIndexChanged, this, &MainWindow::updateEstimate);
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

// ----- session file -----------------------------------------------------------------------

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
        const int n = static_cast<int>(records.size());
        reopened += n;
        workbench_->restoreRecords(std::move(records));
        statusBar()->showMessage(tr("Reopened %n run(s) of %1", "", n).arg(path), 10000);
    }
    if (reopened > 0) {
        selectRun(results_->rowCount() - 1);
        updateActions();
    }
    return reopened;
}

// ----- close prompt -----------------------------------------------------------------------

bool MainWindow::confirmClose() {
    const bool running = isRunning();
    const int unexported = workbench_->unexportedRuns();
    if (!running && unexported <= 0) return true;
    QStringList lines;
    if (running) lines << tr("A run is in progress (%1).").arg(progressLabel_->text());
    if (unexported > 0) lines << tr("%n finished run(s) not exported.", "", unexported);
    if (!workbench_->sessionPath().isEmpty())
        lines << tr("Every finished run is kept anyway in the session file\n%1\n(HDF5, the sweeps layout).")
                     .arg(QDir::toNativeSeparators(workbench_->sessionPath()));
    else if (running)
        lines << tr("Every run that finishes is kept in the session file under %1.").arg(QDir::toNativeSeparators(SessionFile::sessionsDir()));
    const QStringList buttons = running ? QStringList{tr("Cancel run and quit"), tr("Keep running"), tr("Export first...")}
                                        : QStringList{tr("Quit"), tr("Keep open"), tr("Export first...")};
    const int choice = ask(tr("Close QCNN Workbench?"), lines.join(QLatin1Char('\n')), buttons);
    if (choice == 0) {
        workbench_->cancelRun();
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

QString MainWindow::estimateText() const { return statusEstimate_ ? statusEstimate_->text() : QString(); }

void MainWindow::updateEstimate() {
    if (!statusEstimate_) return;
    if (!network()) {
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
    const int seen = timeModel().observations(ec);
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
