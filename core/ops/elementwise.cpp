#include "core/ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/ops/op_helpers.h"

namespace qcnn {

namespace {

constexpr int64_t kMinPerThread = 1 << 15;  // elements per thread before splitting pays off

inline float sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
    const float e = std::exp(x);
    return e / (1.0f + e);
}

inline float hard_sigmoid(float x, float alpha, float beta) {
    return std::min(1.0f, std::max(0.0f, alpha * x + beta));
}

void activation_range(ActivationKind kind, float alpha, float beta, const float* x, float* y, int64_t n) {
    switch (kind) {
        case ActivationKind::Relu:
            for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
            break;
        case ActivationKind::LeakyRelu:
            for (int64_t i = 0; i < n; ++i) y[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
            break;
        case ActivationKind::Sigmoid:
            for (int64_t i = 0; i < n; ++i) y[i] = sigmoid(x[i]);
            break;
        case ActivationKind::Tanh:
            for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
            break;
        case ActivationKind::Sqrt:
            for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
            break;
        case ActivationKind::Erf:
            for (int64_t i = 0; i < n; ++i) y[i] = std::erf(x[i]);
            break;
        case ActivationKind::HardSigmoid:
            for (int64_t i = 0; i < n; ++i) y[i] = hard_sigmoid(x[i], alpha, beta);
            break;
        case ActivationKind::HardSwish:
            for (int64_t i = 0; i < n; ++i) y[i] = x[i] * hard_sigmoid(x[i], 1.0f / 6.0f, 0.5f);
            break;
        case ActivationKind::Gelu:
            for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
            break;
    }
}

template <class T>
T apply(BinaryKind k, T a, T b) {
    switch (k) {
        case BinaryKind::Add: return a + b;
        case BinaryKind::Sub: return a - b;
        case BinaryKind::Mul: return a * b;
        case BinaryKind::Div: return a / b;
        case BinaryKind::Pow: return static_cast<T>(std::pow(a, b));
    }
    return T{};
}

// x^e for a float exponent that is the same for every element: the common squares and roots
// take the exact short forms (std::pow gives the same bits for 2 and 0.5 on glibc, only slower).
template <class F>
void with_pow_kernel(float e, F&& f) {
    if (e == 2.0f)
        f([](float u, float) { return u * u; });
    else if (e == 1.0f)
        f([](float u, float) { return u; });
    else if (e == 0.5f)
        f([](float u, float) { return std::sqrt(u); });
    else
        f([](float u, float v) { return std::pow(u, v); });
}

// The merged-dimension kernel: rows of the innermost merged dimension, each a contiguous or
// scalar-broadcast loop per operand.
// done(y0, n) runs on the n outputs from y0 right after one part of them was written.
template <class T, class F, class D = void (*)(T*, int64_t)>
void broadcast_run(const BroadcastLoop& L, const T* a, const T* b, T* y, int threads, F f,
                   D done = [](T*, int64_t) {}) {
    const int64_t total = numel(L.out_shape);
    if (total == 0) return;
    if (L.dims.empty()) {
        y[0] = f(a[0], b[0]);
        done(y, 1);
        return;
    }
    const int64_t r = static_cast<int64_t>(L.dims.size());
    const int64_t inner = L.dims[r - 1], sa = L.stride_a[r - 1], sb = L.stride_b[r - 1];
    const int64_t outer = total / inner;
    auto row_part = [&](int64_t o, int64_t k0, int64_t k1) {
        int64_t oa = 0, ob = 0, rem = o;
        for (int64_t d = r - 2; d >= 0; --d) {
            const int64_t i = rem % L.dims[d];
            rem /= L.dims[d];
            oa += i * L.stride_a[d];
            ob += i * L.stride_b[d];
        }
        const T* pa = a + oa;
        const T* pb = b + ob;
        T* py = y + o * inner;
        if (sa && sb) {
            for (int64_t k = k0; k < k1; ++k) py[k] = f(pa[k], pb[k]);
        } else if (sa) {
            const T bv = pb[0];
            for (int64_t k = k0; k < k1; ++k) py[k] = f(pa[k], bv);
        } else if (sb) {
            const T av = pa[0];
            for (int64_t k = k0; k < k1; ++k) py[k] = f(av, pb[k]);
        } else {
            const T v = f(pa[0], pb[0]);
            for (int64_t k = k0; k < k1; ++k) py[k] = v;
        }
        done(py + k0, k1 - k0);
    };
    if (outer == 1) {
        parallel_chunks(inner, threads, kMinPerThread, [&](int64_t k0, int64_t k1) { row_part(0, k0, k1); });
    } else {
        const int64_t rows_per_thread = std::max<int64_t>(1, kMinPerThread / inner);
        parallel_chunks(outer, threads, rows_per_thread, [&](int64_t o0, int64_t o1) {
            for (int64_t o = o0; o < o1; ++o) row_part(o, 0, inner);
        });
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ActivationOp

ActivationOp::ActivationOp(ActivationKind kind, float alpha, float beta) : kind_(kind), alpha_(alpha), beta_(beta) {}

std::string ActivationOp::type() const {
    switch (kind_) {
        case ActivationKind::Relu: return "Relu";
        case ActivationKind::LeakyRelu: return "LeakyRelu";
        case ActivationKind::Sigmoid: return "Sigmoid";
        case ActivationKind::Tanh: return "Tanh";
        case ActivationKind::Sqrt: return "Sqrt";
        case ActivationKind::Erf: return "Erf";
        case ActivationKind::HardSigmoid: return "HardSigmoid";
        case ActivationKind::HardSwish: return "HardSwish";
        case ActivationKind::Gelu: return "Gelu";
    }
    return "?";
}

std::vector<ValueInfo> ActivationOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, type(), "X");
    require_float(x, type(), "X");
    return {float_value(x.shape)};
}

void ActivationOp::run(const RunArgs& a) const {
    const float* x = a.in[0]->ptr();
    float* y = a.out[0]->ptr();
    parallel_chunks(a.in[0]->size(), a.ctx.threads, kMinPerThread,
                    [&](int64_t i0, int64_t i1) { activation_range(kind_, alpha_, beta_, x + i0, y + i0, i1 - i0); });
}

std::string ActivationOp::describe() const {
    if (kind_ == ActivationKind::LeakyRelu) return cat("alpha ", alpha_);
    if (kind_ == ActivationKind::HardSigmoid) return cat("alpha ", alpha_, " beta ", beta_);
    return {};
}

std::optional<PostOp> ActivationOp::as_post_op(const std::vector<const ValueInfo*>&) const {
    if (kind_ == ActivationKind::Relu) return PostOp{PostOp::Kind::Relu};
    if (kind_ == ActivationKind::LeakyRelu) return PostOp{PostOp::Kind::LeakyRelu, 0.0f, 0.0f, alpha_};
    return std::nullopt;
}

void activation_reference(ActivationKind kind, float alpha, float beta, const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const double v = x[i];
        auto hsig = [](double u, double a, double b) { return std::min(1.0, std::max(0.0, a * u + b)); };
        double r = 0.0;
        switch (kind) {
            case ActivationKind::Relu: r = v > 0 ? v : 0; break;
            case ActivationKind::LeakyRelu: r = v >= 0 ? v : alpha * v; break;
            case ActivationKind::Sigmoid: r = 1.0 / (1.0 + std::exp(-v)); break;
            case ActivationKind::Tanh: r = std::tanh(v); break;
            case ActivationKind::Sqrt: r = std::sqrt(v); break;
            case ActivationKind::Erf: r = std::erf(v); break;
            case ActivationKind::HardSigmoid: r = hsig(v, alpha, beta); break;
            case ActivationKind::HardSwish: r = v * hsig(v, 1.0 / 6.0, 0.5); break;
            case ActivationKind::Gelu: r = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); break;
        }
        y[i] = static_cast<float>(r);
    }
}

