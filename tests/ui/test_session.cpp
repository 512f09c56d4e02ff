// Issue 16 section 4 and issue 18 items 3, 4, 5: the session file keeps every finished run and
// an unclean end (simulated, and a real kill -9 of a child workbench) is offered for reopening;
// the close prompt; the time estimate learns from runs; opening a data set fills its training
// split or says what to set, and a bad file changes nothing.
#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QProcess>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>

#include "core/sweep/results_file.h"
#include "ui/layer_table_model.h"
#include "ui/results_model.h"
#include "ui/session_file.h"
#include "ui_test_util.h"

namespace qcnn::ui {
namespace {

const QString kFashion = QStringLiteral(QCNN_FASHION_MNIST_DIR);


// XDG_DATA_HOME (where the session files go) in a temporary directory for one test.
struct ScopedDataHome {
    QTemporaryDir dir;
    QByteArray old = qgetenv("XDG_DATA_HOME");
    ScopedDataHome() { qputenv("XDG_DATA_HOME", dir.path().toLocal8Bit()); }
    ~ScopedDataHome() { qputenv("XDG_DATA_HOME", old); }
    QString sessions() const { return dir.path() + QStringLiteral("/qcnn-workbench/sessions"); }
};

// What the window asked, and the answer it gets.
struct Questions {
    QStringList titles, texts;
    QList<QStringList> buttons;
    int answer = 1;
    MainWindow::QuestionHandler handler() {
        return [this](const QString& title, const QString& text, const QStringList& b) {
            titles << title;
            texts << text;
            buttons << b;
            return answer;
        };
    }
};


// Runs the table's settings once; true when the run completed.
bool runOnce(MainWindow& w) {
    QSignalSpy finished(&w, &MainWindow::runFinished);
    if (!w.run()) return false;
    if (!waitFor([&] { return !finished.isEmpty(); })) return false;
    return finished[0][0].toString() == QLatin1String("completed");
}

// A window with LeNet loaded, fast options and the given question answer.
struct Window {
    MainWindow w;
    ErrorLog errors;
    Questions questions;
    bool ok = false;
    explicit Window(int answer = 1) {
        questions.answer = answer;
        w.setErrorHandler(errors.handler());
        w.setQuestionHandler(questions.handler());
        w.setRunOptions(fastOptions());
        ok = openAndWait(w, kLenet) && waitFor([this] { return !w.isEvaluatingFloat(); });
        if (ok) w.layerModel()->setSettingsText(QStringLiteral("conv2=4/16,fc1=4/16"));
    }
};

std::string lastStatus(const QString& path) {
    const std::vector<std::string> ids = list_sweeps(path.toStdString());
    return ids.empty() ? std::string() : ResultsFile::read(path.toStdString(), ids.back()).attributes().status;
}

TEST(Session, EveryRunIsKeptAndAnUncleanEndIsOfferedAndReopened) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    ScopedDataHome home;
    QString path;
    RunRow row;
    {
        Window a;
        ASSERT_TRUE(a.ok);
        EXPECT_TRUE(a.w.sessionPath().isEmpty());  // no file before the first run
        ASSERT_TRUE(runOnce(a.w));
        path = a.w.sessionPath();
        ASSERT_FALSE(path.isEmpty());
        EXPECT_TRUE(path.startsWith(home.sessions() + "/")) << path.toStdString();
        EXPECT_TRUE(QFile::exists(path + ".lock"));
        // Flushed already: a second reader sees the row while the session goes on.
        const std::vector<RunRecord> kept = SessionFile::readSession(path);
        ASSERT_EQ(kept.size(), 1u);
        row = a.w.resultsModel()->record(0).row;
        EXPECT_EQ(kept[0].row.settings, row.settings);
        EXPECT_EQ(kept[0].row.top1, row.top1);
        EXPECT_EQ(kept[0].layers.size(), a.w.resultsModel()->record(0).layers.size());
        EXPECT_EQ(kept[0].model, kLenet.toStdString());
        const SweepAttributes attrs = ResultsFile::read(path.toStdString(), list_sweeps(path.toStdString()).back()).attributes();
        EXPECT_EQ(attrs.status, "running");
        EXPECT_FALSE(attrs.model_sha256.empty());
        EXPECT_NE(attrs.spec_json.find("conv2=4/16"), std::string::npos) << attrs.spec_json;
        // A live session is nobody's to reopen.
        EXPECT_TRUE(SessionFile::uncleanSessions(home.sessions()).isEmpty());
        EXPECT_TRUE(a.errors.messages.isEmpty()) << a.errors.messages.join("; ").toStdString();
    }
    // The window's end is a clean end: marked, lock removed, nothing to offer.
    EXPECT_EQ(lastStatus(path), "completed");
    EXPECT_FALSE(QFile::exists(path + ".lock"));
    EXPECT_TRUE(SessionFile::uncleanSessions(home.sessions()).isEmpty());
    {
        MainWindow b;
        Questions q;
        b.setQuestionHandler(q.handler());
        EXPECT_EQ(b.offerSessionReopen(), 0);
        EXPECT_TRUE(q.titles.isEmpty());
    }

