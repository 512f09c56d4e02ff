#include "core/ops/fc.h"

#include <omp.h>

#include <algorithm>

#include "core/util/error.h"

namespace qcnn {

FcOp::FcOp(Tensor weight, std::vector<float> bias, std::string source_type)
    : w_(std::move(weight)), b_(std::move(bias)), source_type_(std::move(source_type)) {
    if (w_.rank() != 2) fail("fully-connected weight must be 2-D {C_t, C_s}, got ", to_string(w_.shape));
    if (!b_.empty() && static_cast<int64_t>(b_.size()) != w_.shape[0])
        fail("fully-connected bias has ", b_.size(), " values, expected ", w_.shape[0]);
}

std::vector<ValueInfo> FcOp::infer(const std::vector<const ValueInfo*>& in) const {
    if (in.empty() || !in[0]) fail(source_type_, " needs an input");
    const Shape& s = in[0]->shape;
    if (s.size() < 2) fail(source_type_, " expects an input of rank >= 2, got ", to_string(s));
    if (s.back() != in_features())
        fail("input ", to_string(s), " has ", s.back(), " features, the weight ", to_string(w_.shape), " expects ",
             in_features());
    ValueInfo out;
    out.shape = s;
    out.shape.back() = out_features();
    return {out};
}

int64_t FcOp::params() const { return w_.size() + static_cast<int64_t>(b_.size()); }

int64_t FcOp::flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const {
    // Multiply-adds per sample (per row of the leading dims after the batch).
    const Shape& s = in.at(0)->shape;
    int64_t rows = 1;
    for (size_t i = 1; i + 1 < s.size(); ++i) rows *= s[i];
    return rows * in_features() * out_features();
}

std::optional<WeightLayer> FcOp::as_weight_layer() const {
    WeightLayer w;
    w.kind = LayerKind::Fc;
    w.source_type = source_type_;
    w.in_channels = in_features();
    w.out_channels = out_features();
    w.weight = &w_;
    w.bias = b_;
    return w;
}

std::string FcOp::describe() const { return cat(in_features(), "->", out_features()); }

void FcOp::run(const RunArgs& a) const {
    const Tensor& x = *a.in[0];
    Tensor& y = *a.out[0];
    const int64_t cs = in_features(), ct = out_features();
    const int64_t rows = x.size() / cs;
    ConstMatMapF w(w_.ptr(), ct, cs);
    const int threads = a.ctx.threads_for(rows * cs * ct);
    if (rows <= 4) {
        // GEMV regime (memory bound): split the output features over threads.
        const int64_t block = 64;
        const int64_t nblocks = (ct + block - 1) / block;
        const int t = static_cast<int>(std::min<int64_t>(threads, nblocks));
#pragma omp parallel for schedule(static) num_threads(t) if (t > 1)
        for (int64_t bi = 0; bi < nblocks; ++bi) {
            const int64_t c0 = bi * block, nc = std::min(block, ct - c0);
            for (int64_t r = 0; r < rows; ++r) {
                Eigen::Map<const Eigen::VectorXf> xv(x.ptr() + r * cs, cs);
                Eigen::Map<Eigen::VectorXf> yv(y.ptr() + r * ct + c0, nc);
                yv.noalias() = w.middleRows(c0, nc) * xv;
                if (!b_.empty()) yv += Eigen::Map<const Eigen::VectorXf>(b_.data() + c0, nc);
                if (a.post) a.post->apply(yv.data(), nc);
            }
        }
        return;
    } else {
        omp_set_num_threads(threads);
        ConstMatMapF xm(x.ptr(), rows, cs);
        Eigen::Map<RowMatrixXf> ym(y.ptr(), rows, ct);
        ym.noalias() = xm * w.transpose();
    }
    if (!b_.empty()) {
        Eigen::Map<const Eigen::RowVectorXf> bv(b_.data(), ct);
        Eigen::Map<RowMatrixXf> ym(y.ptr(), rows, ct);
        ym.rowwise() += bv;
    }
    if (a.post) a.post->apply(y.ptr(), y.size());
}

Tensor fc_reference(const Tensor& x, const Tensor& weight, const std::vector<float>& bias) {
    const int64_t ct = weight.shape[0], cs = weight.shape[1];
    QCNN_ASSERT(x.shape.back() == cs, "fc_reference: input ", to_string(x.shape), " vs weight ",
                to_string(weight.shape));
    Shape os = x.shape;
    os.back() = ct;
    Tensor y(os);
    const int64_t rows = x.size() / cs;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < ct; ++c) {
            double acc = bias.empty() ? 0.0 : bias[c];
            for (int64_t i = 0; i < cs; ++i) acc += static_cast<double>(x.data[r * cs + i]) * weight.data[c * cs + i];
            y.data[r * ct + c] = static_cast<float>(acc);
        }
    return y;
}

}  // namespace qcnn
