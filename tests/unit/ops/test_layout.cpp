// Data-movement ops: Transpose and Pad against per-element twins; Slice, Gather, Concat,
// Reshape/Flatten/Squeeze/Unsqueeze rules; the same ops on INT64 plan-time constants
// (PyTorch's shape chains) fold in infer(); errors for bad axes and non-constant indices.
#include <gtest/gtest.h>

#include "core/ops/layout.h"
#include "core/ops/shape_ops.h"
#include "core/util/error.h"
#include "tests/unit/ops/op_runner.h"

namespace qcnn {
namespace {

using namespace qcnn::testing;

Tensor iota(Shape s) {
    Tensor t(std::move(s));
    for (int64_t i = 0; i < t.size(); ++i) t.data[i] = static_cast<float>(i);
    return t;
}

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data.begin(), t.data.end()); }

TEST(Transpose, MatchesReference) {
    uint32_t seed = 1;
    const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
        {{7, 33}, {1, 0}},       {{2, 3, 4}, {}},           {{2, 3, 4}, {0, 2, 1}},
        {{2, 16, 5, 9}, {0, 2, 3, 1}}, {{1, 9, 4, 4, 1, 1}, {0, 1, 4, 2, 5, 3}}, {{5}, {0}},
        {{3, 0, 2}, {2, 1, 0}},
    };
    for (const auto& [s, perm] : cases) {
        const Tensor x = random_tensor(s, seed++);
        std::vector<int64_t> p = perm;
        if (p.empty())
            for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) p.push_back(i);
        const OpOutput r = run_op(TransposeOp(perm), {runtime(x)});
        EXPECT_EQ(max_abs_diff(r.out[0], transpose_reference(x, p)), 0.0) << to_string(s);
    }
    EXPECT_THROW(run_op(TransposeOp({0, 0, 1}), {runtime(Tensor({2, 2, 2}))}), Error);
    const OpOutput c = run_op(TransposeOp({1, 0}), {ints({2, 3}, {1, 2, 3, 4, 5, 6})});
    EXPECT_EQ(*c.info[0].iconst, (std::vector<int64_t>{1, 4, 2, 5, 3, 6}));
}

TEST(Pad, MatchesReferenceForEveryMode) {
    uint32_t seed = 10;
    const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
        {{5}, {2, 3}},
        {{1, 2, 4, 4}, {0, 0, 1, 2, 0, 0, 3, 1}},
        {{2, 3, 5, 7}, {0, 1, 4, 6, 1, 0, 4, 6}},  // reflect wraps more than once
        {{3, 4}, {-1, 2, -2, 1}},                  // negative pads crop
        {{1, 1, 1}, {0, 2, 3, 0, 1, 1}},
    };
    for (const auto& [s, pads] : cases)
        for (PadMode mode : {PadMode::Constant, PadMode::Reflect, PadMode::Edge}) {
            const Tensor x = random_tensor(s, seed++);
            const PadOp op(mode, pads, 1.5f);
            const Tensor ref = pad_reference(x, mode, pads, 1.5f);
            EXPECT_EQ(max_abs_diff(run_op(op, {runtime(x)}).out[0], ref), 0.0) << to_string(s) << " " << op.describe();
            const PadOp from_inputs(mode, std::nullopt, 0.0f);
            const OpOutput r = run_op(from_inputs, {runtime(x), ints({static_cast<int64_t>(pads.size())}, pads),
                                                    constant(Tensor(Shape{}, 1.5f))});
            EXPECT_EQ(max_abs_diff(r.out[0], ref), 0.0);
        }
    // Reflect mirrors without repeating the edge: [0 1 2] padded by 2 -> [2 1 0 1 2 1 0].
    const Tensor r = run_op(PadOp(PadMode::Reflect, std::vector<int64_t>{2, 2}, 0.0f), {runtime(iota({3}))}).out[0];
    EXPECT_EQ(values(r), (std::vector<float>{2, 1, 0, 1, 2, 1, 0}));
    const Tensor e = run_op(PadOp(PadMode::Edge, std::vector<int64_t>{1, 2}, 0.0f), {runtime(iota({3}))}).out[0];
    EXPECT_EQ(values(e), (std::vector<float>{0, 0, 1, 2, 2, 2}));
    EXPECT_THROW(run_op(PadOp(PadMode::Constant, std::vector<int64_t>{1}, 0.0f), {runtime(iota({3}))}), Error);
    EXPECT_THROW(run_op(PadOp(PadMode::Constant, std::vector<int64_t>{-2, -2}, 0.0f), {runtime(iota({3}))}), Error);
}

