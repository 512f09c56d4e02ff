// ResultsFile: create, append, read back, reopen, list, errors; runs_csv.
#include <gtest/gtest.h>

#include <limits>

#include "core/sweep/results_file.h"
#include "sweep_test_util.h"

namespace qcnn {
namespace {

using test::error_of;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

RunRow make_run(int64_t i) {
    RunRow r;
    r.run_index = i;
    r.settings = cat("conv=8/128,fc=", 2 + i, "/32");
    r.ec = i % 2 ? "network" : "none";
    r.seed = 0xFFFF'FFFF'FFFF'FFF0ULL + static_cast<uint64_t>(i);  // needs all 64 bits
    r.top1 = 0.9 - 0.01 * static_cast<double>(i);
    r.top5 = 0.999;
    r.top1_float = 0.9153;
    r.top5_float = 0.9988;
    r.compression = 15.9 + static_cast<double>(i);
    r.theoretical_speedup = 4.9;
    r.measured_speedup = i == 1 ? kNaN : 3.25;
    r.dense_ms = i == 1 ? kNaN : 1.5;
    r.quantized_ms = i == 1 ? kNaN : 0.5;
    r.memory_bytes_dense = 1'000'000 + i;
    r.memory_bytes_quantized = 90'000 + i;
    r.quantize_seconds = 2.5;
    r.eval_seconds = 0.75;
    r.dense_ms_spread = i == 1 ? kNaN : 0.0625;
    r.quantized_ms_spread = i == 1 ? kNaN : 0.25;
    r.measured_speedup_lo = i == 1 ? kNaN : 2.5;
    r.measured_speedup_hi = i == 1 ? kNaN : 4.125;
    r.speed_noisy = i == 2;
    r.dense_reused = i == 2;
    r.speed_rounds = i == 1 ? 0 : 40 + i;
    r.speed_preempted_rounds = i == 1 ? 0 : 3 * i;
    r.host = cat("node-", i);
    r.shard = i % 3;
    r.shards = 3;
    r.finished_utc = cat("2026-12-05T10:0", i, ":00Z");
    return r;
}

std::vector<LayerRow> make_layers(int64_t run) {
    std::vector<LayerRow> out;
    for (int l = 0; l < 3; ++l) {
        LayerRow x;
        x.run_index = run;
        x.name = cat("/features/features.", l, "/Conv");
        x.alias = cat("conv", l + 1);
        x.op = l == 2 ? "fc" : "conv";
        x.subspace_dim = l == 0 ? 0 : 8;
        x.codewords = l == 0 ? 0 : 128;
        x.ec = l == 0 ? "none" : "network";
        x.params = 1000 * (l + 1);
        x.bytes_dense = 4000 * (l + 1);
        x.bytes_quantized = l == 0 ? x.bytes_dense : 300;
        x.flops_dense = int64_t(1) << (40 + l);  // beyond 32 bits
        x.flops_quantized = 12345;
        x.theoretical_speedup = 3.5;
        x.dense_ms = kNaN;
        x.quantized_ms = 0.125;
        x.response_error = l == 0 ? 0.0 : 0.0625 * l;
        x.dense_ms_spread = kNaN;
        x.quantized_ms_spread = 0.03125 * l;
        out.push_back(x);
    }
    return out;
}

SweepAttributes make_attrs() {
    SweepAttributes a = environment_attributes();
    a.spec_json = R"({"qcnn_sweep": 1, "model": "m.onnx"})";
    a.spec_canonical = "{canonical}";
    a.seeds = "0,1";
    a.model_path = "/models/m.onnx";
    a.model_sha256 = std::string(64, 'a');
    a.data_spec = "fashion-mnist:test";
    a.samples = 10000;
    a.threads = 2;
    return a;
}

// NaN-aware bit-exact equality of whole rows.
bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void expect_equal(const RunRow& a, const RunRow& b) {
    EXPECT_EQ(a.run_index, b.run_index);
    EXPECT_EQ(a.settings, b.settings);
    EXPECT_EQ(a.ec, b.ec);
    EXPECT_EQ(a.seed, b.seed);
    for (auto f : {&RunRow::top1, &RunRow::top5, &RunRow::top1_float, &RunRow::top5_float, &RunRow::compression,
                   &RunRow::theoretical_speedup, &RunRow::measured_speedup, &RunRow::dense_ms, &RunRow::quantized_ms,
                   &RunRow::quantize_seconds, &RunRow::eval_seconds, &RunRow::dense_ms_spread,
                   &RunRow::quantized_ms_spread, &RunRow::measured_speedup_lo, &RunRow::measured_speedup_hi})
        EXPECT_TRUE(same(a.*f, b.*f)) << a.*f << " vs " << b.*f;
    EXPECT_EQ(a.speed_noisy, b.speed_noisy);
    EXPECT_EQ(a.dense_reused, b.dense_reused);
    EXPECT_EQ(a.speed_rounds, b.speed_rounds);
    EXPECT_EQ(a.speed_preempted_rounds, b.speed_preempted_rounds);
    EXPECT_EQ(a.memory_bytes_dense, b.memory_bytes_dense);
    EXPECT_EQ(a.memory_bytes_quantized, b.memory_bytes_quantized);
    EXPECT_EQ(a.host, b.host);
    EXPECT_EQ(a.shard, b.shard);
    EXPECT_EQ(a.shards, b.shards);
    EXPECT_EQ(a.finished_utc, b.finished_utc);
}

void expect_equal(const LayerRow& a, const LayerRow& b) {
    EXPECT_EQ(a.run_index, b.run_index);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.alias, b.alias);
    EXPECT_EQ(a.op, b.op);
    EXPECT_EQ(a.subspace_dim, b.subspace_dim);
    EXPECT_EQ(a.codewords, b.codewords);
    EXPECT_EQ(a.ec, b.ec);
    EXPECT_EQ(a.params, b.params);
    EXPECT_EQ(a.bytes_dense, b.bytes_dense);
    EXPECT_EQ(a.bytes_quantized, b.bytes_quantized);
    EXPECT_EQ(a.flops_dense, b.flops_dense);
    EXPECT_EQ(a.flops_quantized, b.flops_quantized);
    for (auto f : {&LayerRow::theoretical_speedup, &LayerRow::dense_ms, &LayerRow::quantized_ms,
                   &LayerRow::response_error, &LayerRow::dense_ms_spread, &LayerRow::quantized_ms_spread})
        EXPECT_TRUE(same(a.*f, b.*f)) << a.*f << " vs " << b.*f;
}

TEST(ResultsFile, AppendedRowsAndAttributesReadBackExactly) {
    test::ScratchDir dir;
    const std::string path = dir.file("r.h5");
    const SweepAttributes attrs = make_attrs();
    {
        ResultsFile f = ResultsFile::create(path, "20250101T000000Z", attrs);
        EXPECT_TRUE(f.runs().empty());
        EXPECT_TRUE(f.layers().empty());
        for (int64_t i = 0; i < 3; ++i) f.append(make_run(i), make_layers(i));
        ASSERT_EQ(f.runs().size(), 3u);
        ASSERT_EQ(f.layers().size(), 9u);
    }
    const ResultsFile f = ResultsFile::read(path, "20250101T000000Z");
    const std::vector<RunRow> runs = f.runs();
    ASSERT_EQ(runs.size(), 3u);
    for (int64_t i = 0; i < 3; ++i) expect_equal(runs[i], make_run(i));
    const std::vector<LayerRow> layers = f.layers();
    ASSERT_EQ(layers.size(), 9u);
    for (int64_t i = 0; i < 9; ++i) expect_equal(layers[i], make_layers(i / 3)[i % 3]);

    const SweepAttributes a = f.attributes();
    EXPECT_EQ(a.spec_json, attrs.spec_json);
    EXPECT_EQ(a.spec_canonical, attrs.spec_canonical);
    EXPECT_EQ(a.app_version, attrs.app_version);
    EXPECT_EQ(a.git_commit, attrs.git_commit);
    EXPECT_EQ(a.seeds, "0,1");
    EXPECT_EQ(a.host, attrs.host);
    EXPECT_FALSE(a.host.empty());
    EXPECT_EQ(a.cpu_model, attrs.cpu_model);
    EXPECT_EQ(a.qt_version, "");
    EXPECT_EQ(a.eigen_version, attrs.eigen_version);
    EXPECT_EQ(a.eigen_version.rfind("3.", 0), 0u) << a.eigen_version;
    EXPECT_EQ(a.hdf5_version.rfind("1.", 0), 0u) << a.hdf5_version;
    EXPECT_EQ(a.start_utc, attrs.start_utc);
    EXPECT_EQ(a.start_utc.size(), 20u) << a.start_utc;  // 2025-01-01T00:00:00Z
    EXPECT_EQ(a.end_utc, "");
    EXPECT_EQ(a.status, "running");
    EXPECT_EQ(a.model_path, "/models/m.onnx");
    EXPECT_EQ(a.model_sha256, attrs.model_sha256);
    EXPECT_EQ(a.data_spec, "fashion-mnist:test");
    EXPECT_EQ(a.samples, 10000);
    EXPECT_EQ(a.threads, 2);
}

TEST(ResultsFile, ReopenAppendsAndSetsStatus) {
    test::ScratchDir dir;
    const std::string path = dir.file("r.h5");
    {
        ResultsFile f = ResultsFile::create(path, "s1", make_attrs());
        f.append(make_run(0), make_layers(0));
    }
    {
        ResultsFile f = ResultsFile::open(path, "s1");
        ASSERT_EQ(f.runs().size(), 1u);
        f.append(make_run(1), make_layers(1));
        f.append(make_run(2), {});  // a run without weight layers rows is allowed
        f.set_status("completed", "2025-01-01T01:00:00Z");
    }
    const ResultsFile f = ResultsFile::read(path, "s1");
    ASSERT_EQ(f.runs().size(), 3u);
    expect_equal(f.runs()[2], make_run(2));
    EXPECT_EQ(f.layers().size(), 6u);
    EXPECT_EQ(f.attributes().status, "completed");
    EXPECT_EQ(f.attributes().end_utc, "2025-01-01T01:00:00Z");
}

TEST(ResultsFile, ListSweepsInCreationOrderAndSweepsStayApart) {
    test::ScratchDir dir;
    const std::string path = dir.file("r.h5");
    EXPECT_THROW(list_sweeps(path), Error);  // no file yet
    for (const char* id : {"zeta", "alpha", "mid"}) {
        ResultsFile f = ResultsFile::create(path, id, make_attrs());
        f.append(make_run(std::string(id) == "alpha" ? 7 : 0), {});
    }
    EXPECT_EQ(list_sweeps(path), (std::vector<std::string>{"zeta", "alpha", "mid"}));
    EXPECT_EQ(ResultsFile::read(path, "alpha").runs().at(0).run_index, 7);
    EXPECT_EQ(ResultsFile::read(path, "mid").runs().at(0).run_index, 0);
}

TEST(ResultsFile, ErrorsNameThePathAndTheSweep) {
    test::ScratchDir dir;
    const std::string path = dir.file("r.h5");
    { ResultsFile::create(path, "s1", make_attrs()); }
    EXPECT_EQ(error_of([&] { ResultsFile::create(path, "s1", make_attrs()); }),
              path + ": a sweep 's1' already exists");
    EXPECT_EQ(error_of([&] { ResultsFile::open(path, "nope"); }),
              path + ": no sweep 'nope' (sweeps in the file: s1)");
    EXPECT_EQ(error_of([&] { ResultsFile::create(path, "a/b", make_attrs()); }),
              path + ": bad sweep id 'a/b' (non-empty, no '/' or '.')");
    EXPECT_EQ(error_of([&] { ResultsFile::read(dir.file("missing.h5"), "s1"); }), dir.file("missing.h5") + ": no such file");

    test::write_file(dir.file("text.h5"), "not hdf5");
    EXPECT_EQ(error_of([&] { ResultsFile::create(dir.file("text.h5"), "s1", make_attrs()); }),
              dir.file("text.h5") + ": exists and is not an HDF5 file");
    EXPECT_EQ(error_of([&] { list_sweeps(dir.file("text.h5")); }), dir.file("text.h5") + ": not an HDF5 file");

    {
        ResultsFile ro = ResultsFile::read(path, "s1");
        EXPECT_EQ(error_of([&] { ro.append(make_run(0), {}); }), path + ": sweep 's1': opened read-only");
        EXPECT_EQ(error_of([&] { ro.set_status("completed", ""); }), path + ": sweep 's1': opened read-only");
    }

    ResultsFile f = ResultsFile::open(path, "s1");
    RunRow long_settings = make_run(0);
    long_settings.settings = std::string(600, 'x');
    const std::string msg = error_of([&] { f.append(long_settings, {}); });
    EXPECT_NE(msg.find(path + ": sweep 's1': settings '"), std::string::npos) << msg;
    EXPECT_NE(msg.find("is 600 bytes, more than the table's fixed 512"), std::string::npos) << msg;
    EXPECT_TRUE(f.runs().empty());  // nothing half-written
}

TEST(ResultsFile, RunsCsvHasTheTableFieldsAndQuotedStrings) {
    const std::string csv = runs_csv({make_run(0), make_run(1)});
    const size_t eol = csv.find('\n');
    EXPECT_EQ(csv.substr(0, eol),
              "run_index,settings,ec,seed,top1,top5,top1_float,top5_float,compression,theoretical_speedup,"
              "measured_speedup,dense_ms,quantized_ms,memory_bytes_dense,memory_bytes_quantized,quantize_seconds,"
              "eval_seconds,dense_ms_spread,quantized_ms_spread,measured_speedup_lo,measured_speedup_hi,speed_noisy,"
              "dense_reused,speed_rounds,speed_preempted_rounds,host,shard,shards,finished_utc");
    EXPECT_NE(csv.find("\n0,\"conv=8/128,fc=2/32\",\"none\",18446744073709551600,0.9,0.999,0.9153,0.9988,15.9,4.9,3.25,"
                       "1.5,0.5,1000000,90000,2.5,0.75,0.0625,0.25,2.5,4.125,0,0,40,0,\"node-0\",0,3,"
                       "\"2026-12-05T10:00:00Z\"\n"),
              std::string::npos)
        << csv;
    // NaN (speed not measured) is an empty cell.
    EXPECT_NE(csv.find(",4.9,,,,1000001,"), std::string::npos) << csv;
    EXPECT_NE(csv.find(",2.5,0.75,,,,,0,0,0,0,\"node-1\",1,3,"), std::string::npos) << csv;
}

// Issue 14 bumped the schema to version 2 (speed-quality columns); a version-1 file written by
// the build before it (tests/data/results-v1.h5, see tests/data/README.md) stays readable.
TEST(ResultsFile, ReadsSchemaVersion1WithTheNewColumnsUnknown) {
    const std::string path = QCNN_TEST_DATA_DIR "/results-v1.h5";
    const std::vector<std::string> ids = list_sweeps(path);
    ASSERT_EQ(ids.size(), 1u);
    const ResultsFile f = ResultsFile::read(path, ids[0]);
    EXPECT_EQ(f.attributes().status, "completed");
    const std::vector<RunRow> runs = f.runs();
    ASSERT_EQ(runs.size(), 2u);
    for (const RunRow& r : runs) {
        EXPECT_EQ(r.settings, r.run_index == 0 ? "fc=4/16" : "fc=8/16");
        EXPECT_GT(r.top1, 0.5);
        EXPECT_GT(r.dense_ms, 0.0);  // measured by the old build
        EXPECT_EQ(r.measured_speedup, r.dense_ms / r.quantized_ms);
        EXPECT_TRUE(std::isnan(r.dense_ms_spread) && std::isnan(r.quantized_ms_spread));
        EXPECT_TRUE(std::isnan(r.measured_speedup_lo) && std::isnan(r.measured_speedup_hi));
        EXPECT_EQ(r.speed_noisy, 0);
        EXPECT_EQ(r.dense_reused, 0);
        EXPECT_EQ(r.speed_rounds, 0);
        EXPECT_EQ(r.speed_preempted_rounds, 0);
        EXPECT_EQ(r.host, "");  // provenance (version 3) unknown
        EXPECT_EQ(r.shard, 0);
        EXPECT_EQ(r.shards, 1);
        EXPECT_EQ(r.finished_utc, "");
    }
    const std::vector<LayerRow> layers = f.layers();
    ASSERT_EQ(layers.size(), 8u);
    for (const LayerRow& l : layers) {
        EXPECT_GT(l.dense_ms, 0.0);
        EXPECT_TRUE(std::isnan(l.dense_ms_spread) && std::isnan(l.quantized_ms_spread));
    }
    EXPECT_EQ(layers[3].alias, "fc2");
}

TEST(ResultsFile, NewSweepsAreSchemaVersion3) {
    test::ScratchDir dir;
    const std::string path = dir.file("r.h5");
    { ResultsFile::create(path, "s", make_attrs()).append(make_run(0), make_layers(0)); }
    EXPECT_EQ(kResultsSchemaVersion, 3);
    const ResultsFile f = ResultsFile::read(path, "s");
    expect_equal(f.runs().at(0), make_run(0));
}

}  // namespace
}  // namespace qcnn
