// The CLI's run-option flags come from the run-option table (core/sweep/run_options.h): every
// flag of `qcnn quantize` is in its --help with the table's default, 63-bit seeds pass through
// exactly, and bad values are usage errors naming the flag, with the table's bounds.
#include <gtest/gtest.h>

#include "core/sweep/run_options.h"
#include "core/util/json.h"
#include "tests/unit/cli/cli_test_util.h"

namespace qcnn::cli {
namespace {

using test::bundled;
using test::exists;
using test::one_error_line;
using test::run_qcnn;

const std::string kLenet = bundled("lenet5.onnx");

TEST(RunOptionFlags, QuantizeHelpListsEveryFlagOfTheTableWithItsDefault) {
    const auto r = run_qcnn({"quantize", "--help"});
    ASSERT_EQ(r.rc, 0);
    for (const RunOption& o : run_options()) {
        if (o.flag.empty()) continue;
        SCOPED_TRACE(o.key);
        EXPECT_NE(r.out.find(o.flag + " " + o.metavar), std::string::npos);
        if (!o.required) {
            EXPECT_NE(r.out.find("(default: " + default_text(o) + ")"), std::string::npos);
        }
    }
    EXPECT_NE(r.out.find("k-means iterations per sub-space (default: 25)"), std::string::npos) << r.out;
}

TEST(RunOptionFlags, BadValuesAreUsageErrorsNamingTheFlag) {
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"--kmeans-iters", "0"}, "--kmeans-iters expects an integer in [1, 10000], got '0'"},
        {{"--seed", "-1"}, "--seed expects an integer >= 0, got '-1'"},
        {{"--seed", "9223372036854775808"}, "--seed expects an integer >= 0, got '9223372036854775808'"},
        {{"--threads", "4097"}, "--threads expects an integer in [0, 4096], got '4097'"},
        {{"--ec", "full"}, "--ec expects one of none,layer,network, got 'full'"},
        {{"--kernel", "slow"}, "--kernel expects one of fast,reference, got 'slow'"},
        {{"--std", "0.5,0"}, "--std: a standard deviation must be > 0, got 0"},
        {{"--layers", "conv=8/300"}, "--layers: layer settings item 'conv=8/300': K = 300 is out of range (2..256)"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> args = {"quantize", "--model", kLenet, "--layers", "fc=4/16"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        const auto r = run_qcnn(args);
        EXPECT_EQ(r.rc, 2) << c.message;
        EXPECT_EQ(one_error_line(r), c.message);
    }
}

TEST(RunOptionFlags, SixtyThreeBitSeedRunsAndIsReportedExactly) {
    if (!exists(kLenet)) GTEST_SKIP() << "lenet5.onnx not built";
    const auto r = run_qcnn({"quantize", "--model", kLenet, "--layers", "conv=dense,fc1=4/16,fc2=dense", "--limit", "20",
                             "--calib", "16", "--kmeans-iters", "1", "--threads", "1", "--seed", "9223372036854775807",
                             "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["seed"].as_int(), INT64_MAX);
}

}  // namespace
}  // namespace qcnn::cli
