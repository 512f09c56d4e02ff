// Sweeps on a Slurm cluster (docs/cluster.md): `qcnn sweep SPEC -o OUT --slurm --shards N` writes
// a job array of N tasks (task I runs `qcnn sweep SPEC --shard I/N` into its own shard file, with
// as many threads as the task has CPUs) and a merge job that starts when every task succeeded
// (afterok, --kill-on-invalid-dep=yes) and writes OUT with `qcnn merge`. Everything lives in the
// directory OUT.slurm/ next to OUT:
//   sweep.sbatch, merge.sbatch   the two batch scripts
//   submit.sh                    the two sbatch calls (what --slurm runs; to copy where sbatch is)
//   job.json                     sweep id, shard count, spec, working directory, job ids
//   shards/shard-I-of-N.h5       one results file per task (a sweep with the shared sweep id)
//   logs/shard-I.out, logs/merge.out   the jobs' stdout and stderr
// Only sbatch and squeue are used (no sacct: many clusters run without accounting); a task's
// success is read from its shard file (status "completed"), not from the scheduler.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/sweep/sweep.h"

namespace qcnn {

struct SlurmOptions {
    int64_t shards = 0;            // N >= 1
    std::string partition, time, mem;  // "" = the cluster's default
    int64_t cpus_per_task = 1;     // also the threads of each task
    std::vector<std::string> sbatch_args;  // extra "#SBATCH ARG" lines of both scripts, e.g. "--qos=short"
};

struct ClusterSweep {
    std::string spec;        // the spec file as given (relative to workdir)
    std::string results;     // OUT as given (relative to workdir)
    std::string workdir;     // absolute: the jobs run here (--chdir), so relative paths mean the same
    std::string qcnn;        // absolute path of the qcnn binary the jobs run
    std::string sweep_id;    // shared by every shard and the merged sweep
    SlurmOptions options;
    int64_t runs = 0;        // runs of the spec
    std::string array_job, merge_job;  // ids of the last submission ("" before)

    std::string dir() const;                  // <workdir>/<OUT>.slurm
    std::string array_script() const { return dir() + "/sweep.sbatch"; }
    std::string merge_script() const { return dir() + "/merge.sbatch"; }
    std::string submit_script() const { return dir() + "/submit.sh"; }
    std::string state_file() const { return dir() + "/job.json"; }
    std::string shard_file(int64_t i) const;  // absolute
    std::string shard_log(int64_t i) const;   // absolute
    std::string merge_log() const { return dir() + "/logs/merge.out"; }
    std::string results_path() const;         // OUT, absolute
    std::string array_name() const { return "qcnn-sweep-" + sweep_id; }
    std::string merge_name() const { return "qcnn-merge-" + sweep_id; }
};

// A new cluster sweep of `spec_path` into `results` (relative paths: to the current directory),
// with a new sweep id. Checks the spec (parse and expand) and the options (errors name them).
ClusterSweep plan_cluster_sweep(const std::string& spec_path, const std::string& results, const SlurmOptions& options,
                                const std::string& qcnn_binary);
// The last submission for `results` (its job.json); errors name the file when there is none.
ClusterSweep load_cluster_sweep(const std::string& results);
// True when something was submitted (or --dry-run written) for `results` from this directory.
bool cluster_sweep_exists(const std::string& results);

// Writes sweep.sbatch (an array of the shard indices `tasks`; none: no array job), merge.sbatch,
// submit.sh and job.json, and creates shards/ and logs/.
void write_cluster_scripts(const ClusterSweep& c, const std::vector<int64_t>& tasks);
// Runs submit.sh (sbatch); fills array_job ("" when no tasks) and merge_job and rewrites job.json.
// Errors carry sbatch's message.
void submit_cluster_sweep(ClusterSweep& c, const std::vector<int64_t>& tasks);

// True when `program` is an executable file in a directory of $PATH.
bool on_path(const std::string& program);

// The sweep's jobs in the queue (squeue --me -n <array_name>,<merge_name>): one entry per line
// "JOBID STATE", e.g. "41_[2-3] PENDING", "41_0 RUNNING", "42 PENDING". Errors carry squeue's
// message.
std::vector<std::string> queued_jobs(const ClusterSweep& c);

// One shard file as read now (while its task writes it: see docs/sweeps.md on file locking;
// this process sets HDF5_USE_FILE_LOCKING=FALSE).
struct ShardState {
    int64_t index = 0;
    int64_t runs_expected = 0;   // runs of the spec in this shard
    int64_t runs_done = 0;       // rows in the shard file's sweep
    std::string status;          // the sweep's status; "" when the file or the sweep does not exist yet
    std::string error;           // why the file could not be read now (being written: retry later)
    bool finished() const { return status == "completed" && runs_done == runs_expected; }
};
std::vector<ShardState> shard_states(const ClusterSweep& c);
// Sets HDF5_USE_FILE_LOCKING=FALSE for this process, once: the tasks write the shard files while
// they are read (shard_states and read_shard call it; a multithreaded caller calls it first, on
// one thread, since setenv is not safe against a concurrent getenv).
void read_without_file_locks();
// The rows of one shard file's sweep (empty when it does not exist yet; throws when unreadable).
void read_shard(const ClusterSweep& c, int64_t shard, std::vector<RunRow>& runs, std::vector<LayerRow>& layers);
// True when OUT holds the sweep with status "completed".
bool cluster_results_complete(const ClusterSweep& c);

// Single-quoted for sh ('it'\''s').
std::string shell_quote(const std::string& s);

}  // namespace qcnn