// ---------------------------------------------------------------------------------------------
// ClipOp

ClipOp::ClipOp(float lo, float hi) : lo_(lo), hi_(hi) {}

std::vector<ValueInfo> ClipOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& x = need_input(in, 0, "Clip", "input");
    require_float(x, "Clip", "input");
    for (size_t k = 1; k <= 2; ++k)
        if (const ValueInfo* b = opt_input(in, k)) {
            require_float(*b, "Clip", k == 1 ? "min" : "max");
            if (numel(b->shape) != 1)
                fail("Clip: ", k == 1 ? "min" : "max", " must be a scalar, got shape ", to_string(b->shape));
        }
    return {float_value(x.shape)};
}

void ClipOp::run(const RunArgs& a) const {
    const float lo = a.in.size() > 1 && a.in[1] ? a.in[1]->data[0] : lo_;
    const float hi = a.in.size() > 2 && a.in[2] ? a.in[2]->data[0] : hi_;
    const float* x = a.in[0]->ptr();
    float* y = a.out[0]->ptr();
    parallel_chunks(a.in[0]->size(), a.ctx.threads, kMinPerThread, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) y[i] = std::min(std::max(x[i], lo), hi);
    });
}

std::optional<PostOp> ClipOp::as_post_op(const std::vector<const ValueInfo*>& in) const {
    PostOp post{PostOp::Kind::Clip, lo_, hi_};
    for (size_t k = 1; k <= 2 && k < in.size(); ++k) {
        if (!in[k]) continue;
        if (!in[k]->fconst || in[k]->fconst->size() != 1) return std::nullopt;  // read at run time
        (k == 1 ? post.lo : post.hi) = in[k]->fconst->data[0];
    }
    return post;
}

