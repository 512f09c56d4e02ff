// BatchNormOp against the double-precision formula, and folding into Conv/Fc weights:
// the folded layer must equal the layer followed by the normalization.
#include <gtest/gtest.h>

#include "core/ops/batchnorm.h"
#include "core/util/error.h"
#include "tests/unit/ops/op_runner.h"

namespace qcnn {
namespace {

using namespace qcnn::testing;

std::vector<float> vec(const Tensor& t) { return std::vector<float>(t.data.begin(), t.data.end()); }

struct Params {
    Tensor gamma, beta, mean, var;
    explicit Params(int64_t c, uint32_t seed)
        : gamma(random_tensor({c}, seed, 0.5f, 2.0f)),
          beta(random_tensor({c}, seed + 1)),
          mean(random_tensor({c}, seed + 2)),
          var(random_tensor({c}, seed + 3, 0.1f, 3.0f)) {}
    ChannelAffine affine(float eps) const { return batchnorm_affine(vec(gamma), vec(beta), vec(mean), vec(var), eps); }
};

TEST(BatchNorm, MatchesFormula) {
    uint32_t seed = 1;
    for (const Shape& s : {Shape{4, 3}, Shape{2, 5, 7}, Shape{2, 16, 9, 9}, Shape{1, 3, 2, 3, 4}, Shape{8, 33, 31, 1}})
        for (int threads : {1, 2}) {
            const Params p(s[1], seed);
            const Tensor x = random_tensor(s, seed + 10);
            seed += 20;
            const OpOutput r = run_op(BatchNormOp(p.affine(1e-5f)), {runtime(x)}, threads);
            const Tensor ref = batchnorm_reference(x, vec(p.gamma), vec(p.beta), vec(p.mean), vec(p.var), 1e-5f);
            EXPECT_LT(max_abs_diff(r.out[0], ref), 1e-5) << to_string(s);
        }
    EXPECT_THROW(run_op(BatchNormOp(Params(3, 1).affine(1e-5f)), {runtime(Tensor({2, 4, 5}))}), Error);
    EXPECT_THROW(batchnorm_affine({1, 2}, {1, 2}, {0, 0}, {1}, 1e-5f), Error);
    EXPECT_THROW(batchnorm_affine({1}, {0}, {0}, {-1}, 1e-5f), Error);
}

TEST(BatchNorm, FoldsIntoConvAndFc) {
    for (int64_t group : {1, 2}) {
        ConvParams cp;
        cp.kernel_h = 3;
        cp.kernel_w = 2;
        cp.stride_h = 2;
        cp.pad_top = cp.pad_bottom = 1;
        cp.group = group;
        const Tensor w = random_tensor({6, 4 / group, 3, 2}, 40 + group);
        for (bool with_bias : {false, true}) {
            const std::vector<float> bias = with_bias ? vec(random_tensor({6}, 50)) : std::vector<float>{};
            const ConvOp conv(cp, w, bias);
            const Params p(6, 60);
            const auto folded = fold_affine(conv, p.affine(1e-3f));
            const Tensor x = random_tensor({2, 4, 7, 6}, 70);
            const Tensor ref = batchnorm_reference(conv_reference(x, cp, w, bias), vec(p.gamma), vec(p.beta),
                                                   vec(p.mean), vec(p.var), 1e-3f);
            EXPECT_LT(max_abs_diff(conv_reference(x, folded->conv_params(), folded->weight(), folded->bias()), ref), 1e-5)
                << "group " << group << " bias " << with_bias;
        }
    }
    const Tensor w = random_tensor({5, 9}, 80);
    const FcOp fc(w, vec(random_tensor({5}, 81)), "Gemm");
    const Params p(5, 82);
    const auto folded = fold_affine(fc, p.affine(1e-5f));
    EXPECT_EQ(folded->type(), "Gemm");
    const Tensor x = random_tensor({3, 9}, 83);
    const Tensor ref =
        batchnorm_reference(fc_reference(x, w, fc.bias()), vec(p.gamma), vec(p.beta), vec(p.mean), vec(p.var), 1e-5f);
    EXPECT_LT(max_abs_diff(fc_reference(x, folded->weight(), folded->bias()), ref), 1e-5);
    EXPECT_THROW(fold_affine(fc, Params(4, 1).affine(1e-5f)), Error);
}

}  // namespace
}  // namespace qcnn
