#include "core/util/error.h"

namespace qcnn {

void assertion_failed(const char* expr, const char* file, int line, const std::string& msg) {
    throw std::logic_error(cat("internal error: ", expr, " failed at ", file, ":", line,
                               msg.empty() ? "" : ": ", msg));
}

}  // namespace qcnn
