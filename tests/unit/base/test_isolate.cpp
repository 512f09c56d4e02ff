// run_isolated (core/util/isolate.h): work in a forked child; how it ended comes back as a
// status, and nothing the child does reaches this process.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>

#include "core/util/error.h"
#include "core/util/isolate.h"

namespace qcnn {
namespace {

using Status = IsolatedOutcome::Status;
using std::chrono::milliseconds;

TEST(Isolate, WorkThatReturnsIsOk) {
    const IsolatedOutcome out = run_isolated([] {}, milliseconds(10000));
    EXPECT_EQ(out.status, Status::Ok);
    EXPECT_TRUE(out.message.empty());
}

TEST(Isolate, AnErrorInTheChildComesBackWithItsMessage) {
    const std::string long_text(100000, 'x');  // beyond a pipe's buffer
    const IsolatedOutcome out = run_isolated([&] { fail("file.h5: bad header ", long_text); }, milliseconds(10000));
    EXPECT_EQ(out.status, Status::Error);
    EXPECT_EQ(out.message, "file.h5: bad header " + long_text);
}

TEST(Isolate, ACrashInTheChildIsReportedAndThisProcessGoesOn) {
    const IsolatedOutcome segv = run_isolated([] { ::raise(SIGSEGV); }, milliseconds(10000));
    EXPECT_EQ(segv.status, Status::Crashed);
    const IsolatedOutcome abrt = run_isolated([] { std::abort(); }, milliseconds(10000));
    EXPECT_EQ(abrt.status, Status::Crashed);
    // The child restores the default actions, so the signal itself ends it (also under a
    // sanitizer, which installs handlers of its own).
    EXPECT_NE(segv.message.find("signal 11 (SIGSEGV: Segmentation fault)"), std::string::npos) << segv.message;
    EXPECT_NE(abrt.message.find("signal 6 (SIGABRT"), std::string::npos) << abrt.message;
}

TEST(Isolate, OutOfMemoryAndOtherExceptionsAreCrashesWithAReason) {
    const IsolatedOutcome oom = run_isolated([] { throw std::bad_alloc(); }, milliseconds(10000));
    EXPECT_EQ(oom.status, Status::Crashed);
    EXPECT_EQ(oom.message, "ran out of memory");
    const IsolatedOutcome other = run_isolated([] { throw std::logic_error("broken invariant"); }, milliseconds(10000));
    EXPECT_EQ(other.status, Status::Crashed);
    EXPECT_NE(other.message.find("broken invariant"), std::string::npos) << other.message;
    const IsolatedOutcome code = run_isolated([] { ::_exit(42); }, milliseconds(10000));
    EXPECT_EQ(code.status, Status::Crashed);
    EXPECT_NE(code.message.find("exit code 42"), std::string::npos) << code.message;
}

TEST(Isolate, AHangIsStoppedAtTheDeadline) {
    const auto t0 = std::chrono::steady_clock::now();
    const IsolatedOutcome out =
        run_isolated([] { std::this_thread::sleep_for(std::chrono::seconds(60)); }, milliseconds(300));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(out.status, Status::TimedOut);
    EXPECT_NE(out.message.find("0.3 s"), std::string::npos) << out.message;
    EXPECT_GE(s, 0.3);
    EXPECT_LT(s, 10.0);
}

TEST(Isolate, TheChildKnowsItIsOneAndItsWritesStayThere) {
    EXPECT_FALSE(in_isolated_child());
    int value = 1;
    const IsolatedOutcome out = run_isolated(
        [&] {
            value = 2;
            if (!in_isolated_child()) fail("in_isolated_child() is false in the child");
        },
        milliseconds(10000));
    EXPECT_EQ(out.status, Status::Ok) << out.message;
    EXPECT_EQ(value, 1);
    EXPECT_FALSE(in_isolated_child());
}

}  // namespace
}  // namespace qcnn
