#include "ui/session_file.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>
#include <map>

#include "core/util/error.h"
#include "core/util/sha256.h"

namespace qcnn::ui {

namespace {

std::string encode(const QString& path) { return QFile::encodeName(path).toStdString(); }

constexpr int kNewestChecked = 5;

QString lockPath(const QString& path) { return path + QStringLiteral(".lock"); }

// The status of the file's last group ("" when it has none).
std::string lastStatus(const QString& path) {
    const std::vector<std::string> ids = list_sweeps(encode(path));
    return ids.empty() ? std::string() : ResultsFile::read(encode(path), ids.back()).attributes().status;
}

}  // namespace

RunRecord recordFromRows(RunRow row, std::vector<LayerRow> layers, std::string model, std::string data) {
    RunRecord rec;
    rec.row = std::move(row);
    rec.layers = std::move(layers);
    rec.memoryDense.peak_bytes = rec.row.memory_bytes_dense;
    rec.memoryQuantized.peak_bytes = rec.row.memory_bytes_quantized;
    for (const LayerRow& l : rec.layers) {
        rec.memoryDense.weight_bytes += l.bytes_dense;
        rec.memoryQuantized.weight_bytes += l.bytes_quantized;
    }
    rec.model = std::move(model);
    rec.data = std::move(data);
    return rec;
}

QString SessionFile::sessionsDir() {
    return QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + QStringLiteral("/qcnn-workbench/sessions");
}

SessionFile::SessionFile(QString dir) : dir_(std::move(dir)) {}

SessionFile::~SessionFile() {
    try {
        close();
    } catch (const std::exception&) {
        // The runs are on disk already; only the clean-close marker is missing (offered next time).
    }
}

void SessionFile::startGroup(const RunRecord& record, const SweepSpec* spec, const std::string& key) {
    if (file_) {
        file_->set_status("completed", utc_now());
        file_.reset();  // closed before the file is opened again for the next group
    }
    if (path_.isEmpty()) {
        if (!QDir().mkpath(dir_)) fail(encode(dir_), ": cannot create the sessions directory");
        const QString stamp = QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd'T'HHmmss'Z'"));
        QString path = dir_ + QLatin1Char('/') + stamp + QStringLiteral(".h5");
        for (int n = 2; QFileInfo::exists(path) || QFileInfo::exists(lockPath(path)); ++n)
            path = dir_ + QLatin1Char('/') + stamp + QStringLiteral("_%1.h5").arg(n);
        auto lock = std::make_unique<QLockFile>(lockPath(path));
        lock->setStaleLockTime(0);  // a live session may run for days: only a dead owner makes it stale
        if (!lock->tryLock(0)) fail(encode(lockPath(path)), ": cannot create the session lock file");
        lock_ = std::move(lock);
        path_ = path;
    }
    SweepAttributes attrs = environment_attributes();
    attrs.qt_version = qVersion();
    attrs.start_utc = utc_now();
    attrs.status = "running";
    attrs.model_path = record.model;
    attrs.data_spec = record.data;
    try {
        attrs.model_sha256 = sha256_file(record.model);
    } catch (const std::exception&) {
        // builtin:NAME and models since moved have no file to hash: left "".
    }
    if (spec) {
        attrs.spec_json = attrs.spec_canonical = to_json(*spec);
        attrs.spec_sha256 = sha256_hex(attrs.spec_canonical);
        attrs.threads = spec->base.threads;
        attrs.samples = spec->base.limit;
        for (uint64_t s : spec->seeds) {
            if (!attrs.seeds.empty()) attrs.seeds += ',';
            attrs.seeds += std::to_string(s);
        }
    }
    const std::string id = "job" + std::to_string(++groups_);
    file_ = std::make_unique<ResultsFile>(ResultsFile::create(encode(path_), id, attrs));
    groupKey_ = key;
}

void SessionFile::append(const RunRecord& record, const SweepSpec* spec) {
    const std::string key = spec ? to_json(*spec) : record.model + "\n" + record.data;
    if (!file_ || key != groupKey_) startGroup(record, spec, key);
    file_->append(record.row, record.layers);
    ++runs_;
}

void SessionFile::close() {
    if (file_) {
        file_->set_status("completed", utc_now());
        file_.reset();
    }
    if (lock_) {
        lock_->unlock();
        lock_.reset();
    }
}

QStringList SessionFile::uncleanSessions(const QString& dir) {
    QStringList found;
    // Names are UTC times: newest first. Read only those with a lock file left behind (a dead
    // owner) and the newest few, so that years of sessions do not slow the start.
    const QFileInfoList files = QDir(dir).entryInfoList({QStringLiteral("*.h5")}, QDir::Files, QDir::Name | QDir::Reversed);
    for (int i = 0; i < files.size(); ++i) {
        const QString path = files[i].absoluteFilePath();
        if (i >= kNewestChecked && !QFileInfo::exists(lockPath(path))) continue;
        QLockFile lock(lockPath(path));
        lock.setStaleLockTime(0);
        if (!lock.tryLock(0)) continue;  // a live workbench's session
        try {
            if (lastStatus(path) == "running") found << path;
        } catch (const std::exception&) {
            // Not a readable results file: nothing to offer.
        }
        lock.unlock();  // also removes a dead owner's lock file
    }
    return found;
}

std::vector<RunRecord> SessionFile::readSession(const QString& path) {
    std::vector<RunRecord> records;
    for (const std::string& id : list_sweeps(encode(path))) {
        const ResultsFile f = ResultsFile::read(encode(path), id);
        const SweepAttributes a = f.attributes();
        std::map<int64_t, std::vector<LayerRow>> byRun;
        for (LayerRow& l : f.layers()) byRun[l.run_index].push_back(std::move(l));
        for (RunRow& r : f.runs()) {
            std::vector<LayerRow> layers = std::move(byRun[r.run_index]);
            records.push_back(recordFromRows(std::move(r), std::move(layers), a.model_path, a.data_spec));
        }
    }
    return records;
}

void SessionFile::markHandled(const QString& path, const std::string& status) {
    const std::vector<std::string> ids = list_sweeps(encode(path));
    if (ids.empty()) fail(encode(path), ": no sweep group to mark");
    ResultsFile::open(encode(path), ids.back()).set_status(status, utc_now());
}

}  // namespace qcnn::ui