    // An unclean end: the clean-close marker missing (the last group still "running").
    SessionFile::markHandled(path, "running");
    ASSERT_EQ(SessionFile::uncleanSessions(home.sessions()), QStringList{path});
    {
        MainWindow declined;
        Questions q;
        q.answer = 1;  // do not reopen
        declined.setQuestionHandler(q.handler());
        EXPECT_EQ(declined.offerSessionReopen(), 0);
        ASSERT_EQ(q.titles.size(), 1);
        EXPECT_EQ(declined.resultsModel()->rowCount(), 0);
        EXPECT_EQ(lastStatus(path), "interrupted");
        EXPECT_TRUE(SessionFile::uncleanSessions(home.sessions()).isEmpty());
    }
    SessionFile::markHandled(path, "running");
    MainWindow c;
    ErrorLog errors;
    Questions q;
    q.answer = 0;  // reopen
    c.setErrorHandler(errors.handler());
    c.setQuestionHandler(q.handler());
    EXPECT_EQ(c.offerSessionReopen(), 1);
    ASSERT_EQ(q.texts.size(), 1);
    EXPECT_TRUE(q.texts[0].contains(QDir::toNativeSeparators(path))) << q.texts[0].toStdString();
    EXPECT_TRUE(q.texts[0].contains("1 finished run")) << q.texts[0].toStdString();
    EXPECT_EQ(q.buttons[0].first(), "Reopen");
    ASSERT_EQ(c.resultsModel()->rowCount(), 1);
    EXPECT_EQ(c.resultsModel()->record(0).row.settings, row.settings);
    EXPECT_EQ(c.resultsModel()->record(0).row.top1, row.top1);
    EXPECT_EQ(lastStatus(path), "recovered");
    // The reopened run is kept in the new session too, and offered only once.
    ASSERT_FALSE(c.sessionPath().isEmpty());
    EXPECT_NE(c.sessionPath(), path);
    EXPECT_EQ(SessionFile::readSession(c.sessionPath()).size(), 1u);
    EXPECT_EQ(c.offerSessionReopen(), 0);
    EXPECT_TRUE(errors.messages.isEmpty()) << errors.messages.join("; ").toStdString();
}

// The child half of KillNineLosesNoFinishedRun: runs once, says where its session is, waits to
// be killed. Skipped unless the parent started it.
TEST(SessionChild, RunsOnceAndWaitsToBeKilled) {
    const QByteArray ready = qgetenv("QCNN_SESSION_CHILD_READY");
    if (ready.isEmpty()) GTEST_SKIP() << "started by Session.KillNineLosesNoFinishedRun only";
    qputenv("XDG_DATA_HOME", qgetenv("QCNN_SESSION_CHILD_DATA"));
    Window a;
    ASSERT_TRUE(a.ok);
    ASSERT_TRUE(runOnce(a.w));
    QFile f(QString::fromLocal8Bit(ready));
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write(a.w.sessionPath().toUtf8());
    f.close();
    QTest::qWait(120000);  // killed long before
}

TEST(Session, KillNineLosesNoFinishedRun) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    ScopedDataHome home;
    const QString ready = home.dir.filePath(QStringLiteral("ready"));
    QProcess child;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QCNN_SESSION_CHILD_READY"), ready);
    env.insert(QStringLiteral("QCNN_SESSION_CHILD_DATA"), home.dir.path());
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    child.setProcessEnvironment(env);
    child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    child.start(QCoreApplication::applicationFilePath(), {QStringLiteral("--gtest_filter=SessionChild.*")});
    ASSERT_TRUE(child.waitForStarted());
    ASSERT_TRUE(waitFor([&] { return QFile::exists(ready) || child.state() == QProcess::NotRunning; }, 3 * kTimeoutMs));
    QTest::qWait(100);  // the child wrote the path and closed the file
    ASSERT_EQ(child.state(), QProcess::Running) << "the child ended before it was killed";
    QFile f(ready);
    ASSERT_TRUE(f.open(QIODevice::ReadOnly));
    const QString path = QString::fromUtf8(f.readAll());
    child.kill();  // SIGKILL: no destructor, no clean-close marker
    ASSERT_TRUE(child.waitForFinished());
    EXPECT_EQ(child.exitStatus(), QProcess::CrashExit);
    EXPECT_TRUE(QFile::exists(path + ".lock"));  // the dead owner's lock is left behind
    ASSERT_EQ(SessionFile::uncleanSessions(home.sessions()), QStringList{path});
    MainWindow w;
    Questions q;
    q.answer = 0;
    w.setQuestionHandler(q.handler());
    EXPECT_EQ(w.offerSessionReopen(), 1);
    ASSERT_EQ(w.resultsModel()->rowCount(), 1);
    EXPECT_EQ(w.resultsModel()->record(0).row.settings, "conv2=4/16,fc1=4/16");
    EXPECT_GT(w.resultsModel()->record(0).row.top1, 0.0);
    EXPECT_EQ(lastStatus(path), "recovered");
}

