// The one factory of weight-layer ops: every place outside the ops that makes a conv or FC
// layer from a WeightLayer view (core/graph/weight_layer.h) and new weights calls it, so a new
// layer kind is added here and in its op, not at each caller.
//
//   make_dense_layer      ConvOp / FcOp with the given dense weight and bias
//   make_quantized_layer  QConvOp / QFcOp with the given PQ weights (or stored parts) and bias
//   dense_twin            a quantized layer's dense twin (its decoded weights, same bias)
//   pq_weights            a quantized layer's codebooks and packed codes, rebuilt from its store
//
// `like` supplies what is not in the weights: the kind, the conv parameters (strides, pads,
// dilations, group, auto_pad) and the source type ("Conv", "Gemm", "MatMul"); it may be a dense
// or a quantized layer's view, or one filled in by hand (a model file's record). Every function
// throws qcnn::Error when the weights do not fit the layer (shape, group, bias length).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/graph/op.h"
#include "core/kernels/lut_tables.h"
#include "core/quant/product_quantizer.h"

namespace qcnn {

OpPtr make_dense_layer(const WeightLayer& like, Tensor weight, std::vector<float> bias);

OpPtr make_quantized_layer(const WeightLayer& like, const PQWeights& w, std::span<const float> bias);
// From stored parts: codebooks M x K x dsub, codes C_t x P x Mg (packed or not), as a model
// file holds them; errors are prefixed by `what`.
OpPtr make_quantized_layer(const WeightLayer& like, const PQGeometry& geo, std::span<const float> codebooks,
                           CodeView codes, std::span<const float> bias, const std::string& what);

// nullptr when `op` is not a quantized weight layer.
OpPtr dense_twin(const Op& op);

// `q` must be a quantized layer's view (q.quantized()).
PQWeights pq_weights(const WeightLayer& q);

}  // namespace qcnn
