// Central finite differences against the backward passes (core/train/backward.h).
//
// The checked quantity is a scalar L = sum_i g_i y_i (g a seeded random projection of the op's
// outputs y, summed in double), so dL/d(anything) is the backward of g.
//
// Tolerance rule (float error analysis; eps = 2^-24, the float unit round-off):
//   each output y_i is a float sum of R products (R = the op's reduction length), so its
//   rounding error is about eps * sqrt(R) * (|y_i| + T) with T the largest product term; L then
//   carries err_L = eps * sqrt(R) * sum_i |g_i| (|y_i| + T), and the central difference
//   (L(v+h) - L(v-h)) / 2h carries 2 err_L / 2h = err_L / h. The analytic gradient is itself a
//   float sum of R' terms: eps * sqrt(R') * |grad|. Ops that are smooth but not piecewise linear
//   add the truncation error of the central difference, max|g| * C3 * h^2 / 6 with C3 a bound
//   on |f'''|. The check allows 8x the sum of these (the safety factor covers the sqrt(R)
//   "typical" in place of the worst case R):
//     tol = 8 * (err_L / h + eps * sqrt(R') * |grad| + max|g| * C3 * h^2 / 6)
// Piecewise-linear ops (ReLU, max pooling, clip) get inputs at least 5h away from their kinks,
// so no perturbation crosses one.
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/ops/op_helpers.h"
#include "core/quant/random.h"
#include "core/train/backward.h"
#include "tests/unit/quant/quant_test_util.h"

