// run_sweep on the bundled LeNet-5 (4 small runs): the table, progress, cancel, failure,
// resume giving the same table as an uninterrupted sweep, and a `qcnn sweep` process killed
// with SIGKILL leaving every finished run readable.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "core/eval/model_summary.h"
#include "core/sweep/results_file.h"
#include "core/util/sha256.h"
#include "sweep_test_util.h"

namespace qcnn {
namespace {

// The uninterrupted sweep every test compares against (computed once).
const SweepOutcome& reference_outcome() {
    static const SweepOutcome outcome = [] {
        const test::ScratchDir dir("-reference");
        return run_sweep(test::lenet_spec(), "", dir.file("reference.h5"), {});
    }();
    return outcome;
}

TEST(RunSweep, WritesOneRowPerRunAndPerLayerWithTheSpecsSettings) {
    test::ScratchDir dir;
    const std::string path = dir.file("r.h5");
    const SweepSpec spec = test::lenet_spec();
    std::vector<Progress> sweep_reports;
    std::map<std::string, int> nested_labels;
    int layer_labels = 0;  // nested stages that name a layer keep it after the run label
    std::vector<int64_t> finished;
    const SweepOutcome o = run_sweep(
        spec, "{\"as\": \"given\"}", path, {},
        [&](const Progress& p) {
            if (p.stage == "sweep")
                sweep_reports.push_back(p);
            else
                ++nested_labels[p.layer.substr(0, p.layer.find(": "))];  // "run i/n" or "run i/n: conv2"
            if (p.layer.find(": ") != std::string::npos) ++layer_labels;
            return true;
        },
        [&](const SweepPoint& p, const RunResult& r, const RunRow& row) {
            finished.push_back(p.index);
            EXPECT_EQ(row.top1, r.quant_eval.top1);
        });
    EXPECT_EQ(o.status, "completed");
    EXPECT_EQ(o.runs_total, 4);
    EXPECT_EQ(o.runs_done, 4);
    EXPECT_EQ(o.runs_skipped, 0);
    EXPECT_EQ(finished, (std::vector<int64_t>{0, 1, 2, 3}));
    ASSERT_EQ(sweep_reports.size(), 5u);
    for (int64_t i = 0; i < 5; ++i) {
        EXPECT_EQ(sweep_reports[i].done, i);
        EXPECT_EQ(sweep_reports[i].total, 4);
    }
    EXPECT_EQ(nested_labels.size(), 4u);
    for (const char* label : {"run 1/4", "run 2/4", "run 3/4", "run 4/4"}) EXPECT_GT(nested_labels[label], 0) << label;
    EXPECT_GT(layer_labels, 0);

    // The table: the spec's runs in order, with sane values.
    const std::vector<SweepPoint> points = expand(spec);
    ASSERT_EQ(o.rows.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
        const RunRow& r = o.rows[i];
        EXPECT_EQ(r.run_index, static_cast<int64_t>(i));
        EXPECT_EQ(r.settings, points[i].layers);
        EXPECT_EQ(r.ec, "none");
        EXPECT_EQ(r.top1_float, o.rows[0].top1_float);  // one float evaluation for all
        EXPECT_GT(r.top1, 0.5);
        EXPECT_LE(r.top1, r.top5);
        EXPECT_GT(r.compression, 1.0);
        EXPECT_GT(r.memory_bytes_dense, r.memory_bytes_quantized);
        EXPECT_TRUE(std::isnan(r.measured_speedup));  // measure_speed is off
        EXPECT_GT(r.quantize_seconds, 0.0);
    }
    EXPECT_EQ(o.rows[0].settings, "conv2=dense,fc=4/16");
    EXPECT_EQ(o.rows[3].settings, "conv2=4/16,fc=8/16");
    // LeNet-5: 2 conv + 2 FC layers per run.
    ASSERT_EQ(o.layer_rows.size(), 4u * 4u);
    const LayerRow& conv2_dense = o.layer_rows[1];
    EXPECT_EQ(conv2_dense.alias, "conv2");
    EXPECT_EQ(conv2_dense.op, "conv");
    EXPECT_EQ(conv2_dense.subspace_dim, 0);
    EXPECT_EQ(conv2_dense.bytes_dense, conv2_dense.bytes_quantized);
    EXPECT_EQ(conv2_dense.response_error, 0.0);
    const LayerRow& conv2_q = o.layer_rows[4 * 2 + 1];
    EXPECT_EQ(conv2_q.run_index, 2);
    EXPECT_EQ(conv2_q.subspace_dim, 4);
    EXPECT_EQ(conv2_q.codewords, 16);
    EXPECT_GT(conv2_q.response_error, 0.0);
    EXPECT_GT(conv2_q.params, 0);
    EXPECT_LT(conv2_q.bytes_quantized, conv2_q.bytes_dense);

    // The file holds exactly the outcome, and the attributes of the run.
    const ResultsFile f = ResultsFile::read(path, o.sweep_id);
    test::expect_same_results(f.runs(), o.rows);
    test::expect_same_results(f.layers(), o.layer_rows);
    const SweepAttributes a = f.attributes();
    EXPECT_EQ(a.status, "completed");
    EXPECT_EQ(a.spec_json, "{\"as\": \"given\"}");
    EXPECT_EQ(a.spec_canonical, to_json(spec));
    EXPECT_EQ(a.model_path, spec.base.model);
    EXPECT_EQ(a.model_sha256.size(), 64u);
    EXPECT_EQ(a.data_spec, "fashion-mnist:test");
    EXPECT_EQ(a.samples, 64);
    EXPECT_EQ(a.threads, 2);
    EXPECT_EQ(a.seeds, "0");
    EXPECT_EQ(a.end_utc.size(), 20u);
    EXPECT_EQ(list_sweeps(path), std::vector<std::string>{o.sweep_id});
}

TEST(RunSweep, CancelAfterTwoRunsThenResumeGivesTheUninterruptedTable) {
    test::ScratchDir dir;
    const std::string path = dir.file("r.h5");
    const SweepSpec spec = test::lenet_spec();
    const auto cancel_after_two = [](const Progress& p) { return !(p.stage == "sweep" && p.done == 2); };
    EXPECT_THROW(run_sweep(spec, "", path, {}, cancel_after_two), Cancelled);
    const std::vector<std::string> ids = list_sweeps(path);
    ASSERT_EQ(ids.size(), 1u);
    {
        const ResultsFile f = ResultsFile::read(path, ids[0]);
        EXPECT_EQ(f.attributes().status, "cancelled");
        EXPECT_FALSE(f.attributes().end_utc.empty());
        ASSERT_EQ(f.runs().size(), 2u);
        EXPECT_EQ(f.layers().size(), 8u);
    }

    std::vector<int64_t> ran;
    SweepOptions resume;
    resume.resume = true;
    const SweepOutcome o = run_sweep(spec, "", path, resume, {},
                                     [&](const SweepPoint& p, const RunResult&, const RunRow&) { ran.push_back(p.index); });
    EXPECT_EQ(o.sweep_id, ids[0]);
    EXPECT_EQ(o.runs_skipped, 2);
    EXPECT_EQ(o.runs_done, 2);
    EXPECT_EQ(ran, (std::vector<int64_t>{2, 3}));
    test::expect_same_results(o.rows, reference_outcome().rows);
    test::expect_same_results(o.layer_rows, reference_outcome().layer_rows);
    {
        const ResultsFile f = ResultsFile::read(path, ids[0]);
        EXPECT_EQ(f.attributes().status, "completed");
        test::expect_same_results(f.runs(), reference_outcome().rows);
        test::expect_same_results(f.layers(), reference_outcome().layer_rows);
    }
    EXPECT_EQ(list_sweeps(path).size(), 1u);  // resumed in place, no new sweep

    // Resuming a completed sweep runs nothing.
    const SweepOutcome again = run_sweep(spec, "", path, resume);
    EXPECT_EQ(again.runs_done, 0);
    EXPECT_EQ(again.runs_skipped, 4);
}

TEST(RunSweep, ResumeNeedsASweepOfTheSameSpec) {
    test::ScratchDir dir;
    const std::string path = dir.file("r.h5");
    SweepOptions resume;
    resume.resume = true;
    try {
        run_sweep(test::lenet_spec(), "", path, resume);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  path + ": --resume: no such file (run without --resume to start the sweep)");
    }
    SweepSpec one = test::lenet_spec();
    one.grid = {{"fc", {"4/16"}}};
    run_sweep(one, "", path, {});
    try {
        run_sweep(test::lenet_spec(), "", path, resume);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path + ": --resume: no sweep in this file was started with this spec"),
                  std::string::npos)
            << e.what();
    }
}

