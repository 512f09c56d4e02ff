// ec_table: the error-correction acceptance table. For a bundled network and a list of
// quantization settings, quantizes without EC, with layer-wise EC and with network EC, and
// reports per run: top-1 on the full Fashion-MNIST test set and its loss against the float
// network (quantized layers on the paper's float lookup tables, LutKernel::Reference, and in an
// extra column on the fast SIMD kernels), weight compression and theoretical speed-up (core/cost), the quantization wall time
// (k-means + calibration + EC), and the logits' relative response error on the calibration
// images. Calibration images come from the training split (a seeded subset).
//
//   ec_table [--model lenet5|vgg7|FILE.onnx] [--settings S]... [--modes none,layer,network]
//            [--conv-images 500] [--fc-images 5000] [--positions 64] [--iterations 4]
//            [--seed 1] [--threads 2] [--ec-bias] [--layers] [--peak-gap]
// --ec-bias also refits the float biases (QuantizeOptions::ec_bias, not in the paper).
// --layers prints every layer's response errors; --peak-gap reports the longest interval
// between two progress reports (the bound on how long a cancel can take).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/util/host.h"
#include "core/cost/cost_model.h"
#include "core/data/dataset.h"
#include "core/eval/evaluate.h"
#include "core/io/onnx_import.h"
#include "core/quant/calibration.h"
#include "core/quant/quantize_network.h"

