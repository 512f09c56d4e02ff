// Softmax over one axis (ONNX opset >= 13), or over the coerced 2-D view {prod(d[:axis]),
// prod(d[axis:])} (opset < 13, where each row of the view is normalized). Max-subtracted for
// stability; threads over the independent rows. softmax_reference() is the double-precision twin.
#pragma once

#include "core/graph/op.h"

namespace qcnn {

class SoftmaxOp : public Op {
public:
    // coerce_2d: the opset < 13 semantics described above.
    SoftmaxOp(int64_t axis, bool coerce_2d) : axis_(axis), coerce_2d_(coerce_2d) {}
    std::string type() const override { return "Softmax"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;

private:
    int64_t axis_;
    bool coerce_2d_;
};

Tensor softmax_reference(const Tensor& x, int64_t axis, bool coerce_2d);

}  // namespace qcnn
