// The one view of a weight layer (Op::as_weight_layer(), core/graph/weight_layer.h) for every
// kind of layer Q-CNN quantizes, and the one factory (core/quant/weight_layer_factory.h):
// dense -> quantized with given codebooks and codes gives a layer whose outputs match the
// reference path (conv_reference / fc_reference over the decoded weights), and back.
#include <gtest/gtest.h>

#include "quant_test_util.h"

#include <cmath>
#include <cstring>
#include <ostream>

#include "core/kernels/scan.h"
#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/ops/fc.h"
#include "core/ops/matmul.h"
#include "core/quant/quantized_ops.h"
#include "core/quant/random.h"
#include "core/quant/weight_layer_factory.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

using testutil::as_vector;
using testutil::random_tensor;

// One dense layer to view and quantize. Conv when kh > 0, else FC (source "Gemm" or "MatMul").
struct LayerCase {
    const char* name;
    int64_t cin, cout;
    int64_t kh = 0, kw = 0, stride = 1, pad = 0, dil = 1, group = 1;
    int64_t dsub = 1, K = 2;
    bool bias = true;
    const char* fc_source = "Gemm";
    Shape x;  // an input for the layer
};

void PrintTo(const LayerCase& c, std::ostream* os) { *os << c.name; }

bool is_conv(const LayerCase& c) { return c.kh > 0; }

uint64_t seed_of(const LayerCase& c) { return 7000 + c.cin * 31 + c.cout * 7 + c.kh * 3 + c.group + c.K; }

Shape weight_shape(const LayerCase& c) {
    return is_conv(c) ? Shape{c.cout, c.cin / c.group, c.kh, c.kw} : Shape{c.cout, c.cin};
}

OpPtr dense_op(const LayerCase& c) {
    const uint64_t seed = seed_of(c);
    Tensor w = random_tensor(weight_shape(c), seed, 0.5f);
    std::vector<float> b = c.bias ? as_vector(random_tensor({c.cout}, seed + 1)) : std::vector<float>{};
    if (!is_conv(c)) return std::make_shared<FcOp>(std::move(w), std::move(b), c.fc_source);
    ConvParams p;
    p.kernel_h = c.kh;
    p.kernel_w = c.kw;
    p.stride_h = c.stride;
    p.stride_w = c.stride == 1 ? 1 : c.stride + 1;  // unequal strides when > 1
    p.pad_top = c.pad;
    p.pad_left = 0;
    p.pad_bottom = c.pad + 1;
    p.pad_right = c.pad;
    p.dilation_h = c.dil;
    p.dilation_w = 1;
    p.group = c.group;
    return std::make_shared<ConvOp>(p, std::move(w), std::move(b));
}

// Given codebooks (normal) and codes (every value in [0, K) used), for the factory to store.
PQWeights given_pq(const LayerCase& c) {
    PQWeights q;
    q.geo = pq_geometry(is_conv(c) ? LayerKind::Conv : LayerKind::Fc, weight_shape(c), c.group, {c.dsub, c.K}, c.name);
    q.codebooks = as_vector(random_tensor({q.geo.subspaces() * q.geo.K * q.geo.dsub}, seed_of(c) + 2));
    std::vector<uint8_t> codes(q.geo.num_codes());
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>((i * 7 + i / 5) % q.geo.K);
    q.codes = pack_codes(codes, q.geo.bits());
    return q;
}

Tensor run(const Op& op, const Tensor& x, LutKernel kernel) {
    ValueInfo xi;
    xi.shape = x.shape;
    const std::vector<ValueInfo> out = op.infer({&xi});
    Tensor y(out.at(0).shape, std::nanf(""));
    const std::vector<const Tensor*> in{&x};
    const std::vector<const ValueInfo*> info{&xi};
    const std::vector<Tensor*> outs{&y};
    const ExecContext ctx{1, kernel};
    op.run(RunArgs{in, info, outs, ctx});
    return y;
}

float max_abs(const Tensor& t) {
    float m = 0;
    for (float v : t.data) m = std::max(m, std::fabs(v));
    return m;
}

// The conv / FC reference twin with the layer's parameters, for any weight.
Tensor reference(const WeightLayer& l, const Tensor& x, const Tensor& w) {
    const std::vector<float> b(l.bias.begin(), l.bias.end());
    return l.conv ? conv_reference(x, *l.conv, w, b) : fc_reference(x, w, b);
}

