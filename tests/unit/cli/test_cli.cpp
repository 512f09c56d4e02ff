// qcnn's command-line surface: help, version, usage errors, `qcnn info` (text and JSON).
#include <gtest/gtest.h>

#include <sstream>

#include "cli_test_util.h"
#include "core/cli/command.h"
#include "core/util/json.h"
#include "core/cli/progress_bar.h"

namespace qcnn {
namespace {

using test::bundled;
using test::one_error_line;
using test::run_qcnn;

const std::string kLenet = bundled("lenet5.onnx");

TEST(Cli, HelpListsCommandsAndOptions) {
    const auto r = run_qcnn({"--help"});
    EXPECT_EQ(r.rc, 0);
    EXPECT_TRUE(r.err.empty());
    EXPECT_NE(r.out.find("usage: qcnn <command>"), std::string::npos);
    for (const auto& c : cli::commands()) EXPECT_NE(r.out.find("  " + c.name + " "), std::string::npos) << c.name;

    const auto info = run_qcnn({"info", "--help"});
    EXPECT_EQ(info.rc, 0);
    EXPECT_NE(info.out.find("usage: qcnn info [options]"), std::string::npos);
    EXPECT_NE(info.out.find("--model M"), std::string::npos);
    EXPECT_NE(info.out.find("--json"), std::string::npos);

    const auto eval = run_qcnn({"eval", "-h"});
    EXPECT_EQ(eval.rc, 0);
    for (const char* opt : {"--data SPEC", "--limit N", "--batch B", "--threads T", "--mean", "--std", "--logits FILE",
                            "--json", "fashion-mnist:test", "cifar10:FILE"})
        EXPECT_NE(eval.out.find(opt), std::string::npos) << opt;
}

TEST(Cli, Version) {
    const auto r = run_qcnn({"--version"});
    EXPECT_EQ(r.rc, 0);
    EXPECT_EQ(r.out.rfind("qcnn ", 0), 0u);
    EXPECT_EQ(r.out.back(), '\n');
}

TEST(Cli, UsageErrorsExitTwoWithOneLineNamingTheProblem) {
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    std::string names;  // "info, eval, ..." from the table, which later issues extend
    for (const auto& c : cli::commands()) names += (names.empty() ? "" : ", ") + c.name;
    ASSERT_EQ(names.rfind("info, eval", 0), 0u) << names;
    const std::vector<Case> cases = {
        {{}, "no command given (commands: " + names + "; see 'qcnn --help')"},
        {{"frobnicate"}, "unknown command 'frobnicate' (commands: " + names + ")"},
        {{"--frobnicate"}, "unknown option '--frobnicate' (see 'qcnn --help')"},
        {{"info", "--bogus"}, "unknown option '--bogus' for 'qcnn info' (see 'qcnn info --help')"},
        {{"eval", "--bogus=3"}, "unknown option '--bogus' for 'qcnn eval' (see 'qcnn eval --help')"},
        {{"info", "--model"}, "option --model needs a value (--model M)"},
        {{"info", "--json=yes"}, "option --json takes no value, got '--json=yes'"},
        {{"info", "stray"}, "unexpected argument 'stray' for 'qcnn info' (see 'qcnn info --help')"},
        {{"eval", "--limit", "ten"}, "--limit expects an integer >= 0, got 'ten'"},
        {{"eval", "--limit", "-5"}, "--limit expects an integer >= 0, got '-5'"},
        {{"eval", "--batch", "0"}, "--batch expects an integer in [1, 1048576], got '0'"},
        {{"eval", "--threads=2x"}, "--threads expects an integer in [0, 4096], got '2x'"},
        {{"eval", "--mean", "0.5,,0.2"},
         "--mean expects comma-separated numbers (e.g. 0.5 or 0.485,0.456,0.406), got '0.5,,0.2'"},
        {{"eval", "--std", "nan"}, "--std expects comma-separated numbers (e.g. 0.5 or 0.485,0.456,0.406), got 'nan'"},
    };
    for (const auto& c : cases) {
        const auto r = run_qcnn(c.args);
        SCOPED_TRACE(testing::PrintToString(c.args));
        EXPECT_EQ(r.rc, 2);
        EXPECT_EQ(one_error_line(r), c.message);
        EXPECT_TRUE(r.out.empty());
    }
}

TEST(Cli, MissingAndCorruptModelsFailWithOneLine) {
    test::TempDir dir;
    const std::string missing = dir.file("nope.onnx");
    auto r = run_qcnn({"info", "--model", missing});
    EXPECT_EQ(r.rc, 1);
    std::string msg = one_error_line(r);
    EXPECT_NE(msg.find(missing), std::string::npos) << msg;

    const std::string garbage = dir.file("garbage.onnx");
    std::string bytes(4096, '\0');
    uint32_t x = 12345;
    for (char& c : bytes) c = static_cast<char>((x = x * 1664525u + 1013904223u) >> 24);
    test::write_file(garbage, bytes);
    r = run_qcnn({"info", "--model", garbage});
    EXPECT_EQ(r.rc, 1);
    msg = one_error_line(r);
    EXPECT_NE(msg.find(garbage), std::string::npos) << msg;

    r = run_qcnn({"eval", "--model", garbage, "--limit", "1"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(one_error_line(r), msg);  // the same loader, the same message
}

// The default --model: the bundled vgg7, found where the build tree lays the bundled networks
// out as an install does (core/util/paths.h), not in the source tree.
TEST(Cli, DefaultModelIsTheBundledVgg7) {
    const auto r = run_qcnn({"info", "--json"});
    const std::string staged = std::string(QCNN_BINARY_DIR) + "/share/qcnn-workbench/datasets/vgg7.onnx";
    if (!test::exists(staged)) {
        EXPECT_EQ(r.rc, 1);
        EXPECT_NE(one_error_line(r).find(staged), std::string::npos);
        return;
    }
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["model"].as_string(), staged);
}

TEST(CliInfo, LenetTableHasEveryLayerAndTotals) {
    if (!test::exists(kLenet)) GTEST_SKIP() << kLenet << " not built";
    const auto r = run_qcnn({"info", "--model", kLenet});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(r.err.empty());
    EXPECT_NE(r.out.find("input:  input 1x28x28 per image"), std::string::npos) << r.out;
    for (const char* s : {"conv1", "conv2", "fc1", "fc2", "Conv", "Gemm", "MaxPool", "1x28x28", "8x28x28", "16x5x5",
                          "156,800", "total: 10 layers (2 conv, 2 fc)"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

TEST(CliInfo, LenetJsonLayersMatchTheArchitecture) {
    if (!test::exists(kLenet)) GTEST_SKIP() << kLenet << " not built";
    const auto r = run_qcnn({"info", "--model", kLenet, "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const json::Value v = json::parse(r.out);
    EXPECT_EQ(v["model"].as_string(), kLenet);
    EXPECT_EQ(v["input"]["name"].as_string(), "input");
    const json::Array& layers = v["layers"].as_array();
    ASSERT_EQ(layers.size(), 10u);
    int64_t params = 0, flops = 0;
    for (const auto& L : layers) {
        for (const char* key : {"name", "alias", "op", "input_shape", "output_shape", "params", "flops"})
            EXPECT_NE(L.find(key), nullptr) << key;
        EXPECT_FALSE(L["name"].as_string().empty());
        params += L["params"].as_int();
        flops += L["flops"].as_int();
    }
    // conv1: 1->8, 5x5, pad 2 on 28x28; conv2: 8->16, 5x5 on 14x14 -> 10x10; fc1 400->128; fc2 128->10.
    struct Want {
        size_t row;
        const char* alias;
        const char* op;
        int64_t params, flops;
    };
    const Want want[] = {{0, "conv1", "Conv", 8 * 25 + 8, 28 * 28 * 8 * 25 * 1},
                         {3, "conv2", "Conv", 16 * 8 * 25 + 16, 10 * 10 * 16 * 25 * 8},
                         {7, "fc1", "Gemm", 400 * 128 + 128, 400 * 128},
                         {9, "fc2", "Gemm", 128 * 10 + 10, 128 * 10}};
    for (const Want& w : want) {
        const json::Value& L = layers[w.row];
        EXPECT_EQ(L["alias"].as_string(), w.alias);
        EXPECT_EQ(L["op"].as_string(), w.op);
        EXPECT_EQ(L["params"].as_int(), w.params) << w.alias;
        EXPECT_EQ(L["flops"].as_int(), w.flops) << w.alias;
    }
    EXPECT_EQ(layers[0]["input_shape"][0].as_int(), 1);
    EXPECT_EQ(layers[0]["output_shape"][0].as_int(), 8);
    EXPECT_EQ(layers[6]["output_shape"][0].as_int(), 400);
    EXPECT_EQ(layers[1]["alias"].as_string(), "");
    const json::Value& t = v["totals"];
    EXPECT_EQ(t["params"].as_int(), params);
    EXPECT_EQ(t["flops"].as_int(), flops);
    EXPECT_EQ(t["flops"].as_int(), 156800 + 320000 + 51200 + 1280);
    EXPECT_EQ(t["conv_layers"].as_int(), 2);
    EXPECT_EQ(t["fc_layers"].as_int(), 2);
    EXPECT_EQ(t["layers"].as_int(), 10);
}

TEST(CliArgs, InlineValuesRepeatsAndFloatLists) {
    const cli::Command& eval = cli::commands()[1];
    ASSERT_EQ(eval.name, "eval");
    const cli::Args a = cli::parse_args(eval, {"--limit=5", "--mean", "0.5,0.25", "--limit", "7", "--json"});
    EXPECT_EQ(a.integer("--limit", 0, 0, 100), 7);  // the last one wins
    EXPECT_EQ(a.float_list("--mean"), (std::vector<float>{0.5f, 0.25f}));
    EXPECT_TRUE(a.has("--json"));
    EXPECT_FALSE(a.has("--logits"));
    EXPECT_EQ(a.str("--data", "dflt"), "dflt");
    EXPECT_TRUE(a.float_list("--std").empty());
}

TEST(CliFormat, ThousandsPercentDurationAndProgressBar) {
    EXPECT_EQ(cli::thousands(0), "0");
    EXPECT_EQ(cli::thousands(999), "999");
    EXPECT_EQ(cli::thousands(1000), "1,000");
    EXPECT_EQ(cli::thousands(-1234567), "-1,234,567");
    EXPECT_EQ(cli::thousands(INT64_MIN), "-9,223,372,036,854,775,808");
    EXPECT_EQ(cli::percent(0.9153), "91.53%");
    EXPECT_EQ(cli::percent(std::nan("")), "n/a");
    EXPECT_EQ(cli::format_duration(0.84), "0.8 s");
    EXPECT_EQ(cli::format_duration(65), "1 min 05 s");
    EXPECT_EQ(cli::format_duration(3720), "1 h 02 min");
    EXPECT_EQ(cli::ProgressBar::render("evaluate", 2500, 10000, 1.0, 20),
              "evaluate [#####...............]  25%  2,500/10,000  1.0 s, ETA 3.0 s");
    EXPECT_EQ(cli::ProgressBar::render("evaluate", 10000, 10000, 4.0, 20),
              "evaluate [####################] 100%  10,000/10,000  4.0 s");
}

TEST(CliFormat, ProgressBarDrawsInPlaceAndClears) {
    std::ostringstream os;
    {
        cli::ProgressBar bar(os, true, "eval");
        const ProgressFn fn = bar.callback();
        EXPECT_TRUE(fn(Progress{"evaluate", "", 0, 4}));
        EXPECT_TRUE(fn(Progress{"evaluate", "", 1, 4}));
        EXPECT_TRUE(fn(Progress{"evaluate", "", 4, 4}));  // the last one always draws
    }  // the destructor clears the line
    const std::string s = os.str();
    EXPECT_EQ(s.rfind("\reval [", 0), 0u) << s;
    EXPECT_NE(s.find("100%  4/4"), std::string::npos) << s;
    EXPECT_EQ(s.back(), '\r');

    std::ostringstream off;
    cli::ProgressBar disabled(off, false, "eval");
    disabled.update(1, 2);
    disabled.finish();
    EXPECT_TRUE(off.str().empty());
}

TEST(CliFormat, TableAlignsColumns) {
    const std::string t = cli::format_table({"a", "num"}, {{"xx", "1"}, {"y", "1,000"}}, {false, true});
    EXPECT_EQ(t, "a     num\n---------\nxx      1\ny   1,000\n");
}

}  // namespace
}  // namespace qcnn
