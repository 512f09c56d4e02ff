// The oneDNN peers of qcnn_bench (bench/dnnl_peer.h) against our float engine: if the peer
// computed something else than the network it is timed against, every int8 / fp32 ratio in
// docs/results.md would be meaningless. Needs no torch: the bundled Fashion-MNIST networks and
// hand-built graphs with seeded random weights.
//
// Tolerances. fp32: the same sums in another order, ~ eps * sqrt(K) relative; bound 1e-4 of
// max|y|. int8 (one layer): each product carries a rounding error of at most s_x/2 * |w| +
// s_w/2 * |x|, i.e. <= 1/255 + 1/254 relative to max|x| * max|w|; summed over K terms with
// independent signs the expected output error is ~ sqrt(K) * that, which stays below 3% of
// max|y| for the layers here (K <= 72, y a sum of K terms of similar size); bound 0.03 relative.
// Whole networks: errors add over layers; bound 0.05 of max|logit| and top-1 agreement >= 97%
// over the first 200 Fashion-MNIST test images (measured: see the printed values).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "core/data/dataset.h"
#include "core/graph/plan.h"
#include "core/io/onnx_import.h"
#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/util/error.h"
#include "dnnl_peer.h"

namespace qcnn::bench {
namespace {

double max_abs(const Tensor& t) {
    double m = 0;
    for (float v : t.data) m = std::max(m, std::fabs(double(v)));
    return m;
}

double rel_diff(const Tensor& a, const Tensor& ref) {
    EXPECT_EQ(a.shape, ref.shape);
    double d = 0;
    for (int64_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(double(a.data[i]) - ref.data[i]));
    return d / std::max(max_abs(ref), 1e-30);
}

Tensor random_tensor(const Shape& s, uint32_t seed, float lo, float hi) {
    Tensor t(s);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (float& v : t.data) v = u(rng);
    return t;
}

// x -> Conv(c_in -> c_mid, k, stride, pad, group) [-> Relu] -> Conv(c_mid -> c_out, 1x1):
// the second conv reads a signed input when there is no Relu (the s8 path).
std::shared_ptr<Network> two_convs(int64_t c_in, int64_t c_mid, int64_t c_out, int64_t k, int64_t stride,
                                   int64_t pad, int64_t group, bool relu, uint32_t seed) {
    auto n = std::make_shared<Network>();
    n->source = "two_convs";
    ValueDecl in;
    in.name = "x";
    in.shape = {-1, c_in, -1, -1};
    n->inputs = {n->add_value(in)};
    auto value = [&](const char* name) {
        ValueDecl v;
        v.name = name;
        return n->add_value(v);
    };
    ConvParams p;
    p.stride_h = p.stride_w = stride;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
    p.group = group;
    Tensor w1 = random_tensor({c_mid, c_in / group, k, k}, seed, -0.5f, 0.5f);
    Tensor w2 = random_tensor({c_out, c_mid, 1, 1}, seed + 1, -0.5f, 0.5f);
    const Tensor b1 = random_tensor({c_mid}, seed + 2, -0.2f, 0.2f), b2 = random_tensor({c_out}, seed + 3, -0.2f, 0.2f);
    const int h1 = value("h1");
    n->nodes.push_back({"conv_a", "", std::make_shared<ConvOp>(p, w1, std::vector<float>(b1.data.begin(), b1.data.end())),
                        {n->inputs[0]},
                        {h1}});
    int h = h1;
    if (relu) {
        h = value("h2");
        n->nodes.push_back({"relu", "", std::make_shared<ActivationOp>(ActivationKind::Relu), {h1}, {h}});
    }
    const int y = value("y");
    n->nodes.push_back({"conv_b", "", std::make_shared<ConvOp>(ConvParams{}, w2, std::vector<float>(b2.data.begin(), b2.data.end())), {h}, {y}});
    n->outputs = {y};
    n->assign_aliases();
    return n;
}

Tensor run(std::shared_ptr<const Network> net, const Tensor& x, int threads = 1) {
    Engine e(std::move(net), threads);
    return e.forward(x);
}

struct Geometry {
    int64_t c_in, c_mid, c_out, k, stride, pad, group, h, w, batch;
    bool relu;
};

class PeerOnAwkwardShapes : public ::testing::TestWithParam<Geometry> {};

TEST_P(PeerOnAwkwardShapes, Fp32AndInt8MatchTheFloatEngine) {
    const Geometry g = GetParam();
    const uint32_t seed = 11;
    const auto net = two_convs(g.c_in, g.c_mid, g.c_out, g.k, g.stride, g.pad, g.group, g.relu, seed);
    // Signed inputs: the first conv runs s8 x s8.
    const Tensor x = random_tensor({g.batch, g.c_in, g.h, g.w}, seed + 5, -1.0f, 1.0f);
    const Tensor ref = run(net, x);
    const Tensor f32 = run(dnnl_network(*net, PeerPrecision::Fp32, nullptr), x);
    EXPECT_LE(rel_diff(f32, ref), 1e-4) << "seed " << seed;
    const Calibration cal = calibrate(*net, {x}, 1);
    ASSERT_EQ(cal.size(), 2u);
    EXPECT_LT(cal.at(0).min, 0.0f);
    const Tensor i8 = run(dnnl_network(*net, PeerPrecision::Int8, &cal), x);
    const double d = rel_diff(i8, ref);
    std::printf("int8 vs float: max|diff| / max|y| = %.4f\n", d);
    EXPECT_LE(d, 0.03) << "seed " << seed;
    EXPECT_GT(d, 0.0) << "int8 should differ from float at all";
}

INSTANTIATE_TEST_SUITE_P(Shapes, PeerOnAwkwardShapes,
                         ::testing::Values(Geometry{3, 8, 5, 3, 1, 1, 1, 17, 15, 1, true},
                                           Geometry{4, 6, 7, 3, 2, 1, 2, 16, 33, 2, false},
                                           Geometry{8, 8, 3, 3, 1, 0, 8, 9, 9, 3, true},  // depthwise
                                           Geometry{5, 16, 16, 5, 3, 2, 1, 31, 32, 1, false},
                                           Geometry{1, 1, 1, 1, 1, 0, 1, 1, 1, 1, true}));

// The int8 peer with a calibration that is far off saturates: the test above would catch a
// peer that ignored its scales.
TEST(DnnlPeer, BadCalibrationShowsInTheLogits) {
    const auto net = two_convs(3, 8, 5, 3, 1, 1, 1, true, 3);
    const Tensor x = random_tensor({1, 3, 12, 12}, 4, -1.0f, 1.0f);
    Calibration cal = calibrate(*net, {x}, 1);
    for (auto& [node, r] : cal) r = {r.min / 50, r.max / 50};
    EXPECT_GT(rel_diff(run(dnnl_network(*net, PeerPrecision::Int8, &cal), x), run(net, x)), 0.2);
}

TEST(DnnlPeer, UncalibratedLayerIsAnError) {
    const auto net = two_convs(3, 8, 5, 3, 1, 1, 1, true, 3);
    Calibration cal;
    EXPECT_THROW(dnnl_network(*net, PeerPrecision::Int8, &cal), Error);
    EXPECT_THROW(calibrate(*net, {}, 1), Error);
}

class PeerOnBundled : public ::testing::TestWithParam<const char*> {};

TEST_P(PeerOnBundled, LogitsAndTop1AgreeWithFloat) {
    const auto net = std::make_shared<Network>(import_onnx(std::string(QCNN_DATASETS_DIR) + "/" + GetParam() + ".onnx"));
    const auto data = open_dataset("fashion-mnist:test");
    Tensor calib, x;
    std::vector<int> labels;
    data->batch(9000, 64, calib, labels);  // calibration images: not among the compared ones
    data->batch(0, 200, x, labels);
    for (int threads : {1, 2}) {
        const Tensor ref = run(net, x, threads);
        const Tensor f32 = run(dnnl_network(*net, PeerPrecision::Fp32, nullptr), x, threads);
        EXPECT_LE(rel_diff(f32, ref), 1e-4) << GetParam() << " threads " << threads;
        const Calibration cal = calibrate(*net, {calib}, threads);
        const Tensor i8 = run(dnnl_network(*net, PeerPrecision::Int8, &cal), x, threads);
        const int64_t classes = ref.shape[1];
        int agree = 0;
        for (int64_t i = 0; i < 200; ++i) {
            const float* a = ref.ptr() + i * classes;
            const float* b = i8.ptr() + i * classes;
            agree += std::max_element(a, a + classes) - a == std::max_element(b, b + classes) - b;
        }
        const double d = rel_diff(i8, ref);
        std::printf("%s threads %d: int8 vs float max|diff| / max|logit| = %.4f, top-1 agreement %d / 200\n",
                    GetParam(), threads, d, agree);
        EXPECT_LE(d, 0.05) << GetParam();
        EXPECT_GE(agree, 194) << GetParam();
    }
}

INSTANTIATE_TEST_SUITE_P(Bundled, PeerOnBundled, ::testing::Values("lenet5", "vgg7"));

}  // namespace
}  // namespace qcnn::bench
