// Cluster sweeps on Slurm: batch scripts, submission with sbatch, the queue with squeue, and the
// shard files' state (slurm.h).
#include "core/sweep/slurm.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/sweep/results_file.h"
#include "core/util/error.h"
#include "core/util/json.h"

namespace qcnn {

namespace fs = std::filesystem;

namespace {

void write_file(const std::string& path, const std::string& text, bool executable = false) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) fail(path, ": cannot write");
        f << text;
        if (!f.flush()) fail(path, ": cannot write");
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) fail(path, ": cannot write (", ec.message(), ")");
    if (executable) fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                                    fs::perm_options::add, ec);
}

// Runs `command` with sh; stdout and stderr together in `output`. Returns the exit status.
int run_shell(const std::string& command, std::string& output) {
    output.clear();
    FILE* p = popen((command + " 2>&1").c_str(), "r");
    if (!p) fail("cannot run '", command, "'");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    const int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
    return s;
}

// "0-3" for 0,1,2,3; "1,3,5-7" otherwise (sbatch --array).
std::string array_ranges(const std::vector<int64_t>& tasks) {
    std::string s;
    for (size_t i = 0; i < tasks.size();) {
        size_t j = i;
        while (j + 1 < tasks.size() && tasks[j + 1] == tasks[j] + 1) ++j;
        s += cat(s.empty() ? "" : ",", tasks[i]);
        if (j > i) s += cat("-", tasks[j]);
        i = j + 1;
    }
    return s;
}

// The #SBATCH lines both scripts share.
std::string common_directives(const ClusterSweep& c) {
    const SlurmOptions& o = c.options;
    std::string s = cat("#SBATCH --chdir=", c.workdir, "\n#SBATCH --cpus-per-task=", o.cpus_per_task, "\n");
    if (!o.partition.empty()) s += "#SBATCH --partition=" + o.partition + "\n";
    if (!o.time.empty()) s += "#SBATCH --time=" + o.time + "\n";
    if (!o.mem.empty()) s += "#SBATCH --mem=" + o.mem + "\n";
    for (const std::string& a : o.sbatch_args) s += "#SBATCH " + a + "\n";
    return s;
}

void check_option_text(const std::string& value, const char* what) {
    if (value.find_first_of("\n\r") != std::string::npos) fail(what, ": '", value, "' contains a line break");
}

void save_state(const ClusterSweep& c) {
    std::ostringstream os;
    json::Writer w(os);
    w.begin_object();
    w.field("qcnn_cluster_sweep", 1).field("sweep_id", c.sweep_id).field("spec", c.spec).field("results", c.results);
    w.field("workdir", c.workdir).field("qcnn", c.qcnn).field("runs", c.runs).field("shards", c.options.shards);
    w.field("partition", c.options.partition).field("time", c.options.time).field("mem", c.options.mem);
    w.field("cpus_per_task", c.options.cpus_per_task);
    w.key("sbatch_args").array(c.options.sbatch_args);
    w.field("array_job", c.array_job).field("merge_job", c.merge_job);
    w.end_object();
    os << '\n';
    write_file(c.state_file(), os.str());
}

}  // namespace

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return q + "'";
}

std::string ClusterSweep::dir() const { return (fs::path(workdir) / (results + ".slurm")).lexically_normal().string(); }
std::string ClusterSweep::shard_file(int64_t i) const { return cat(dir(), "/shards/shard-", i, "-of-", options.shards, ".h5"); }
std::string ClusterSweep::shard_log(int64_t i) const { return cat(dir(), "/logs/shard-", i, ".out"); }
std::string ClusterSweep::results_path() const { return (fs::path(workdir) / results).lexically_normal().string(); }

ClusterSweep plan_cluster_sweep(const std::string& spec_path, const std::string& results, const SlurmOptions& options,
                                const std::string& qcnn_binary) {
    if (options.shards < 1 || options.shards > 100000)
        fail("--shards: N = ", options.shards, " is out of range (1..100000)");
    if (options.cpus_per_task < 1 || options.cpus_per_task > 4096)
        fail("--cpus-per-task: ", options.cpus_per_task, " is out of range (1..4096)");
    check_option_text(options.partition, "--partition");
    check_option_text(options.time, "--time");
    check_option_text(options.mem, "--mem");
    for (const std::string& a : options.sbatch_args) {
        check_option_text(a, "--sbatch-arg");
        if (a.rfind("-", 0) != 0) fail("--sbatch-arg: '", a, "' is not an sbatch option (e.g. --qos=short)");
    }
    ClusterSweep c;
    c.spec = spec_path;
    c.results = results;
    c.workdir = fs::current_path().string();
    c.qcnn = fs::absolute(qcnn_binary).lexically_normal().string();
    c.options = options;
    const SweepSpec spec = load_sweep_spec(spec_path);
    c.runs = static_cast<int64_t>(expand(spec).size());
    c.sweep_id = new_sweep_id(results);
    return c;
}

