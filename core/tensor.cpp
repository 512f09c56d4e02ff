#include "core/tensor.h"

#include <limits>
#include <sstream>

#include "core/util/error.h"

namespace qcnn {

int64_t numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) {
        QCNN_ASSERT(d >= 0, "negative dimension in ", to_string(s));
        n *= d;
    }
    return n;
}

int64_t checked_numel(const Shape& s, int64_t max_elements, const std::string& what) {
    int64_t n = 1;
    for (int64_t d : s) {
        if (d < 0) fail(what, ": negative dimension in shape ", to_string(s));
        if (d != 0 && n > max_elements / d)
            fail(what, ": shape ", to_string(s), " has more than ", max_elements, " elements");
        n *= d;
    }
    return n;
}

std::string to_string(const Shape& s) {
    std::ostringstream os;
    os << '[';
    for (size_t i = 0; i < s.size(); ++i) {
        if (i) os << 'x';
        if (s[i] < 0)
            os << 'N';
        else
            os << s[i];
    }
    os << ']';
    return os.str();
}

void Tensor::reshape(Shape s) {
    QCNN_ASSERT(numel(s) == size(), "reshape ", to_string(shape), " -> ", to_string(s));
    shape = std::move(s);
}

void Tensor::resize(Shape s) {
    data.resize(numel(s), 0.0f);
    shape = std::move(s);
}

void Tensor::resize_for_overwrite(Shape s) {
    data.resize(numel(s));
    shape = std::move(s);
}

}  // namespace qcnn
