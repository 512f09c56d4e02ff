// Test helper: runs one Op outside a Plan (infer, then run unless infer folded the outputs).
#pragma once

#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "core/graph/op.h"

namespace qcnn::testing {

struct OpInput {
    ValueInfo info;
    const Tensor* tensor = nullptr;  // float data when not a constant
};

// A float value computed at run time.
inline OpInput runtime(const Tensor& t) {
    OpInput in;
    in.info.shape = t.shape;
    in.tensor = &t;
    return in;
}

// A float plan-time constant.
inline OpInput constant(const Tensor& t) {
    OpInput in;
    in.info.shape = t.shape;
    in.info.fconst = std::make_shared<const Tensor>(t);
    in.tensor = in.info.fconst.get();
    return in;
}

// An INT64 plan-time constant.
inline OpInput ints(Shape s, std::vector<int64_t> v) {
    OpInput in;
    in.info.shape = std::move(s);
    in.info.dtype = DType::Int64;
    in.info.iconst = std::make_shared<const std::vector<int64_t>>(std::move(v));
    return in;
}

struct OpOutput {
    std::vector<ValueInfo> info;
    std::vector<Tensor> out;  // float outputs (also filled from fconst when folded)
};

// nullptr entries are omitted optional inputs.
inline OpOutput run_op(const Op& op, const std::vector<const OpInput*>& ins, int threads = 1) {
    std::vector<const ValueInfo*> infos;
    std::vector<const Tensor*> tensors;
    for (const OpInput* i : ins) {
        infos.push_back(i ? &i->info : nullptr);
        tensors.push_back(i ? i->tensor : nullptr);
    }
    OpOutput r;
    r.info = op.infer(infos);
    bool folded = true;
    for (const auto& v : r.info) folded = folded && v.is_const();
    // Outputs start as NaN, as a reused Plan slot starts unset (Tensor::resize_for_overwrite):
    // an op that leaves an element unwritten fails its test.
    for (const auto& v : r.info)
        r.out.emplace_back(v.fconst ? *v.fconst
                                    : Tensor(v.dtype == DType::Float ? v.shape : Shape{0},
                                             std::numeric_limits<float>::quiet_NaN()));
    if (!folded) {
        std::vector<Tensor*> outs;
        for (auto& t : r.out) outs.push_back(&t);
        const ExecContext ctx{threads};
        op.run(RunArgs{tensors, infos, outs, ctx});
    }
    return r;
}

// Convenience for the common all-present case.
inline OpOutput run_op(const Op& op, std::initializer_list<OpInput> ins, int threads = 1) {
    std::vector<OpInput> store(ins);
    std::vector<const OpInput*> ptrs;
    for (const auto& i : store) ptrs.push_back(&i);
    return run_op(op, ptrs, threads);
}

inline Tensor random_tensor(Shape s, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    Tensor t(std::move(s));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (float& v : t.data) v = u(rng);
    return t;
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
    if (a.shape != b.shape) return 1e30;
    double m = 0;
    for (int64_t i = 0; i < a.size(); ++i) m = std::max<double>(m, std::abs(static_cast<double>(a.data[i]) - b.data[i]));
    return m;
}

}  // namespace qcnn::testing
