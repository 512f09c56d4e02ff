// --preprocess / image folders through `qcnn eval`, `qcnn quantize` and `qcnn sweep`: data that
// does not fit the model fails before any work, naming both shapes; the sweep spec's
// "preprocess" key.
#include <gtest/gtest.h>

#include "cli_test_util.h"
#include "core/eval/data_check.h"
#include "core/eval/model_summary.h"
#include "core/sweep/sweep.h"
#include "core/util/json.h"
#include "image_folder.h"

namespace qcnn {
namespace {

using test::bundled;
using test::one_error_line;
using test::run_qcnn;
using test::TempDir;
using test::write_image_folder;

const std::string kLenet = bundled("lenet5.onnx");

std::string mismatch(const std::string& spec, const std::string& have, const std::string& model, const std::string& want) {
    return "dataset " + spec + " gives " + have + " images, model " + model + " expects " + want;
}

TEST(CliPreprocess, EvalRejectsDataThatDoesNotFitTheModel) {
    TempDir dir;
    const std::string d = (dir.path() / "rgb").string();
    write_image_folder(d, 40, 30, 3, 2);
    auto r = run_qcnn({"eval", "--model", kLenet, "--data", "folder:" + d, "--preprocess", "imagenet"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(one_error_line(r), mismatch("folder:" + d + ",preprocess=imagenet", "3x224x224", kLenet, "1x28x28"));
    // --convert resizes to the model's input, but never after the center crop.
    r = run_qcnn({"eval", "--model", kLenet, "--data", "folder:" + d, "--preprocess", "imagenet", "--convert"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(one_error_line(r).find("the imagenet preprocessing gives 3x224x224 samples but 1x28x28 are wanted"),
              std::string::npos)
        << r.err;
}

TEST(CliPreprocess, QuantizeChecksEvaluationAndCalibrationDataUpFront) {
    TempDir dir;
    const std::string rgb = (dir.path() / "rgb").string(), grey = (dir.path() / "grey").string();
    write_image_folder(rgb, 40, 30, 3, 2);
    write_image_folder(grey, 28, 28, 1, 2);  // fits LeNet-5
    const std::string out = dir.file("q.h5");
    // Calibration data that fits, evaluation data that does not: found before quantizing.
    auto r = run_qcnn({"quantize", "--model", kLenet, "--layers", "fc=4/32", "--data", "folder:" + rgb + ",preprocess=imagenet",
                       "--calib-data", "folder:" + grey, "-o", out});
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(one_error_line(r), mismatch("folder:" + rgb + ",preprocess=imagenet", "3x224x224", kLenet, "1x28x28"));
    EXPECT_FALSE(test::exists(out));
    // And the other way round.
    r = run_qcnn({"quantize", "--model", kLenet, "--layers", "fc=4/32", "--data", "folder:" + grey, "--calib-data",
                  "folder:" + rgb + ",preprocess=imagenet:36/32"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(one_error_line(r), mismatch("folder:" + rgb + ",preprocess=imagenet:36/32", "3x32x32", kLenet, "1x28x28"));

    // The same check, called directly.
    RunSpec run;
    run.data = "folder:" + grey;
    run.calib_data = "folder:" + grey;
    EXPECT_EQ(check_run_data(*load_model(kLenet), run), 4);
    run.calib_data = "folder:" + rgb;
    try {
        check_run_data(*load_model(kLenet), run);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), mismatch("folder:" + rgb, "3x30x40", kLenet, "1x28x28"));
    }
}

TEST(CliPreprocess, SweepChecksBeforeTheResultsFileIsCreated) {
    TempDir dir;
    const std::string rgb = (dir.path() / "rgb").string();
    write_image_folder(rgb, 40, 30, 3, 2);
    const std::string spec = dir.file("s.json"), out = dir.file("r.h5");
    test::write_file(spec, "{\"qcnn_sweep\": 1, \"model\": \"" + kLenet + "\", \"data\": \"folder:" + rgb +
                               "\", \"calib_data\": \"folder:" + rgb + "\", \"preprocess\": \"imagenet\", \"base\": \"fc=4/32\"}");
    const auto r = run_qcnn({"sweep", spec, "-o", out});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(one_error_line(r), mismatch("folder:" + rgb + ",preprocess=imagenet", "3x224x224", kLenet, "1x28x28"));
    EXPECT_FALSE(test::exists(out));
}

TEST(CliPreprocess, BadPresetsAreUsageErrors) {
    auto r = run_qcnn({"eval", "--model", kLenet, "--data", "folder:/x", "--preprocess", "fancy"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(one_error_line(r).rfind("--preprocess: preprocessing 'fancy' is not known (expected none, imagenet", 0), 0u)
        << r.err;
    r = run_qcnn({"quantize", "--model", kLenet, "--layers", "fc=4/32", "--data", "folder:/x", "--calib-data",
                  "fashion-mnist:train", "--preprocess", "imagenet"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(one_error_line(r).find("not to dataset fashion-mnist:train"), std::string::npos) << r.err;
}

TEST(CliPreprocess, EvalRunsAlexNetOnAnImagenetStyleFolder) {
    // AlexNet takes 3x227x227: the user says so with imagenet:256/227. Random weights: only the
    // plumbing is checked (shapes, the description), not the accuracy.
    TempDir dir;
    const std::string d = (dir.path() / "val").string();
    write_image_folder(d, 61, 45, 3, 1);
    std::string labels = "class1/0.png 999\nclass0/0.png 3\n";
    test::write_file(dir.file("val.txt"), labels);
    auto r = run_qcnn({"eval", "--model", "builtin:alexnet", "--data", "folder:" + d, "--preprocess", "imagenet"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(one_error_line(r), mismatch("folder:" + d + ",preprocess=imagenet", "3x224x224", "builtin:alexnet", "3x227x227"));
    r = run_qcnn({"eval", "--model", "builtin:alexnet", "--data", "folder:" + d + ",labels=" + dir.file("val.txt"),
                  "--preprocess", "imagenet:256/227", "--threads", "2", "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const json::Value v = json::parse(r.out);
    EXPECT_EQ(v["samples"].as_int(), 2);
    EXPECT_EQ(v["data"].as_string(), "folder:" + d + ",labels=" + dir.file("val.txt") + ",preprocess=imagenet:256/227");
    const std::string desc = v["data_description"].as_string();
    EXPECT_NE(desc.find("imagenet:256/227 preprocessing (short side to 256"), std::string::npos) << desc;
    EXPECT_NE(desc.find("2 samples 3x227x227 uint8, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]"),
              std::string::npos)
        << desc;
    EXPECT_EQ(v["per_class"].as_array().size(), 1000u);
}

TEST(CliPreprocess, SweepSpecPreprocessKey) {
    const std::string base = R"({"qcnn_sweep": 1, "model": "m.onnx", "data": "folder:/val", "calib_data": "folder:/train")";
    SweepSpec s = parse_sweep_spec(json::parse(base + "}"), "s.json");
    EXPECT_EQ(s.base.preprocess, "none");
    EXPECT_EQ(to_json(s).find("preprocess"), std::string::npos);  // old specs keep their canonical form
    s = parse_sweep_spec(json::parse(base + R"(, "preprocess": "imagenet:256/224"})"), "s.json");
    EXPECT_EQ(s.base.preprocess, "imagenet");
    EXPECT_NE(to_json(s).find("\"preprocess\": \"imagenet\""), std::string::npos) << to_json(s);
    EXPECT_EQ(parse_sweep_spec(json::parse(to_json(s)), "s.json"), s);
    const RunSpec run = run_spec(s, expand(s).front());
    EXPECT_EQ(run.data, "folder:/val,preprocess=imagenet");
    EXPECT_EQ(run.calib_data, "folder:/train,preprocess=imagenet");
    const auto error = [](const std::string& text) {
        try {
            parse_sweep_spec(json::parse(text), "s.json");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(error(base + R"(, "preprocess": "fancy"})").rfind("s.json: preprocess: preprocessing 'fancy' is not known", 0), 0u);
    EXPECT_EQ(error(R"({"qcnn_sweep": 1, "model": "m.onnx", "data": "fashion-mnist:test", "preprocess": "imagenet"})"),
              "s.json: preprocess: preprocessing imagenet applies to image folders (folder:DIR...), not to dataset "
              "fashion-mnist:test");
    EXPECT_EQ(error(base + R"(, "preprocess": 3})"), "s.json: preprocess: expected a string, got number");
}

}  // namespace
}  // namespace qcnn