std::string ClipOp::describe() const { return cat("[", lo_, ", ", hi_, "]"); }

// ---------------------------------------------------------------------------------------------
// Broadcasting

Shape broadcast_shape(const Shape& a, const Shape& b) {
    const size_t r = std::max(a.size(), b.size());
    Shape out(r);
    for (size_t i = 0; i < r; ++i) {
        const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
        const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
        if (da == db || db == 1)
            out[i] = da;
        else if (da == 1)
            out[i] = db;
        else
            fail("shapes ", to_string(a), " and ", to_string(b), " do not broadcast");
    }
    return out;
}

BroadcastLoop make_broadcast_loop(const Shape& a, const Shape& b) {
    BroadcastLoop L;
    L.out_shape = broadcast_shape(a, b);
    const size_t r = L.out_shape.size();
    // Per kept dimension: size and whether each operand is broadcast along it.
    std::vector<int64_t> dims;
    std::vector<char> ba, bb;
    for (size_t i = 0; i < r; ++i) {
        const int64_t d = L.out_shape[i];
        if (d == 1) continue;
        const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
        const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
        const char fa = da == 1 && d != 1, fb = db == 1 && d != 1;
        if (!dims.empty() && ba.back() == fa && bb.back() == fb) {
            dims.back() *= d;
        } else {
            dims.push_back(d);
            ba.push_back(fa);
            bb.push_back(fb);
        }
    }
    L.dims = dims;
    const size_t m = dims.size();
    L.stride_a.assign(m, 0);
    L.stride_b.assign(m, 0);
    int64_t sa = 1, sb = 1;
    for (size_t k = m; k-- > 0;) {
        if (!ba[k]) {
            L.stride_a[k] = sa;
            sa *= dims[k];
        }
        if (!bb[k]) {
            L.stride_b[k] = sb;
            sb *= dims[k];
        }
    }
    return L;
}

const char* binary_name(BinaryKind kind) {
    switch (kind) {
        case BinaryKind::Add: return "Add";
        case BinaryKind::Sub: return "Sub";
        case BinaryKind::Mul: return "Mul";
        case BinaryKind::Div: return "Div";
        case BinaryKind::Pow: return "Pow";
    }
    return "?";
}

void binary_float(BinaryKind kind, const Tensor& a, const Tensor& b, Tensor& y, int threads, const PostOp* post) {
    const BroadcastLoop L = make_broadcast_loop(a.shape, b.shape);
    QCNN_ASSERT(y.shape == L.out_shape, "binary output ", to_string(y.shape), " vs ", to_string(L.out_shape));
    auto run = [&](auto f) {
        if (post)
            broadcast_run(L, a.ptr(), b.ptr(), y.ptr(), threads, f, [post](float* p, int64_t n) { post->apply(p, n); });
        else
            broadcast_run(L, a.ptr(), b.ptr(), y.ptr(), threads, f);
    };
    switch (kind) {
        case BinaryKind::Add: run([](float u, float v) { return u + v; }); break;
        case BinaryKind::Sub: run([](float u, float v) { return u - v; }); break;
        case BinaryKind::Mul: run([](float u, float v) { return u * v; }); break;
        case BinaryKind::Div: run([](float u, float v) { return u / v; }); break;
        case BinaryKind::Pow:
            if (b.size() == 1)
                with_pow_kernel(b.data[0], run);
            else
                run([](float u, float v) { return std::pow(u, v); });
            break;
    }
}

