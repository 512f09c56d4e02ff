// Small helpers shared by the operator implementations: axis normalization, input checks,
// plan-time constant access, strides, and a chunked OpenMP loop for elementwise kernels.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/graph/op.h"
#include "core/util/error.h"

namespace qcnn {

const char* dtype_name(DType t);

// Maps axis in [-rank, rank) to [0, rank); throws naming `what` otherwise.
int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what);

// Input k's info; throws "<op> needs input k (<what>)" when it is omitted.
const ValueInfo& need_input(const std::vector<const ValueInfo*>& in, size_t k, const std::string& op,
                            const std::string& what);
// Input k's info or nullptr when omitted (or beyond the inputs given).
const ValueInfo* opt_input(const std::vector<const ValueInfo*>& in, size_t k);

// Throws unless v is a float value.
void require_float(const ValueInfo& v, const std::string& op, const std::string& what);

// The plan-time int64 contents of v; throws when v is not an int64 constant.
const std::vector<int64_t>& require_int_const(const ValueInfo& v, const std::string& op, const std::string& what);

ValueInfo float_value(Shape s);
ValueInfo int_constant(Shape s, std::vector<int64_t> data);
ValueInfo float_constant(Tensor t);

// Row-major element strides of a shape.
std::vector<int64_t> strides_of(const Shape& s);

// Runs f(begin, end) over [0, n) split into one static chunk per thread; single-threaded when
// n < min_per_thread * 2 or threads == 1. Deterministic for elementwise work.
template <class F>
void parallel_chunks(int64_t n, int threads, int64_t min_per_thread, F&& f) {
    const int64_t t = std::clamp<int64_t>(n / std::max<int64_t>(min_per_thread, 1), 1, std::max(threads, 1));
    if (t <= 1) {
        f(int64_t{0}, n);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(t))
    for (int64_t i = 0; i < t; ++i) f(n * i / t, n * (i + 1) / t);
}

}  // namespace qcnn
