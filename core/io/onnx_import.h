// ONNX model import: an .onnx file (ai.onnx domain, float32 weights) -> qcnn::Network.
//
// Supported operators: the importer's registry (supported_onnx_ops(), and docs/onnx-ops.md,
// generated from it by onnx_ops_markdown() / `qcnn info --ops`). Convolutions, Gemm/MatMul,
// elementwise arithmetic and activations, pooling, BatchNormalization, LayerNormalization,
// ReduceMean/ReduceSum, layout ops, and the shape arithmetic PyTorch emits (Shape, Gather,
// Unsqueeze, Squeeze, Slice, Cast, integer Add/Sub/Mul/Div), which folds at plan time.
// Any other operator is an error naming the op, the node and the list.
//
// What the importer does beyond a one-to-one mapping:
//  - sorts the nodes topologically (files need not be sorted; cycles are an error);
//  - folds nodes whose inputs are all constants at import time (Constant, Transpose of a
//    weight, ...), so a weight reached through such nodes is still a constant;
//  - Conv with a constant weight -> ConvOp; a 1-D Conv runs as a 2-D ConvOp with kernel
//    height 1 between an Unsqueeze and a Squeeze on axis 2;
//  - Gemm with a constant B and transA = 0 -> FcOp with W = alpha * (transB ? B : B^T) and
//    bias beta * C when C is a row ({C_t}, {1, C_t} or a scalar); otherwise GemmOp;
//  - MatMul by a constant 2-D matrix -> FcOp("MatMul"), otherwise MatMulOp;
//  - Add of a constant per-channel vector to the only use of a Conv/Fc output -> that
//    layer's bias (PyTorch's MatMul + Add for nn.Linear);
//  - BatchNormalization on the only use of a Conv/Fc output -> folded into that layer's
//    weights and bias (ImportOptions::fold_batchnorm), else BatchNormOp;
//  - after import, PyTorch's decomposed LayerNorm (opset < 17), exact GELU and HardSwish
//    (HardSigmoid x input, opset < 14) are fused into one op each (ImportOptions::fuse;
//    core/io/fuse.h);
//  - Dropout and Identity are elided (an Identity node remains where a graph output needs it);
//  - weights copied into ops are dropped from the value table, so the Network holds each
//    weight once (import peaks at about twice the largest weight set).
//
// Data types: initializers, Constant tensors and graph inputs/outputs must be FLOAT, or INT64
// for shape tensors and indices. INT64 graph inputs must be bound to constants with
// ImportOptions::bind_constants, so they fold at plan time.
// Every error is a qcnn::Error naming the file and the node, initializer or input.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/graph/network.h"

namespace qcnn {

struct ImportOptions {
    // Graph inputs replaced by constants (name -> initializer with init_f or init_i set).
    std::map<std::string, ValueDecl> bind_constants;
    // Fold BatchNormalization into the preceding Conv/Fc layer where possible.
    bool fold_batchnorm = true;
    // Fuse LayerNorm, GELU and HardSwish patterns into single ops (core/io/fuse.h).
    bool fuse = true;
};

// Element count cap for any tensor in a file (2^31).
inline constexpr int64_t kMaxOnnxTensorElements = int64_t{1} << 31;

Network import_onnx(const std::string& path, const ImportOptions& opts = {});
// `bytes` is a serialized ModelProto; source_name names it in messages and Network::source.
Network import_onnx_bytes(const std::string& bytes, const std::string& source_name, const ImportOptions& opts = {});

// Reads a serialized TensorProto file (ONNX test data input_N.pb / output_N.pb) as a FLOAT
// (init_f) or INT64 (init_i) initializer named after the tensor. Other types are an error.
ValueDecl read_tensor_pb(const std::string& path);

// What a model declares, without building the network (for test discovery and tools).
struct OnnxValueInfo {
    std::string name;
    std::string dtype;  // ONNX element type name ("FLOAT", "INT64", "UINT8", ...; "non-tensor")
    Shape shape;        // -1 for a dynamic dimension; empty when the file declares none
};

struct OnnxModelInfo {
    int64_t opset = 0;                    // ai.onnx opset version; 0 when not imported
    std::vector<OnnxValueInfo> inputs;    // graph inputs that are not initializers, file order
    std::vector<OnnxValueInfo> outputs;
    std::vector<std::string> op_types;    // distinct node op types, in order of first use;
                                          // "domain:Op" outside the ai.onnx domain
};

OnnxModelInfo read_onnx_info(const std::string& path);

// The operator types import_onnx accepts, sorted (from the importer's registry).
const std::vector<std::string>& supported_onnx_ops();
// docs/onnx-ops.md: every supported operator with its notes, from the same registry.
std::string onnx_ops_markdown();

}  // namespace qcnn
