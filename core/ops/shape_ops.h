// Shape arithmetic that folds at plan time.
//   ShapeOp: the input's shape (dims [start, end), opset 15) as an INT64 constant.
//   CastOp:  FLOAT <-> INT64 only. INT64 -> FLOAT and FLOAT -> INT64 (truncation toward zero)
//            need plan-time constants; a cast to the input's own type is a copy.
#pragma once

#include <optional>

#include "core/graph/op.h"

namespace qcnn {

class ShapeOp : public Op {
public:
    explicit ShapeOp(int64_t start = 0, std::optional<int64_t> end = std::nullopt) : start_(start), end_(end) {}
    std::string type() const override { return "Shape"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;

private:
    int64_t start_;
    std::optional<int64_t> end_;
};

class CastOp : public Op {
public:
    explicit CastOp(DType to) : to_(to) {}
    std::string type() const override { return "Cast"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    std::string describe() const override;

private:
    DType to_;
};

}  // namespace qcnn
