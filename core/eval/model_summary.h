// Per-layer description of a network for one image: the table `qcnn info` prints and the
// workbench's layer view shows (both call summarize(), so they cannot disagree).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/graph/network.h"

namespace qcnn {

struct LayerSummary {
    int node = -1;               // index in Network::nodes
    std::string name;            // ONNX node name
    std::string alias;           // conv1, fc1, ... for weight layers, else empty
    std::string op;              // op type: Conv, Gemm, Relu, ...
    std::string attributes;      // Op::describe(): "5x5 p2", "400->128", ...
    Shape input_shape;           // first activation input, batch dimension removed
    Shape output_shape;          // first output, batch dimension removed
    int64_t params = 0;          // weights + biases
    int64_t flops = 0;           // multiply-adds for one image
    bool weight_layer = false;   // Conv or FC (float or quantized)
};

struct ModelSummary {
    std::string source;          // Network::source
    std::string input_name;
    Shape input_shape;           // per sample, e.g. {1, 28, 28}
    std::string output_name;
    Shape output_shape;          // per sample, e.g. {10}
    // Every node that runs at inference time, in network order (nodes folded at plan time,
    // such as PyTorch's shape arithmetic, are left out).
    std::vector<LayerSummary> layers;
    int64_t total_params = 0;
    int64_t total_flops = 0;     // per image
    int conv_layers = 0;
    int fc_layers = 0;
    int64_t activation_bytes = 0;  // run-time activation buffers for one image (after reuse)
};

// Loads an ONNX model or a quantized model file (core/io/model_file.h) (the CLI and the workbench both load
// through here, so they report the same errors). Errors name the file.
std::shared_ptr<const Network> load_model(const std::string& path);

// Plans `net` for one image ({1, sample_shape...}; for the batch size the file declares when
// it fixes one, with the activation bytes divided by it) and describes its layers.
// Throws qcnn::Error if the input has a dynamic dimension besides the batch, or planning fails.
ModelSummary summarize(const Network& net);

// "8x28x28" ("?" for a dynamic dimension, "scalar" for rank 0).
std::string format_dims(const Shape& s);

}  // namespace qcnn
