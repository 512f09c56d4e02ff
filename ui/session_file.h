// The workbench never loses a finished run (issue 16 section 4): every run the results table
// receives is appended, and flushed, to the session results file
//     $XDG_DATA_HOME/qcnn-workbench/sessions/<UTC time>.h5     (default ~/.local/share/...)
// in the sweeps layout of core/sweep/results_file.h (plus each fine-tuned run's epochs as a group
// attribute, ui/finetune_store.h): one sweep group per (model, data, spec) in
// a row (the spec of a run or a sweep; its spec, model, model SHA-256, data and samples as
// attributes: runGroupAttributes, shared with the HDF5 export), status "running" while the
// session goes on. The file is created at the first run, so a session without runs leaves none.
//
// Clean end: close() (the window's close, or its destructor) sets the last group's status to
// "completed" and removes the lock file <file>.lock, a QLockFile held while the session is
// live. A session whose last group still says "running" and whose lock is not held by a live
// process (kill -9, a crash, power loss) ended uncleanly: uncleanSessions() lists it and the
// next workbench offers to reopen it (its runs come back into the results table and go into the
// new session); markHandled() then sets its status to "recovered" or "interrupted" (declined) so
// it is not offered again.
#pragma once

#include <QLockFile>
#include <QString>
#include <QStringList>
#include <memory>
#include <string>
#include <vector>

#include "core/sweep/results_file.h"
#include "ui/run_job.h"

namespace qcnn::ui {

// A run read back from a results file (a session's, or a cluster sweep's shard): its rows, the
// memory plot's weights and peaks (the file keeps no activation / LUT breakdown), model and data.
RunRecord recordFromRows(RunRow row, std::vector<LayerRow> layers, std::string model, std::string data);

// The sweep group a run belongs to in a results file (the session file and the export): runs
// of one (model, data, spec) share a group. Its attributes are the true provenance: the spec
// that produced the runs (spec, spec_canonical, spec_sha256, seeds, threads), the model path and
// its SHA-256 (hashed now when the record has none and the file exists), the data spec and the
// images evaluated (samples).
std::string runGroupKey(const RunRecord& record);
SweepAttributes runGroupAttributes(const RunRecord& record);
// The run_index a results file gets for run `row` of the results table (0-based): the number the
// table's Run column shows, row + 1.
int64_t fileRunIndex(int row);
// Writes `records` (the results table, in row order) to `path` (created, or appended to) as one
// sweep group per runGroupKey(), in order of first appearance, ids "<prefix>-1", "<prefix>-2",
// ...; each run's run_index is fileRunIndex(its row). Returns the group ids. Throws qcnn::Error
// naming the path.
std::vector<std::string> writeRunGroups(const QString& path, const std::vector<RunRecord>& records, const std::string& idPrefix);

class SessionFile {
public:
    // $XDG_DATA_HOME/qcnn-workbench/sessions (QStandardPaths' GenericDataLocation).
    static QString sessionsDir();

    explicit SessionFile(QString dir = sessionsDir());
    ~SessionFile();  // close()
    SessionFile(const SessionFile&) = delete;
    SessionFile& operator=(const SessionFile&) = delete;

    // Appends one finished run (row.run_index: its 0-based row in the results table; written as
    // fileRunIndex()) and flushes. A run of another (model, data, spec) than the last starts a new
    // sweep group (runGroupKey). Throws qcnn::Error naming the file.
    void append(const RunRecord& record);
    // The clean end (idempotent): the last group "completed", the lock released.
    void close();
    QString path() const { return path_; }  // "" until the first run
    int runs() const { return runs_; }

    // Session files in `dir` that ended uncleanly and no live workbench holds, newest first (of
    // the files with a lock file left behind and the five newest).
    static QStringList uncleanSessions(const QString& dir = sessionsDir());
    // Every run of a session file (or an export), all groups in order (model, data, spec, model
    // SHA-256 and samples from each group's attributes; the memory plot gets the weights and peaks
    // the file keeps). Throws qcnn::Error.
    static std::vector<RunRecord> readSession(const QString& path);
    // Sets the status of the file's last group ("recovered", "interrupted"). Throws qcnn::Error.
    static void markHandled(const QString& path, const std::string& status);

private:
    void startGroup(const RunRecord& record, const std::string& key);

    QString dir_, path_;
    std::unique_ptr<QLockFile> lock_;
    std::unique_ptr<ResultsFile> file_;
    std::string groupKey_, groupId_;
    int runs_ = 0;
    int groups_ = 0;  // sweep groups "job1", "job2", ... of this session's file
};

}  // namespace qcnn::ui
