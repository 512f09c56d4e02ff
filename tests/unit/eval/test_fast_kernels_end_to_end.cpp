// The fast SIMD lookup-table path against the paper's float lookup tables, end to end on the
// bundled networks and the full Fashion-MNIST test set: top-1 within 0.2 points (issue 5), for
// 8-bit tables (K = 16) and 16-bit tables (K > 16). Prints both top-1 values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "core/data/dataset.h"
#include "core/eval/evaluate.h"
#include "core/io/onnx_import.h"
#include "core/quant/quantize_network.h"
#include "core/quant/settings.h"

namespace qcnn {
namespace {

struct Case {
    const char* net;
    const char* settings;
};

class FastVsReference : public ::testing::TestWithParam<Case> {};

void check_fast_vs_reference(const Case& c) {
    const Network net = import_onnx(std::string(QCNN_DATASETS_DIR) + "/" + c.net + ".onnx");
    QuantizeOptions opt;
    opt.seed = 1;
    const auto q = std::make_shared<const Network>(
        quantize_network(net, resolve_settings(net, parse_layer_settings(c.settings)), opt).network);
    const auto data = open_dataset("fashion-mnist:test");
    EvalOptions fast, reference;
    reference.lut_kernel = LutKernel::Reference;
    const EvalResult f = evaluate(q, *data, "fashion-mnist:test", fast);
    const EvalResult r = evaluate(q, *data, "fashion-mnist:test", reference);
    ASSERT_EQ(f.samples, 10000);
    std::printf("%s %s: top-1 fast %.2f%%, reference %.2f%%\n", c.net, c.settings, 100 * f.top1, 100 * r.top1);
    EXPECT_LE(std::fabs(f.top1 - r.top1), 0.002) << c.net << " " << c.settings << ": fast " << f.top1
                                                 << " reference " << r.top1;
}

TEST_P(FastVsReference, Top1WithinTwoTenthsOfAPoint) { check_fast_vs_reference(GetParam()); }

INSTANTIATE_TEST_SUITE_P(BundledNetworks, FastVsReference,
                         ::testing::Values(Case{"lenet5", "conv=4/16,fc=4/16,fc2=dense"},
                                           Case{"lenet5", "conv=8/128,fc=4/32,fc2=dense"},
                                           Case{"vgg7", "conv=4/16,fc=4/16,fc2=dense"},
                                           // K = 128 / 32: 16-bit tables (LutPrecision::Auto);
                                           // with 8-bit tables this case lost 0.23 points once
                                           Case{"vgg7", "conv=8/128,fc=4/32,fc2=dense"}),
                         [](const auto& info) {
                             std::string s = std::string(info.param.net) + "_" + info.param.settings;
                             for (char& ch : s)
                                 if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return s;
                         });

}  // namespace
}  // namespace qcnn
