// The lookup-table kernels (core/kernels) against the project's dense engine, measured side by
// side in one run: FcOp (Eigen GEMV/GEMM) and ConvOp (im2col + Eigen GEMM) on the decoded
// weights W_hat, FastFc / FastConv on every instruction set this CPU runs, and their scalar
// reference twins. Batch 1 and 32, 1 and 2 threads by default; median of many repetitions.
//
//   bench_kernels [--json] [--batches 1,32] [--threads 1,2] [--budget SECONDS] [--layers fc,conv]
//                 [--setting 4/16] [--isa portable,avx2,avx512] [--no-reference] [--precision auto|8|16]
//
// Layers: fc = 4096 -> 4096; conv = 3x3, 64 -> 64 channels, 56x56, pad 1. The setting C_s'/K
// applies to both. "max|diff|" is the largest difference from the dense output over the
// largest dense magnitude (the 8-bit LUT quantization error, plus float rounding).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>

#include "bench_util.h"
#include "core/util/host.h"
#include "core/kernels/fast_conv.h"
#include "core/kernels/fast_fc.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"

namespace {

using namespace qcnn;

std::vector<int> parse_list(const std::string& s) {
    std::vector<int> v;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) v.push_back(std::stoi(item));
    return v;
}

std::vector<std::string> parse_names(const std::string& s) {
    std::vector<std::string> v;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) v.push_back(item);
    return v;
}

struct Layer {
    std::string name;
    LutGeometry geo;
    std::vector<float> codebooks;
    std::vector<uint8_t> codes;
    std::vector<float> bias;
    Tensor dense;  // W_hat: {C_t, C_s} or {C_t, C_s/g, kh, kw}
};

Layer make_layer(const std::string& name, const LutGeometry& geo, uint64_t seed) {
    Layer l;
    l.name = name;
    l.geo = geo;
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.05f);
    const int64_t M = geo.subspaces(), Mg = geo.subspaces_per_group(), P = geo.kernel_size();
    l.codebooks.resize(M * geo.K * geo.dsub);
    for (auto& v : l.codebooks) v = nd(rng);
    std::uniform_int_distribution<int> code(0, static_cast<int>(geo.K) - 1);
    l.codes.resize(geo.out_channels * P * Mg);
    for (auto& c : l.codes) c = static_cast<uint8_t>(code(rng));
    l.bias.resize(geo.out_channels);
    for (auto& b : l.bias) b = nd(rng);
    const int64_t cin_g = geo.in_channels / geo.groups, ctg = geo.outputs_per_group();
    l.dense = P == 1 && geo.groups == 1 ? Tensor({geo.out_channels, geo.in_channels})
                                        : Tensor({geo.out_channels, cin_g, geo.kernel_h, geo.kernel_w});
    for (int64_t c = 0; c < geo.out_channels; ++c)
        for (int64_t j = 0; j < Mg; ++j)
            for (int64_t p = 0; p < P; ++p) {
                const int64_t m = (c / ctg) * Mg + j;
                const float* d = l.codebooks.data() + (m * geo.K + l.codes[(c * P + p) * Mg + j]) * geo.dsub;
                for (int64_t i = 0; i < geo.dsub; ++i) l.dense.data[(c * cin_g + j * geo.dsub + i) * P + p] = d[i];
            }
    return l;
}

struct LayerInfo {
    std::string name;
    double flop_ratio = 0;               // dense FLOPs / Q-CNN FLOPs (qcnn-method.md section 4)
    int64_t dense_weight_bytes = 0;      // fp32 weights + bias
    int64_t fast_weight_bytes = 0;       // FastFc / FastConv::weight_bytes() (Auto isa)
    int64_t lut_bytes_per_thread = 0;    // LUT buffers of one thread at batch 1 (FC) / per tile (conv)
};

struct Row {
    std::string layer, impl;
    int batch = 0, threads = 0;
    bench::Timing t;
    double speedup = 0;   // dense median / this median
    double max_diff = 0;  // max |y - dense| / max |dense|
};

double relative_diff(const std::vector<float>& y, const Tensor& dense) {
    double d = 0, mag = 0;
    for (size_t i = 0; i < y.size(); ++i) {
        d = std::max(d, std::abs(double(y[i]) - dense.data[i]));
        mag = std::max(mag, std::abs(double(dense.data[i])));
    }
    return mag > 0 ? d / mag : d;
}

}  // namespace

