// Dense float32 tensors, row-major (C order). Activations are NCHW: shape {N, C, H, W}.
// Weight layouts are written where each weight lives (ops/conv.h, ops/fc.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace qcnn {

using Shape = std::vector<int64_t>;

// Row-major Eigen aliases used at the edges of numeric code.
using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatMapF = Eigen::Map<RowMatrixXf, Eigen::Aligned64>;
using ConstMatMapF = Eigen::Map<const RowMatrixXf>;

// Product of the dimensions; throws qcnn::Error on negative dimensions or overflow past
// max_elements (the guard every reader uses before allocating).
int64_t numel(const Shape& s);
int64_t checked_numel(const Shape& s, int64_t max_elements, const std::string& what);
std::string to_string(const Shape& s);

template <class T, std::size_t Align = 64>
struct AlignedAllocator {
    using value_type = T;
    AlignedAllocator() noexcept = default;
    template <class U>
    AlignedAllocator(const AlignedAllocator<U, Align>&) noexcept {}
    template <class U>
    struct rebind {
        using other = AlignedAllocator<U, Align>;
    };
    T* allocate(std::size_t n) {
        return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(Align)));
    }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(Align)); }
    template <class U>
    bool operator==(const AlignedAllocator<U, Align>&) const noexcept { return true; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

struct Tensor {
    Shape shape;
    AlignedVector<float> data;

    Tensor() = default;
    explicit Tensor(Shape s, float fill = 0.0f) : shape(std::move(s)), data(numel(shape), fill) {}

    int64_t size() const { return static_cast<int64_t>(data.size()); }
    int64_t dim(int i) const { return shape.at(i < 0 ? shape.size() + i : i); }
    int rank() const { return static_cast<int>(shape.size()); }
    float* ptr() { return data.data(); }
    const float* ptr() const { return data.data(); }
    // Reshape in place keeping the element count (asserted).
    void reshape(Shape s);
    // Resize to a new shape, reusing the allocation where possible (contents unspecified).
    void resize(Shape s);
};

}  // namespace qcnn
