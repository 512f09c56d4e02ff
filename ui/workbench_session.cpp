#include "ui/workbench_session.h"

#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QSettings>
#include <QTimer>
#include <algorithm>
#include <exception>
#include <limits>

#include "core/data/dataset.h"
#include "core/eval/evaluate.h"
#include "core/eval/run_work.h"
#include "core/sweep/results_file.h"
#include "core/sweep/run_options.h"
#include "ui/background.h"
#include "ui/format.h"
#include "ui/layer_table_model.h"
#include "ui/results_model.h"
#include "ui/run_job.h"
#include "ui/session_file.h"
#include "ui/shard_watcher.h"

namespace qcnn::ui {

namespace {

constexpr int kMaxRecentFiles = 8;
constexpr int kProgressPollMs = 50;

QSettings appSettings() { return QSettings(QStringLiteral("qcnn"), QStringLiteral("workbench")); }

// The workbench's start values: the run options' defaults, except 1,000 evaluation images and
// measured speed (quick interactive runs that show the measured speed-up series).
SweepSpec workbenchStartSpec() {
    SweepSpec s;
    s.base.data = "fashion-mnist:test";
    s.base.limit = 1000;
    s.measure_speed = true;
    return s;
}

struct FloatEvalResult {
    std::optional<EvalResult> eval;
    QString error;
};

}  // namespace

// What the worker thread hands back: a model, its summary and geometry, or the error text.
struct WorkbenchSession::LoadResult {
    std::shared_ptr<const Network> network;
    ModelSummary summary;
    NetworkGeometry geometry;
    QString error;
};

WorkbenchSession::LoadResult WorkbenchSession::loadJob(const QString& path) {
    LoadResult r;
    try {
        r.network = load_model(QFile::encodeName(path).toStdString());
        r.summary = summarize(*r.network);
        r.geometry = network_geometry(*r.network, r.network->sample_shape());
    } catch (const std::bad_alloc&) {
        r.network.reset();
        r.error = tr("out of memory");
    } catch (const std::exception& e) {
        r.network.reset();
        r.error = QString::fromStdString(e.what());
    }
    return r;
}

WorkbenchSession::WorkbenchSession(QObject* parent)
    : QObject(parent),
      layerModel_(new LayerTableModel(this)),
      results_(new ResultsModel(this)),
      progressTimer_(new QTimer(this)),
      options_(workbenchStartSpec()),
      lastGoodOptions_(options_),
      spec_(options_),
      session_(std::make_unique<SessionFile>()) {
    progressTimer_->setInterval(kProgressPollMs);
    connect(progressTimer_, &QTimer::timeout, this, &WorkbenchSession::pollProgress);
    connect(layerModel_, &LayerTableModel::settingsChanged, this, &WorkbenchSession::estimateChanged);
    results_->setCurrent({}, options_.base.data);
}

WorkbenchSession::~WorkbenchSession() { shutdown(); }

void WorkbenchSession::shutdown() {
    if (floatCancel_) *floatCancel_ = true;
    if (job_) {
        job_->disconnect(this);
        job_.reset();  // cancels and waits
    }
    clusterWatcher_.reset();
    if (floatCall_) floatCall_->waitForFinished();
}

// ----- model ------------------------------------------------------------------------------

std::string WorkbenchSession::modelFile() const { return QFile::encodeName(modelPath_).toStdString(); }

void WorkbenchSession::openModel(const QString& path) {
    const quint64 generation = ++loadGeneration_;
    ++pending_;
    emit loadStarted(path);
    runInBackground(
        this, [path] { return loadJob(path); },
        [this, generation, path](LoadResult r) {
            --pending_;
            if (generation != loadGeneration_) return;  // superseded by a newer request
            finishLoad(path, r);
        });
}

void WorkbenchSession::finishLoad(const QString& path, const LoadResult& r) {
    if (!r.error.isEmpty()) {
        pendingSpec_.reset();
        emit loadFailed(path, r.error);
        error(tr("Cannot open model"), r.error);
        return;
    }
    network_ = r.network;
    summary_ = r.summary;
    modelPath_ = path;
    layerModel_->setNetwork(r.network, r.summary, r.geometry);
    floatEval_.reset();
    floatEvalKey_.clear();
    addRecentFile(path);
    if (pendingSpec_) {
        const SweepSpec spec = *pendingSpec_;
        pendingSpec_.reset();
        applySpec(spec);
    }
    results_->setCurrent(modelFile(), lenientOptions().base.data);
    evaluateFloat();
    emit modelLoaded(path);
    emit estimateChanged();
}

// ----- run options ------------------------------------------------------------------------

void WorkbenchSession::setOptionsSource(OptionsSource source) { source_ = std::move(source); }

void WorkbenchSession::applyOptions(SweepSpec& s) const {
    if (source_) {
        source_(s);
        return;
    }
    // What the form would write: every on-form key of the run-option table, from the stored options.
    for (const RunOption& opt : run_options())
        if (opt.on_form()) opt.set(s, opt.get(options_));
}

SweepSpec WorkbenchSession::runOptions() const {
    SweepSpec o;
    applyOptions(o);
    lastGoodOptions_ = o;
    return o;
}

SweepSpec WorkbenchSession::lenientOptions() const {
    try {
        return runOptions();
    } catch (const Error&) {
        return lastGoodOptions_;
    }
}

void WorkbenchSession::setRunOptions(const SweepSpec& options) {
    if (!source_) options_ = options;
    dataOptionsChanged();
}

QString WorkbenchSession::floatKey() const {
    const SweepSpec o = lenientOptions();
    return QStringLiteral("%1|%2|%3").arg(modelPath_, QString::fromStdString(o.base.data)).arg(o.base.limit);
}

void WorkbenchSession::dataOptionsChanged() {
    results_->setCurrent(network_ ? modelFile() : std::string(), lenientOptions().base.data);
    bool valid = true;
    try {
        runOptions();
    } catch (const Error&) {
        valid = false;  // evaluated once the field holds a valid value
    }
    if (network_ && valid && floatEvalKey_ != floatKey()) evaluateFloat();
    emit estimateChanged();
}

SweepSpec WorkbenchSession::currentSpec(const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec,
                                        const std::vector<uint64_t>& seeds) const {
    SweepSpec s = spec_;  // every key of the loaded spec; the options set the run options
    applyOptions(s);
    s.base.model = modelFile();
    QStringList covered;
    for (const SweepGroup& g : grid)
        for (int l : layerModel_->layersOfGroup(QString::fromStdString(g.layers)))
            covered << QString::fromStdString(layerModel_->geometry().layers[l].alias);
    s.base.layers = layerModel_->settingsText(covered).toStdString();
    s.grid = grid;
    s.ec = ec.empty() ? std::vector<EcMode>{s.ec.front()} : ec;
    s.seeds = seeds.empty() ? std::vector<uint64_t>{s.seeds.front()} : seeds;
    return s;
}

// ----- float baseline ---------------------------------------------------------------------

double WorkbenchSession::floatTop1() const {
    return floatEval_ && floatEvalKey_ == floatKey() ? floatEval_->top1 : std::numeric_limits<double>::quiet_NaN();
}

void WorkbenchSession::evaluateFloat() {
    if (!network_) return;
    if (floatCancel_) *floatCancel_ = true;
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    floatCancel_ = cancel;
    const quint64 generation = ++floatGeneration_;
    ++floatPending_;
    const QString key = floatKey();
    const SweepSpec o = lenientOptions();
    const std::string data = o.base.data;
    EvalOptions eopt;
    eopt.limit = std::max<int64_t>(o.base.limit, 0);
    eopt.threads = static_cast<int>(o.base.threads);
    emit floatEvaluationStarted();
    const auto net = network_;
    floatCall_ = runInBackground(
        this,
        [net, data, eopt, cancel] {
            FloatEvalResult r;
            try {
                DataOptions dopt;
                dopt.limit = eopt.limit;
                const auto ds = open_dataset(data, dopt);
                r.eval = evaluate(net, *ds, data, eopt, [cancel](const Progress&) { return !cancel->load(); });
            } catch (const Cancelled&) {
                r.error = QStringLiteral("cancelled");
            } catch (const std::exception& e) {
                r.error = QString::fromStdString(e.what());
            }
            return r;
        },
        [this, generation, key](FloatEvalResult r) {
            --floatPending_;
            if (generation != floatGeneration_) return;
            if (!r.error.isEmpty()) {
                emit floatEvaluationFailed();
                if (r.error != QLatin1String("cancelled")) error(tr("Cannot evaluate the float model"), r.error);
                return;
            }
            floatEval_ = r.eval;
            floatEvalKey_ = key;
            emit floatEvaluated(r.eval->top1);
            emit estimateChanged();
        });
}

// ----- runs -------------------------------------------------------------------------------

bool WorkbenchSession::isRunning() const { return job_ && job_->isRunning(); }

bool WorkbenchSession::run() {
    if (!network_) return false;
    try {
        return startJob(currentSpec());
    } catch (const std::exception& e) {
        error(tr("Cannot start the run"), QString::fromStdString(e.what()));
        return false;
    }
}

bool WorkbenchSession::runSweep(const std::vector<SweepGroup>& grid, const std::vector<EcMode>& ec,
                                const std::vector<uint64_t>& seeds) {
    if (!network_) return false;
    SweepSpec spec;
    try {
        spec = currentSpec(grid, ec, seeds);
    } catch (const std::exception& e) {
        error(tr("Cannot start the sweep"), QString::fromStdString(e.what()));
        return false;
    }
    spec_.grid = grid;
    spec_.ec = spec.ec;
    spec_.seeds = spec.seeds;
    return startJob(spec);
}

bool WorkbenchSession::startJob(const SweepSpec& spec) {
    if (isRunning()) return false;
    RunJobOptions opts;
    if (floatEval_ && floatEvalKey_ == floatKey()) opts.floatEval = floatEval_;
    std::unique_ptr<RunJob> job;
    try {
        job = std::make_unique<RunJob>(spec, opts);
    } catch (const std::exception& e) {
        error(tr("Cannot start the run"), QString::fromStdString(e.what()));
        return false;
    }
    const QString key = floatKey();
    connect(job.get(), &RunJob::runFinished, this, &WorkbenchSession::onRunFinished);
    connect(job.get(), &RunJob::floatEvaluated, this, [this, key](const EvalResult& e) {
        if (key != floatKey()) return;
        floatEval_ = e;
        floatEvalKey_ = key;
        emit floatEvaluated(e.top1);
    });
    connect(job.get(), &RunJob::finished, this, &WorkbenchSession::onJobFinished);
    job_ = std::move(job);
    jobRunsDone_ = 0;
    job_->start();
    progressTimer_->start();
    emit runStarted(static_cast<int>(job_->points().size()));
    return true;
}

void WorkbenchSession::cancelRun() {
    if (isRunning()) job_->cancel();
}

void WorkbenchSession::pollProgress() {
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
    emit progressChanged();
}

std::pair<int, double> WorkbenchSession::runPosition(const RunStages& stages, const std::string& name, qint64 done, qint64 total) {
    int current = -1;
    RunStage st;
    const bool known = name != "evaluate float" && run_stage_of(name, &st);
    for (size_t i = 0; i < stages.size() && current < 0; ++i)
        if (stages[i].first == name || (known && stages[i].first == to_string(st))) current = static_cast<int>(i);
    if (current < 0) return {0, 0.0};
    double sum = 0, before = 0;
    for (size_t i = 0; i < stages.size(); ++i) {
        sum += stages[i].second;
        if (static_cast<int>(i) < current) before += stages[i].second;
    }
    const double part = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 0.0;
    return {current + 1, sum > 0 ? (before + stages[current].second * part) / sum : 0.0};
}

WorkbenchSession::JobProgress WorkbenchSession::jobProgress() const {
    JobProgress p;
    if (!job_) return p;
    const RunJob::Snapshot s = job_->snapshot();
    p.run = s.run;
    p.runs = s.runs;
    p.stageName = s.stage;
    p.layer = s.layer;
    p.done = s.done;
    p.total = s.total;
    double within = 0;  // of this run
    try {
        const SweepPoint& point = job_->points().at(static_cast<size_t>(s.run));
        const StageValues work = runWork(point.layers, point.ec, false);
        // The run's stages in the order it goes through them, with their estimated seconds.
        RunStages stages;
        if (s.run == 0 && !jobFloatCached_) {
            const double floatWork = runWork(point.layers, point.ec, true)[static_cast<int>(RunStage::Evaluation)] -
                                     work[static_cast<int>(RunStage::Evaluation)];
            stages.emplace_back("evaluate float", timeModel_.estimate_stage(point.ec, RunStage::Evaluation, floatWork).typical);
        }
        for (RunStage st : {RunStage::KMeans, RunStage::Calibration, RunStage::EcSolve, RunStage::Evaluation, RunStage::Speed})
            if (work[static_cast<int>(st)] > 0)
                stages.emplace_back(to_string(st), timeModel_.estimate_stage(point.ec, st, work[static_cast<int>(st)]).typical);
        const auto [stage, fraction] = runPosition(stages, s.stage.toStdString(), s.done, s.total);
        within = fraction;
        p.stage = stage;
        p.stages = static_cast<int>(stages.size());
    } catch (const std::exception&) {
        // Settings the estimate cannot price (the form edited meanwhile): runs done only.
    }
    p.fraction = p.runs > 0 ? std::clamp((p.run + within) / p.runs, 0.0, 1.0) : 0.0;
    return p;
}

void WorkbenchSession::onRunFinished(const RunRecord& received) {
    RunRecord record = received;
    if (!record.spec && clusterSpec_) {  // a cluster sweep's run
        record.spec = clusterSpec_;
        record.modelSha256 = clusterSha256_;
    }
    const int run = keep(std::move(record));
    learnTime(received, run);
    ++jobRunsDone_;
    emit runAdded(run);
}

int WorkbenchSession::keep(RunRecord record) {
    const int run = results_->addRecord(std::move(record));
    appendToSessionFile(results_->record(run));
    return run;
}

int WorkbenchSession::addRecord(RunRecord record) {
    if (record.modelSha256.empty() && !record.model.empty())
        record.modelSha256 = file_sha256_or_empty(record.model);
    const int run = keep(std::move(record));
    emit runAdded(run);
    return run;
}

void WorkbenchSession::onJobFinished(const QString& status, const QString& message) {
    progressTimer_->stop();
    const int total = job_ ? static_cast<int>(job_->points().size()) : 0;
    job_.reset();
    if (status == QLatin1String("failed")) error(tr("Run failed"), message);
    else emit statusMessage(jobEndText(status, jobRunsDone_, total), 10000);
    emit runFinished(status, jobRunsDone_, total);
}

QString WorkbenchSession::jobEndText(const QString& status, int runsDone, int runs) const {
    if (status == QLatin1String("cancelled"))
        return runs == 1 ? tr("Cancelled after %1 of 1 run").arg(runsDone) : tr("Cancelled after %1 of %2 runs").arg(runsDone).arg(runs);
    if (runsDone == 0 || results_->rowCount() == 0) return tr("%n run(s) finished", "", runsDone);
    const int last = results_->rowCount() - 1;
    const RunRow& r = results_->record(last).row;
    const QString what = tr("top-1 %1, compression %2, speed-up %3")
                             .arg(formatPercent(r.top1), formatRatio(r.compression), formatRatio(r.theoretical_speedup));
    if (runsDone == 1) return tr("Run %1 finished: %2").arg(fileRunIndex(last)).arg(what);
    return tr("Sweep finished: runs %1 to %2 (%3 runs); the last: %4")
        .arg(fileRunIndex(last - runsDone + 1))
        .arg(fileRunIndex(last))
        .arg(runsDone)
        .arg(what);
}

void WorkbenchSession::watchCluster(const ClusterSweep& sweep, const SweepSpec& spec) {
    clusterSpec_ = std::make_shared<const SweepSpec>(spec);
    clusterSha256_ = file_sha256_or_empty(spec.base.model);  // once per sweep, not per run
    clusterWatcher_ = std::make_unique<ShardWatcher>(sweep, spec.base.model, spec.base.data);
    connect(clusterWatcher_.get(), &ShardWatcher::runFinished, this, &WorkbenchSession::onRunFinished);
    clusterWatcher_->start();
}

// ----- results and the session file -------------------------------------------------------

QString WorkbenchSession::sessionPath() const { return session_ ? session_->path() : QString(); }

int WorkbenchSession::unexportedRuns() const { return results_->rowCount() - exportedRuns_; }

void WorkbenchSession::closeSessionFile() {
    if (session_) session_->close();
}

void WorkbenchSession::appendToSessionFile(const RunRecord& record) {
    if (!session_) return;
    try {
        session_->append(record);
    } catch (const std::exception& e) {
        if (!sessionWarned_)  // once: the runs stay in the table and can be exported
            error(tr("Cannot keep the run in the session file"), QString::fromStdString(e.what()));
        sessionWarned_ = true;
    }
}

void WorkbenchSession::restoreRecords(std::vector<RunRecord> records) {
    for (RunRecord& rec : records) {
        const int run = results_->addRecord(std::move(rec));
        appendToSessionFile(results_->record(run));
    }
}

// ----- files ------------------------------------------------------------------------------

bool WorkbenchSession::saveSettings(const QString& path) {
    if (!network_) return false;
    try {
        // The loaded spec's lists (ec, seeds: the options set their first value) and grid, kept.
        SweepSpec out = currentSpec(spec_.grid, {}, {});
        SweepSpec lists = spec_;
        applyOptions(lists);
        out.ec = lists.ec;
        out.seeds = lists.seeds;
        save_sweep_spec(QFile::encodeName(path).toStdString(), out);
    } catch (const std::exception& e) {
        error(tr("Cannot save the settings"), QString::fromStdString(e.what()));
        return false;
    }
    addRecentFile(path);
    emit statusMessage(tr("Saved %1").arg(path), 5000);
    return true;
}

bool WorkbenchSession::loadSettings(const QString& path) {
    SweepSpec spec;
    try {
        spec = load_sweep_spec(QFile::encodeName(path).toStdString());
    } catch (const std::exception& e) {
        error(tr("Cannot load the settings"), QString::fromStdString(e.what()));
        return false;
    }
    addRecentFile(path);
    const QString model = QFile::decodeName(spec.base.model.c_str());
    if (!network_ || QFileInfo(model).absoluteFilePath() != QFileInfo(modelPath_).absoluteFilePath()) {
        pendingSpec_ = spec;
        openModel(model);
        return true;
    }
    applySpec(spec);
    return true;
}

void WorkbenchSession::applySpec(const SweepSpec& spec) {
    spec_ = spec;  // every key, kept until the next load
    if (!source_) options_ = spec;
    emit runOptionsLoaded(spec);  // the form shows them
    try {
        const std::vector<SweepPoint> points = expand(spec);
        layerModel_->setSettingsText(points.empty() ? QString::fromStdString(spec.base.layers) : QString::fromStdString(points.front().layers));
    } catch (const std::exception& e) {
        error(tr("Cannot apply the settings"), QString::fromStdString(e.what()));
    }
    dataOptionsChanged();
}

bool WorkbenchSession::exportResults(const QString& path, const std::function<void()>& write) {
    try {
        write();
    } catch (const std::exception& e) {
        error(tr("Cannot export the results"), QString::fromStdString(e.what()));
        return false;
    }
    exportedRuns_ = results_->rowCount();
    emit statusMessage(tr("Exported %1 runs to %2").arg(results_->rowCount()).arg(path), 5000);
    return true;
}

bool WorkbenchSession::exportResultsHdf5(const QString& path) {
    const QString prefix = QStringLiteral("workbench-%1").arg(QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss-zzz")));
    return exportResults(path, [&] { results_->exportHdf5(path, prefix); });
}

bool WorkbenchSession::exportResultsCsv(const QString& path) {
    return exportResults(path, [&] { results_->exportCsv(path); });
}

QStringList WorkbenchSession::recentFiles() const { return appSettings().value(QStringLiteral("recentFiles")).toStringList(); }

void WorkbenchSession::addRecentFile(const QString& path) {
    const QString abs = QFileInfo(path).absoluteFilePath();
    QStringList files = recentFiles();
    files.removeAll(abs);
    files.prepend(abs);
    while (files.size() > kMaxRecentFiles) files.removeLast();
    appSettings().setValue(QStringLiteral("recentFiles"), files);
    emit recentFilesChanged();
}

// ----- time estimate ----------------------------------------------------------------------

void WorkbenchSession::learnTime(const RunRecord& received, int run) {
    // The time model learns this run's seconds per stage (the run's index within its job).
    const RunRecord& r = results_->record(run);
    const int index = static_cast<int>(received.row.run_index);
    const auto clock = stageClocks_.find(index);
    if (clock == stageClocks_.end() || !network_ || r.model != modelFile()) return;
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
    emit estimateChanged();
}

StageValues WorkbenchSession::runWork(const std::string& settings, EcMode ec, bool evaluateFloat) const {
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

TimeEstimate WorkbenchSession::estimateRunTime(EcMode ec) const {
    if (!network_ || !layerModel_->hasCost()) return {};
    try {
        const bool floatCached = floatEval_ && floatEvalKey_ == floatKey();
        return timeModel_.estimate(ec, runWork(layerModel_->settingsText().toStdString(), ec, !floatCached));
    } catch (const std::exception&) {
        return {};  // settings the table would not run either
    }
}

}  // namespace qcnn::ui