void expect_same_geometry(const WeightLayer& a, const WeightLayer& b) {
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.source_type, b.source_type);
    EXPECT_EQ(a.in_channels, b.in_channels);
    EXPECT_EQ(a.out_channels, b.out_channels);
    EXPECT_EQ(a.groups, b.groups);
    EXPECT_EQ(a.kernel_h, b.kernel_h);
    EXPECT_EQ(a.kernel_w, b.kernel_w);
    EXPECT_EQ(a.weight_shape(), b.weight_shape());
    ASSERT_EQ(a.conv == nullptr, b.conv == nullptr);
    if (a.conv) {
        EXPECT_EQ(a.conv->stride_h, b.conv->stride_h);
        EXPECT_EQ(a.conv->stride_w, b.conv->stride_w);
        EXPECT_EQ(a.conv->pad_top, b.conv->pad_top);
        EXPECT_EQ(a.conv->pad_bottom, b.conv->pad_bottom);
        EXPECT_EQ(a.conv->pad_right, b.conv->pad_right);
        EXPECT_EQ(a.conv->dilation_h, b.conv->dilation_h);
        EXPECT_EQ(a.conv->group, b.conv->group);
        EXPECT_EQ(a.conv->kernel_h, b.conv->kernel_h);
        EXPECT_EQ(a.conv->kernel_w, b.conv->kernel_w);
    }
    EXPECT_EQ(std::vector<float>(a.bias.begin(), a.bias.end()), std::vector<float>(b.bias.begin(), b.bias.end()));
}

class WeightLayerKinds : public ::testing::TestWithParam<LayerCase> {};

TEST_P(WeightLayerKinds, DenseViewShowsKindGeometryWeightAndBias) {
    const LayerCase c = GetParam();
    const OpPtr op = dense_op(c);
    const std::optional<WeightLayer> w = op->as_weight_layer();
    ASSERT_TRUE(w.has_value());
    EXPECT_FALSE(w->quantized());
    EXPECT_EQ(w->pq, nullptr);
    EXPECT_EQ(w->codes, nullptr);
    EXPECT_EQ(w->codebook_rows, nullptr);
    EXPECT_EQ(w->in_channels, c.cin);
    EXPECT_EQ(w->out_channels, c.cout);
    EXPECT_EQ(w->group_in_channels(), c.cin / c.group);
    LayerKind kind = LayerKind::Conv;
    EXPECT_TRUE(op->weight_layer(&kind));
    EXPECT_EQ(kind, w->kind);
    if (is_conv(c)) {
        const auto& conv = static_cast<const ConvOp&>(*op);
        EXPECT_EQ(w->kind, LayerKind::Conv);
        EXPECT_EQ(w->source_type, "Conv");
        EXPECT_EQ(w->conv, &conv.conv_params());
        EXPECT_EQ(w->weight, &conv.weight());
        EXPECT_EQ(w->groups, c.group);
        EXPECT_EQ(w->kernel_h, c.kh);
        EXPECT_EQ(w->kernel_w, c.kw);
        EXPECT_EQ(w->grouped(), c.group > 1);
        EXPECT_EQ(w->depthwise(), c.group > 1 && c.group == c.cin);
        EXPECT_FALSE(w->from_matmul());
    } else {
        const auto& fc = static_cast<const FcOp&>(*op);
        EXPECT_EQ(w->kind, LayerKind::Fc);
        EXPECT_EQ(w->source_type, c.fc_source);
        EXPECT_EQ(w->from_matmul(), std::string(c.fc_source) == "MatMul");
        EXPECT_EQ(w->conv, nullptr);
        EXPECT_EQ(w->weight, &fc.weight());
        EXPECT_EQ(w->groups, 1);
        EXPECT_EQ(w->kernel_h, 1);
        EXPECT_EQ(w->kernel_w, 1);
        EXPECT_FALSE(w->grouped());
        EXPECT_FALSE(w->depthwise());
    }
    // The same values as the dense layer was built with.
    const uint64_t seed = seed_of(c);
    EXPECT_EQ(w->weight_shape(), weight_shape(c));
    EXPECT_EQ(w->weight->shape, weight_shape(c));
    EXPECT_EQ(w->weight->data, random_tensor(weight_shape(c), seed, 0.5f).data);
    const std::vector<float> bias(w->bias.begin(), w->bias.end());
    EXPECT_EQ(bias, c.bias ? as_vector(random_tensor({c.cout}, seed + 1)) : std::vector<float>{});
}

