// Shared pieces of the sweep tests: a scratch directory per test and a small LeNet-5 sweep
// (4 runs, 64 evaluation images, 32 calibration images) that finishes in about a second.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <unistd.h>

#include "core/sweep/results_file.h"
#include "core/sweep/sweep.h"

namespace qcnn::test {

// A fresh directory under the system temp dir, removed with its contents at the end.
class ScratchDir {
public:
    explicit ScratchDir(const std::string& tag = "") {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path_ = std::filesystem::temp_directory_path() /
                cat("qcnn-sweep-", info ? info->name() : "test", tag, "-", ::getpid());
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// The message of the qcnn::Error `f` throws, "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

inline void write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
}

// conv2 in {dense, 4/16} x fc in {4/16, 8/16}: 4 runs.
inline SweepSpec lenet_spec() {
    SweepSpec s;
    s.base.model = QCNN_DATASETS_DIR "/lenet5.onnx";
    s.base.data = "fashion-mnist:test";
    s.base.calib_images = 32;
    s.base.limit = 64;
    s.base.batch = 32;
    s.grid = {{"conv2", {"dense", "4/16"}}, {"fc", {"4/16", "8/16"}}};
    s.base.kmeans_iters = 3;
    s.base.threads = 2;
    return s;
}

// Bit-exact equality of everything but the timing columns (quantize_seconds, eval_seconds,
// dense_ms, quantized_ms, measured_speedup).
inline void expect_same_results(const std::vector<RunRow>& a, const std::vector<RunRow>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        SCOPED_TRACE(cat("run row ", i));
        EXPECT_EQ(a[i].run_index, b[i].run_index);
        EXPECT_EQ(a[i].settings, b[i].settings);
        EXPECT_EQ(a[i].ec, b[i].ec);
        EXPECT_EQ(a[i].seed, b[i].seed);
        EXPECT_EQ(a[i].top1, b[i].top1);
        EXPECT_EQ(a[i].top5, b[i].top5);
        EXPECT_EQ(a[i].top1_float, b[i].top1_float);
        EXPECT_EQ(a[i].top5_float, b[i].top5_float);
        EXPECT_EQ(a[i].compression, b[i].compression);
        EXPECT_EQ(a[i].theoretical_speedup, b[i].theoretical_speedup);
        EXPECT_EQ(a[i].memory_bytes_dense, b[i].memory_bytes_dense);
        EXPECT_EQ(a[i].memory_bytes_quantized, b[i].memory_bytes_quantized);
    }
}

inline void expect_same_results(const std::vector<LayerRow>& a, const std::vector<LayerRow>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        SCOPED_TRACE(cat("layer row ", i, " (", a[i].name, ")"));
        EXPECT_EQ(a[i].run_index, b[i].run_index);
        EXPECT_EQ(a[i].name, b[i].name);
        EXPECT_EQ(a[i].alias, b[i].alias);
        EXPECT_EQ(a[i].op, b[i].op);
        EXPECT_EQ(a[i].subspace_dim, b[i].subspace_dim);
        EXPECT_EQ(a[i].codewords, b[i].codewords);
        EXPECT_EQ(a[i].ec, b[i].ec);
        EXPECT_EQ(a[i].params, b[i].params);
        EXPECT_EQ(a[i].bytes_dense, b[i].bytes_dense);
        EXPECT_EQ(a[i].bytes_quantized, b[i].bytes_quantized);
        EXPECT_EQ(a[i].flops_dense, b[i].flops_dense);
        EXPECT_EQ(a[i].flops_quantized, b[i].flops_quantized);
        EXPECT_EQ(a[i].theoretical_speedup, b[i].theoretical_speedup);
        EXPECT_EQ(a[i].response_error, b[i].response_error);
    }
}

}  // namespace qcnn::test