int main(int argc, char** argv) {
    bool json = false, with_reference = true;
    std::vector<int> batches{1, 32}, thread_counts{1, 2};
    std::vector<std::string> layers{"fc", "conv"};
    double budget = 1.0;
    int64_t dsub = 4, K = 16;
    std::vector<KernelIsa> isas = supported_isas();
    LutPrecision precision = LutPrecision::Auto;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--json") json = true;
        else if (a == "--precision" && i + 1 < argc) {
            const std::string p = argv[++i];
            if (p != "auto" && p != "8" && p != "16") {
                std::cerr << "--precision: expected auto, 8 or 16\n";
                return 2;
            }
            precision = p == "8" ? LutPrecision::Bits8 : p == "16" ? LutPrecision::Bits16 : LutPrecision::Auto;
        }
        else if (a == "--no-reference") with_reference = false;
        else if (a == "--batches" && i + 1 < argc) batches = parse_list(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) thread_counts = parse_list(argv[++i]);
        else if (a == "--budget" && i + 1 < argc) budget = std::stod(argv[++i]);
        else if (a == "--layers" && i + 1 < argc) layers = parse_names(argv[++i]);
        else if (a == "--isa" && i + 1 < argc) {
            isas.clear();
            for (const std::string& n : parse_names(argv[++i])) {
                const std::optional<KernelIsa> isa = parse_isa(n);
                if (!isa || !isa_supported(*isa)) {
                    std::cerr << "--isa: '" << n << "' is not an instruction set this CPU runs\n";
                    return 2;
                }
                isas.push_back(resolve_isa(*isa));
            }
        } else if (a == "--setting" && i + 1 < argc) {
            const std::string s = argv[++i];
            const size_t slash = s.find('/');
            if (slash == std::string::npos) {
                std::cerr << "--setting expects C_s'/K, e.g. 4/16\n";
                return 2;
            }
            dsub = std::stoll(s.substr(0, slash));
            K = std::stoll(s.substr(slash + 1));
        } else {
            std::cout << "usage: bench_kernels [--json] [--batches 1,32] [--threads 1,2] [--budget S] "
                         "[--layers fc,conv] [--setting 4/16] [--isa portable,avx2,avx512] [--no-reference] "
                         "[--precision auto|8|16]\n";
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }

    std::vector<Row> rows;
    std::vector<LayerInfo> infos;
    const std::string setting = std::to_string(dsub) + "/" + std::to_string(K);
    if (!json)
        std::printf("CPU: %s; setting C_s'/K = %s; table precision %s; median ms per batch over >= %.1f s "
                    "(reference: >= 3 reps)\n",
                    qcnn::cpu_model().c_str(), setting.c_str(), lut_precision_name(precision), budget);

    for (const std::string& which : layers) {
        const bool is_fc = which == "fc";
        if (!is_fc && which != "conv") {
            std::cerr << "unknown layer '" << which << "' (expected fc or conv)\n";
            return 2;
        }
        LutGeometry geo;
        geo.dsub = dsub;
        geo.K = K;
        ConvParams cp;
        if (is_fc) {
            geo.out_channels = 4096;
            geo.in_channels = 4096;
        } else {
            geo.out_channels = 64;
            geo.in_channels = 64;
            geo.kernel_h = geo.kernel_w = 3;
            cp.kernel_h = cp.kernel_w = 3;
            cp.pad_top = cp.pad_left = cp.pad_bottom = cp.pad_right = 1;
        }
        const int64_t hw = 56;
        const Layer layer = make_layer(is_fc ? "fc 4096->4096" : "conv 3x3 64->64 56x56 p1", geo, 7);
        const ConvWindow win{1, 1, 1, 1, 1, 1, 1, 1};

        std::vector<std::pair<std::string, FastFc>> fcs;
        std::vector<std::pair<std::string, FastConv>> convs;
        for (KernelIsa isa : isas) {
            const std::string impl = std::string("fast-") + isa_name(isa);
            if (is_fc) fcs.emplace_back(impl, FastFc(geo, layer.codebooks, layer.codes, layer.bias, isa, precision));
            else convs.emplace_back(impl, FastConv(geo, layer.codebooks, layer.codes, layer.bias, isa, precision));
        }
        LayerInfo info;
        info.name = layer.name;
        const int64_t M = geo.subspaces(), P = geo.kernel_size();
        const double pixels = is_fc ? 1.0 : double(hw * hw);  // stride 1, pad 1: H_t = H
        info.flop_ratio = pixels * geo.out_channels * P * geo.in_channels /
                          (pixels * geo.in_channels * K + pixels * geo.out_channels * P * M);
        info.dense_weight_bytes = (layer.dense.size() + static_cast<int64_t>(layer.bias.size())) * 4;
        if (is_fc) {
            const FastFc f(geo, layer.codebooks, layer.codes, layer.bias, KernelIsa::Auto, precision);
            info.fast_weight_bytes = f.weight_bytes();
            info.lut_bytes_per_thread = f.lut_bytes(1);
        } else {
            const FastConv f(geo, layer.codebooks, layer.codes, layer.bias, KernelIsa::Auto, precision);
            info.fast_weight_bytes = f.weight_bytes();
            info.lut_bytes_per_thread = f.lut_bytes(hw, hw, win);
        }
        infos.push_back(info);

        std::unique_ptr<Op> dense_op;
        if (is_fc) dense_op = std::make_unique<FcOp>(layer.dense, layer.bias);
        else dense_op = std::make_unique<ConvOp>(cp, layer.dense, layer.bias);

        for (int batch : batches) {
            const Shape in_shape = is_fc ? Shape{batch, geo.in_channels} : Shape{batch, geo.in_channels, hw, hw};
            const Shape out_shape = is_fc ? Shape{batch, geo.out_channels} : Shape{batch, geo.out_channels, hw, hw};
            Tensor x(in_shape), y_dense(out_shape);
            std::mt19937 rng(42);
            std::uniform_real_distribution<float> u(0.0f, 1.0f);
            for (auto& v : x.data) v = u(rng);
            std::vector<float> y(y_dense.size());

            for (int threads : thread_counts) {
                ExecContext ctx;
                ctx.threads = threads;
                ValueInfo info;
                info.shape = in_shape;
                const std::vector<const Tensor*> in{&x};
                const std::vector<const ValueInfo*> in_info{&info};
                const std::vector<Tensor*> out{&y_dense};
                const RunArgs args{in, in_info, out, ctx};
                omp_set_num_threads(threads);
                Row dense{layer.name, "dense-eigen", batch, threads, {}};
                dense.t = bench::time_it([&] { dense_op->run(args); }, budget, 5, 2);
                dense.speedup = 1.0;
                rows.push_back(dense);
                auto add = [&](const std::string& impl, const bench::Timing& t) {
                    Row r{layer.name, impl, batch, threads, t};
                    r.speedup = dense.t.median_s / t.median_s;
                    r.max_diff = relative_diff(y, y_dense);
                    rows.push_back(r);
                };
                if (is_fc)
                    for (const auto& [impl, f] : fcs)
                        add(impl, bench::time_it([&] { f.run(x.ptr(), batch, y.data(), threads); }, budget, 5, 2));
                else
                    for (const auto& [impl, f] : convs)
                        add(impl, bench::time_it([&] { f.run(x.ptr(), batch, hw, hw, win, y.data(), threads); },
                                                 budget, 5, 2));
                if (with_reference && threads == thread_counts.front()) {
                    // The scalar twin is single-threaded: measured once per batch.
                    if (is_fc) {
                        const FastFc& f = fcs.back().second;
                        add("reference-twin", bench::time_it([&] { f.run_reference(x.ptr(), batch, y.data()); },
                                                             budget, 3, 1));
                    } else {
                        const FastConv& f = convs.back().second;
                        add("reference-twin",
                            bench::time_it([&] { f.run_reference(x.ptr(), batch, hw, hw, win, y.data()); }, budget, 3,
                                           1));
                    }
                }
            }
        }
    }

    if (json) {
        std::ostringstream js;
        js << "{\"cpu\":\"" << qcnn::cpu_model() << "\",\"setting\":\"" << setting << "\",\"isa_auto\":\""
           << isa_name(resolve_isa(KernelIsa::Auto)) << "\",\"layers\":[";
        for (size_t i = 0; i < infos.size(); ++i) {
            const LayerInfo& l = infos[i];
            js << (i ? "," : "") << "{\"layer\":\"" << l.name << "\",\"flop_ratio\":" << l.flop_ratio
               << ",\"dense_weight_bytes\":" << l.dense_weight_bytes << ",\"fast_weight_bytes\":" << l.fast_weight_bytes
               << ",\"lut_bytes_per_thread\":" << l.lut_bytes_per_thread << "}";
        }
        js << "],\"rows\":[";
        for (size_t i = 0; i < rows.size(); ++i) {
            const Row& r = rows[i];
            js << (i ? "," : "") << "{\"layer\":\"" << r.layer << "\",\"impl\":\"" << r.impl << "\",\"batch\":" << r.batch
               << ",\"threads\":" << r.threads << ",\"median_ms\":" << r.t.median_s * 1e3
               << ",\"min_ms\":" << r.t.min_s * 1e3 << ",\"reps\":" << r.t.reps << ",\"speedup_vs_dense\":" << r.speedup
               << ",\"max_rel_diff\":" << r.max_diff << "}";
        }
        js << "]}";
        std::cout << js.str() << "\n";
        return 0;
    }
    for (const LayerInfo& l : infos)
        std::printf("%s: Q-CNN FLOP ratio %.2fx; weights %.2f MB dense, %.2f MB fast; LUT buffers %.1f KB per thread\n",
                    l.name.c_str(), l.flop_ratio, l.dense_weight_bytes / 1e6, l.fast_weight_bytes / 1e6,
                    l.lut_bytes_per_thread / 1e3);
    std::printf("%-26s %5s %7s %-16s %10s %10s %6s %9s %10s\n", "layer", "batch", "threads", "impl", "median ms",
                "min ms", "reps", "speedup", "max|diff|");
    for (const Row& r : rows)
        std::printf("%-26s %5d %7d %-16s %10.3f %10.3f %6d %8.2fx %10.2e\n", r.layer.c_str(), r.batch, r.threads,
                    r.impl.c_str(), r.t.median_s * 1e3, r.t.min_s * 1e3, r.t.reps, r.speedup, r.max_diff);
    return 0;
}
