// Inputs that once crashed, hung or exhausted memory in the fuzz targets (fuzz/regressions/):
// each must now be refused with a qcnn::Error.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/io/model_file.h"
#include "core/io/onnx_import.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

std::vector<std::string> regressions(const std::string& target) {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(std::string(QCNN_SOURCE_DIR) + "/fuzz/regressions/" + target))
        files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    return files;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

TEST(FuzzRegressions, OnnxImportRefusesEachWithAnError) {
    const auto files = regressions("fuzz_onnx_import");
    ASSERT_FALSE(files.empty());
    for (const std::string& f : files) {
        EXPECT_THROW(import_onnx_bytes(slurp(f), f), Error) << f;
        EXPECT_THROW(import_onnx(f), Error) << f;
    }
}

TEST(FuzzRegressions, ModelFileLoaderRefusesEachWithAnError) {
    const auto files = regressions("fuzz_model_file");
    ASSERT_FALSE(files.empty());
    for (const std::string& f : files) {
        ModelProvenance prov;
        EXPECT_THROW(load_model_file(f, &prov), Error) << f;
    }
}

}  // namespace
}  // namespace qcnn
