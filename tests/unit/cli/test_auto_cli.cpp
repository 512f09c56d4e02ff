// `qcnn auto --finetune` (issue 19: "qcnn auto can use it") and `qcnn sensitivity --parallel`
// (issue 15) end to end on the bundled LeNet: the candidates of a fine-tuning search report their
// fine-tuning in --json, the sensitivity table it stored has none (the plain analysis reuses it),
// `qcnn sensitivity --finetune` is refused, and --parallel says how many runs went
// at once.
#include <gtest/gtest.h>

#include "core/util/json.h"
#include "tests/unit/cli/cli_test_util.h"

namespace qcnn::cli {
namespace {

using test::CliRun;
using test::one_error_line;
using test::run_qcnn;

const std::string kLenet = std::string(QCNN_DATASETS_DIR) + "/lenet5.onnx";

std::vector<std::string> tiny(const std::string& command, const std::string& results_flag, const std::string& results) {
    return {command, "--model", kLenet, "--layers", "fc1", "--grid", "4/16,8/16", "--limit", "200", "--calib",
            "64", "--kmeans-iters", "3", "--threads", "1", results_flag, results, "--json"};
}

TEST(AutoCli, FinetunesTheCandidatesNotTheSensitivityRuns) {
    test::TempDir dir;
    const std::string results = dir.file("auto.h5");
    std::vector<std::string> args = tiny("auto", "--results", results);
    for (const char* a : {"--ec", "none", "--max-drop", "2", "--max-candidates", "2", "--finetune", "--ft-epochs", "1",
                          "--ft-images", "300", "--ft-params", "codebooks,bias"})
        args.push_back(a);
    const CliRun r = run_qcnn(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    const json::Value v = json::parse(r.out);
    ASSERT_GE(v["candidates"].size(), 1u);
    for (size_t i = 0; i < v["candidates"].size(); ++i) {
        const json::Value& c = v["candidates"][i];
        ASSERT_NE(c.find("finetune"), nullptr) << r.out;
        ASSERT_EQ(c["finetune"]["epochs"].size(), 1u);
        EXPECT_EQ(c["finetune"]["epochs"][0]["epoch"].as_int(), 1);
        EXPECT_EQ(c["finetune"]["train_images"].as_int() + c["finetune"]["val_images"].as_int(), 300);
        EXPECT_EQ(c["finetune"]["status"].as_string(), "");
    }
    // The table it stored is the plain analysis of the same options: reused, not rerun.
    const CliRun s = run_qcnn(tiny("sensitivity", "-o", results));
    ASSERT_EQ(s.rc, 0) << s.err;
    const json::Value t = json::parse(s.out);
    EXPECT_TRUE(t["reused"].as_bool());
    EXPECT_EQ(t["id"].as_string(), v["sensitivity_id"].as_string());

    // Without --finetune no candidate reports fine-tuning.
    std::vector<std::string> plain = tiny("auto", "--results", dir.file("plain.h5"));
    for (const char* a : {"--ec", "none", "--max-drop", "2", "--max-candidates", "1"}) plain.push_back(a);
    const CliRun p = run_qcnn(plain);
    ASSERT_EQ(p.rc, 0) << p.err;
    EXPECT_EQ(json::parse(p.out)["candidates"][0].find("finetune"), nullptr);
}

// --recipe paper runs Wu et al.'s three steps (and the final fine-tune) on every candidate, lists
// them per candidate as `qcnn quantize --json` does, and leaves the sensitivity table plain.
TEST(AutoCli, RunsThePaperRecipeOnTheCandidates) {
    test::TempDir dir;
    const std::string results = dir.file("auto.h5");
    std::vector<std::string> args = tiny("auto", "--results", results);
    for (const char* a : {"--ec", "none", "--max-drop", "2", "--max-candidates", "1", "--recipe", "paper", "--finetune",
                          "--ft-epochs", "1", "--ft-images", "300", "--ft-params", "codebooks,bias"})
        args.push_back(a);
    const CliRun r = run_qcnn(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    const json::Value v = json::parse(r.out);
    ASSERT_EQ(v["candidates"].size(), 1u);
    const json::Value& c = v["candidates"][0];
    ASSERT_NE(c.find("recipe"), nullptr) << r.out;
    const std::vector<std::string> names = {"quantize conv", "fine-tune fc", "quantize fc", "fine-tune"};
    ASSERT_EQ(c["recipe"].size(), names.size()) << r.out;
    for (size_t k = 0; k < names.size(); ++k) EXPECT_EQ(c["recipe"][k]["step"].as_string(), names[k]);
    EXPECT_EQ(c["recipe"][3]["top1"].as_number(), c["top1"].as_number());
    EXPECT_EQ(c["recipe"][1]["params"].as_string(), "codebooks,bias,float");  // the paper's float,bias + ft_params
    ASSERT_NE(c.find("finetune"), nullptr);

    // The table it stored is the plain analysis: `qcnn sensitivity` with the same options reuses it,
    // and has no --recipe of its own.
    const CliRun s = run_qcnn(tiny("sensitivity", "-o", results));
    ASSERT_EQ(s.rc, 0) << s.err;
    EXPECT_TRUE(json::parse(s.out)["reused"].as_bool());
    EXPECT_EQ(json::parse(s.out)["id"].as_string(), v["sensitivity_id"].as_string());
    // Without --finetune the recipe's three steps, in the text report too (no fine-tuning line).
    std::vector<std::string> text = tiny("auto", "--results", results);
    text.pop_back();  // --json
    for (const char* a : {"--ec", "none", "--max-drop", "2", "--max-candidates", "1", "--recipe", "paper", "--ft-images",
                          "300", "--ft-epochs", "1"})
        text.push_back(a);
    const CliRun t = run_qcnn(text);
    ASSERT_EQ(t.rc, 0) << t.err;
    EXPECT_NE(t.out.find("candidate 1 steps: quantize conv "), std::string::npos) << t.out;
    EXPECT_NE(t.out.find(", fine-tune fc "), std::string::npos) << t.out;
    EXPECT_NE(t.out.find(", quantize fc "), std::string::npos) << t.out;
    EXPECT_EQ(t.out.find("fine-tuned: held-out"), std::string::npos) << t.out;

    std::vector<std::string> bad = tiny("sensitivity", "-o", dir.file("s.h5"));
    for (const char* a : {"--recipe", "paper"}) bad.push_back(a);
    EXPECT_EQ(run_qcnn(bad).rc, 2);
}

TEST(AutoCli, SensitivityRefusesFinetuneAndSaysHowManyRunAtOnce) {
    test::TempDir dir;
    std::vector<std::string> args = tiny("sensitivity", "-o", dir.file("s.h5"));
    args.push_back("--finetune");
    const CliRun f = run_qcnn(args);
    EXPECT_EQ(f.rc, 2);
    EXPECT_NE(one_error_line(f).find("--finetune"), std::string::npos) << f.err;  // not an option of sensitivity

    args = tiny("sensitivity", "-o", dir.file("p.h5"));
    args[args.size() - 4] = "2";  // --threads 2
    for (const char* a : {"--parallel", "2"}) args.push_back(a);
    const CliRun p = run_qcnn(args);
    ASSERT_EQ(p.rc, 0) << p.err;
    const json::Value v = json::parse(p.out);
    EXPECT_EQ(v["parallel"].as_int(), 2);
    EXPECT_NE(v["parallel_reason"].as_string().find("2 runs at once, 1 thread each"), std::string::npos) << p.out;
    EXPECT_EQ(v["entries"].size(), 2u);

    args.back() = "x";
    EXPECT_EQ(run_qcnn(args).rc, 2);  // --parallel x: a usage error
}

}  // namespace
}  // namespace qcnn::cli
