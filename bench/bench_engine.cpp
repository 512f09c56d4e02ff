// The float engine against OpenCV DNN (Debian's libopencv-dnn-dev) on the same ONNX files,
// measured side by side in one run: batch 1 and 64, 1 and 2 threads. Also checks both
// engines compute the same outputs, so the comparison is of equal work.
//
//   bench_engine [--json] [--batches 1,64] [--threads 1,2] [--budget SECONDS] [MODEL.onnx ...]
// Without models it uses the bundled datasets/lenet5.onnx and datasets/vgg7.onnx.
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <sstream>

#include "bench_util.h"
#include "core/util/host.h"
#include "core/graph/plan.h"
#include "core/io/onnx_import.h"

namespace {

std::vector<int> parse_list(const std::string& s) {
    std::vector<int> v;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) v.push_back(std::stoi(item));
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace qcnn;
    bool json = false;
    std::vector<int> batches{1, 64}, thread_counts{1, 2};
    double budget = 1.0;
    std::vector<std::string> models;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--json") json = true;
        else if (a == "--batches" && i + 1 < argc) batches = parse_list(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) thread_counts = parse_list(argv[++i]);
        else if (a == "--budget" && i + 1 < argc) budget = std::stod(argv[++i]);
        else if (a == "--help" || a == "-h") {
            std::cout << "usage: bench_engine [--json] [--batches 1,64] [--threads 1,2] [--budget S] [MODEL.onnx...]\n";
            return 0;
        } else models.push_back(a);
    }
    if (models.empty())
        for (const char* m : {"lenet5.onnx", "vgg7.onnx"})
            if (std::filesystem::exists(std::filesystem::path(QCNN_DATASETS_DIR) / m))
                models.push_back((std::filesystem::path(QCNN_DATASETS_DIR) / m).string());

    std::ostringstream js;
    js << "{\"cpu\":\"" << qcnn::cpu_model() << "\",\"opencv\":\"" << CV_VERSION << "\",\"rows\":[";
    bool first = true;
    if (!json)
        std::printf("CPU: %s, OpenCV %s. Median time per batch over >= %.1f s; ratio = ours / OpenCV.\n",
                    qcnn::cpu_model().c_str(), CV_VERSION, budget);
    if (!json)
        std::printf("%-12s %6s %7s %12s %12s %8s %12s %10s\n", "model", "batch", "threads", "ours ms", "opencv ms",
                    "ratio", "ours img/s", "max|diff|");
    for (const auto& path : models) {
        auto net = std::make_shared<Network>(import_onnx(path));
        Shape sample = net->sample_shape();
        cv::dnn::Net cvnet = cv::dnn::readNetFromONNX(path);
        cvnet.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        cvnet.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        for (int batch : batches) {
            Shape in_shape{batch};
            in_shape.insert(in_shape.end(), sample.begin(), sample.end());
            Tensor x(in_shape);
            std::mt19937 rng(42);
            std::uniform_real_distribution<float> u(0.0f, 1.0f);
            for (auto& v : x.data) v = u(rng);
            std::vector<int> cv_shape(in_shape.begin(), in_shape.end());
            cv::Mat blob(static_cast<int>(cv_shape.size()), cv_shape.data(), CV_32F, x.ptr());
            for (int threads : thread_counts) {
                Engine engine(net, threads);
                cv::setNumThreads(threads);
                const Tensor* ours_out = nullptr;
                auto t_ours = bench::time_it([&] { ours_out = &engine.forward(x); }, budget);
                cv::Mat cv_out;
                auto t_cv = bench::time_it(
                    [&] {
                        cvnet.setInput(blob);
                        cv_out = cvnet.forward();
                    },
                    budget);
                double maxdiff = 0;
                const float* cvp = cv_out.ptr<float>();
                for (int64_t i = 0; i < ours_out->size(); ++i)
                    maxdiff = std::max(maxdiff, std::fabs(double(ours_out->data[i]) - cvp[i]));
                const double ratio = t_ours.median_s / t_cv.median_s;
                const std::string name = std::filesystem::path(path).stem().string();
                if (!json)
                    std::printf("%-12s %6d %7d %12.3f %12.3f %8.2f %12.0f %10.2e\n", name.c_str(), batch, threads,
                                t_ours.median_s * 1e3, t_cv.median_s * 1e3, ratio, batch / t_ours.median_s, maxdiff);
                js << (first ? "" : ",") << "{\"model\":\"" << name << "\",\"batch\":" << batch
                   << ",\"threads\":" << threads << ",\"ours_ms\":" << t_ours.median_s * 1e3
                   << ",\"opencv_ms\":" << t_cv.median_s * 1e3 << ",\"ratio\":" << ratio
                   << ",\"max_abs_diff\":" << maxdiff << "}";
                first = false;
            }
        }
    }
    js << "]}";
    if (json) std::cout << js.str() << "\n";
    return 0;
}