TEST_P(WeightLayerKinds, FactoryQuantizesWithGivenWeightsAndMatchesTheReferencePath) {
    const LayerCase c = GetParam();
    const OpPtr dense = dense_op(c);
    const WeightLayer d = *dense->as_weight_layer();
    const PQWeights given = given_pq(c);
    const OpPtr q = make_quantized_layer(d, given, d.bias);

    EXPECT_EQ(q->type(), is_conv(c) ? "QConv" : "QFc");
    const std::optional<WeightLayer> v = q->as_weight_layer();
    ASSERT_TRUE(v.has_value());
    ASSERT_TRUE(v->quantized());
    EXPECT_EQ(v->weight, nullptr);
    expect_same_geometry(*v, d);
    EXPECT_EQ(v->depthwise(), d.depthwise());
    EXPECT_TRUE(*v->pq == given.geo);
    // The store holds the given codes and codebooks; pq_weights reads them back unchanged.
    EXPECT_EQ(v->codes->unpack(), given.unpacked_codes());
    const PQWeights back = pq_weights(*v);
    EXPECT_TRUE(back.geo == given.geo);
    EXPECT_EQ(back.codebooks, given.codebooks);
    EXPECT_EQ(back.codes.bytes, given.codes.bytes);
    EXPECT_EQ(back.codes.bits, given.codes.bits);

    // Outputs: the float LUT path against the reference twin over the decoded weights W_hat.
    const Tensor x = random_tensor(c.x, seed_of(c) + 3);
    const Tensor w_hat = given.decode();
    const Tensor ref = reference(d, x, w_hat);
    const Tensor y = run(*q, x, LutKernel::Reference);
    ASSERT_EQ(y.shape, ref.shape);
    const int64_t reduction = c.cin / c.group * std::max<int64_t>(c.kh, 1) * std::max<int64_t>(c.kw, 1);
    const float tol = 16.0f * 1.2e-7f * std::sqrt(static_cast<float>(reduction)) * max_abs(x) * max_abs(w_hat) + 1e-6f;
    for (int64_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y.data[i], ref.data[i], tol) << "index " << i << " seed " << seed_of(c);
    // The fast kernels run the same store: bit for bit what the op's own constructor gives.
    const OpPtr direct = is_conv(c) ? OpPtr(std::make_shared<QConvOp>(*d.conv, given, d.bias))
                                    : OpPtr(std::make_shared<QFcOp>(given, d.bias, d.source_type));
    EXPECT_EQ(run(*q, x, LutKernel::Fast).data, run(*direct, x, LutKernel::Fast).data);
}

TEST_P(WeightLayerKinds, DenseTwinOfTheQuantizedLayerIsTheDecodedDenseLayer) {
    const LayerCase c = GetParam();
    const OpPtr dense = dense_op(c);
    EXPECT_EQ(dense_twin(*dense), nullptr);  // already dense
    const WeightLayer d = *dense->as_weight_layer();
    const PQWeights given = given_pq(c);
    const OpPtr q = make_quantized_layer(d, given, d.bias);
    const OpPtr twin = dense_twin(*q);
    ASSERT_NE(twin, nullptr);
    EXPECT_EQ(twin->type(), dense->type());
    const std::optional<WeightLayer> t = twin->as_weight_layer();
    ASSERT_TRUE(t.has_value());
    EXPECT_FALSE(t->quantized());
    expect_same_geometry(*t, d);
    const Tensor w_hat = given.decode();
    EXPECT_EQ(t->weight->data, w_hat.data);
    const Tensor x = random_tensor(c.x, seed_of(c) + 4);
    const Tensor ref = reference(d, x, w_hat);
    const Tensor y = run(*twin, x, LutKernel::Reference);
    ASSERT_EQ(y.shape, ref.shape);
    const float tol = 1e-4f * (1.0f + max_abs(ref));
    for (int64_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y.data[i], ref.data[i], tol) << "index " << i;
    // And make_dense_layer from the quantized view keeps its parameters with new weights.
    const OpPtr again = make_dense_layer(*q->as_weight_layer(), *d.weight, {d.bias.begin(), d.bias.end()});
    const WeightLayer a = *again->as_weight_layer();
    expect_same_geometry(a, d);
    EXPECT_EQ(a.weight->data, d.weight->data);
}

