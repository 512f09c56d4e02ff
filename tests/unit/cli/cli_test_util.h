// Runs `qcnn` in-process and captures its output; a temporary directory for fixture files.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/cli/cli.h"
#include "tests/unit/temp_dir.h"

namespace qcnn::test {

namespace fs = std::filesystem;

struct CliRun {
    int rc = -1;
    std::string out, err;
};

inline CliRun run_qcnn(std::vector<std::string> args) {
    args.insert(args.begin(), "qcnn");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::ostringstream out, err;
    CliRun r;
    r.rc = run_cli(static_cast<int>(args.size()), argv.data(), out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
}

// The error line after "qcnn: error: ", checking the whole of stderr is that one line.
inline std::string one_error_line(const CliRun& r) {
    const std::string prefix = "qcnn: error: ";
    EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.back(), '\n') << r.err;
    if (r.err.size() < prefix.size() + 1) return {};
    return r.err.substr(prefix.size(), r.err.size() - prefix.size() - 1);
}

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << path;
}

inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline std::string bundled(const std::string& name) { return std::string(QCNN_DATASETS_DIR) + "/" + name; }
inline bool exists(const std::string& path) { return fs::exists(path); }

}  // namespace qcnn::test
