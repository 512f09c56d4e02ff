#include "core/ops/matmul.h"

#include <omp.h>

#include "core/ops/elementwise.h"
#include "core/ops/op_helpers.h"

namespace qcnn {

namespace {

// Batch geometry of a matmul: broadcast batch shape and each operand's batch strides
// (in matrices; 0 where the operand is broadcast).
struct MatMulGeometry {
    Shape out;
    Shape batch;
    std::vector<int64_t> sa, sb;
    int64_t m = 0, k = 0, n = 0;
};

MatMulGeometry matmul_geometry(const Shape& a_in, const Shape& b_in) {
    if (a_in.empty() || b_in.empty())
        fail("MatMul operands must have rank >= 1, got ", to_string(a_in), " and ", to_string(b_in));
    Shape a = a_in, b = b_in;
    if (a.size() == 1) a.insert(a.begin(), 1);
    if (b.size() == 1) b.push_back(1);
    MatMulGeometry g;
    g.m = a[a.size() - 2];
    g.k = a.back();
    g.n = b.back();
    if (b[b.size() - 2] != g.k)
        fail("MatMul inner dimensions differ: ", to_string(a_in), " x ", to_string(b_in));
    const Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    g.batch = broadcast_shape(ab, bb);
    const size_t r = g.batch.size();
    g.sa.assign(r, 0);
    g.sb.assign(r, 0);
    int64_t st = 1;
    for (size_t i = ab.size(); i-- > 0;) {
        if (ab[i] != 1) g.sa[i + r - ab.size()] = st;
        st *= ab[i];
    }
    st = 1;
    for (size_t i = bb.size(); i-- > 0;) {
        if (bb[i] != 1) g.sb[i + r - bb.size()] = st;
        st *= bb[i];
    }
    g.out = g.batch;
    if (a_in.size() > 1) g.out.push_back(g.m);
    if (b_in.size() > 1) g.out.push_back(g.n);
    return g;
}

void batch_offsets(const MatMulGeometry& g, int64_t bi, int64_t* oa, int64_t* ob) {
    *oa = *ob = 0;
    for (size_t d = g.batch.size(); d-- > 0;) {
        const int64_t i = bi % g.batch[d];
        bi /= g.batch[d];
        *oa += i * g.sa[d];
        *ob += i * g.sb[d];
    }
}

}  // namespace

Shape matmul_shape(const Shape& a, const Shape& b) { return matmul_geometry(a, b).out; }

std::vector<ValueInfo> MatMulOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& a = need_input(in, 0, type(), "A");
    const ValueInfo& b = need_input(in, 1, type(), "B");
    require_float(a, type(), "A");
    require_float(b, type(), "B");
    return {float_value(matmul_shape(a.shape, b.shape))};
}

void MatMulOp::run(const RunArgs& args) const {
    const Tensor& a = *args.in[0];
    const Tensor& b = *args.in[1];
    Tensor& y = *args.out[0];
    const MatMulGeometry g = matmul_geometry(a.shape, b.shape);
    const int64_t nb = numel(g.batch);
    const int64_t ma = g.m * g.k, mb = g.k * g.n, my = g.m * g.n;
    auto one = [&](int64_t bi) {
        int64_t oa, ob;
        batch_offsets(g, bi, &oa, &ob);
        ConstMatMapF am(a.ptr() + oa * ma, g.m, g.k);
        ConstMatMapF bm(b.ptr() + ob * mb, g.k, g.n);
        Eigen::Map<RowMatrixXf> ym(y.ptr() + bi * my, g.m, g.n);
        ym.noalias() = am * bm;
    };
    const int threads = std::max(args.ctx.threads, 1);
    if (nb >= threads && threads > 1) {
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t bi = 0; bi < nb; ++bi) one(bi);
    } else {
        omp_set_num_threads(threads);
        for (int64_t bi = 0; bi < nb; ++bi) one(bi);
    }
}

int64_t MatMulOp::flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const {
    const MatMulGeometry g = matmul_geometry(in.at(0)->shape, in.at(1)->shape);
    return numel(g.batch) * g.m * g.k * g.n;
}

Tensor matmul_reference(const Tensor& a, const Tensor& b) {
    const MatMulGeometry g = matmul_geometry(a.shape, b.shape);
    Tensor y(g.out);
    for (int64_t bi = 0; bi < numel(g.batch); ++bi) {
        int64_t oa, ob;
        batch_offsets(g, bi, &oa, &ob);
        for (int64_t i = 0; i < g.m; ++i)
            for (int64_t j = 0; j < g.n; ++j) {
                double acc = 0.0;
                for (int64_t t = 0; t < g.k; ++t)
                    acc += static_cast<double>(a.data[oa * g.m * g.k + i * g.k + t]) * b.data[ob * g.k * g.n + t * g.n + j];
                y.data[bi * g.m * g.n + i * g.n + j] = static_cast<float>(acc);
            }
    }
    return y;
}

// ---------------------------------------------------------------------------------------------
// Gemm

