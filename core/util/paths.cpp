#include "core/util/paths.h"

#include <cstdlib>
#include <system_error>

namespace qcnn {

std::filesystem::path executable_dir() {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path{} : exe.parent_path();
}

std::filesystem::path data_dir() {
    if (const char* env = std::getenv("QCNN_DATA_DIR"); env && *env) return env;
    return (executable_dir() / ".." / "share" / "qcnn-workbench" / "datasets").lexically_normal();
}

std::string bundled_model(const std::string& name) { return (data_dir() / (name + ".onnx")).string(); }

}  // namespace qcnn