using namespace qcnn;

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t a = 0;
    for (size_t b; (b = s.find(sep, a)) != std::string::npos; a = b + 1) out.push_back(s.substr(a, b - a));
    out.push_back(s.substr(a));
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    std::string model = "lenet5";
    std::vector<std::string> settings;
    std::vector<EcMode> modes{EcMode::None, EcMode::Layer, EcMode::Network};
    QuantizeOptions base;
    base.seed = 1;
    base.threads = 2;
    bool layers = false, peak_gap = false;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto next = [&]() -> std::string {
                if (i + 1 >= argc) fail("option ", a, " needs a value");
                return argv[++i];
            };
            if (a == "--model") model = next();
            else if (a == "--settings") settings.push_back(next());
            else if (a == "--modes") {
                modes.clear();
                for (const std::string& m : split(next(), ',')) modes.push_back(parse_ec_mode(m));
            } else if (a == "--conv-images") base.ec_conv_images = std::stoll(next());
            else if (a == "--fc-images") base.ec_fc_images = std::stoll(next());
            else if (a == "--positions") base.ec_positions = std::stoll(next());
            else if (a == "--iterations") base.ec_iterations = std::stoi(next());
            else if (a == "--seed") base.seed = std::stoull(next());
            else if (a == "--threads") base.threads = std::stoi(next());
            else if (a == "--ec-bias") base.ec_bias = true;
            else if (a == "--layers") layers = true;
            else if (a == "--peak-gap") peak_gap = true;
            else fail("unknown option ", a);
        }
        if (settings.empty()) settings = {"conv=4/16,fc=4/16", "conv=8/128,fc=8/128"};
        const std::string path =
            model.find(".onnx") != std::string::npos ? model : std::string(QCNN_DATASETS_DIR) + "/" + model + ".onnx";
        auto net = std::make_shared<const Network>(import_onnx(path));
        const std::unique_ptr<Dataset> test = open_dataset("fashion-mnist:test");
        const std::unique_ptr<Dataset> train = open_dataset("fashion-mnist:train");
        const std::vector<int64_t> idx =
            calibration_indices(train->size(), std::max(base.ec_conv_images, base.ec_fc_images), base.seed);
        Tensor calib;
        std::vector<int> labels;
        train->gather(idx, calib, labels);
        // Response errors on a smaller calibration subset (full forward passes, all positions).
        Tensor calib_small;
        train->gather(std::span<const int64_t>(idx.data(), std::min<size_t>(idx.size(), 1000)), calib_small, labels);

        EvalOptions eo;
        eo.threads = base.threads;
        eo.batch = 256;
        eo.lut_kernel = LutKernel::Reference;
        EvalOptions eo_fast = eo;
        eo_fast.lut_kernel = LutKernel::Fast;
        const EvalResult ref = evaluate(net, *test, "fashion-mnist:test", eo);
        const NetworkGeometry geo = network_geometry(*net, net->sample_shape());
        std::printf("# %s: float top-1 %.2f%% on fashion-mnist:test (%lld images); calibration: %lld train images "
                    "(seed %llu), conv layers %lld images x %lld positions, FC layers %lld images, %d EC sweeps, "
                    "%d threads%s; %s\n",
                    model.c_str(), 100 * ref.top1, (long long)ref.samples, (long long)calib.shape[0],
                    (unsigned long long)base.seed, (long long)std::min<int64_t>(base.ec_conv_images, calib.shape[0]),
                    (long long)base.ec_positions, (long long)std::min<int64_t>(base.ec_fc_images, calib.shape[0]),
                    base.ec_iterations, base.threads, base.ec_bias ? ", biases refit" : "", qcnn::cpu_model().c_str());
        std::printf("| settings | EC | top-1 %% | loss (pp) | top-1 %%, fast kernels | compression | speed-up | "
                    "quant. time (s) | logits rel. error |\n");
        std::printf("|---|---|---|---|---|---|---|---|---|\n");
        std::fflush(stdout);
        for (const std::string& s : settings) {
            const ResolvedSettings rs = resolve_settings(*net, parse_layer_settings(s));
            for (EcMode mode : modes) {
                QuantizeOptions o = base;
                o.ec = mode;
                double gap = 0;
                auto last = std::chrono::steady_clock::now();
                const auto t0 = std::chrono::steady_clock::now();
                const QuantizedNetwork q = quantize_network(*net, rs, o, calib, [&](const Progress&) {
                    const auto now = std::chrono::steady_clock::now();
                    gap = std::max(gap, std::chrono::duration<double>(now - last).count());
                    last = now;
                    return true;
                });
                const double qtime = seconds_since(t0);
                auto qnet = std::make_shared<const Network>(q.network);
                const EvalResult r = evaluate(qnet, *test, "fashion-mnist:test", eo);
                const EvalResult rf = evaluate(qnet, *test, "fashion-mnist:test", eo_fast);
                const NetworkCost cost = network_cost(geo, stored_settings(*qnet));
                const std::vector<LayerResponseError> re = response_errors(*net, *qnet, calib_small, 128, base.threads);
                std::printf("| %s | %s | %.2f | %.2f | %.2f | %.2fx | %.2fx | %.1f | %.4f |", s.c_str(),
                            to_string(mode).c_str(), 100 * r.top1, 100 * (ref.top1 - r.top1), 100 * rf.top1,
                            cost.compression(), cost.speedup(), qtime, re.back().network_error);
                if (peak_gap) std::printf(" longest progress gap %.3f s |", gap);
                std::printf("\n");
                if (layers) {
                    for (size_t i = 0; i < q.layers.size(); ++i) {
                        const LayerQuantInfo& l = q.layers[i];
                        std::printf("|   %s %s | | own error %.4f, network error %.4f", l.alias.c_str(),
                                    l.setting.to_string().c_str(), re[i].layer_error, re[i].network_error);
                        if (l.error_corrected) {
                            double rise = 0;  // largest increase of the EC objective (expected: none)
                            for (size_t k = 1; k < l.ec_objective.size(); ++k)
                                rise = std::max(rise, l.ec_objective[k] - l.ec_objective[k - 1]);
                            std::printf("; EC on %lld rows: %.4f -> %.4f in %d sweeps, %lld code changes, %.1f s, "
                                        "largest objective rise %.3g",
                                        (long long)l.calibration_rows, l.response_error_before,
                                        l.response_error_after, l.ec_iterations, (long long)l.ec_code_changes,
                                        l.ec_seconds, rise / l.ec_objective.front());
                        }
                        std::printf(" |\n");
                    }
                }
                std::fflush(stdout);
            }
        }
    } catch (const Error& e) {
        std::fprintf(stderr, "ec_table: %s\n", e.what());
        return 1;
    }
    return 0;
}
