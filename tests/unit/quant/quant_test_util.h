// Helpers shared by the quantization tests: seeded normal tensors and graph values.
#pragma once

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "core/graph/network.h"
#include "core/quant/random.h"
#include "core/tensor.h"

namespace qcnn::testutil {

// scale * N(0, 1) by Box-Muller from the project's portable generator (same seed, same bits).
inline Tensor random_tensor(Shape s, uint64_t seed, float scale = 1.0f) {
    Rng rng(seed);
    Tensor t(std::move(s));
    for (auto& v : t.data) {
        const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
        v = scale * static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
    }
    return t;
}

inline std::vector<float> as_vector(const Tensor& t) { return {t.data.begin(), t.data.end()}; }

inline ValueDecl value(std::string name, Shape shape) {
    ValueDecl v;
    v.name = std::move(name);
    v.shape = std::move(shape);
    return v;
}

}  // namespace qcnn::testutil
