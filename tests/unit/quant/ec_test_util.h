// Shared helpers of the error-correction tests: random layers with their calibration data and
// brute-force objectives computed with the reference conv / FC loops.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/calibration.h"
#include "core/quant/product_quantizer.h"
#include "core/quant/random.h"
#include "quant_test_util.h"

namespace qcnn::ectest {

using testutil::as_vector;
using testutil::random_tensor;

// Mixes the channels (dimension 1 when channel_dim == 1, the last one otherwise) of random
// inputs so that they are correlated across subspaces, as real activations are: with
// independent inputs X^T X is nearly diagonal and k-means is already close to the EC optimum.
inline void correlate(Tensor& t, int64_t channels, int64_t inner) {
    const int64_t outer = t.size() / (channels * inner);
    std::vector<float> v(channels);
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            float* base = t.ptr() + o * channels * inner + i;
            for (int64_t c = 0; c < channels; ++c) v[c] = base[c * inner];
            for (int64_t c = 0; c < channels; ++c)
                base[c * inner] = v[c] + 0.9f * v[(c + 1) % channels] + 0.5f * v[(c + 3) % channels];
        }
}

// One weight layer with random float weights, calibration inputs and their float responses.
struct Problem {
    std::string what;       // for failure messages
    std::shared_ptr<Op> op; // the float layer
    CalibLayer layer;
    Tensor weight;
    std::vector<float> bias;
    Tensor input, target;   // calibration inputs and the float layer's outputs
    int64_t positions = 0;  // conv positions sampled per image (0: all)
    uint64_t seed = 0;      // position sampling seed
    LayerStats stats;

    // Sum of squared response errors of a dense weight w_hat, by brute force (reference loops)
    // over exactly the rows the statistics hold.
    double brute_objective(const Tensor& w_hat) const {
        if (layer.kind == LayerKind::Fc) {
            const Tensor y = fc_reference(input, w_hat, bias);
            double s = 0;
            for (int64_t i = 0; i < y.size(); ++i) s += std::pow(double(y.data[i]) - double(target.data[i]), 2);
            return s;
        }
        const Tensor y = conv_reference(input, layer.conv, w_hat, bias);
        const int64_t n = y.shape[0], ct = y.shape[1], hw = y.shape[2] * y.shape[3];
        double s = 0;
        for (int64_t img = 0; img < n; ++img)
            for (int64_t pt : sample_positions(hw, positions, derive_seed(seed, img)))
                for (int64_t c = 0; c < ct; ++c) {
                    const int64_t i = (img * ct + c) * hw + pt;
                    s += std::pow(double(y.data[i]) - double(target.data[i]), 2);
                }
        return s;
    }
};

// Conv layer: C_s -> C_t, kernel kh x kw, params p (group included), n images of h x w.
inline Problem conv_problem(int64_t cs, int64_t ct, ConvParams p, int64_t n, int64_t h, int64_t w,
                            int64_t positions, uint64_t seed) {
    Problem pr;
    pr.what = cat("conv ", cs, "->", ct, " ", p.describe(), " on ", n, "x", h, "x", w, " positions ", positions,
                  " seed ", seed);
    pr.weight = random_tensor({ct, cs / p.group, p.kernel_h, p.kernel_w}, seed, 0.4f);
    pr.bias = as_vector(random_tensor({ct}, seed + 1, 0.2f));
    pr.op = std::make_shared<ConvOp>(p, pr.weight, pr.bias);
    pr.layer = calib_layer(*pr.op, "test");
    pr.input = random_tensor({n, cs, h, w}, seed + 2);
    correlate(pr.input, cs, h * w);
    pr.target = conv_reference(pr.input, p, pr.weight, pr.bias);
    pr.positions = positions;
    pr.seed = seed + 3;
    pr.stats = LayerStats::empty(pr.layer);
    // Two batches, so that image indices continue across accumulate_stats calls.
    const int64_t n1 = n / 2;
    auto slice = [](const Tensor& t, int64_t a, int64_t b) {
        Shape s = t.shape;
        s[0] = b - a;
        Tensor out(s);
        const int64_t per = t.size() / t.shape[0];
        std::copy(t.data.begin() + a * per, t.data.begin() + b * per, out.data.begin());
        return out;
    };
    accumulate_stats(pr.stats, slice(pr.input, 0, n1), slice(pr.target, 0, n1), 0, positions, pr.seed, 1);
    accumulate_stats(pr.stats, slice(pr.input, n1, n), slice(pr.target, n1, n), n1, positions, pr.seed, 2);
    return pr;
}

// FC layer C_s -> C_t on input rows {n, rows_per_image, C_s}.
inline Problem fc_problem(int64_t cs, int64_t ct, int64_t n, int64_t rows_per_image, uint64_t seed) {
    Problem pr;
    pr.what = cat("fc ", cs, "->", ct, " on ", n, "x", rows_per_image, " seed ", seed);
    pr.weight = random_tensor({ct, cs}, seed, 0.3f);
    pr.bias = as_vector(random_tensor({ct}, seed + 1, 0.2f));
    pr.op = std::make_shared<FcOp>(pr.weight, pr.bias);
    pr.layer = calib_layer(*pr.op, "test");
    pr.input = random_tensor({n, rows_per_image, cs}, seed + 2);
    correlate(pr.input, cs, 1);
    pr.target = fc_reference(pr.input, pr.weight, pr.bias);
    pr.stats = LayerStats::empty(pr.layer);
    accumulate_stats(pr.stats, pr.input, pr.target, 0, 0, 0, 2);
    return pr;
}

inline PQWeights kmeans_init(const Problem& pr, int64_t dsub, int64_t K, uint64_t seed) {
    PQTrainOptions o;
    o.seed = seed;
    o.max_iter = 10;
    return train_pq(pr.weight, pr.layer.kind, pr.layer.groups, PQConfig{dsub, K}, o);
}

inline ConvParams conv_params(int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t dilation, int64_t group) {
    ConvParams p;
    p.kernel_h = kh;
    p.kernel_w = kw;
    p.stride_h = p.stride_w = stride;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
    p.dilation_h = p.dilation_w = dilation;
    p.group = group;
    return p;
}

}  // namespace qcnn::ectest
