#include "core/util/isolate.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <new>

#include "core/util/error.h"

namespace qcnn {

namespace {

bool g_in_child = false;
std::atomic<bool> g_isolated_reads{true};

// Child exit codes besides 0 (work returned).
constexpr int kExitError = 3;     // qcnn::Error, message on the pipe
constexpr int kExitNoMemory = 4;  // std::bad_alloc
constexpr int kExitOther = 5;     // any other exception, what() on the pipe

void write_all(int fd, const std::string& s) {
    size_t done = 0;
    while (done < s.size()) {
        const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += static_cast<size_t>(n);
    }
}

[[noreturn]] void child_main(int fd, const std::function<void()>& work) {
    g_in_child = true;
    // A fault ends the child by its signal, also where a sanitizer or crash reporter installed
    // its own handler: the parent reports the same thing in every build.
    for (const int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, SIG_DFL);
    if (const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC); null >= 0) {
        ::dup2(null, STDOUT_FILENO);
        ::dup2(null, STDERR_FILENO);
    }
    int code = 0;
    try {
        work();
    } catch (const Error& e) {
        write_all(fd, e.what());
        code = kExitError;
    } catch (const std::bad_alloc&) {
        code = kExitNoMemory;
    } catch (const std::exception& e) {
        write_all(fd, e.what());
        code = kExitOther;
    } catch (...) {
        code = kExitOther;
    }
    // _exit: no atexit handlers, static destructors or library shutdown in the copy.
    ::_exit(code);
}

int wait_child(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return st;
}

}  // namespace

bool in_isolated_child() { return g_in_child; }
void set_isolated_reads(bool on) { g_isolated_reads = on; }
bool isolated_reads() { return g_isolated_reads; }

IsolatedOutcome run_isolated(const std::function<void()>& work, std::chrono::milliseconds timeout) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail("cannot create a pipe for a child process: ", std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int err = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        fail("cannot start a child process: ", std::strerror(err));
    }
    if (pid == 0) {
        ::close(fds[0]);
        child_main(fds[1], work);
    }
    ::close(fds[1]);

    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + timeout;
    std::string message;
    bool timed_out = false;
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        char buf[4096];
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // end of file: the child has exited or died
        message.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    if (timed_out) {
        ::kill(pid, SIGKILL);
        wait_child(pid);
        return {IsolatedOutcome::Status::TimedOut,
                cat("did not finish within ", timeout.count() / 1000.0, " s and was stopped")};
    }
    const int st = wait_child(pid);
    if (st < 0) return {IsolatedOutcome::Status::Crashed, "its exit status could not be read"};
    if (WIFSIGNALED(st)) {
        const int sig = WTERMSIG(st);
        const char* name = sigabbrev_np(sig);
        return {IsolatedOutcome::Status::Crashed,
                cat("crashed with signal ", sig, " (SIG", name ? name : "?", ": ", strsignal(sig), ")",
                    sig == SIGKILL ? "; out of memory?" : "")};
    }
    switch (const int code = WEXITSTATUS(st)) {
        case 0:
            return {IsolatedOutcome::Status::Ok, {}};
        case kExitError:
            return {IsolatedOutcome::Status::Error, message};
        case kExitNoMemory:
            return {IsolatedOutcome::Status::Crashed, "ran out of memory"};
        case kExitOther:
            return {IsolatedOutcome::Status::Crashed, cat("failed with an unexpected exception: ", message)};
        default:
            // A sanitizer's report (stderr is discarded in the child) ends the process this way.
            return {IsolatedOutcome::Status::Crashed, cat("ended abnormally with exit code ", code)};
    }
}

}  // namespace qcnn