// ----- close prompt -----------------------------------------------------------------------

TEST(ClosePrompt, NothingToLoseClosesWithoutAsking) {
    ScopedDataHome home;
    MainWindow w;
    Questions q;
    w.setQuestionHandler(q.handler());
    w.show();
    EXPECT_TRUE(w.close());
    EXPECT_TRUE(q.titles.isEmpty());
}

TEST(ClosePrompt, UnexportedResultsAskAndExportFirstExportsThenCloses) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    ScopedDataHome home;
    Window a(1);  // "Keep open"
    ASSERT_TRUE(a.ok);
    a.w.show();
    ASSERT_TRUE(runOnce(a.w));
    EXPECT_TRUE(a.w.hasUnexportedResults());
    EXPECT_FALSE(a.w.close());
    ASSERT_EQ(a.questions.titles.size(), 1);
    EXPECT_EQ(a.questions.buttons[0], (QStringList{"Quit", "Keep open", "Export first..."}));
    EXPECT_TRUE(a.questions.texts[0].contains("1 finished run(s) not exported")) << a.questions.texts[0].toStdString();
    // The session file keeps them anyway, and the dialog says where.
    EXPECT_TRUE(a.questions.texts[0].contains(QDir::toNativeSeparators(a.w.sessionPath()))) << a.questions.texts[0].toStdString();
    EXPECT_TRUE(a.w.isVisible());

    // Export first, but no file given: stays open.
    a.questions.answer = 2;
    a.w.setSavePathHandler([](const QString&, const QString&) { return QString(); });
    EXPECT_FALSE(a.w.close());
    EXPECT_TRUE(a.w.isVisible());
    // Export first to a file: exported, then closed.
    QTemporaryDir out;
    const QString file = out.filePath(QStringLiteral("results.h5"));
    a.w.setSavePathHandler([&](const QString&, const QString&) { return file; });
    EXPECT_TRUE(a.w.close());
    EXPECT_FALSE(a.w.isVisible());
    EXPECT_FALSE(a.w.hasUnexportedResults());
    ASSERT_EQ(list_sweeps(file.toStdString()).size(), 1u);
    EXPECT_EQ(ResultsFile::read(file.toStdString(), list_sweeps(file.toStdString())[0]).runs().size(), 1u);
    EXPECT_EQ(lastStatus(a.w.sessionPath()), "completed");  // a clean close
    // Exported: the next close does not ask.
    a.w.show();
    const int asked = static_cast<int>(a.questions.titles.size());
    EXPECT_TRUE(a.w.close());
    EXPECT_EQ(a.questions.titles.size(), asked);
    EXPECT_TRUE(a.errors.messages.isEmpty()) << a.errors.messages.join("; ").toStdString();
}