namespace {

struct GemmDims {
    int64_t m, k, n;
};

GemmDims gemm_dims(const Shape& a, const Shape& b, const GemmParams& p) {
    if (a.size() != 2 || b.size() != 2)
        fail("Gemm expects 2-D A and B, got ", to_string(a), " and ", to_string(b));
    GemmDims d;
    d.m = p.trans_a ? a[1] : a[0];
    d.k = p.trans_a ? a[0] : a[1];
    const int64_t kb = p.trans_b ? b[1] : b[0];
    d.n = p.trans_b ? b[0] : b[1];
    if (kb != d.k)
        fail("Gemm inner dimensions differ: A ", to_string(a), (p.trans_a ? " (transposed)" : ""), ", B ",
             to_string(b), (p.trans_b ? " (transposed)" : ""));
    return d;
}

// Element strides of C broadcast to {m, n} (0 along broadcast axes).
std::pair<int64_t, int64_t> c_strides(const Shape& c, int64_t m, int64_t n) {
    if (c.size() > 2) fail("Gemm C must have rank <= 2, got ", to_string(c));
    const int64_t cm = c.size() == 2 ? c[0] : 1;
    const int64_t cn = c.empty() ? 1 : c.back();
    if ((cm != 1 && cm != m) || (cn != 1 && cn != n))
        fail("Gemm C ", to_string(c), " does not broadcast to [", m, "x", n, "]");
    return {cm == 1 ? 0 : cn, cn == 1 ? 0 : 1};
}

}  // namespace

std::vector<ValueInfo> GemmOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& a = need_input(in, 0, type(), "A");
    const ValueInfo& b = need_input(in, 1, type(), "B");
    require_float(a, type(), "A");
    require_float(b, type(), "B");
    const GemmDims d = gemm_dims(a.shape, b.shape, p_);
    if (const ValueInfo* c = opt_input(in, 2)) {
        require_float(*c, type(), "C");
        c_strides(c->shape, d.m, d.n);
    }
    return {float_value({d.m, d.n})};
}

void GemmOp::run(const RunArgs& args) const {
    const Tensor& a = *args.in[0];
    const Tensor& b = *args.in[1];
    const Tensor* c = args.in.size() > 2 ? args.in[2] : nullptr;
    Tensor& y = *args.out[0];
    const GemmDims d = gemm_dims(a.shape, b.shape, p_);
    ConstMatMapF am(a.ptr(), a.shape[0], a.shape[1]);
    ConstMatMapF bm(b.ptr(), b.shape[0], b.shape[1]);
    Eigen::Map<RowMatrixXf> ym(y.ptr(), d.m, d.n);
    omp_set_num_threads(std::max(args.ctx.threads, 1));
    if (!p_.trans_a && !p_.trans_b)
        ym.noalias() = p_.alpha * (am * bm);
    else if (p_.trans_a && !p_.trans_b)
        ym.noalias() = p_.alpha * (am.transpose() * bm);
    else if (!p_.trans_a && p_.trans_b)
        ym.noalias() = p_.alpha * (am * bm.transpose());
    else
        ym.noalias() = p_.alpha * (am.transpose() * bm.transpose());
    if (c && p_.beta != 0.0f) {
        const auto [s0, s1] = c_strides(c->shape, d.m, d.n);
        for (int64_t i = 0; i < d.m; ++i)
            for (int64_t j = 0; j < d.n; ++j) y.data[i * d.n + j] += p_.beta * c->data[i * s0 + j * s1];
    }
}

int64_t GemmOp::flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const {
    const GemmDims d = gemm_dims(in.at(0)->shape, in.at(1)->shape, p_);
    return d.m * d.k * d.n;
}

std::string GemmOp::describe() const {
    std::string s;
    if (p_.trans_a) s += "A^T ";
    if (p_.trans_b) s += "B^T ";
    if (p_.alpha != 1.0f) s += cat("alpha ", p_.alpha, " ");
    if (p_.beta != 1.0f) s += cat("beta ", p_.beta, " ");
    if (!s.empty()) s.pop_back();
    return s;
}

Tensor gemm_reference(const Tensor& a, const Tensor& b, const Tensor* c, const GemmParams& p) {
    const GemmDims d = gemm_dims(a.shape, b.shape, p);
    Tensor y({d.m, d.n});
    std::pair<int64_t, int64_t> cs{0, 0};
    if (c) cs = c_strides(c->shape, d.m, d.n);
    for (int64_t i = 0; i < d.m; ++i)
        for (int64_t j = 0; j < d.n; ++j) {
            double acc = 0.0;
            for (int64_t t = 0; t < d.k; ++t) {
                const float av = p.trans_a ? a.data[t * d.m + i] : a.data[i * d.k + t];
                const float bv = p.trans_b ? b.data[j * d.k + t] : b.data[t * d.n + j];
                acc += static_cast<double>(av) * bv;
            }
            double v = p.alpha * acc;
            if (c) v += static_cast<double>(p.beta) * c->data[i * cs.first + j * cs.second];
            y.data[i * d.n + j] = static_cast<float>(v);
        }
    return y;
}

}  // namespace qcnn
