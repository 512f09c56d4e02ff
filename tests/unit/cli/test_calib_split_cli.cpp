// The CLI's default calibration data (`qcnn quantize`, `qcnn sweep` without calib_data) follows
// the workbench's training-split rule (core/data/training_split.h): an IDX t10k pair calibrates
// on its train pair, folder:D/val on folder:D/train (issue 16's drift: the CLI knew only
// Fashion-MNIST and asked for --calib-data).
#include <gtest/gtest.h>

#include "cli_test_util.h"
#include "image_folder.h"
#include "core/sweep/sweep.h"
#include "core/util/json.h"
#include "tests/unit/data/data_test_util.h"

namespace qcnn {
namespace {

using test::one_error_line;
using test::run_qcnn;

const std::string kLenet = test::bundled("lenet5.onnx");

// An IDX image/label pair of n 28x28 images, labels 0..9 cycling.
void write_idx_pair(const std::string& images, const std::string& labels, uint32_t n, uint32_t seed) {
    test::write_bytes(images, test::concat(test::idx_header({n, 28, 28}), test::random_bytes(size_t(n) * 28 * 28, seed)));
    std::vector<uint8_t> l(n);
    for (uint32_t i = 0; i < n; ++i) l[i] = static_cast<uint8_t>(i % 10);
    test::write_bytes(labels, test::concat(test::idx_header({n}), l));
}

// `qcnn quantize --json` without --calib-data: the calibration data and image count it used.
std::pair<std::string, int64_t> quantize_calib(const std::string& data) {
    const auto r = run_qcnn({"quantize", "--model", kLenet, "--layers", "fc=4/16", "--kmeans-iters", "2", "--threads",
                             "1", "--data", data, "--json"});
    EXPECT_EQ(r.rc, 0) << r.err;
    if (r.rc != 0) return {};
    const json::Value v = json::parse(r.out, "quantize --json");
    return {v["calib_data"].as_string(), static_cast<int64_t>(v["calib_images"].as_number())};
}

TEST(CliCalibSplit, IdxTestPairCalibratesOnItsTrainPair) {
    test::TempDir dir;
    const std::string ti = dir.file("t10k-images-idx3-ubyte"), tl = dir.file("t10k-labels-idx1-ubyte");
    const std::string ri = dir.file("train-images-idx3-ubyte"), rl = dir.file("train-labels-idx1-ubyte");
    write_idx_pair(ti, tl, 6, 1);
    // Without the train pair: no training split is known, and the error says what to set.
    auto r = run_qcnn({"quantize", "--model", kLenet, "--layers", "fc=4/16", "--data", "idx:" + ti + "," + tl});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(one_error_line(r).find("no training split is known for idx:" + ti + "," + tl +
                                     "; give calibration data with --calib-data SPEC"),
              std::string::npos)
        << r.err;

    write_idx_pair(ri, rl, 10, 2);  // 10 images: the calibration count tells the splits apart
    const auto [calib, images] = quantize_calib("idx:" + ti + "," + tl);
    EXPECT_EQ(calib, "idx:" + ri + "," + rl);
    EXPECT_EQ(images, 10);

    // `qcnn sweep` runs the same RunSpec: a spec without calib_data now runs.
    const std::string spec = dir.file("s.json");
    SweepSpec s;
    s.base.model = kLenet;
    s.base.data = "idx:" + ti + "," + tl;
    s.base.layers = "fc=4/16";
    s.base.kmeans_iters = 2;
    s.base.threads = 1;
    save_sweep_spec(spec, s);
    r = run_qcnn({"sweep", spec, "-o", dir.file("r.h5")});
    EXPECT_EQ(r.rc, 0) << r.err;
}

TEST(CliCalibSplit, FolderValCalibratesOnItsSiblingTrain) {
    test::TempDir dir;
    const std::string set = (dir.path() / "set").string();
    test::write_image_folder(set + "/val", 28, 28, 1, 2);
    test::write_image_folder(set + "/train", 28, 28, 1, 3);
    const auto [calib, images] = quantize_calib("folder:" + set + "/val");
    EXPECT_EQ(calib, "folder:" + set + "/train");
    EXPECT_EQ(images, 6);

    // The folder above train/ and val/ is no evaluation split (its classes would be "train" and
    // "val"): the error names the split to evaluate and its training split.
    const auto r = run_qcnn({"quantize", "--model", kLenet, "--layers", "fc=4/16", "--data", "folder:" + set});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(one_error_line(r).find("; or evaluate on folder:" + set + "/val, whose training split is folder:" + set +
                                     "/train"),
              std::string::npos)
        << r.err;
}

}  // namespace
}  // namespace qcnn
