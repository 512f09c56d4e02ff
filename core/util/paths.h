// Where the programs find their bundled data. Nothing here is a path compiled in: the bundled
// networks live at <prefix>/share/qcnn-workbench/datasets, found from the running executable
// (<prefix>/bin/qcnn, or <build>/app/qcnn in a build tree, which CMake lays out the same way),
// unless the environment names another directory.
#pragma once

#include <filesystem>
#include <string>

namespace qcnn {

// The directory of the running executable (/proc/self/exe); empty when it cannot be read.
std::filesystem::path executable_dir();

// The bundled networks' directory: $QCNN_DATA_DIR when set and not empty, otherwise
// <executable_dir>/../share/qcnn-workbench/datasets. Not checked for existence (see bundled_model).
std::filesystem::path data_dir();

// A bundled network by name: "vgg7" -> <data_dir>/vgg7.onnx. The path is returned whether the file
// exists or not, so that a missing file is reported by the loader with the path it looked at.
std::string bundled_model(const std::string& name);

}  // namespace qcnn
