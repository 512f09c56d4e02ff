// Inputs that once crashed, hung or exhausted memory in the dataset fuzz targets
// (fuzz/regressions/): each must now be refused with a qcnn::Error, through the reader and
// through open_dataset.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/readers.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

// The files of fuzz/regressions/<target>; empty when the target never failed.
std::vector<std::string> regressions(const std::string& target) {
    std::vector<std::string> files;
    const std::string dir = std::string(QCNN_SOURCE_DIR) + "/fuzz/regressions/" + target;
    if (!std::filesystem::exists(dir)) return files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    return files;
}

TEST(FuzzRegressions, Hdf5DatasetsAreRefusedWithAnError) {
    const auto files = regressions("fuzz_hdf5_dataset");
    ASSERT_FALSE(files.empty());
    for (const std::string& f : files) {
        EXPECT_THROW(data::read_hdf5(f, "images", "labels", data::Layout::detect, 0), Error) << f;
        EXPECT_THROW(open_dataset("hdf5:" + f + ":images:labels"), Error) << f;
    }
}

TEST(FuzzRegressions, IdxAndCifarFilesAreRefusedWithAnError) {
    for (const std::string& f : regressions("fuzz_idx")) EXPECT_THROW(data::read_idx(f, "", 0), Error) << f;
    for (const std::string& f : regressions("fuzz_cifar")) EXPECT_THROW(data::read_cifar({f}, 1, 0), Error) << f;
}

}  // namespace
}  // namespace qcnn