namespace {

// Where job.json of `results` is, seen from this directory.
std::string state_file_of(const std::string& results) {
    ClusterSweep probe;
    probe.results = results;
    probe.workdir = fs::current_path().string();
    return probe.state_file();
}

}  // namespace

bool cluster_sweep_exists(const std::string& results) { return fs::exists(state_file_of(results)); }

ClusterSweep load_cluster_sweep(const std::string& results) {
    const std::string path = state_file_of(results);
    if (!fs::exists(path))
        fail(path, ": no such file: nothing was submitted for ", results, " from this directory (run without --resume)");
    const json::Value v = json::parse_file(path);
    ClusterSweep c;
    try {
        c.sweep_id = v["sweep_id"].as_string();
        check_sweep_id(c.sweep_id, path);
        c.spec = v["spec"].as_string();
        c.results = v["results"].as_string();
        c.workdir = v["workdir"].as_string();
        c.qcnn = v["qcnn"].as_string();
        c.runs = v["runs"].as_int();
        c.options.shards = v["shards"].as_int();
        c.options.partition = v["partition"].as_string();
        c.options.time = v["time"].as_string();
        c.options.mem = v["mem"].as_string();
        c.options.cpus_per_task = v["cpus_per_task"].as_int();
        for (const json::Value& a : v["sbatch_args"].as_array()) c.options.sbatch_args.push_back(a.as_string());
        c.array_job = v["array_job"].as_string();
        c.merge_job = v["merge_job"].as_string();
    } catch (const Error& e) {
        fail(path, ": ", e.what());
    }
    if (c.options.shards < 1) fail(path, ": shards = ", c.options.shards, " (expected >= 1)");
    return c;
}

void write_cluster_scripts(const ClusterSweep& c, const std::vector<int64_t>& tasks) {
    const int64_t n = c.options.shards;
    std::error_code ec;
    fs::create_directories(c.dir() + "/shards", ec);
    fs::create_directories(c.dir() + "/logs", ec);
    if (ec) fail(c.dir(), ": cannot create the directory (", ec.message(), ")");

    std::string array = cat("#!/bin/bash\n# qcnn sweep on Slurm, sweep ", c.sweep_id, ": task I of this array runs shard I of ", n,
                            " of the spec\n# (every run whose index i has i mod ", n,
                            " == I) into its own results file; threads = the task's CPUs.\n"
                            "# Written by `qcnn sweep --slurm` (docs/cluster.md); submitted by submit.sh.\n");
    array += cat("#SBATCH --job-name=", c.array_name(), "\n#SBATCH --array=", array_ranges(tasks), "\n");
    array += cat("#SBATCH --output=", c.dir(), "/logs/shard-%a.out\n");
    array += common_directives(c);
    array += cat("set -euo pipefail\n"
                 "exec ", shell_quote(c.qcnn), " sweep ", shell_quote(c.spec), " \\\n    -o \"", c.dir(),
                 "/shards/shard-${SLURM_ARRAY_TASK_ID}-of-", n, ".h5\" \\\n    --shard \"${SLURM_ARRAY_TASK_ID}/", n,
                 "\" --sweep-id ", c.sweep_id, " --resume --threads \"${SLURM_CPUS_PER_TASK:-1}\"\n");
    write_file(c.array_script(), array);

    std::string merge = cat("#!/bin/bash\n# qcnn sweep on Slurm, sweep ", c.sweep_id, ": merges the ", n,
                            " shard files into the results file once every task of the array succeeded.\n"
                            "# Written by `qcnn sweep --slurm` (docs/cluster.md); submitted by submit.sh.\n");
    merge += cat("#SBATCH --job-name=", c.merge_name(), "\n#SBATCH --output=", c.merge_log(), "\n");
    merge += common_directives(c);
    merge += cat("set -euo pipefail\nexec ", shell_quote(c.qcnn), " merge --sweep-id ", c.sweep_id, " -o ",
                 shell_quote(c.results));
    for (int64_t i = 0; i < n; ++i) merge += " \\\n    " + shell_quote(c.shard_file(i));
    merge += "\n";
    write_file(c.merge_script(), merge);

    std::string submit = cat("#!/bin/sh\n# Submits sweep ", c.sweep_id,
                             ": the job array, then the merge job, which starts when every task\n"
                             "# succeeded and is cancelled when one fails (what `qcnn sweep --slurm` runs).\n"
                             "# Prints the job ids: ARRAY MERGE.\nset -e\n");
    if (tasks.empty()) {
        submit += cat("merge=$(sbatch --parsable ", shell_quote(c.merge_script()), ")\necho \"- ${merge%%;*}\"\n");
    } else {
        submit += cat("array=$(sbatch --parsable ", shell_quote(c.array_script()), ")\narray=${array%%;*}\n",
                      "merge=$(sbatch --parsable --dependency=afterok:$array --kill-on-invalid-dep=yes ",
                      shell_quote(c.merge_script()), ")\necho \"$array ${merge%%;*}\"\n");
    }
    write_file(c.submit_script(), submit, true);
    save_state(c);
}