TEST(Slice, OnnxClampingAndSteps) {
    const Tensor x = iota({4, 5});
    auto slice = [&](std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes,
                     std::vector<int64_t> steps) {
        const int64_t n = static_cast<int64_t>(starts.size());
        const OpInput xi = runtime(x), si = ints({n}, starts), ei = ints({n}, ends), ai = ints({n}, axes),
                      ti = ints({n}, steps);
        return run_op(SliceOp(), std::vector<const OpInput*>{&xi, &si, &ei, axes.empty() ? nullptr : &ai,
                                                               steps.empty() ? nullptr : &ti})
            .out[0];
    };
    Tensor y = slice({1, 0}, {3, 5}, {}, {});
    EXPECT_EQ(y.shape, (Shape{2, 5}));
    EXPECT_EQ(y.data[0], 5.0f);
    y = slice({-2}, {1000}, {1}, {});  // negative start, end clamped
    EXPECT_EQ(y.shape, (Shape{4, 2}));
    EXPECT_EQ(values(y), (std::vector<float>{3, 4, 8, 9, 13, 14, 18, 19}));
    y = slice({-1}, {-1000}, {0}, {-2});  // backwards with step 2: rows 3, 1
    EXPECT_EQ(y.shape, (Shape{2, 5}));
    EXPECT_EQ(y.data[0], 15.0f);
    EXPECT_EQ(y.data[5], 5.0f);
    y = slice({4}, {1}, {1}, {1});  // empty
    EXPECT_EQ(y.shape, (Shape{4, 0}));
    const Tensor a = run_op(SliceOp(SliceAttrs{{1}, {3}, {-1}}), {runtime(x)}).out[0];
    EXPECT_EQ(a.shape, (Shape{4, 2}));
    EXPECT_EQ(a.data[0], 1.0f);
    EXPECT_THROW(slice({0}, {1}, {1}, {0}), Error);
    // INT64 slices fold in infer.
    const OpOutput c = run_op(SliceOp(SliceAttrs{{1}, {3}, {}}), {ints({4}, {8, 3, 28, 28})});
    EXPECT_EQ(*c.info[0].iconst, (std::vector<int64_t>{3, 28}));
}

TEST(Gather, FloatAndInt64) {
    const Tensor x = iota({3, 4});
    const OpOutput r = run_op(GatherOp(1), {runtime(x), ints({2, 2}, {0, -1, 2, 2})});
    EXPECT_EQ(r.out[0].shape, (Shape{3, 2, 2}));
    EXPECT_EQ(values(r.out[0]), (std::vector<float>{0, 3, 2, 2, 4, 7, 6, 6, 8, 11, 10, 10}));
    const OpOutput s = run_op(GatherOp(0), {ints({4}, {8, 3, 28, 28}), ints({}, {0})});
    EXPECT_EQ(s.info[0].shape, (Shape{}));
    EXPECT_EQ(*s.info[0].iconst, (std::vector<int64_t>{8}));
    EXPECT_THROW(run_op(GatherOp(0), {runtime(x), ints({1}, {3})}), Error);
    const Tensor f({1});
    EXPECT_THROW(run_op(GatherOp(0), {runtime(x), runtime(f)}), Error);  // indices must be INT64 constants
}

TEST(Concat, FloatAndInt64) {
    const Tensor a = iota({2, 1, 3}), b = random_tensor({2, 2, 3}, 5);
    const OpOutput r = run_op(ConcatOp(-2), {runtime(a), runtime(b)});
    ASSERT_EQ(r.out[0].shape, (Shape{2, 3, 3}));
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t k = 0; k < 3; ++k)
                EXPECT_EQ(r.out[0].data[(n * 3 + c) * 3 + k], c == 0 ? a.data[n * 3 + k] : b.data[(n * 2 + c - 1) * 3 + k]);
    const OpOutput s = run_op(ConcatOp(0), {ints({1}, {8}), ints({1}, {-1})});
    EXPECT_EQ(*s.info[0].iconst, (std::vector<int64_t>{8, -1}));
    EXPECT_THROW(run_op(ConcatOp(0), {runtime(a), runtime(b)}), Error);
    EXPECT_THROW(run_op(ConcatOp(0), {ints({1}, {8}), runtime(Tensor({1}))}), Error);
}

