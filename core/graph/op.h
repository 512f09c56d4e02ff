// The operator interface of the graph IR. An Op is immutable once built (weights included),
// so Networks can share ops and a quantized network can copy a float one cheaply,
// replacing only the nodes it quantizes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/graph/weight_layer.h"
#include "core/tensor.h"

namespace qcnn {

enum class DType { Float, Int64 };

// What is known about a value when a network is planned for concrete input shapes:
// its shape, its element type, and its contents when they do not depend on the inputs
// (initializers, Constant nodes, and the Shape/Gather/Concat chains PyTorch emits, which
// are folded at plan time).
struct ValueInfo {
    Shape shape;
    DType dtype = DType::Float;
    std::shared_ptr<const Tensor> fconst;                // float contents, when constant
    std::shared_ptr<const std::vector<int64_t>> iconst;  // int64 contents, when constant

    bool is_const() const { return fconst != nullptr || iconst != nullptr; }
};

// How quantized layers compute their lookup tables (core/quant/quantized_ops.h):
// Fast: the SIMD kernels of core/kernels (8-bit tables, error bounded and documented there);
// Reference: the paper's float tables, the path the fast kernels are tested against.
enum class LutKernel { Fast, Reference };

struct ExecContext {
    int threads = 1;  // resolved thread count (>= 1)
    LutKernel lut_kernel = LutKernel::Fast;

    // Threads worth using for `work` elementary operations: waking a team costs a few
    // microseconds (far more on a loaded machine), so small work stays on one thread.
    int threads_for(int64_t work, int64_t min_work_per_thread = int64_t(1) << 18) const {
        const int64_t t = work / min_work_per_thread;
        return t < 1 ? 1 : (t < threads ? static_cast<int>(t) : threads);
    }
};

// An activation applied to a weight layer's output as it is written: the inference Plan
// (PlanOptions::fuse_activations) fuses a Relu, Clip (ReLU6) or LeakyRelu that is the only
// reader of a Conv / FC / QConv / QFc output into that layer. The expressions are those of
// ActivationOp and ClipOp (core/ops/elementwise.h), so a fused graph gives the same bits as the
// unfused one whatever the op does with it.
struct PostOp {
    enum class Kind { Relu, Clip, LeakyRelu };
    Kind kind = Kind::Relu;
    float lo = 0.0f, hi = 0.0f;  // Clip bounds
    float alpha = 0.0f;          // LeakyRelu slope

    float operator()(float v) const {
        switch (kind) {
            case Kind::Relu: return v > 0.0f ? v : 0.0f;
            case Kind::Clip: return std::min(std::max(v, lo), hi);
            case Kind::LeakyRelu: return v >= 0.0f ? v : alpha * v;
        }
        return v;
    }
    // y[i] = f(y[i]) for i < n.
    void apply(float* y, int64_t n) const {
        switch (kind) {
            case Kind::Relu:
                for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
                break;
            case Kind::Clip:
                for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(y[i], lo), hi);
                break;
            case Kind::LeakyRelu:
                for (int64_t i = 0; i < n; ++i) y[i] = y[i] >= 0.0f ? y[i] : alpha * y[i];
                break;
        }
    }
};

// One row of a fused 2x2 stride-2 max pool: out[i] = max of top[2i], top[2i+1], bottom[2i],
// bottom[2i+1], taken in PoolOp's order (from -inf, max(v, e) = v < e ? e : v), so a layer
// that pools its own rows (RunArgs::max_pool2) gives the bits of the MaxPool node.
inline void max_pool2_row(const float* top, const float* bottom, int64_t count, float* out) {
    for (int64_t i = 0; i < count; ++i) {
        float v = -std::numeric_limits<float>::infinity();
        for (float e : {top[2 * i], top[2 * i + 1], bottom[2 * i], bottom[2 * i + 1]}) v = v < e ? e : v;
        out[i] = v;
    }
}

