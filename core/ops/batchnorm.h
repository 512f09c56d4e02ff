// Inference-mode BatchNormalization as a per-channel affine map, and its folding into the
// preceding weight layer.
//   y[n, c, ...] = x[n, c, ...] * scale[c] + shift[c]   (x of rank >= 2, channel axis 1)
//   scale = gamma / sqrt(var + eps), shift = beta - mean * scale   (batchnorm_affine)
// Folding: a Conv or Fc followed by the affine map is the same layer with its output
// channel c's weights multiplied by scale[c] and bias b[c] * scale[c] + shift[c].
#pragma once

#include <memory>

#include "core/graph/op.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"

namespace qcnn {

struct ChannelAffine {
    std::vector<float> scale, shift;  // {C} each
};

// Throws qcnn::Error when the four parameter vectors differ in length or var + eps <= 0.
ChannelAffine batchnorm_affine(const std::vector<float>& gamma, const std::vector<float>& beta,
                               const std::vector<float>& mean, const std::vector<float>& var, float epsilon);

class BatchNormOp : public Op {
public:
    explicit BatchNormOp(ChannelAffine affine);
    std::string type() const override { return "BatchNormalization"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;
    const ChannelAffine& affine() const { return a_; }

private:
    ChannelAffine a_;
};

// Plain twin: (x - mean) / sqrt(var + eps) * gamma + beta in double precision.
Tensor batchnorm_reference(const Tensor& x, const std::vector<float>& gamma, const std::vector<float>& beta,
                           const std::vector<float>& mean, const std::vector<float>& var, float epsilon);

// Folds the channel affine map into a layer's weight {C_t, ...} and bias (C_t values, or empty:
// filled): row c scaled by scale[c], bias'[c] = bias[c] * scale[c] + shift[c]. Throws
// qcnn::Error naming `what` when the map's length differs from C_t.
void fold_rows(Tensor& w, std::vector<float>& bias, const ChannelAffine& a, const char* what);

// The layer followed by the channel affine map, as one layer. Throws qcnn::Error when the
// affine map's length differs from the layer's output channels.
std::shared_ptr<ConvOp> fold_affine(const ConvOp& conv, const ChannelAffine& a);
std::shared_ptr<FcOp> fold_affine(const FcOp& fc, const ChannelAffine& a);

}  // namespace qcnn