TEST(RunSweep, AFailingRunMarksTheSweepFailedAndKeepsFinishedRuns) {
    test::ScratchDir dir;
    const std::string path = dir.file("r.h5");
    const auto fail_after_first = [](const SweepPoint& p, const RunResult&, const RunRow&) {
        if (p.index == 0) fail("run 0 post-processing failed");
    };
    EXPECT_THROW(run_sweep(test::lenet_spec(), "", path, {}, {}, fail_after_first), Error);
    const ResultsFile f = ResultsFile::read(path, list_sweeps(path).at(0));
    EXPECT_EQ(f.attributes().status, "failed");
    ASSERT_EQ(f.runs().size(), 1u);
    EXPECT_EQ(f.runs()[0].settings, "conv2=dense,fc=4/16");
    EXPECT_GT(f.runs()[0].top1, 0.5);
    EXPECT_EQ(f.layers().size(), 4u);
}

TEST(RunSweep, BadSettingsFailBeforeTheFileIsCreated) {
    test::ScratchDir dir;
    SweepSpec spec = test::lenet_spec();
    spec.grid = {{"conv9", {"4/16"}}};
    try {
        run_sweep(spec, "", dir.file("r.h5"), {});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("sweep run 0 ('conv9=4/16'): layer settings: unknown layer 'conv9'"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("r.h5")));
}

