#include "core/quant/weight_layer_factory.h"

#include "core/kernels/scan.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/quantized_ops.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

const ConvParams& conv_params_of(const WeightLayer& like) {
    QCNN_ASSERT(like.conv != nullptr, "a conv weight layer's view without conv parameters");
    return *like.conv;
}

const std::string& fc_source(const WeightLayer& like) {
    static const std::string gemm = "Gemm";
    return like.source_type.empty() ? gemm : like.source_type;
}

}  // namespace

OpPtr make_dense_layer(const WeightLayer& like, Tensor weight, std::vector<float> bias) {
    if (like.kind == LayerKind::Conv)
        return std::make_shared<ConvOp>(conv_params_of(like), std::move(weight), std::move(bias));
    return std::make_shared<FcOp>(std::move(weight), std::move(bias), fc_source(like));
}

OpPtr make_quantized_layer(const WeightLayer& like, const PQWeights& w, std::span<const float> bias) {
    if (like.kind == LayerKind::Conv) return std::make_shared<QConvOp>(conv_params_of(like), w, bias);
    return std::make_shared<QFcOp>(w, bias, fc_source(like));
}

OpPtr make_quantized_layer(const WeightLayer& like, const PQGeometry& geo, std::span<const float> codebooks,
                           CodeView codes, std::span<const float> bias, const std::string& what) {
    if (like.kind == LayerKind::Conv)
        return std::make_shared<QConvOp>(conv_params_of(like), geo, codebooks, codes, bias, what);
    return std::make_shared<QFcOp>(geo, codebooks, codes, bias, fc_source(like), what);
}

OpPtr dense_twin(const Op& op) {
    const std::optional<WeightLayer> q = op.as_weight_layer();
    if (!q || !q->quantized()) return nullptr;
    return make_dense_layer(*q, pq_weights(*q).decode(), {q->bias.begin(), q->bias.end()});
}

PQWeights pq_weights(const WeightLayer& q) {
    QCNN_ASSERT(q.quantized() && q.codes && q.codebook_rows, "pq_weights: not a quantized layer's view");
    const PQGeometry& geo = *q.pq;
    PQWeights w;
    w.geo = geo;
    const int64_t M = geo.subspaces();
    w.codebooks = untranspose_codebooks({q.codebook_rows, static_cast<size_t>(M * geo.dsub * q.codebook_kp)}, M,
                                        geo.K, geo.dsub, q.codebook_kp);
    w.codes = pack_codes(q.codes->unpack(), geo.bits());
    return w;
}

}  // namespace qcnn