TEST(Reshape, ZeroMinusOneAndAllowzero) {
    EXPECT_EQ(resolve_reshape({2, 3, 4}, {0, -1}, false), (Shape{2, 12}));
    EXPECT_EQ(resolve_reshape({2, 3, 4}, {4, 0, -1}, false), (Shape{4, 3, 2}));
    EXPECT_EQ(resolve_reshape({0, 3, 4}, {3, 4, 0}, true), (Shape{3, 4, 0}));
    EXPECT_THROW(resolve_reshape({2, 3, 4}, {-1, -1}, false), Error);
    EXPECT_THROW(resolve_reshape({2, 3, 4}, {5, -1}, false), Error);
    EXPECT_THROW(resolve_reshape({2, 3, 4}, {2, 3}, false), Error);
    const Tensor x = random_tensor({2, 3, 4}, 9);
    const OpOutput r = run_op(ReshapeOp(), {runtime(x), ints({2}, {-1, 6})});
    EXPECT_EQ(r.out[0].shape, (Shape{4, 6}));
    EXPECT_EQ(values(r.out[0]), values(x));
    EXPECT_EQ(run_op(ReshapeOp(false, Shape{6, 4}), {runtime(x)}).out[0].shape, (Shape{6, 4}));
    const Tensor f({2});
    EXPECT_THROW(run_op(ReshapeOp(), {runtime(x), runtime(f)}), Error);
}

TEST(ReshapeLike, FlattenSqueezeUnsqueeze) {
    const Tensor x = random_tensor({2, 1, 3, 1}, 11);
    EXPECT_EQ(run_op(FlattenOp(2), {runtime(x)}).out[0].shape, (Shape{2, 3}));
    EXPECT_EQ(run_op(FlattenOp(0), {runtime(x)}).out[0].shape, (Shape{1, 6}));
    EXPECT_EQ(run_op(FlattenOp(4), {runtime(x)}).out[0].shape, (Shape{6, 1}));
    EXPECT_EQ(run_op(FlattenOp(-1), {runtime(x)}).out[0].shape, (Shape{6, 1}));
    EXPECT_THROW(run_op(FlattenOp(5), {runtime(x)}), Error);
    EXPECT_EQ(run_op(SqueezeOp(), {runtime(x)}).out[0].shape, (Shape{2, 3}));
    EXPECT_EQ(run_op(SqueezeOp(std::vector<int64_t>{-1}), {runtime(x)}).out[0].shape, (Shape{2, 1, 3}));
    EXPECT_EQ(run_op(SqueezeOp(), {runtime(x), ints({1}, {1})}).out[0].shape, (Shape{2, 3, 1}));
    EXPECT_THROW(run_op(SqueezeOp(std::vector<int64_t>{0}), {runtime(x)}), Error);
    EXPECT_EQ(run_op(UnsqueezeOp(std::vector<int64_t>{0, -1}), {runtime(x)}).out[0].shape, (Shape{1, 2, 1, 3, 1, 1}));
    EXPECT_EQ(run_op(UnsqueezeOp(), {runtime(x), ints({2}, {4, 1})}).out[0].shape, (Shape{2, 1, 1, 3, 1, 1}));
    EXPECT_THROW(run_op(UnsqueezeOp(std::vector<int64_t>{1, 1}), {runtime(x)}), Error);
    const OpOutput u = run_op(UnsqueezeOp(std::vector<int64_t>{0}), {ints({}, {7})});
    EXPECT_EQ(u.info[0].shape, (Shape{1}));
    EXPECT_EQ(*u.info[0].iconst, (std::vector<int64_t>{7}));
    const OpOutput id = run_op(IdentityOp(), {runtime(x)});
    EXPECT_EQ(values(id.out[0]), values(x));
}

TEST(ShapeOps, ShapeAndCast) {
    const Tensor x({2, 3, 5, 7});
    EXPECT_EQ(*run_op(ShapeOp(), {runtime(x)}).info[0].iconst, (std::vector<int64_t>{2, 3, 5, 7}));
    EXPECT_EQ(*run_op(ShapeOp(1, -1), {runtime(x)}).info[0].iconst, (std::vector<int64_t>{3, 5}));
    EXPECT_EQ(*run_op(ShapeOp(-10, 100), {runtime(x)}).info[0].iconst, (std::vector<int64_t>{2, 3, 5, 7}));
    EXPECT_TRUE(run_op(ShapeOp(3, 1), {runtime(x)}).info[0].iconst->empty());
    const OpOutput f = run_op(CastOp(DType::Float), {ints({2}, {3, -4})});
    ASSERT_TRUE(f.info[0].fconst);
    EXPECT_EQ(values(*f.info[0].fconst), (std::vector<float>{3.0f, -4.0f}));
    Tensor v({2});
    v.data = {2.7f, -2.7f};
    const OpOutput i = run_op(CastOp(DType::Int64), {constant(v)});
    EXPECT_EQ(*i.info[0].iconst, (std::vector<int64_t>{2, -2}));
    EXPECT_THROW(run_op(CastOp(DType::Int64), {runtime(v)}), Error);
    const Tensor same = run_op(CastOp(DType::Float), {runtime(v)}).out[0];
    EXPECT_EQ(values(same), values(v));
}

}  // namespace
}  // namespace qcnn