TEST(MeasureSpeed, MediansPerNetworkAndPerWeightLayer) {
    const auto net = load_model(QCNN_DATASETS_DIR "/lenet5.onnx");
    SpeedOptions o;
    o.budget_seconds = 0.05;
    const SpeedMeasurement m = measure_speed(*net, *net, "", net->sample_shape(), 1, LutKernel::Fast, o);
    EXPECT_GT(m.dense_ms(), 0.0);
    EXPECT_GT(m.quantized_ms(), 0.0);
    EXPECT_GE(m.rounds, o.min_rounds);
    EXPECT_FALSE(m.dense_reused);  // no model id: never reused
    ASSERT_EQ(m.dense.layer_ms.size(), 4u);
    ASSERT_EQ(m.quantized.layer_ms.size(), 4u);
    double layers = 0;
    for (const TimingStats& l : m.dense.layer_ms) {
        EXPECT_GT(l.median, 0.0);
        EXPECT_LE(l.q1, l.median);
        EXPECT_LE(l.median, l.q3);
        // Preempted rounds are left out while enough clean ones remain; otherwise every round is
        // used and the measurement is marked noisy (a loaded machine gave 7 samples of 8 rounds).
        EXPECT_TRUE(l.samples == m.rounds - m.preempted_rounds || (l.samples == m.rounds && m.noisy()))
            << l.samples << " samples, " << m.rounds << " rounds, " << m.preempted_rounds << " preempted";
        layers += l.median;
    }
    EXPECT_LT(layers, 2.0 * m.dense_ms() + 0.05);  // per-layer medians fit in the whole forward
    EXPECT_LE(m.speedup_lo(), m.speedup());
    EXPECT_LE(m.speedup(), m.speedup_hi());

    // Rows take the measurement as given.
    SweepSpec spec = test::lenet_spec();
    spec.grid = {{"fc", {"4/16"}}};
    const SweepPoint p = expand(spec).at(0);
    const RunResult r = run_quantization(run_spec(spec, p));
    const RunRow row = run_row(p, r, &m);
    EXPECT_EQ(row.dense_ms, m.dense_ms());
    EXPECT_EQ(row.measured_speedup, m.dense_ms() / m.quantized_ms());
    EXPECT_EQ(row.dense_ms_spread, m.dense.total_ms.spread());
    EXPECT_EQ(row.measured_speedup_lo, m.speedup_lo());
    EXPECT_EQ(row.measured_speedup_hi, m.speedup_hi());
    EXPECT_EQ(row.speed_noisy, m.noisy() ? 1 : 0);
    EXPECT_EQ(row.speed_rounds, m.rounds);
    EXPECT_EQ(row.speed_preempted_rounds, m.preempted_rounds);
    const std::vector<LayerRow> layers_rows = layer_rows(p, r, &m);
    ASSERT_EQ(layers_rows.size(), 4u);
    EXPECT_EQ(layers_rows[3].quantized_ms, m.quantized.layer_ms[3].median);
    EXPECT_EQ(layers_rows[3].quantized_ms_spread, m.quantized.layer_ms[3].spread());
    EXPECT_EQ(layers_rows[3].ec, "none");
    EXPECT_EQ(layers_rows[3].codewords, 16);
    EXPECT_EQ(layers_rows[3].params, 1290);
    EXPECT_EQ(layers_rows[3].bytes_dense, 1280 * 4);
    EXPECT_EQ(layers_rows[3].bytes_dense, r.cost.layers[3].weight_bits_dense / 8);

    RunRow shown = row;
    shown.measured_speedup = 1.9;
    shown.measured_speedup_lo = 1.7;
    shown.measured_speedup_hi = 2.1;
    shown.speed_noisy = 0;
    EXPECT_EQ(measured_speedup_text(shown), "1.90x \u00b10.20");
    shown.speed_noisy = 1;
    EXPECT_EQ(measured_speedup_text(shown), "1.90x \u00b10.20 noisy");
    EXPECT_EQ(measured_speedup_text(run_row(p, r, nullptr)), "-");
}