void submit_cluster_sweep(ClusterSweep& c, const std::vector<int64_t>& tasks) {
    write_cluster_scripts(c, tasks);
    std::string output;
    const int status = run_shell("sh " + shell_quote(c.submit_script()), output);
    output = trim(output);
    const std::string last = output.substr(output.rfind('\n') == std::string::npos ? 0 : output.rfind('\n') + 1);
    const size_t space = last.find(' ');
    if (status != 0 || space == std::string::npos)
        fail("sbatch failed (", c.submit_script(), ", exit status ", status, "): ", output.empty() ? "no output" : output);
    c.array_job = last.substr(0, space) == "-" ? "" : last.substr(0, space);
    c.merge_job = last.substr(space + 1);
    save_state(c);
}

bool on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    if (!path) return false;
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':'))
        if (!dir.empty() && access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
    return false;
}

std::vector<std::string> queued_jobs(const ClusterSweep& c) {
    std::string output;
    const int status = run_shell(cat("squeue --me --noheader --format='%i %T' --name=", c.array_name(), ",",
                                     c.merge_name()),
                                 output);
    if (status != 0) fail("squeue failed (exit status ", status, "): ", trim(output));
    std::vector<std::string> lines;
    std::stringstream ss(output);
    for (std::string line; std::getline(ss, line);)
        if (!trim(line).empty()) lines.push_back(trim(line));
    return lines;
}

void read_without_file_locks() {
    static const bool set = [] { return setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1) == 0; }();
    (void)set;
}

std::vector<ShardState> shard_states(const ClusterSweep& c) {
    read_without_file_locks();
    std::vector<ShardState> out;
    for (int64_t i = 0; i < c.options.shards; ++i) {
        ShardState s;
        s.index = i;
        s.runs_expected = c.runs / c.options.shards + (i < c.runs % c.options.shards ? 1 : 0);
        const std::string path = c.shard_file(i);
        try {
            if (fs::exists(path)) {
                const std::vector<std::string> ids = list_sweeps(path);
                if (std::find(ids.begin(), ids.end(), c.sweep_id) != ids.end()) {
                    const ResultsFile f = ResultsFile::read(path, c.sweep_id);
                    s.status = f.attributes().status;
                    s.runs_done = static_cast<int64_t>(f.runs().size());
                }
            }
        } catch (const Error& e) {
            s.error = e.what();
        }
        out.push_back(s);
    }
    return out;
}

void read_shard(const ClusterSweep& c, int64_t shard, std::vector<RunRow>& runs, std::vector<LayerRow>& layers) {
    read_without_file_locks();
    runs.clear();
    layers.clear();
    const std::string path = c.shard_file(shard);
    if (!fs::exists(path)) return;
    const std::vector<std::string> ids = list_sweeps(path);
    if (std::find(ids.begin(), ids.end(), c.sweep_id) == ids.end()) return;
    const ResultsFile f = ResultsFile::read(path, c.sweep_id);
    runs = f.runs();
    layers = f.layers();
}

bool cluster_results_complete(const ClusterSweep& c) {
    const std::string path = c.results_path();
    if (!fs::exists(path)) return false;
    try {
        for (const std::string& id : list_sweeps(path))
            if (id == c.sweep_id) return ResultsFile::read(path, id).attributes().status == "completed";
    } catch (const Error&) {
    }
    return false;
}

}  // namespace qcnn
