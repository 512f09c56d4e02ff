// MatMulOp and GemmOp against their triple-loop twins over awkward sizes, broadcast batch
// dimensions, 1-D operands, every transpose combination and every C broadcast form.
// Tolerance: float accumulation over K terms of magnitude <= 1, ~ 1e-6 * K.
#include <gtest/gtest.h>

#include "core/ops/matmul.h"
#include "core/util/error.h"
#include "tests/unit/ops/op_runner.h"

namespace qcnn {
namespace {

using namespace qcnn::testing;

TEST(MatMul, MatchesReference) {
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{1, 1}, {1, 1}},
        {{3, 17}, {17, 5}},
        {{33, 64}, {64, 31}},
        {{2, 3, 15, 8}, {2, 3, 8, 16}},
        {{2, 1, 4, 7}, {3, 7, 5}},  // batch broadcast -> {2, 3, 4, 5}
        {{5, 6, 7}, {7, 2}},        // constant-like B shared by all batches
        {{7}, {7, 3}},              // 1-D A
        {{4, 7}, {7}},              // 1-D B
        {{2, 4, 7}, {7}},
        {{65}, {65}},               // dot product -> scalar
        {{0, 3}, {3, 2}},
        {{2, 0}, {0, 3}},           // K = 0 -> zeros
    };
    uint32_t seed = 1;
    for (const auto& [sa, sb] : cases)
        for (int threads : {1, 2}) {
            SCOPED_TRACE(cat(to_string(sa), " x ", to_string(sb), " threads ", threads, " seed ", seed));
            const Tensor a = random_tensor(sa, seed++), b = random_tensor(sb, seed++);
            const Tensor ref = matmul_reference(a, b);
            const OpOutput r = run_op(MatMulOp(), {runtime(a), runtime(b)}, threads);
            ASSERT_EQ(r.out[0].shape, ref.shape);
            const int64_t k = sa.back();
            EXPECT_LT(max_abs_diff(r.out[0], ref), 1e-6 * (k + 1));
        }
    EXPECT_EQ(matmul_shape({2, 1, 4, 7}, {3, 7, 5}), (Shape{2, 3, 4, 5}));
    EXPECT_EQ(matmul_shape({7}, {7}), (Shape{}));
    EXPECT_THROW(matmul_shape({3, 4}, {5, 2}), Error);
    EXPECT_THROW(matmul_shape({2, 3, 4}, {3, 4, 2}), Error);
}

TEST(Gemm, MatchesReferenceForAllTransposesAndBiasForms) {
    uint32_t seed = 50;
    for (int64_t m : {1, 7, 33})
        for (int64_t k : {1, 16, 65})
            for (int64_t n : {1, 5, 31})
                for (int t = 0; t < 4; ++t)
                    for (int cform = 0; cform < 6; ++cform) {
                        GemmParams p{0.5f + t, cform == 5 ? 0.0f : -1.25f, (t & 1) != 0, (t & 2) != 0};
                        const Tensor a = random_tensor(p.trans_a ? Shape{k, m} : Shape{m, k}, seed++);
                        const Tensor b = random_tensor(p.trans_b ? Shape{n, k} : Shape{k, n}, seed++);
                        const Shape cs[] = {{}, {n}, {1, n}, {m, 1}, {m, n}, {m, n}};
                        const Tensor c = random_tensor(cs[cform], seed++);
                        SCOPED_TRACE(cat("m ", m, " k ", k, " n ", n, " t ", t, " C ", to_string(cs[cform]), " seed ",
                                         seed));
                        const bool with_c = cform != 0;
                        const Tensor ref = gemm_reference(a, b, with_c ? &c : nullptr, p);
                        const GemmOp op(p);
                        const OpOutput r = with_c ? run_op(op, {runtime(a), runtime(b), runtime(c)})
                                                  : run_op(op, {runtime(a), runtime(b)});
                        ASSERT_EQ(r.out[0].shape, (Shape{m, n}));
                        EXPECT_LT(max_abs_diff(r.out[0], ref), 4e-6 * (k + 1));
                    }
}

TEST(Gemm, ShapeErrors) {
    const GemmOp op(GemmParams{});
    EXPECT_THROW(run_op(op, {runtime(Tensor({2, 3})), runtime(Tensor({4, 5}))}), Error);
    EXPECT_THROW(run_op(op, {runtime(Tensor({2, 3})), runtime(Tensor({3, 5})), runtime(Tensor({3, 5}))}), Error);
    EXPECT_THROW(run_op(op, {runtime(Tensor({2, 3, 1})), runtime(Tensor({3, 5}))}), Error);
}

}  // namespace
}  // namespace qcnn