TEST(ClosePrompt, ARunInProgressAsksKeepRunningOrCancelAndQuit) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    ScopedDataHome home;
    Window a(1);  // "Keep running"
    ASSERT_TRUE(a.ok);
    a.w.show();
    SweepSpec o = fastOptions();
    o.ec = {EcMode::Network};  // lasts seconds: network EC on 2,000 calibration images
    o.base.calib_images = 2000;
    a.w.setRunOptions(o);
    QSignalSpy finished(&a.w, &MainWindow::runFinished);
    ASSERT_TRUE(a.w.run());
    ASSERT_TRUE(waitFor([&] { return !a.w.progressText().isEmpty() || !a.w.isRunning(); }));
    ASSERT_TRUE(a.w.isRunning()) << "the run ended before the window could be closed";
    EXPECT_FALSE(a.w.close());
    ASSERT_EQ(a.questions.titles.size(), 1);
    EXPECT_EQ(a.questions.buttons[0], (QStringList{"Cancel run and quit", "Keep running", "Export first..."}));
    EXPECT_TRUE(a.questions.texts[0].contains("A run is in progress")) << a.questions.texts[0].toStdString();
    EXPECT_TRUE(a.questions.texts[0].contains("session file")) << a.questions.texts[0].toStdString();
    EXPECT_TRUE(a.w.isRunning());
    EXPECT_TRUE(a.w.isVisible());
    a.questions.answer = 0;
    EXPECT_TRUE(a.w.close());
    ASSERT_TRUE(waitFor([&] { return !finished.isEmpty(); }));
    EXPECT_EQ(finished[0][0].toString(), "cancelled");
}

// ----- time estimate ----------------------------------------------------------------------

TEST(Estimate, LearnsFromRunsPerEcModeAndShowsARange) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    ScopedDataHome home;
    Window a;
    ASSERT_TRUE(a.ok);
    const TimeEstimate before = a.w.estimateRunTime(EcMode::None);
    EXPECT_LT(before.low, before.typical);
    EXPECT_GT(before.high, before.typical);
    EXPECT_TRUE(a.w.estimateText().contains("rough")) << a.w.estimateText().toStdString();
    EXPECT_EQ(a.w.timeModel().observations(), 0);
    ASSERT_TRUE(runOnce(a.w));
    EXPECT_EQ(a.w.timeModel().observations(EcMode::None), 1);
    EXPECT_EQ(a.w.timeModel().observations(EcMode::Layer), 0);
    const TimeEstimate after = a.w.estimateRunTime(EcMode::None);
    EXPECT_LE(after.low, after.typical);
    EXPECT_GE(after.high, after.typical);
    EXPECT_NE(after.typical, before.typical);
    EXPECT_FALSE(a.w.estimateText().contains("rough")) << a.w.estimateText().toStdString();
    // Same settings again: the measured time is within the estimate's 2x.
    QElapsedTimer t;
    t.start();
    ASSERT_TRUE(runOnce(a.w));
    const double measured = t.elapsed() / 1000.0;
    EXPECT_LT(after.typical, 2 * measured + 0.2) << "measured " << measured;
    EXPECT_GT(after.typical, measured / 2 - 0.2) << "measured " << measured;
    EXPECT_EQ(a.w.timeModel().observations(EcMode::None), 2);
}

