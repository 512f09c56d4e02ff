// Issue 17 on the command line: --shard / --sweep-id / --slurm usage errors, `qcnn merge`'s, and
// the scripts `qcnn sweep --slurm --dry-run` writes (no Slurm needed; the real submission runs in
// .ci/slurm-test.sh).
#include "tests/unit/cli/cli_test_util.h"

namespace qcnn {
namespace {

using test::one_error_line;
using test::read_file;
using test::run_qcnn;

std::string lenet_spec(const test::TempDir& dir) {
    const std::string path = dir.file("spec.json");
    test::write_file(path, R"({"qcnn_sweep": 1, "model": ")" + test::bundled("lenet5.onnx") +
                               R"(", "data": "fashion-mnist:test", "limit": 64, "calib_images": 32,
 "grid": [{"layers": "fc", "settings": ["4/16", "8/32", "2/16"]}], "ec": ["none", "layer"]})");
    return path;
}

TEST(SweepClusterCli, UsageErrorsNameTheOption) {
    test::TempDir dir;
    const std::string spec = lenet_spec(dir), out = dir.file("out.h5");
    const struct {
        std::vector<std::string> args;
        std::string error;
    } cases[] = {
        {{"sweep", spec, "-o", out, "--shard", "4/4"}, "--shard: '4/4': shard I = 4 must be below N = 4 (I counts from 0)"},
        {{"sweep", spec, "-o", out, "--shard", "x"}, "--shard: 'x' is not a shard I/N (e.g. 0/4: the first of 4 shards)"},
        {{"sweep", spec, "-o", out, "--sweep-id", "a/b"},
         "--sweep-id: bad sweep id 'a/b' (1 to 64 characters of A-Z, a-z, 0-9, '_' and '-')"},
        {{"sweep", spec, "-o", out, "--shards", "4"}, "--shards applies only with --slurm"},
        {{"sweep", spec, "-o", out, "--wait"}, "--wait applies only with --slurm"},
        {{"sweep", spec, "-o", out, "--slurm"}, "--slurm needs --shards N: the number of array tasks"},
        {{"sweep", spec, "-o", out, "--slurm", "--shards", "2", "--threads", "4"},
         "--threads does not apply with --slurm (each task uses its --cpus-per-task CPUs)"},
        {{"sweep", spec, "-o", out, "--slurm", "--shards", "0"}, "--shards expects an integer in [1, 100000], got '0'"},
        {{"merge", "-o", out}, "merge needs the shard files: qcnn merge A.h5 B.h5 ... -o ALL.h5"},
        {{"merge", dir.file("a.h5")}, "merge needs -o ALL.h5: the results file the merged sweep is written to"},
        {{"merge", out, "-o", out}, "merge: the output " + out + " is also an input"},
    };
    for (const auto& c : cases) {
        const test::CliRun r = run_qcnn(c.args);
        EXPECT_EQ(r.rc, 2) << c.error << "\n" << r.err;
        EXPECT_EQ(one_error_line(r), c.error);
    }
    EXPECT_FALSE(test::exists(out));
    EXPECT_FALSE(test::exists(out + ".slurm"));
}

TEST(SweepClusterCli, MergeOfAMissingFileNamesIt) {
    test::TempDir dir;
    const test::CliRun r = run_qcnn({"merge", dir.file("nope.h5"), "-o", dir.file("all.h5")});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(one_error_line(r), dir.file("nope.h5") + ": no such file");
}

TEST(SweepClusterCli, DryRunWritesTheArrayTheMergeJobAndTheSubmitScript) {
    test::TempDir dir;
    const std::string spec = lenet_spec(dir), out = dir.file("out.h5");
    const test::CliRun r = run_qcnn({"sweep", spec, "-o", out, "--slurm", "--shards", "4", "--partition", "short",
                                     "--time", "00:30:00", "--cpus-per-task", "3", "--mem", "2G", "--sbatch-arg",
                                     "--qos=low", "--sbatch-arg=--account=lab", "--dry-run"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::string slurm = out + ".slurm";
    EXPECT_NE(r.out.find(": 6 runs in 4 shards; wrote"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("submit with: sh " + slurm + "/submit.sh"), std::string::npos) << r.out;

    const std::string array = read_file(slurm + "/sweep.sbatch");
    const std::string id = r.out.substr(r.out.find("sweep ") + 6, 16);  // 20261205T103955Z
    for (const std::string& line :
         {"#SBATCH --job-name=qcnn-sweep-" + id + "\n", std::string("#SBATCH --array=0-3\n"),
          "#SBATCH --output=" + slurm + "/logs/shard-%a.out\n", "#SBATCH --chdir=" + std::filesystem::current_path().string() + "\n",
          std::string("#SBATCH --cpus-per-task=3\n"), std::string("#SBATCH --partition=short\n"),
          std::string("#SBATCH --time=00:30:00\n"), std::string("#SBATCH --mem=2G\n"), std::string("#SBATCH --qos=low\n"),
          std::string("#SBATCH --account=lab\n"), " sweep '" + spec + "' \\\n",
          "-o \"" + slurm + "/shards/shard-${SLURM_ARRAY_TASK_ID}-of-4.h5\"",
          "--shard \"${SLURM_ARRAY_TASK_ID}/4\" --sweep-id " + id +
              " --resume --threads \"${SLURM_CPUS_PER_TASK:-1}\"\n"})
        EXPECT_NE(array.find(line), std::string::npos) << line << "\nin:\n" << array;

    const std::string merge = read_file(slurm + "/merge.sbatch");
    EXPECT_NE(merge.find("#SBATCH --job-name=qcnn-merge-" + id + "\n"), std::string::npos) << merge;
    EXPECT_NE(merge.find(" merge --sweep-id " + id + " -o '" + out + "'"), std::string::npos) << merge;
    for (int i = 0; i < 4; ++i)
        EXPECT_NE(merge.find("'" + slurm + "/shards/shard-" + std::to_string(i) + "-of-4.h5'"), std::string::npos) << merge;
    EXPECT_EQ(merge.find("--array"), std::string::npos) << merge;

    const std::string submit = read_file(slurm + "/submit.sh");
    EXPECT_NE(submit.find("array=$(sbatch --parsable '" + slurm + "/sweep.sbatch')"), std::string::npos) << submit;
    EXPECT_NE(submit.find("sbatch --parsable --dependency=afterok:$array --kill-on-invalid-dep=yes '" + slurm +
                          "/merge.sbatch'"),
              std::string::npos)
        << submit;
    EXPECT_TRUE(test::exists(slurm + "/job.json"));
    EXPECT_TRUE(test::exists(slurm + "/logs"));
    EXPECT_FALSE(test::exists(out));  // nothing ran
}

// More shards than runs: every task still has a file to write (empty shards complete at once).
TEST(SweepClusterCli, DryRunAllowsMoreShardsThanRuns) {
    test::TempDir dir;
    const std::string spec = lenet_spec(dir), out = dir.file("out.h5");
    const test::CliRun r = run_qcnn({"sweep", spec, "-o", out, "--slurm", "--shards", "9", "--dry-run"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(read_file(out + ".slurm/sweep.sbatch").find("#SBATCH --array=0-8\n"), std::string::npos);
    EXPECT_NE(read_file(out + ".slurm/merge.sbatch").find("shard-8-of-9.h5"), std::string::npos);
}

}  // namespace
}  // namespace qcnn
