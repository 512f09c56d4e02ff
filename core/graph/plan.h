// A Network planned for concrete input shapes: shapes inferred, constant sub-graphs folded
// (initializer arithmetic, PyTorch's Shape/Gather/Unsqueeze/Concat chains), activation
// buffers assigned with reuse by liveness. Re-plan for another batch size (cheap).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/graph/network.h"

namespace qcnn {

struct PlanOptions {
    // Fuse a Relu / Clip (constant bounds) / LeakyRelu into the Conv / FC / QConv / QFc before
    // it (Op::as_post_op, RunArgs::post) when that activation is the only reader of the layer's
    // output and the output is neither a graph output nor kept: the layer writes the
    // activation's output and the activation node does not run. Then a 2x2 stride-2 MaxPool
    // (Op::is_max_pool2) that is the only reader of such a layer's (activated) output is fused
    // the same way when the layer can pool its own output (Op::applies_max_pool2,
    // RunArgs::max_pool2): the layer writes the pooled map. An inference feature: the Engine
    // turns it on; a plain Plan (training, calibration, kernel timing) runs every node.
    bool fuse_activations = false;
};

class Plan {
public:
    // keep: value ids whose contents must stay readable after run() (layer inputs/outputs
    // for calibration and response errors); they get buffers of their own.
    Plan(const Network& net, const std::vector<Shape>& input_shapes, const std::vector<int>& keep = {},
         PlanOptions options = {});

    // Runs the planned nodes. Input shapes must equal the planned ones.
    // node_seconds, when given, receives per-node wall time indexed like Network::nodes
    // (folded nodes get 0).
    void run(const std::vector<const Tensor*>& inputs, const ExecContext& ctx,
             std::vector<double>* node_seconds = nullptr);

    const Tensor& output(size_t i) const;
    // Contents of a kept value (see keep), a graph output or a constant after run().
    const Tensor& value(int value_id) const;
    size_t num_outputs() const { return outputs_.size(); }
    const ValueInfo& info(int value_id) const { return infos_.at(value_id); }
    const std::vector<ValueInfo>& infos() const { return infos_; }
    // Bytes of activation buffers after liveness-based reuse (the run-time working set).
    int64_t activation_bytes() const;
    // Nodes that run at run time (others were folded at plan time).
    const std::vector<int>& runtime_nodes() const { return run_nodes_; }
    // The activation fused into node `node` (an index into Network::nodes), if any; the fused
    // activation node itself is not among runtime_nodes().
    const std::optional<PostOp>& fused_post_op(int node) const { return post_.at(node); }
    // Whether node `node` writes the 2x2 max pool of its output (the MaxPool node is then not
    // among runtime_nodes()).
    bool fused_max_pool(int node) const { return pool_.at(node) != 0; }

private:
    std::vector<Node> nodes_;
    std::vector<int> inputs_, outputs_;
    std::vector<ValueInfo> infos_;
    std::vector<int> slot_of_;            // value id -> buffer slot, -1 when none
    std::vector<Tensor> slots_;
    std::vector<int64_t> slot_capacity_;
    std::vector<int> run_nodes_;
    std::vector<std::optional<PostOp>> post_;  // per node: fused activation
    std::vector<char> pool_;                   // per node: fused 2x2 max pool
    std::string source_;

    Tensor& buffer(int value_id);
    std::vector<const ValueInfo*> input_infos(const Node& n) const;
    // For each weight layer (or other op that applies a fused activation itself, such as an
    // elementwise Add) whose one output has exactly one runtime reader and is neither a graph
    // output nor kept: when absorb(node, that value, reader) accepts, the node writes the
    // reader's output and the reader no longer runs.
    void absorb_readers(const std::vector<int>& keep, const std::function<bool(int, int, const Node&)>& absorb);
    void fuse_activations(const std::vector<int>& keep);
    void fuse_max_pools(const std::vector<int>& keep);
};

// Runs a single-input network on batches, caching plans per input shape.
// Threads: a batch of at least 2 samples per thread is split into contiguous slices (up to 4
// per thread, handed out dynamically), each running the whole network single-threaded: one
// parallel region per forward, not one per op. Smaller batches use threads inside each op.
class Engine {
public:
    explicit Engine(std::shared_ptr<const Network> net, int threads = 0);
    const Network& network() const { return *net_; }
    int threads() const { return ctx_.threads; }
    void set_threads(int threads);
    void set_lut_kernel(LutKernel k) { ctx_.lut_kernel = k; }
    // Activation fusion (PlanOptions; on by default). Changing it drops the cached plans.
    void set_fuse_activations(bool fuse);
    bool fuse_activations() const { return options_.fuse_activations; }
    LutKernel lut_kernel() const { return ctx_.lut_kernel; }
    // input: {N, ...sample shape}; returns the first output (e.g. logits {N, classes}).
    const Tensor& forward(const Tensor& input, std::vector<double>* node_seconds = nullptr);
    Plan& plan_for(const Shape& input_shape);

private:
    std::shared_ptr<const Network> net_;
    ExecContext ctx_;
    PlanOptions options_{.fuse_activations = true};
    std::vector<std::pair<Shape, std::unique_ptr<Plan>>> plans_;
    struct Slice {
        Shape shape;
        std::unique_ptr<Plan> plan;
        Tensor input;
    };
    std::vector<Slice> slices_;  // split batches
    Tensor split_output_;
};

}  // namespace qcnn
