// Issue 17: the shard partition (every run in exactly one shard, for any N) and merge_results
// (every run once, provenance kept; different specs, sweeps and conflicting duplicates refused).
#include <gtest/gtest.h>

#include <set>

#include "core/sweep/merge.h"
#include "core/util/error.h"
#include "core/util/sha256.h"
#include "sweep_test_util.h"

namespace qcnn {
namespace {

using test::error_of;

// 2 EC modes x 2 seeds x fc {4/16, 8/16, 2/16} = 12 runs; no model is needed to expand it.
SweepSpec spec12() {
    SweepSpec s;
    s.base.model = "/models/m.onnx";
    s.base.data = "fashion-mnist:test";
    s.grid = {{"fc", {"4/16", "8/16", "2/16"}}};
    s.ec = {EcMode::None, EcMode::Layer};
    s.seeds = {3, 4};
    return s;
}

TEST(Shard, EveryRunIsInExactlyOneShardForAnyN) {
    for (const int64_t runs : {1, 5, 12}) {
        SweepSpec s = spec12();
        if (runs < 12) {
            s.ec = {EcMode::None};
            s.seeds = {0};
            s.grid = runs == 1 ? std::vector<SweepGroup>{}
                               : std::vector<SweepGroup>{{"fc", {"4/16", "8/16", "2/16", "1/16", "dense"}}};
        }
        const std::vector<SweepPoint> points = expand(s);
        ASSERT_EQ(static_cast<int64_t>(points.size()), runs);
        for (int64_t n = 1; n <= runs + 3; ++n) {
            SCOPED_TRACE(cat(runs, " runs, ", n, " shards"));
            std::multiset<int64_t> seen;
            for (int64_t i = 0; i < n; ++i) {
                const std::vector<SweepPoint> part = shard_points(points, {i, n});
                EXPECT_EQ(static_cast<int64_t>(part.size()), runs / n + (i < runs % n ? 1 : 0));
                for (size_t k = 0; k < part.size(); ++k) {
                    EXPECT_EQ(part[k].index % n, i);  // the documented rule: index mod N
                    if (k) {
                        EXPECT_LT(part[k - 1].index, part[k].index);  // in run order
                    }
                    EXPECT_EQ(part[k].layers, points[static_cast<size_t>(part[k].index)].layers);
                    seen.insert(part[k].index);
                }
                if (i >= runs) {
                    EXPECT_TRUE(part.empty());
                }
            }
            ASSERT_EQ(static_cast<int64_t>(seen.size()), runs);
            for (int64_t r = 0; r < runs; ++r) EXPECT_EQ(seen.count(r), 1u) << "run " << r;
        }
    }
}

TEST(Shard, ParseNamesTheBadText) {
    EXPECT_EQ(parse_shard("3/4", "--shard"), (Shard{3, 4}));
    EXPECT_EQ(to_string(Shard{3, 4}), "3/4");
    EXPECT_EQ(error_of([] { parse_shard("4/4", "--shard"); }),
              "--shard: '4/4': shard I = 4 must be below N = 4 (I counts from 0)");
    EXPECT_EQ(error_of([] { parse_shard("1-4", "--shard"); }),
              "--shard: '1-4' is not a shard I/N (e.g. 0/4: the first of 4 shards)");
    EXPECT_EQ(error_of([] { parse_shard("0/0", "--shard"); }), "--shard: '0/0': N = 0 is out of range (1..100000)");
    EXPECT_EQ(error_of([] { parse_shard("-1/4", "--shard"); }),
              "--shard: '-1/4' is not a shard I/N (e.g. 0/4: the first of 4 shards)");
}

// Rows of run `i` of spec12() as shard `shard` of `n` on `host` would write them.
RunRow row_of(const std::vector<SweepPoint>& points, int64_t i, int64_t n, const std::string& host) {
    RunRow r;
    r.run_index = i;
    r.settings = points[static_cast<size_t>(i)].layers;
    r.ec = to_string(points[static_cast<size_t>(i)].ec);
    r.seed = points[static_cast<size_t>(i)].seed;
    r.top1 = 0.5 + 0.01 * static_cast<double>(i);
    r.top1_float = 0.9;
    r.compression = 3.0 + static_cast<double>(i);
    r.quantize_seconds = 1.0 + static_cast<double>(i);
    r.host = host;
    r.shard = i % n;
    r.shards = n;
    r.finished_utc = cat("2026-12-05T10:00:", 10 + i, "Z");
    return r;
}

std::vector<LayerRow> layers_of(int64_t i) {
    LayerRow l;
    l.run_index = i;
    l.name = "fc1";
    l.alias = "fc1";
    l.op = "fc";
    l.subspace_dim = 4;
    l.codewords = 16;
    l.response_error = 0.01 * static_cast<double>(i);
    return {l};
}

// Writes shard `shard` of `n` of `spec` (runs `only`, default all of the shard's) as sweep `id`.
void write_shard(const std::string& path, const std::string& id, const SweepSpec& spec, int64_t shard, int64_t n,
                 const std::string& host, std::vector<int64_t> only = {}) {
    const std::vector<SweepPoint> points = expand(spec);
    SweepAttributes a = environment_attributes();
    a.spec_canonical = to_json(spec);
    a.spec_json = a.spec_canonical;
    a.spec_sha256 = sha256_hex(a.spec_canonical);
    a.shard = to_string(Shard{shard, n});
    a.host = host;
    a.model_path = spec.base.model;
    a.model_sha256 = std::string(64, 'b');
    a.start_utc = cat("2026-12-05T10:00:0", shard, "Z");
    a.end_utc = cat("2026-12-05T11:00:0", shard, "Z");
    a.status = "completed";
    ResultsFile f = ResultsFile::create(path, id, a);
    if (only.empty())
        for (const SweepPoint& p : shard_points(points, {shard, n})) only.push_back(p.index);
    for (int64_t i : only) f.append(row_of(points, i, n, host), layers_of(i));
}

TEST(Merge, ShardsBecomeOneSweepWithEveryRunOnceAndTheirProvenance) {
    test::ScratchDir dir;
    const SweepSpec spec = spec12();
    std::vector<std::string> files;
    for (int64_t i = 0; i < 5; ++i) {  // 5 shards of 12 runs
        files.push_back(dir.file(cat("shard-", i, ".h5")));
        write_shard(files.back(), "c1", spec, i, 5, cat("node", i % 2));
    }
    files.push_back(files[1]);  // the same file twice: identical duplicates
    const std::string out = dir.file("all.h5");
    const MergeOutcome m = merge_results(files, out);
    EXPECT_EQ(m.sweep_id, "c1");
    EXPECT_EQ(m.status, "completed");
    EXPECT_EQ(m.runs_total, 12);
    EXPECT_EQ(m.runs_merged, 12);
    EXPECT_EQ(m.duplicates, 3);  // shard 1 of 5: runs 1, 6, 11
    EXPECT_TRUE(m.missing.empty());

    EXPECT_EQ(list_sweeps(out), std::vector<std::string>{"c1"});
    const ResultsFile f = ResultsFile::read(out, "c1");
    const SweepAttributes a = f.attributes();
    EXPECT_EQ(a.status, "completed");
    EXPECT_EQ(a.shard, "");
    EXPECT_EQ(a.host, "node0,node1");
    EXPECT_EQ(a.start_utc, "2026-12-05T10:00:00Z");
    EXPECT_EQ(a.end_utc, "2026-12-05T11:00:04Z");
    EXPECT_EQ(a.spec_sha256, sha256_hex(to_json(spec)));
    EXPECT_NE(a.merged_from.find("shard-4.h5"), std::string::npos) << a.merged_from;
    const std::vector<RunRow> runs = f.runs();
    const std::vector<LayerRow> layers = f.layers();
    const std::vector<SweepPoint> points = expand(spec);
    ASSERT_EQ(runs.size(), 12u);
    ASSERT_EQ(layers.size(), 12u);
    for (int64_t i = 0; i < 12; ++i) {
        const RunRow& r = runs[static_cast<size_t>(i)];
        const RunRow want = row_of(points, i, 5, cat("node", (i % 5) % 2));
        EXPECT_EQ(r.run_index, i);
        EXPECT_EQ(r.settings, want.settings);
        EXPECT_EQ(r.top1, want.top1);
        EXPECT_EQ(r.host, want.host);
        EXPECT_EQ(r.shard, i % 5);
        EXPECT_EQ(r.shards, 5);
        EXPECT_EQ(r.finished_utc, want.finished_utc);
        EXPECT_EQ(layers[static_cast<size_t>(i)].run_index, i);
        EXPECT_EQ(layers[static_cast<size_t>(i)].response_error, 0.01 * static_cast<double>(i));
    }
}

TEST(Merge, MissingRunsLeaveTheSweepIncomplete) {
    test::ScratchDir dir;
    write_shard(dir.file("a.h5"), "c1", spec12(), 0, 2, "n");
    write_shard(dir.file("b.h5"), "c1", spec12(), 1, 2, "n", {1, 3});  // killed after two runs
    const MergeOutcome m = merge_results({dir.file("a.h5"), dir.file("b.h5")}, dir.file("all.h5"));
    EXPECT_EQ(m.status, "incomplete");
    EXPECT_EQ(m.runs_merged, 8);
    EXPECT_EQ(m.missing, (std::vector<int64_t>{5, 7, 9, 11}));
    EXPECT_EQ(ResultsFile::read(dir.file("all.h5"), "c1").attributes().status, "incomplete");
}

TEST(Merge, RefusesShardsOfDifferentSpecsOrSweeps) {
    test::ScratchDir dir;
    SweepSpec other = spec12();
    other.base.kmeans_iters = 7;
    write_shard(dir.file("a.h5"), "c1", spec12(), 0, 2, "n");
    write_shard(dir.file("b.h5"), "c1", other, 1, 2, "n");
    write_shard(dir.file("c.h5"), "c2", spec12(), 1, 2, "n");
    const std::string a = dir.file("a.h5"), b = dir.file("b.h5"), c = dir.file("c.h5"), out = dir.file("all.h5");
    const std::string spec_error = error_of([&] { merge_results({a, b}, out); });
    EXPECT_NE(spec_error.find("merge: " + b + " and " + a + " were run with different specs (spec SHA-256 "),
              std::string::npos)
        << spec_error;
    EXPECT_NE(spec_error.find("files of different sweeps do not merge"), std::string::npos) << spec_error;
    EXPECT_EQ(error_of([&] { merge_results({a, c}, out); }),
              "merge: " + c + " holds sweep 'c2' but " + a +
                  " holds sweep 'c1': only the shards of one sweep merge (--sweep-id picks one sweep of each file)");
    EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(Merge, RefusesARunPresentTwiceWithDifferentNumbers) {
    test::ScratchDir dir;
    const SweepSpec spec = spec12();
    write_shard(dir.file("a.h5"), "c1", spec, 0, 2, "n");
    {
        // Run 4 again, computed elsewhere with another top-1.
        SweepAttributes attrs = ResultsFile::read(dir.file("a.h5"), "c1").attributes();
        ResultsFile f = ResultsFile::create(dir.file("b.h5"), "c1", attrs);
        RunRow r = row_of(expand(spec), 4, 2, "other");
        r.top1 += 0.125;
        f.append(r, layers_of(4));
    }
    const std::string a = dir.file("a.h5"), b = dir.file("b.h5");
    const std::string error = error_of([&] { merge_results({a, b}, dir.file("all.h5")); });
    EXPECT_EQ(error.rfind("merge: run 4 ('fc=8/16', ec none, seed 4) is in " + a + " and " + b +
                              " with different numbers (top1 ", 0),
              0u)
        << error;
    // Different timings and provenance alone are not a conflict.
    {
        SweepAttributes attrs = ResultsFile::read(a, "c1").attributes();
        ResultsFile f = ResultsFile::create(dir.file("c.h5"), "c1", attrs);
        RunRow r = row_of(expand(spec), 4, 2, "other");
        r.quantize_seconds = 99;
        r.finished_utc = "2027-01-01T00:00:00Z";
        f.append(r, layers_of(4));
    }
    const MergeOutcome m = merge_results({a, dir.file("c.h5")}, dir.file("all.h5"));
    EXPECT_EQ(m.duplicates, 1);
    EXPECT_EQ(ResultsFile::read(dir.file("all.h5"), "c1").runs().at(2).host, "n");  // the first file's copy
}

}  // namespace
}  // namespace qcnn
