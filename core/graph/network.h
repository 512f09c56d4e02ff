// The graph IR: values (named tensors) and nodes in topological order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/graph/op.h"

namespace qcnn {

// A value of the graph. Graph inputs may have a dynamic (-1) leading dimension.
struct ValueDecl {
    std::string name;
    Shape shape;                 // declared shape; -1 for a dynamic dimension
    DType dtype = DType::Float;
    std::shared_ptr<const Tensor> init_f;                 // initializer (float)
    std::shared_ptr<const std::vector<int64_t>> init_i;   // initializer (int64)
    bool is_initializer() const { return init_f || init_i; }
};

struct Node {
    std::string name;   // ONNX node name, or "<OpType>_<index>" when the file has none
    std::string alias;  // "conv1", "fc2", ... for weight layers, in network order; else empty
    OpPtr op;
    std::vector<int> inputs;   // value ids; -1 for an omitted optional input
    std::vector<int> outputs;  // value ids
};

class Network {
public:
    std::vector<ValueDecl> values;
    std::vector<Node> nodes;   // topological order
    std::vector<int> inputs;   // runtime inputs (values that are not initializers)
    std::vector<int> outputs;
    std::string source;        // file it was loaded from, for messages

    int add_value(ValueDecl v);
    int find_value(const std::string& name) const;  // -1 if absent

    // Weight layers (Conv, Fc and their quantized forms) in network order.
    std::vector<int> weight_layers() const;
    // Node index by ONNX node name or alias; -1 if absent.
    int find_node(const std::string& name_or_alias) const;
    // Assigns conv1.., fc1.. aliases to weight layers in network order.
    void assign_aliases();

    // Per-sample input shape of the first input (without the batch dimension), e.g. {1,28,28}.
    Shape sample_shape() const;
    // The batch size the file fixes for the first input (a static export), or 1 when it is
    // dynamic: what per-image summaries plan for before dividing by it.
    int64_t planning_batch() const;

    // Checks structure: ids in range, every consumed value produced earlier or an input or
    // initializer, single producer per value. Throws qcnn::Error naming the node.
    void validate() const;
};

}  // namespace qcnn