void binary_reference(BinaryKind kind, const Tensor& a, const Tensor& b, Tensor& y) {
    const Shape out = broadcast_shape(a.shape, b.shape);
    y.resize(out);
    const size_t r = out.size();
    const auto sa = strides_of(a.shape), sb = strides_of(b.shape);
    std::vector<int64_t> idx(r, 0);
    for (int64_t e = 0; e < y.size(); ++e) {
        int64_t rem = e;
        for (size_t d = r; d-- > 0;) {
            idx[d] = rem % out[d];
            rem /= out[d];
        }
        int64_t oa = 0, ob = 0;
        for (size_t d = 0; d < a.shape.size(); ++d)
            oa += (a.shape[d] == 1 ? 0 : idx[d + r - a.shape.size()]) * sa[d];
        for (size_t d = 0; d < b.shape.size(); ++d)
            ob += (b.shape[d] == 1 ? 0 : idx[d + r - b.shape.size()]) * sb[d];
        y.data[e] = static_cast<float>(apply<double>(kind, a.data[oa], b.data[ob]));
    }
}

// ---------------------------------------------------------------------------------------------
// BinaryOp

std::vector<ValueInfo> BinaryOp::infer(const std::vector<const ValueInfo*>& in) const {
    const ValueInfo& a = need_input(in, 0, type(), "A");
    const ValueInfo& b = need_input(in, 1, type(), "B");
    const BroadcastLoop L = make_broadcast_loop(a.shape, b.shape);
    // A FLOAT base with an INT64 exponent (a plan-time constant) is a float power.
    if (kind_ == BinaryKind::Pow && a.dtype == DType::Float && b.dtype == DType::Int64) {
        require_int_const(b, type(), "Y");
        return {float_value(L.out_shape)};
    }
    if (a.dtype != b.dtype)
        fail(type(), ": operands have different types (", dtype_name(a.dtype), " and ", dtype_name(b.dtype), ")");
    if (a.dtype == DType::Float) return {float_value(L.out_shape)};
    if (kind_ == BinaryKind::Pow) fail("Pow: INT64 operands are not supported (only FLOAT)");
    const auto& va = require_int_const(a, type(), "A");
    const auto& vb = require_int_const(b, type(), "B");
    if (kind_ == BinaryKind::Div && std::find(vb.begin(), vb.end(), int64_t{0}) != vb.end())
        fail("Div: INT64 division by zero (divisor ", to_string(b.shape), " holds a 0)");
    std::vector<int64_t> out(numel(L.out_shape));
    const BinaryKind k = kind_;
    // Shape arithmetic from a file: an overflow is an error, never undefined behaviour.
    const std::string op = type();
    broadcast_run(L, va.data(), vb.data(), out.data(), 1, [k, &op](int64_t u, int64_t v) {
        int64_t r = 0;
        bool overflow = false;
        switch (k) {
            case BinaryKind::Add: overflow = __builtin_add_overflow(u, v, &r); break;
            case BinaryKind::Sub: overflow = __builtin_sub_overflow(u, v, &r); break;
            case BinaryKind::Mul: overflow = __builtin_mul_overflow(u, v, &r); break;
            case BinaryKind::Div:
                overflow = u == std::numeric_limits<int64_t>::min() && v == -1;
                r = overflow ? 0 : u / v;
                break;
            case BinaryKind::Pow: break;  // refused above
        }
        if (overflow) fail(op, ": INT64 overflow computing ", u, " and ", v);
        return r;
    });
    return {int_constant(L.out_shape, std::move(out))};
}

void BinaryOp::run(const RunArgs& a) const {
    if (!a.in[1]) {  // Pow by an INT64 exponent (infer() checked it is a constant)
        const ValueInfo& e = *a.in_info[1];
        Tensor b(e.shape);
        std::transform(e.iconst->begin(), e.iconst->end(), b.data.begin(), [](int64_t v) { return static_cast<float>(v); });
        binary_float(kind_, *a.in[0], b, *a.out[0], a.ctx.threads, a.post);
        return;
    }
    binary_float(kind_, *a.in[0], *a.in[1], *a.out[0], a.ctx.threads, a.post);
}

}  // namespace qcnn
