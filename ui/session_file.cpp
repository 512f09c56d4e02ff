#include "ui/session_file.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>
#include <map>

#include "core/util/error.h"
#include "core/util/json.h"
#include "core/util/sha256.h"
#include "ui/finetune_store.h"

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

std::string runGroupKey(const RunRecord& record) {
    return record.model + "\n" + record.data + "\n" + (record.spec ? to_json(*record.spec) : std::string());
}

SweepAttributes runGroupAttributes(const RunRecord& record) {
    SweepAttributes attrs = environment_attributes();
    attrs.qt_version = qVersion();
    attrs.model_path = record.model;
    attrs.data_spec = record.data;
    attrs.model_sha256 = record.modelSha256.empty() ? file_sha256_or_empty(record.model) : record.modelSha256;
    attrs.samples = record.samples;
    if (const SweepSpec* spec = record.spec.get()) {
        attrs.spec_json = attrs.spec_canonical = to_json(*spec);
        attrs.spec_sha256 = sha256_hex(attrs.spec_canonical);
        attrs.threads = spec->base.threads;
        if (attrs.samples == 0) attrs.samples = spec->base.limit;
        for (uint64_t s : spec->seeds) {
            if (!attrs.seeds.empty()) attrs.seeds += ',';
            attrs.seeds += std::to_string(s);
        }
    }
    return attrs;
}

int64_t fileRunIndex(int row) { return static_cast<int64_t>(row) + 1; }

namespace {

// `record`'s rows with the results file's run_index, and its fine-tuning (ui/finetune_store.h) in
// group `id` of the file at `path`.
void appendRun(ResultsFile& file, const QString& path, const std::string& id, const RunRecord& record) {
    RunRow row = record.row;
    row.run_index = fileRunIndex(static_cast<int>(record.row.run_index));
    std::vector<LayerRow> layers = record.layers;
    for (LayerRow& l : layers) l.run_index = row.run_index;
    file.append(row, layers);
    if (record.finetune.ran) writeFinetuneAttribute(encode(path), id, row.run_index, record.finetune);
}

}  // namespace

std::vector<std::string> writeRunGroups(const QString& path, const std::vector<RunRecord>& records, const std::string& idPrefix) {
    std::vector<std::string> keys;  // first-appearance order
    std::map<std::string, std::vector<const RunRecord*>> groups;
    for (const RunRecord& r : records) {
        const std::string key = runGroupKey(r);
        auto& g = groups[key];
        if (g.empty()) keys.push_back(key);
        g.push_back(&r);
    }
    std::vector<std::string> ids;
    for (const std::string& key : keys) {
        const std::vector<const RunRecord*>& runs = groups[key];
        SweepAttributes attrs = runGroupAttributes(*runs.front());
        attrs.start_utc = attrs.end_utc = utc_now();
        attrs.status = "completed";
        ids.push_back(idPrefix + "-" + std::to_string(ids.size() + 1));
        ResultsFile file = ResultsFile::create(encode(path), ids.back(), attrs);
        for (const RunRecord* r : runs) appendRun(file, path, ids.back(), *r);
        file.set_status("completed", attrs.end_utc);
    }
    return ids;
}

void SessionFile::startGroup(const RunRecord& record, const std::string& key) {
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
    SweepAttributes attrs = runGroupAttributes(record);
    attrs.start_utc = utc_now();
    attrs.status = "running";
    const std::string id = "job" + std::to_string(++groups_);
    file_ = std::make_unique<ResultsFile>(ResultsFile::create(encode(path_), id, attrs));
    groupId_ = id;
    groupKey_ = key;
}

void SessionFile::append(const RunRecord& record) {
    const std::string key = runGroupKey(record);
    if (!file_ || key != groupKey_) startGroup(record, key);
    appendRun(*file_, path_, groupId_, record);
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
        std::map<int64_t, FinetuneRecord> finetune = readFinetuneAttributes(encode(path), id);
        std::map<int64_t, std::vector<LayerRow>> byRun;
        for (LayerRow& l : f.layers()) byRun[l.run_index].push_back(std::move(l));
        std::shared_ptr<const SweepSpec> spec;
        if (!a.spec_json.empty()) {
            try {
                spec = std::make_shared<const SweepSpec>(parse_sweep_spec(json::parse(a.spec_json, "spec attribute"), "spec attribute"));
            } catch (const std::exception&) {
                // A spec this version does not read: the runs come back without it.
            }
        }
        for (RunRow& r : f.runs()) {
            std::vector<LayerRow> layers = std::move(byRun[r.run_index]);
            const auto ft = finetune.find(r.run_index);
            RunRecord rec = recordFromRows(std::move(r), std::move(layers), a.model_path, a.data_spec);
            rec.spec = spec;
            rec.modelSha256 = a.model_sha256;
            rec.samples = a.samples;
            if (ft != finetune.end()) rec.finetune = ft->second;
            records.push_back(std::move(rec));
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
