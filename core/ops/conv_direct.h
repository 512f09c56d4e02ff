// A direct fp32 convolution for layers with few input channels (the RGB first conv of every
// ImageNet network), writing NCHW rows with the bias and a fused activation.
//
// oneDNN's fastest kernel for such a layer (brgconv) reads NCHW but writes a blocked layout
// (nChw16c), and the reorder back to NCHW costs more than the convolution: VGG-11's conv1
// (3 -> 64, 3x3, 224x224) takes 1.1 ms in brgconv and 1.8 ms in the reorder; asked for NCHW
// output, oneDNN falls back to a GEMM-based kernel at 3.3 ms (bench, AMD Zen 5, 1 thread).
//
// conv_direct itself takes any stride, padding and dilation (tests run it on all of them).
// Per output row (image, oy): the row's patches are gathered into a K x W_t' matrix
// (K = C_s * k_h * k_w, W_t' = W_t rounded up to the vector width; zeros for padding), then
// y[c, oy, :] = post(bias[c] + W[c, :] . patches) for blocks of 4 output channels x up to 4
// vectors of output positions held in registers. Threads take output rows; every output is the
// same sum in the same order for any thread count. The reference twin is conv_reference().
#pragma once

#include <cstdint>

#include "core/graph/op.h"
#include "core/ops/conv.h"

namespace qcnn {

// Whether ConvOp runs a layer on conv_direct: built with AVX-512, one group, at most
// kConvDirectMaxChannels input channels, stride 1. Measured against oneDNN + reorder (1 thread,
// 224x224 input, 3 -> 64, ReLU fused, AMD Zen 5): 3x3 p1 (VGG) 1.42 vs 2.18 ms; the strided
// first convs stay on oneDNN, whose reorder is smaller there: 7x7 s2 (ResNet) 1.71 vs 1.39 ms,
// 11x11 s4 (AlexNet) 1.19 vs 0.76 ms (their patch gather is strided, and AlexNet's 55 output
// columns fill 4 vectors of 16).
inline constexpr int64_t kConvDirectMaxChannels = 4;
bool conv_direct_applies(const ConvParams& p, int64_t in_channels);

// Bytes of the calling thread's working buffers conv_direct keeps (the patches of one or two
// output rows, and with the pool one block of conv rows) for a layer of cin x kh x kw taps
// and ow output columns; they stay allocated between calls and grow to the largest layer's.
int64_t conv_direct_work_bytes(int64_t cin, int64_t kh, int64_t kw, int64_t ow, bool max_pool2);

// Bytes of those buffers the calling thread holds now (for tests).
int64_t conv_direct_thread_bytes();

// x {n, cin, h, w}; weight {cout, cin, kh, kw} (p.kernel_h/w); p: pads resolved
// (ConvParams::output_hw's `resolved`); bias: cout floats or nullptr; post: nullptr or the fused
// activation; y {n, cout, oh, ow}, or with max_pool2 {n, cout, oh/2, ow/2}: the max of each 2x2
// window of the activated output, in MaxPool's order (PoolOp: rows, then columns, starting
// from -inf, max(a, b) = a < b ? b : a), so the same bits as the conv followed by the pool.
// threads >= 1.
void conv_direct(const float* x, int64_t n, int64_t cin, int64_t h, int64_t w, const ConvParams& p,
                 const float* weight, const float* bias, int64_t cout, const PostOp* post, float* y, int threads,
                 bool max_pool2 = false);

}  // namespace qcnn
