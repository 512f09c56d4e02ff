// Project error type and helpers. Library code throws qcnn::Error for bad input from outside
// (files, datasets, user settings); the message names the file, layer or field and what was
// expected. Contract violations inside the code use QCNN_ASSERT.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace qcnn {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thrown when a progress callback asked to stop. Not a failure: callers report "cancelled".
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled by user") {}
};

template <class... Args>
std::string cat(Args&&... args) {
    std::ostringstream os;
    (os << ... << std::forward<Args>(args));
    return os.str();
}

template <class... Args>
[[noreturn]] void fail(Args&&... args) {
    throw Error(cat(std::forward<Args>(args)...));
}

[[noreturn]] void assertion_failed(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace qcnn

#define QCNN_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) ::qcnn::assertion_failed(#cond, __FILE__, __LINE__, ::qcnn::cat(__VA_ARGS__)); \
    } while (0)