// Issue 14: the same settings of VGG-7 read 1.29x with seed 0 and 2.58x with seed 1 because the
// dense network was re-timed in every run, and its batch-1 passes on a 2-core machine busy with
// other processes are bimodal (0.7 ms, or ~12 ms per 2-thread team when the partner thread
// waits for a scheduler slice): one run's 0.5 s median landed on 0.63 ms, the next on 62-72 ms.
// Now one model's dense time is measured once per process and machine state: a second
// measurement of the same dense model either reports the kept numbers exactly (dense_reused),
// or its own dense passes disagreed with them by more than the reuse tolerance (the machine
// state changed) or were noisy. The old code re-timed dense every run and failed this.
TEST(MeasureSpeed, Issue14_DenseOfOneModelIsMeasuredOncePerSession) {
    const auto net = load_model(QCNN_DATASETS_DIR "/lenet5.onnx");
    SweepSpec spec = test::lenet_spec();
    spec.grid = {{"fc", {"4/16"}}};
    const RunResult q = run_quantization(run_spec(spec, expand(spec).at(0)));
    DenseTimingCache cache;
    SpeedOptions o;
    o.budget_seconds = 0.2;
    const std::string id = sha256_file(QCNN_DATASETS_DIR "/lenet5.onnx");
    const SpeedMeasurement first = measure_speed(*net, q.q.network, id, net->sample_shape(), 1, LutKernel::Fast, o, &cache);
    EXPECT_FALSE(first.dense_reused);
    EXPECT_EQ(cache.find({id, {1, 1, 28, 28}, 1, LutKernel::Fast}).has_value(), !first.dense.noisy);
    for (int k = 0; k < 2; ++k) {
        const SpeedMeasurement again = measure_speed(*net, k ? *net : q.q.network, id, net->sample_shape(), 1,
                                                     LutKernel::Fast, o, &cache);
        SCOPED_TRACE(cat("measurement ", k + 2, ": dense ", again.dense_ms(), " ms, first ", first.dense_ms(), " ms"));
        if (first.dense.noisy) {
            EXPECT_FALSE(again.dense_reused && again.dense_ms() == first.dense_ms());  // noisy ones are not kept
        } else if (again.dense_reused) {
            EXPECT_EQ(again.dense_ms(), first.dense_ms());
            EXPECT_EQ(again.dense.total_ms.q1, first.dense.total_ms.q1);
            EXPECT_EQ(again.dense.total_ms.q3, first.dense.total_ms.q3);
            for (size_t l = 0; l < first.dense.layer_ms.size(); ++l)
                EXPECT_EQ(again.dense.layer_ms[l].median, first.dense.layer_ms[l].median);
        } else {
            EXPECT_GT(std::abs(again.dense_ms() - first.dense_ms()), o.reuse_tolerance * first.dense_ms());
        }
        // Whatever happened, the numbers shown say how far to trust them.
        EXPECT_LE(again.speedup_lo(), again.speedup());
        EXPECT_LE(again.speedup(), again.speedup_hi());
        // A wide spread is always marked noisy; a narrow one may be too, when preempted rounds
        // left too few clean ones (SpeedSide::noisy).
        const bool wide = again.dense.total_ms.spread() > o.noisy_spread || again.quantized.total_ms.spread() > o.noisy_spread;
        if (wide) {
            EXPECT_TRUE(again.noisy());
        }
    }
    // Another thread count is another key: measured afresh.
    const SpeedMeasurement two = measure_speed(*net, *net, id, net->sample_shape(), 2, LutKernel::Fast, o, &cache);
    EXPECT_FALSE(two.dense_reused);
}

