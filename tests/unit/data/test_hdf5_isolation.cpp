// Files that crash Debian 12's libhdf5 1.10.8 itself (fuzz/known-libhdf5-crashes/): the HDF5
// dataset reader reads them in a child process first, so they are refused with an error
// instead of taking the process down.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/data/dataset.h"
#include "core/data/readers.h"
#include "core/util/error.h"
#include "core/util/isolate.h"

namespace qcnn {
namespace {

std::string known_crash(const std::string& name) {
    return std::string(QCNN_SOURCE_DIR) + "/fuzz/known-libhdf5-crashes/" + name;
}

const char* const kSegv = "segv-H5F__accum_read-via-H5LTpath_valid.h5";

// The premise: read in-process, this file really kills the process inside libhdf5.
TEST(Hdf5IsolationDeathTest, WithoutIsolationTheFileCrashesLibhdf5) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    const std::string f = known_crash(kSegv);
    ASSERT_TRUE(std::filesystem::exists(f)) << f;
    EXPECT_DEATH(
        {
            set_isolated_reads(false);
            (void)data::read_hdf5(f, "images", "labels", data::Layout::detect, 0);
        },
        "");
}

TEST(Hdf5Isolation, TheReaderRefusesTheFileWithAnErrorNamingIt) {
    ASSERT_TRUE(isolated_reads());
    const std::string f = known_crash(kSegv);
    for (data::Layout layout : {data::Layout::detect, data::Layout::nchw, data::Layout::nhwc}) {
        try {
            (void)data::read_hdf5(f, "images", "labels", layout, 0);
            ADD_FAILURE() << "no error for " << f;
        } catch (const Error& e) {
            const std::string m = e.what();
            EXPECT_NE(m.find(f), std::string::npos) << m;
            EXPECT_NE(m.find(": libhdf5 crashed with signal 11 (SIGSEGV"), std::string::npos) << m;
            EXPECT_NE(m.find("reading this file; it is corrupt"), std::string::npos) << m;
        }
    }
    EXPECT_THROW(open_dataset("hdf5:" + f + ":images:labels"), Error);
}

// The other known crashes (some only show under ASan) end in an error or a clean read.
TEST(Hdf5Isolation, EveryKnownCrashingDatasetEndsCleanly) {
    for (const auto& e : std::filesystem::directory_iterator(known_crash(""))) {
        if (e.path().extension() != ".h5") continue;
        try {
            const SampleData d = data::read_hdf5(e.path().string(), "images", "labels", data::Layout::detect, 0);
            EXPECT_FALSE(d.shape.empty()) << e.path();
        } catch (const Error&) {
        }
    }
}

}  // namespace
}  // namespace qcnn
