// Dense float32 tensors, row-major (C order). Activations are NCHW: shape {N, C, H, W}.
// Weight layouts are written where each weight lives (ops/conv.h, ops/fc.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
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
    // Value-less construction default-initialises: resize(n) and AlignedVector<float>(n) leave
    // new floats unset instead of zeroing them (a pass over memory that every reused activation
    // slot paid before its op overwrote it). Zero or fill explicitly where zeros are read:
    // Tensor(shape) and Tensor::resize do.
    template <class U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
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
    // Resize to a new shape, reusing the allocation where possible; elements past the old
    // size are zero, the others keep their values.
    void resize(Shape s);
    // The same without zeroing: elements past the old size are unset. For outputs every
    // element of which the writer sets before anything reads it (the Plan's activation slots:
    // every Op::run writes all of its outputs, tests/unit/ops poison them to check).
    void resize_for_overwrite(Shape s);
};

}  // namespace qcnn
