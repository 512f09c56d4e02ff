// Facts about the machine a result was measured on, for result files and benchmark headers.
#pragma once

#include <string>

namespace qcnn {

// The CPU's model name from /proc/cpuinfo ("" when unknown).
std::string cpu_model();

}  // namespace qcnn
