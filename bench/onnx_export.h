// ONNX export of float networks built in memory (the built-in AlexNet / VGG-16 / CNN-S shapes
// with random weights), so OpenCV DNN can run exactly the network our engine runs.
// Supported ops: ConvOp (Conv), ActivationOp Relu (Relu), PoolOp (MaxPool / AveragePool, 2-D),
// FlattenOp (Flatten), FcOp (Gemm, transB = 1: the weight {C_t, C_s} is stored as is).
// Opset 11, one graph input "input" {N (dim_param "N"), ...sample shape}, weights as float
// initializers named after the node. Throws qcnn::Error naming the node for any other op.
// The round trip (export, core/io import, same outputs) is checked by qcnn_bench itself.
#pragma once

#include <string>

#include "core/graph/network.h"

namespace qcnn::bench {

void export_onnx(const Network& net, const Shape& sample_shape, const std::string& path);

}  // namespace qcnn::bench