namespace qcnn::testutil {

inline constexpr double kEps = 5.9604644775390625e-08;  // 2^-24

struct FdCase {
    std::string what;
    OpPtr op;
    std::vector<Tensor> inputs;   // float inputs (all perturbed and checked)
    std::vector<const ValueInfo*> extra_infos;  // infos appended after the inputs' (e.g. int64 constants)
    double reduction = 1;         // R: products summed per output (1 for elementwise / copies)
    double term = 0;              // T: largest product term magnitude (0: max|y|)
    double h = 1e-2;
    double c3 = 0;                // bound on |f'''| (smooth nonlinear ops)
    uint64_t seed = 1;
    int samples = 24;             // elements checked per tensor (all when fewer)
};

inline double max_abs(const Tensor& t) {
    double m = 0;
    for (float v : t.data) m = std::max(m, std::fabs(static_cast<double>(v)));
    return m;
}

// Runs op on inputs; returns its outputs.
inline std::vector<Tensor> run_op(const Op& op, const std::vector<Tensor>& inputs,
                                  const std::vector<const ValueInfo*>& extra_infos, int threads = 1) {
    std::vector<ValueInfo> infos;
    for (const Tensor& t : inputs) infos.push_back(float_value(t.shape));
    std::vector<const ValueInfo*> in_info;
    for (const ValueInfo& v : infos) in_info.push_back(&v);
    for (const ValueInfo* v : extra_infos) in_info.push_back(v);
    const std::vector<ValueInfo> out_info = op.infer(in_info);
    std::vector<Tensor> outs;
    for (const ValueInfo& v : out_info) outs.emplace_back(v.shape);
    std::vector<const Tensor*> in;
    for (const Tensor& t : inputs) in.push_back(&t);
    for (size_t k = 0; k < extra_infos.size(); ++k) in.push_back(nullptr);
    std::vector<Tensor*> out;
    for (Tensor& t : outs) out.push_back(&t);
    ExecContext ctx{threads, LutKernel::Reference};
    op.run(RunArgs{in, in_info, out, ctx});
    return outs;
}

inline double project(const std::vector<Tensor>& ys, const std::vector<Tensor>& gs) {
    double l = 0;
    for (size_t k = 0; k < ys.size(); ++k)
        for (int64_t i = 0; i < ys[k].size(); ++i) l += static_cast<double>(gs[k].data[i]) * ys[k].data[i];
    return l;
}

// Seeded distinct indices of a tensor of n elements (all when n <= count), first and last included.
inline std::vector<int64_t> sample_indices(int64_t n, int count, uint64_t seed) {
    std::vector<int64_t> idx;
    if (n <= count) {
        for (int64_t i = 0; i < n; ++i) idx.push_back(i);
        return idx;
    }
    Rng rng(seed);
    idx = {0, n - 1};
    while (static_cast<int>(idx.size()) < count) {
        const int64_t i = static_cast<int64_t>(rng.uniform() * n) % n;
        if (std::find(idx.begin(), idx.end(), i) == idx.end()) idx.push_back(i);
    }
    return idx;
}

struct Backward {
    std::vector<Tensor> grad_in, grad_params;
};

inline Backward run_backward(const FdCase& c, const std::vector<Tensor>& ys, const std::vector<Tensor>& gs,
                             int threads = 1) {
    const BackwardEntry* e = backward_entry(*c.op);
    EXPECT_NE(e, nullptr) << c.what;
    Backward b;
    std::vector<ValueInfo> infos;
    for (const Tensor& t : c.inputs) infos.push_back(float_value(t.shape));
    std::vector<const ValueInfo*> in_info;
    for (const ValueInfo& v : infos) in_info.push_back(&v);
    for (const ValueInfo* v : c.extra_infos) in_info.push_back(v);
    std::vector<const Tensor*> in, out, gout;
    for (const Tensor& t : c.inputs) in.push_back(&t);
    for (size_t k = 0; k < c.extra_infos.size(); ++k) in.push_back(nullptr);
    for (const Tensor& t : ys) out.push_back(&t);
    for (const Tensor& t : gs) gout.push_back(&t);
    for (const Tensor& t : c.inputs) b.grad_in.emplace_back(t.shape);
    if (e->params)
        for (const NamedParam& p : e->params(*c.op)) b.grad_params.emplace_back(p.value.shape);
    std::vector<Tensor*> gin, gpar;
    for (Tensor& t : b.grad_in) gin.push_back(&t);
    for (size_t k = 0; k < c.extra_infos.size(); ++k) gin.push_back(nullptr);
    for (Tensor& t : b.grad_params) gpar.push_back(&t);
    ExecContext ctx{threads, LutKernel::Reference};
    e->backward(*c.op, BackwardArgs{in, in_info, out, gout, gin, gpar, ctx, nullptr});
    return b;
}

// Checks every input's and parameter's gradient against central differences (sampled
// elements). Returns the number of elements checked.
inline int fd_check(const FdCase& c) {
    SCOPED_TRACE(c.what + " (seed " + std::to_string(c.seed) + ")");
    const std::vector<Tensor> ys = run_op(*c.op, c.inputs, c.extra_infos);
    std::vector<Tensor> gs;
    for (size_t k = 0; k < ys.size(); ++k) gs.push_back(random_tensor(ys[k].shape, derive_seed(c.seed, 100 + k)));
    const Backward b = run_backward(c, ys, gs);

    double err_l = 0, max_g = 0;
    double term = c.term;
    for (const Tensor& y : ys) term = std::max(term, c.term > 0 ? 0.0 : max_abs(y));
    for (size_t k = 0; k < ys.size(); ++k)
        for (int64_t i = 0; i < ys[k].size(); ++i) {
            err_l += std::fabs(gs[k].data[i]) * (std::fabs(ys[k].data[i]) + term);
            max_g = std::max(max_g, std::fabs(static_cast<double>(gs[k].data[i])));
        }
    err_l *= kEps * std::sqrt(c.reduction);
    auto tol = [&](double grad) {
        return 8 * (err_l / c.h + kEps * std::sqrt(c.reduction) * std::fabs(grad) + max_g * c.c3 * c.h * c.h / 6);
    };

    int checked = 0;
    // Inputs.
    for (size_t k = 0; k < c.inputs.size(); ++k)
        for (int64_t i : sample_indices(c.inputs[k].size(), c.samples, derive_seed(c.seed, k))) {
            std::vector<Tensor> xs = c.inputs;
            xs[k].data[i] = c.inputs[k].data[i] + static_cast<float>(c.h);
            const double lp = project(run_op(*c.op, xs, c.extra_infos), gs);
            xs[k].data[i] = c.inputs[k].data[i] - static_cast<float>(c.h);
            const double lm = project(run_op(*c.op, xs, c.extra_infos), gs);
            const double fd = (lp - lm) / (2 * c.h), an = b.grad_in[k].data[i];
            EXPECT_NEAR(an, fd, tol(an)) << "input " << k << " element " << i;
            ++checked;
        }
    // Parameters (perturbed through the registry's rebuild).
    const BackwardEntry* e = backward_entry(*c.op);
    if (e && e->params) {
        const std::vector<NamedParam> ps = e->params(*c.op);
        std::vector<Tensor> values;
        for (const NamedParam& p : ps) values.push_back(p.value);
        for (size_t k = 0; k < ps.size(); ++k)
            for (int64_t i : sample_indices(values[k].size(), c.samples, derive_seed(c.seed, 50 + k))) {
                std::vector<Tensor> v = values;
                v[k].data[i] = values[k].data[i] + static_cast<float>(c.h);
                const double lp = project(run_op(*e->rebuild(*c.op, v), c.inputs, c.extra_infos), gs);
                v[k].data[i] = values[k].data[i] - static_cast<float>(c.h);
                const double lm = project(run_op(*e->rebuild(*c.op, v), c.inputs, c.extra_infos), gs);
                const double fd = (lp - lm) / (2 * c.h), an = b.grad_params[k].data[i];
                EXPECT_NEAR(an, fd, tol(an)) << param_role_name(ps[k].role) << " element " << i;
                ++checked;
            }
    }
    return checked;
}

}  // namespace qcnn::testutil
