// Results files travel between machines; one that crashes Debian 12's libhdf5 1.10.8
// (fuzz/known-libhdf5-crashes/) is read in a child process first and refused with an error.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/sweep/results_file.h"
#include "core/util/error.h"
#include "core/util/isolate.h"

namespace qcnn {
namespace {

const std::string kSegv =
    std::string(QCNN_SOURCE_DIR) + "/fuzz/known-libhdf5-crashes/segv-H5F__accum_read-via-H5LTpath_valid.h5";

// The premise: listing the sweeps of this file in-process kills the process inside libhdf5.
TEST(ResultsIsolationDeathTest, WithoutIsolationListingCrashesLibhdf5) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ASSERT_TRUE(std::filesystem::exists(kSegv));
    EXPECT_DEATH(
        {
            set_isolated_reads(false);
            (void)list_sweeps(kSegv);
        },
        "");
}

TEST(ResultsIsolation, ListReadAndResumeRefuseTheFileWithAnError) {
    auto expect_refused = [](auto&& call, const char* what) {
        try {
            call();
            ADD_FAILURE() << what << ": no error";
        } catch (const Error& e) {
            const std::string m = e.what();
            EXPECT_NE(m.find(kSegv), std::string::npos) << what << ": " << m;
            EXPECT_NE(m.find(": libhdf5 crashed with signal 11 (SIGSEGV"), std::string::npos) << what << ": " << m;
        }
    };
    expect_refused([] { (void)list_sweeps(kSegv); }, "list_sweeps");
    expect_refused([] { (void)ResultsFile::read(kSegv, "s1"); }, "read");
    expect_refused([] { (void)ResultsFile::open(kSegv, "s1"); }, "open");
}

}  // namespace
}  // namespace qcnn
