// The `qcnn` command line. Everything lives in core/cli so tests run it in-process.
#include <iostream>

#include "core/cli/cli.h"

int main(int argc, char** argv) { return qcnn::run_cli(argc, argv, std::cout, std::cerr); }