// ----- data sets --------------------------------------------------------------------------

bool openDatasetAndWait(MainWindow& w, const QString& spec) {
    QSignalSpy opened(&w, &MainWindow::datasetOpened);
    w.openDataset(spec);
    if (!waitFor([&] { return !opened.isEmpty(); })) return false;
    return opened[0][1].toBool();
}

TEST(DatasetOpen, AnIdxPairFillsItsTrainingSplitAndRuns) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    ScopedDataHome home;
    Window a;
    ASSERT_TRUE(a.ok);
    // What File > Open Dataset File... does with the picked file.
    const QString spec = MainWindow::datasetSpecForPath(kFashion + "/t10k-images-idx3-ubyte.gz");
    ASSERT_TRUE(openDatasetAndWait(a.w, spec));
    EXPECT_EQ(QString::fromStdString(a.w.runOptions().base.data), spec);
    EXPECT_EQ(QString::fromStdString(a.w.runOptions().base.calib_data),
              "idx:" + kFashion + "/train-images-idx3-ubyte.gz," + kFashion + "/train-labels-idx1-ubyte.gz");
    EXPECT_TRUE(a.w.statusText().contains(spec)) << a.w.statusText().toStdString();
    ASSERT_TRUE(runOnce(a.w));
    EXPECT_EQ(a.w.resultsModel()->record(0).data, spec.toStdString());
    EXPECT_TRUE(a.errors.messages.isEmpty()) << a.errors.messages.join("; ").toStdString();
}

TEST(DatasetOpen, NoKnownTrainingSplitSaysAtOnceWhatToSet) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    ScopedDataHome home;
    Window a;
    ASSERT_TRUE(a.ok);
    QTemporaryDir dir;
    const QString images = dir.filePath(QStringLiteral("shoes-images-idx3-ubyte.gz"));
    ASSERT_TRUE(QFile::copy(kFashion + "/t10k-images-idx3-ubyte.gz", images));
    ASSERT_TRUE(openDatasetAndWait(a.w, "idx:" + images));
    EXPECT_EQ(QString::fromStdString(a.w.runOptions().base.data), "idx:" + images);
    EXPECT_TRUE(a.w.runOptions().base.calib_data.empty());
    EXPECT_TRUE(a.w.statusBar()->currentMessage().contains("set Calib. data")) << a.w.statusBar()->currentMessage().toStdString();
    auto* calib = a.w.findChild<QLineEdit*>(QStringLiteral("calibDataEdit"));
    ASSERT_NE(calib, nullptr);
    EXPECT_TRUE(calib->placeholderText().contains("required")) << calib->placeholderText().toStdString();
}

TEST(DatasetOpen, ABadIdxFileLeavesTheDataAndTheStatusBarAsTheyWere) {
    if (!exists(kLenet) || !exists(kFashion)) GTEST_SKIP() << "needs lenet5.onnx and Fashion-MNIST";
    ScopedDataHome home;
    Window a;
    ASSERT_TRUE(a.ok);
    QTemporaryDir dir;
    const QString bad = dir.filePath(QStringLiteral("t10k-images-idx3-ubyte"));
    QFile f(bad);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("this is not an IDX file at all");
    f.close();
    const SweepSpec before = a.w.runOptions();
    const QString status = a.w.statusText();
    EXPECT_FALSE(openDatasetAndWait(a.w, MainWindow::datasetSpecForPath(bad)));
    ASSERT_EQ(a.errors.messages.size(), 1);
    EXPECT_TRUE(a.errors.messages[0].contains(bad)) << a.errors.messages[0].toStdString();
    EXPECT_TRUE(a.w.runOptions() == before);
    EXPECT_EQ(a.w.statusText(), status);
    EXPECT_TRUE(a.w.statusBar()->currentMessage().contains("was not opened")) << a.w.statusBar()->currentMessage().toStdString();
    // And the previous data still runs.
    ASSERT_TRUE(runOnce(a.w));
}

}  // namespace
}  // namespace qcnn::ui
