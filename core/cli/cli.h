// Entry point of the `qcnn` command line, callable in-process (tests pass string streams).
// app/qcnn_main.cpp only forwards to run_cli(argc, argv, std::cout, std::cerr).
#pragma once

#include <iosfwd>

namespace qcnn {

// Runs `qcnn` with argv[0] the program name. Returns the exit code (0 success, 1 failure,
// 2 usage error); never throws. A progress bar is drawn on `err` only when `err` is std::cerr
// and standard error is a terminal.
int run_cli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace qcnn
