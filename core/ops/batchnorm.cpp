#include "core/ops/batchnorm.h"

#include <cmath>

#include "core/ops/op_helpers.h"

namespace qcnn {

ChannelAffine batchnorm_affine(const std::vector<float>& gamma, const std::vector<float>& beta,
                               const std::vector<float>& mean, const std::vector<float>& var, float epsilon) {
    const size_t c = gamma.size();
    if (beta.size() != c || mean.size() != c || var.size() != c)
        fail("BatchNormalization parameters differ in length (scale ", c, ", B ", beta.size(), ", mean ",
             mean.size(), ", var ", var.size(), ")");
    ChannelAffine a;
    a.scale.resize(c);
    a.shift.resize(c);
    for (size_t i = 0; i < c; ++i) {
        const double v = static_cast<double>(var[i]) + epsilon;
        if (!(v > 0.0)) fail("BatchNormalization: var + epsilon is not positive for channel ", i, " (", v, ")");
        const double s = gamma[i] / std::sqrt(v);
        a.scale[i] = static_cast<float>(s);
        a.shift[i] = static_cast<float>(beta[i] - mean[i] * s);
    }
    return a;
}

BatchNormOp::BatchNormOp(ChannelAffine affine) : a_(std::move(affine)) {
    QCNN_ASSERT(a_.scale.size() == a_.shift.size(), "BatchNormOp: scale and shift lengths differ");
}

std::vector<ValueInfo> BatchNormOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "X");
    require_float(x, type(), "X");
    if (x.shape.size() < 2) fail("BatchNormalization expects an input of rank >= 2, got ", to_string(x.shape));
    if (x.shape[1] != static_cast<int64_t>(a_.scale.size()))
        fail("input ", to_string(x.shape), " has ", x.shape[1], " channels, the parameters have ", a_.scale.size());
    return {float_value(x.shape)};
}

void BatchNormOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    const int64_t c = x.shape[1];
    const int64_t planes = x.shape[0] * c;
    const int64_t inner = planes ? x.size() / planes : 0;
    const int threads = static_cast<int>(std::clamp<int64_t>(x.size() / 32768, 1, std::max(a.ctx.threads, 1)));
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t p = 0; p < planes; ++p) {
        const float s = a_.scale[p % c], b = a_.shift[p % c];
        const float* xp = x.ptr() + p * inner;
        float* yp = y.ptr() + p * inner;
        for (int64_t i = 0; i < inner; ++i) yp[i] = xp[i] * s + b;
    }
}

std::string BatchNormOp::describe() const { return cat(a_.scale.size(), " channels"); }

Tensor batchnorm_reference(const Tensor& x, const std::vector<float>& gamma, const std::vector<float>& beta,
                           const std::vector<float>& mean, const std::vector<float>& var, float epsilon) {
    Tensor y(x.shape);
    const int64_t c = x.shape.at(1);
    const int64_t inner = x.size() / (x.shape[0] * c);
    for (int64_t e = 0; e < x.size(); ++e) {
        const int64_t ch = (e / inner) % c;
        const double v = (x.data[e] - static_cast<double>(mean[ch])) / std::sqrt(static_cast<double>(var[ch]) + epsilon);
        y.data[e] = static_cast<float>(v * gamma[ch] + beta[ch]);
    }
    return y;
}

void fold_rows(Tensor& w, std::vector<float>& bias, const ChannelAffine& a, const char* what) {
    const int64_t ct = w.shape[0];
    if (static_cast<int64_t>(a.scale.size()) != ct)
        fail("cannot fold a ", a.scale.size(), "-channel affine map into a ", what, " with ", ct,
             " output channels");
    const int64_t row = ct ? w.size() / ct : 0;
    for (int64_t c = 0; c < ct; ++c)
        for (int64_t i = 0; i < row; ++i) w.data[c * row + i] *= a.scale[c];
    if (bias.empty()) bias.assign(ct, 0.0f);
    for (int64_t c = 0; c < ct; ++c) bias[c] = bias[c] * a.scale[c] + a.shift[c];
}

std::shared_ptr<ConvOp> fold_affine(const ConvOp& conv, const ChannelAffine& a) {
    Tensor w = conv.weight();
    std::vector<float> b = conv.bias();
    fold_rows(w, b, a, "Conv");
    return std::make_shared<ConvOp>(conv.conv_params(), std::move(w), std::move(b));
}

std::shared_ptr<FcOp> fold_affine(const FcOp& fc, const ChannelAffine& a) {
    Tensor w = fc.weight();
    std::vector<float> b = fc.bias();
    fold_rows(w, b, a, "fully-connected layer");
    return std::make_shared<FcOp>(std::move(w), std::move(b), fc.type());
}

}  // namespace qcnn