// Reads `fd` until `count` lines containing `needle` have been seen (or EOF).
bool wait_for_lines(int fd, const std::string& needle, int count, std::string& seen) {
    char buf[4096];
    int found = 0;
    size_t scanned = 0;
    while (found < count) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return false;
        seen.append(buf, static_cast<size_t>(n));
        for (size_t at; (at = seen.find(needle, scanned)) != std::string::npos; scanned = at + needle.size()) ++found;
    }
    return true;
}

// Runs `qcnn ARGS...` with stderr on a pipe, kills it with SIGKILL once `runs` "run i/n done"
// lines were printed (each after its run was appended and flushed), and checks it died of the
// kill. Returns stderr.
std::string run_qcnn_and_kill(const std::vector<std::string>& args, int runs) {
    const std::string qcnn = QCNN_BINARY_DIR "/app/qcnn";
    EXPECT_TRUE(std::filesystem::exists(qcnn)) << qcnn << " is not built (the test depends on the qcnn target)";
    int err_pipe[2];
    EXPECT_EQ(pipe(err_pipe), 0);
    std::vector<char*> argv{const_cast<char*>(qcnn.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = fork();
    EXPECT_GE(pid, 0);
    if (pid == 0) {
        dup2(err_pipe[1], STDERR_FILENO);
        close(err_pipe[0]);
        close(err_pipe[1]);
        if (FILE* out = std::freopen("/dev/null", "w", stdout)) (void)out;
        execv(qcnn.c_str(), argv.data());
        _exit(127);
    }
    close(err_pipe[1]);
    std::string log;
    const bool done = wait_for_lines(err_pipe[0], " done: ", runs, log);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(err_pipe[0]);
    EXPECT_TRUE(done) << "qcnn ended early; stderr:\n" << log;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << log;
    return log;
}

TEST(RunSweep, KilledProcessLeavesAReadableFileWithEveryFinishedRun) {
    test::ScratchDir dir;
    const std::string spec_path = dir.file("spec.json");
    const std::string path = dir.file("r.h5");
    save_sweep_spec(spec_path, test::lenet_spec());
    run_qcnn_and_kill({"sweep", spec_path, "-o", path}, 2);
    if (HasFailure()) return;

    const std::vector<std::string> ids = list_sweeps(path);
    ASSERT_EQ(ids.size(), 1u);
    {
        const ResultsFile f = ResultsFile::read(path, ids[0]);
        EXPECT_EQ(f.attributes().status, "running");  // never marked: the process died
        EXPECT_EQ(f.attributes().end_utc, "");
        const std::vector<RunRow> runs = f.runs();
        ASSERT_GE(runs.size(), 2u);
        ASSERT_LE(runs.size(), 3u);
        test::expect_same_results(runs, std::vector<RunRow>(reference_outcome().rows.begin(),
                                                            reference_outcome().rows.begin() + runs.size()));
    }
    // --resume completes it to the uninterrupted table.
    SweepOptions resume;
    resume.resume = true;
    const SweepOutcome o = run_sweep(load_sweep_spec(spec_path), "", path, resume);
    EXPECT_EQ(o.runs_skipped + o.runs_done, 4);
    test::expect_same_results(o.rows, reference_outcome().rows);
    test::expect_same_results(ResultsFile::read(path, ids[0]).layers(), reference_outcome().layer_rows);
}

// Issue 17: a shard killed with SIGKILL resumes in its own file (what a resubmitted Slurm task
// does: --resume with the sweep id) and ends with exactly its runs, equal to the unsharded sweep's.
TEST(RunSweep, KilledShardResumes) {
    test::ScratchDir dir;
    const std::string spec_path = dir.file("spec.json");
    const std::string path = dir.file("shard-1-of-2.h5");
    save_sweep_spec(spec_path, test::lenet_spec());
    run_qcnn_and_kill({"sweep", spec_path, "-o", path, "--shard", "1/2", "--sweep-id", "cluster-1"}, 1);
    if (HasFailure()) return;
    {
        const ResultsFile f = ResultsFile::read(path, "cluster-1");
        EXPECT_EQ(f.attributes().status, "running");
        EXPECT_EQ(f.attributes().shard, "1/2");
        ASSERT_GE(f.runs().size(), 1u);
        EXPECT_EQ(f.runs()[0].run_index, 1);
    }
    SweepOptions resume;
    resume.resume = true;
    resume.shard = {1, 2};
    resume.sweep_id = "cluster-1";
    std::vector<int64_t> ran;
    const SweepOutcome o = run_sweep(load_sweep_spec(spec_path), "", path, resume, {},
                                     [&](const SweepPoint& p, const RunResult&, const RunRow&) { ran.push_back(p.index); });
    EXPECT_EQ(o.sweep_id, "cluster-1");
    EXPECT_EQ(o.runs_total, 2);
    EXPECT_EQ(o.runs_skipped + o.runs_done, 2);
    for (int64_t i : ran) EXPECT_EQ(i % 2, 1) << "run " << i << " is not in shard 1/2";
    const std::vector<RunRow>& ref = reference_outcome().rows;
    test::expect_same_results(o.rows, std::vector<RunRow>{ref[1], ref[3]});
    const ResultsFile f = ResultsFile::read(path, "cluster-1");
    EXPECT_EQ(f.attributes().status, "completed");
    for (const RunRow& r : f.runs()) {
        EXPECT_EQ(r.shard, 1);
        EXPECT_EQ(r.shards, 2);
        EXPECT_EQ(r.host, host_name());
        EXPECT_EQ(r.finished_utc.size(), 20u) << r.finished_utc;
    }
    EXPECT_EQ(list_sweeps(path), std::vector<std::string>{"cluster-1"});
}

}  // namespace
}  // namespace qcnn
