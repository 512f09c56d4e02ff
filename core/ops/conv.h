// 2-D convolution (ONNX Conv), NCHW.
// weight: {C_t, C_s/group, k_h, k_w} row-major (ONNX/PyTorch layout); bias: {C_t} or empty.
// Dense paths (ConvBackend), both tested against conv_reference(), the plain loop nest:
//   OneDnn (default when built with QCNN_DNNL): oneDNN's fp32 convolution, primitive and
//     reordered weights made once per input shape (the op's own when oneDNN keeps OIHW),
//     activations reordered from / to NCHW; those buffers and the scratchpad live in one
//     buffer per thread shared by all convs, so batch slices can run the op concurrently and
//     the process holds the largest layer's; threads: ExecContext::threads_for (1 inside the
//     engine's batch slices).
//     Measured 1.5-2x faster than im2col on ResNet-18 (docs/results.md, issue 14).
//     Layers with <= 4 input channels (the RGB first convs) run core/ops/conv_direct.h's
//     direct kernel instead, which writes NCHW without oneDNN's layout reorder.
//   Im2col: im2col per group + Eigen GEMM. Large feature maps are cut into tiles of output
//     rows whose im2col columns stay ~2 MiB (kept per thread between calls); small ones batch
//     several images per GEMM. Threads over those work items when there are enough of them,
//     else inside the GEMM.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "core/graph/op.h"

namespace qcnn {

struct ConvParams {
    int64_t kernel_h = 1, kernel_w = 1;
    int64_t stride_h = 1, stride_w = 1;
    int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
    int64_t dilation_h = 1, dilation_w = 1;
    int64_t group = 1;
    // ONNX auto_pad: "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID". Resolved per input size.
    std::string auto_pad = "NOTSET";

    // Output spatial size for an input size; resolves auto_pad into the pads it returns.
    // Throws qcnn::Error when the kernel does not fit.
    std::array<int64_t, 2> output_hw(int64_t in_h, int64_t in_w, ConvParams* resolved = nullptr) const;
    std::string describe() const;
};

enum class ConvBackend { OneDnn, Im2col };
// Process-wide choice of the dense path (benchmarks and tests switch it). Setting OneDnn in a
// build without oneDNN keeps Im2col; conv_backend() says which is in effect.
void set_conv_backend(ConvBackend b);
ConvBackend conv_backend();

struct DnnlConvCache;  // conv.cpp: oneDNN primitives per input shape

// What a dense ConvOp's backend holds in memory for one input shape, beyond the op's weights
// and the activation buffers (ConvOp::dense_memory).
struct DenseConvMemory {
    std::string backend;     // "direct", "onednn" or "im2col": the path ConvOp::run takes
    // Kept for the op's lifetime: oneDNN's copy of the weights when its layout is not OIHW, and
    // a zero bias when the layer has none.
    int64_t held_bytes = 0;
    // The calling thread's working buffer for this layer: kept per thread between calls and
    // shared by every layer of the same backend, so the process holds the largest layer's
    // (oneDNN: src / dst in its layout when not NCHW, and the scratchpad; im2col: the columns
    // of one tile and the batched product; direct: one or two rows of patches).
    int64_t work_bytes = 0;
};

class ConvOp : public Op {
public:
    // Throws qcnn::Error if shapes do not fit (bias length, C_t divisible by group, ...).
    ConvOp(ConvParams p, Tensor weight, std::vector<float> bias);

    std::string type() const override { return "Conv"; }
    std::vector<ValueInfo> infer(const std::vector<const ValueInfo*>& in) const override;
    void run(const RunArgs& a) const override;
    // RunArgs::post: a oneDNN eltwise post-op, or applied per im2col tile after the bias.
    bool applies_post_op() const override { return true; }
    // With the direct kernel (runs_direct): the 2x2 max pool in its output rows.
    bool applies_max_pool2(const std::vector<const ValueInfo*>& in) const override;
    int64_t params() const override;
    int64_t flops(const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) const override;
    std::optional<WeightLayer> as_weight_layer() const override;  // kind Conv, dense weight
    std::string describe() const override;

    const ConvParams& conv_params() const { return p_; }
    const Tensor& weight() const { return w_; }
    const std::vector<float>& bias() const { return b_; }
    int64_t in_channels() const { return w_.shape[1] * p_.group; }
    int64_t out_channels() const { return w_.shape[0]; }

    // Whether run() takes the direct kernel for this layer without a fused pool: the OneDnn
    // backend and conv_direct_applies. Only then is a 2x2 max pool fused (applies_max_pool2),
    // so the fused conv computes the same sums as the unfused one (same bits).
    bool runs_direct() const;

    // The memory run() needs for input shape x (with the fused activation and pool of
    // RunArgs) at ExecContext::threads = threads, on the backend it would take; oneDNN's sizes
    // come from its primitive descriptor (no primitive is made).
    DenseConvMemory dense_memory(const Shape& x, const PostOp* post = nullptr, bool max_pool2 = false,
                                 int threads = 1) const;
    // The team oneDNN runs this layer on for input shape x and ExecContext::threads = threads
    // (fewer for small layers: ExecContext::threads_for).
    int onednn_threads(const Shape& x, int threads) const;

    // The dense paths themselves (run() picks by conv_backend(); with OneDnn, a layer that
    // conv_direct_applies() to runs conv_direct instead).
    void run_im2col(const RunArgs& a) const;
    void run_onednn(const RunArgs& a) const;
    void run_direct(const RunArgs& a) const;

private:
    enum class Path { Direct, OneDnn, Im2col };
    // The dense path run() takes, with or without a fused pool (dense_memory follows it too).
    Path path(bool max_pool2) const;

    ConvParams p_;
    Tensor w_;
    std::vector<float> b_;
    std::shared_ptr<DnnlConvCache> dnnl_;  // built lazily, thread-safe
};

// Bytes of the calling thread's dense-conv work buffers as they stand (oneDNN's, im2col's and
// conv_direct's): what ConvOp::dense_memory's work_bytes accounts for. For tests.
int64_t conv_thread_work_bytes();

// Plain loop-nest convolution: the reference twin of ConvOp::run. x: {N,C_s,H,W}.
Tensor conv_reference(const Tensor& x, const ConvParams& p, const Tensor& weight,
                      const std::vector<float>& bias);

// Checks a conv input against the weights and returns the output shape.
Shape conv_output_shape(const Shape& x, const ConvParams& p, const Shape& weight_shape);

}  // namespace qcnn