TEST_P(WeightLayerKinds, StoredPartsGiveTheSameLayerAsPQWeights) {
    // What a model file does: codebooks, packed codes and bias from a payload, the kind, conv
    // window and source type from its record (a hand-filled view).
    const LayerCase c = GetParam();
    const OpPtr dense = dense_op(c);
    const WeightLayer d = *dense->as_weight_layer();
    const PQWeights given = given_pq(c);
    WeightLayer like;
    like.kind = d.kind;
    like.conv = d.conv;
    like.source_type = d.source_type;
    const OpPtr q = make_quantized_layer(like, given.geo, given.codebooks,
                                         CodeView(given.codes.bytes.data(), given.codes.count, given.codes.bits),
                                         d.bias, "model.h5: layer 'x'");
    const WeightLayer v = *q->as_weight_layer();
    expect_same_geometry(v, d);
    const PQWeights back = pq_weights(v);
    EXPECT_EQ(back.codebooks, given.codebooks);
    EXPECT_EQ(back.codes.bytes, given.codes.bytes);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, WeightLayerKinds,
    ::testing::Values(
        LayerCase{"conv_3x2_stride2_pads", 3, 5, 3, 2, 2, 1, 1, 1, 3, 4, true, "Gemm", {2, 3, 7, 6}},
        LayerCase{"conv_1x1_no_bias", 16, 17, 1, 1, 1, 0, 1, 1, 4, 256, false, "Gemm", {1, 16, 5, 3}},
        LayerCase{"conv_dilated", 4, 6, 3, 3, 1, 2, 2, 1, 2, 16, true, "Gemm", {1, 4, 9, 8}},
        LayerCase{"conv_grouped", 8, 6, 3, 3, 1, 1, 1, 2, 2, 16, true, "Gemm", {2, 8, 5, 5}},
        LayerCase{"conv_depthwise", 6, 12, 3, 3, 2, 1, 1, 6, 1, 2, true, "Gemm", {1, 6, 7, 7}},
        LayerCase{"fc_gemm", 17, 5, 0, 0, 1, 0, 1, 1, 17, 4, true, "Gemm", {3, 17}},
        LayerCase{"fc_gemm_no_bias", 64, 33, 0, 0, 1, 0, 1, 1, 4, 16, false, "Gemm", {7, 64}},
        LayerCase{"fc_matmul_3d_input", 15, 9, 0, 0, 1, 0, 1, 1, 3, 7, true, "MatMul", {2, 3, 15}}),
    [](const ::testing::TestParamInfo<LayerCase>& i) { return std::string(i.param.name); });

TEST(WeightLayer, OtherOpsHaveNone) {
    EXPECT_FALSE(ActivationOp(ActivationKind::Relu).as_weight_layer().has_value());
    EXPECT_FALSE(ActivationOp(ActivationKind::Relu).weight_layer());
    EXPECT_FALSE(MatMulOp().as_weight_layer().has_value());  // a product of two activations
    EXPECT_EQ(dense_twin(MatMulOp()), nullptr);
}

TEST(WeightLayer, FactoryNamesWhatDoesNotFit) {
    const LayerCase c{"fc", 8, 4, 0, 0, 1, 0, 1, 1, 2, 4, true, "Gemm", {1, 8}};
    const OpPtr dense = dense_op(c);  // the view points into it
    const WeightLayer d = *dense->as_weight_layer();
    const PQWeights fc = given_pq(c);
    // A conv layer's record with an FC weight (a corrupt model file).
    ConvParams window;
    WeightLayer conv_like;
    conv_like.kind = LayerKind::Conv;
    conv_like.conv = &window;
    try {
        make_quantized_layer(conv_like, fc.geo, fc.codebooks, CodeView(fc.codes.bytes.data(), fc.codes.count, fc.codes.bits),
                             d.bias, "model.h5: layer 'fc1'");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("model.h5: layer 'fc1'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("not a conv weight"), std::string::npos) << e.what();
    }
    // A bias of the wrong length.
    const std::vector<float> short_bias(3, 0.0f);
    EXPECT_THROW(make_quantized_layer(d, fc, short_bias), Error);
    EXPECT_THROW(make_dense_layer(d, *d.weight, short_bias), Error);
}

}  // namespace
}  // namespace qcnn