// The 2x2 stride-2 max pool (floor) of `planes` maps of h x w into planes of h/2 x w/2.
inline void max_pool2_planes(const float* x, int64_t planes, int64_t h, int64_t w, float* y) {
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t py = 0; py < h / 2; ++py)
            max_pool2_row(x + (p * h + 2 * py) * w, x + (p * h + 2 * py + 1) * w, w / 2, y + (p * (h / 2) + py) * (w / 2));
}

struct RunArgs {
    const std::vector<const Tensor*>& in;    // float inputs; nullptr for int64 or omitted ones
    const std::vector<const ValueInfo*>& in_info;  // every input's plan-time info (nullptr if omitted)
    const std::vector<Tensor*>& out;         // outputs, already sized to the planned shapes
    const ExecContext& ctx;
    // A fused activation for out[0] (nullptr: none). An op whose applies_post_op() is true
    // applies it itself; for any other op the Plan applies it to out[0] right after run().
    const PostOp* post = nullptr;
    // A fused 2x2 max pool (stride 2, no padding, floor): out[0] is {N, C, H_t/2, W_t/2} and
    // gets the max of each 2x2 window of the (activated) output, taken in MaxPool's order.
    // Only set for an op whose applies_max_pool2() is true; that op then applies `post` itself
    // (before the pool) whatever its applies_post_op().
    bool max_pool2 = false;
};

class Op {
public:
    virtual ~Op() = default;

    // ONNX op type ("Conv", "Gemm", ...) or the project's own ("QConv", "QFc").
    virtual std::string type() const = 0;

    // Output infos for the given input infos (omitted optional inputs are nullptr).
    // Throws qcnn::Error describing what does not fit; the planner prefixes the node name.
    // An op that can compute an output at plan time (shape arithmetic) sets its iconst/fconst.
    virtual std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const = 0;

    // Computes the outputs. Only called for nodes that infer() did not fold.
    virtual void run(const RunArgs& a) const = 0;

    // Weight layers report their parameter count and multiply-add count.
    virtual int64_t params() const { return 0; }
    virtual int64_t flops(const std::vector<const ValueInfo*>& in,
                          const std::vector<ValueInfo>& out) const {
        return 0;
    }
    // Conv and FC layers (float or quantized) describe their weights (core/graph/weight_layer.h);
    // every other op returns nullopt. The one way code outside the ops reads a layer's weights.
    virtual std::optional<WeightLayer> as_weight_layer() const { return std::nullopt; }
    // Whether this is a weight layer, and its kind.
    bool weight_layer(LayerKind* kind = nullptr) const {
        const std::optional<WeightLayer> w = as_weight_layer();
        if (w && kind) *kind = w->kind;
        return w.has_value();
    }

    // Whether run() applies RunArgs::post to its output itself (inside its output tiles).
    virtual bool applies_post_op() const { return false; }
    // For an activation that can be fused into the layer before it (Relu, Clip with plan-time
    // constant bounds, LeakyRelu): that activation as a PostOp; nullopt for every other op.
    virtual std::optional<PostOp> as_post_op(const std::vector<const ValueInfo*>& in) const { return std::nullopt; }

    // Whether run() can write the 2x2 max pool of its output itself (RunArgs::max_pool2) for
    // these inputs; the inference Plan then drops the MaxPool node that follows.
    virtual bool applies_max_pool2(const std::vector<const ValueInfo*>& in) const { return false; }
    // Whether this op is a MaxPool a layer may absorb: 2x2 kernel, stride 2, no padding or
    // dilation, floor mode, on a 4-D input.
    virtual bool is_max_pool2(const std::vector<const ValueInfo*>& in) const { return false; }

    // One-line description of attributes for tables ("3x3 s1 p1", "9216->4096").
    virtual std::string describe() const { return {}; }
};

using OpPtr = std::shared_ptr<const Op>;

}  // namespace qcnn
