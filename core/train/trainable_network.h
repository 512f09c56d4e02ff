// A Network made trainable (issue 19 section 1): forward keeping every activation, backward
// over the plan in reverse topological order, parameter gradients accumulated per parameter,
// and an SGD step that rebuilds the changed ops (ops are immutable; core/graph/op.h).
//
// Use, per batch:
//   TrainableNetwork tn(net, threads);          // refuses ops without a backward, up front
//   tn.zero_grad();
//   double loss = tn.loss_and_backward(x, labels);  // softmax cross-entropy, batch mean
//   Sgd(opt).step(tn);                           // value -= lr * (momentum-) grad; ops rebuilt
//   tn.network();                                 // the network with the trained values
// Or forward(x) and backward(dL/d output) for another loss on the first output.
//
// Gradients: a value read by several nodes (a residual Add's input) receives the sum of their
// contributions; constants and int64 values receive none; graph inputs only on request.
// Quantized layers: forward() runs each as its dense twin, a Conv / FC on the decoded weight
// W_hat (TrainForward::Decoded, the default): the same function as the float-table reference
// path, summed in another order, and about 1.6x faster per fine-tuning step on VGG-7 (batched
// GEMMs instead of one table per position; docs/results.md, "Session 14").
// TrainForward::Reference runs the reference path (LutKernel::Reference) instead; tests hold
// the two to each other. Backward is the same for both: the codebook gradient is the
// derivative of either.
// Threads: ExecContext::threads for every op, forward and backward; results are deterministic
// for a given thread count.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/graph/plan.h"
#include "core/train/backward.h"

namespace qcnn {

struct Parameter {
    int node = -1;         // index into Network::nodes
    int index = 0;         // position in its op's parameter list (BackwardEntry::params); -1: codes
    ParamRole role = ParamRole::Weight;
    std::string name;      // "<layer alias or node name>.<role>", e.g. "conv1.codebooks"
    Tensor value;          // the op's layout (core/train/backward.h)
    Tensor grad;           // same shape; accumulated by backward(), cleared by zero_grad()
    bool trainable = true; // frozen parameters get no gradient and no step
    double lr_scale = 1;   // the optimizers step this parameter at lr * lr_scale
};

// Throws qcnn::Error naming the first run-time node whose op has no backward pass, e.g.
// "lenet.onnx: node 'Softmax_12': op Softmax has no backward pass; fine-tuning supports: ...".
// Planned for the network's own sample shape at batch 1.
void check_backward_support(const Network& net);

// How forward() computes the quantized layers (see the top of this file).
enum class TrainForward { Decoded, Reference };

// Latent codes (latent_codes = true): every quantized layer gets one more parameter,
// "<layer>.codes" (ParamRole::Codes), a dense latent weight in the layer's weight layout that
// starts as the decoded weight W_hat. Backward gives it the straight-through gradient dL/dW_hat;
// commit() re-assigns each sub-vector's code to the codeword nearest its latent sub-vector
// (nearest_codes, core/train/backward.h) when the codes parameter is trainable. Without it (the
// default) the codes are fixed and only the codewords train.
class TrainableNetwork {
public:
    // threads: 0 = all cores. Calls check_backward_support(net).
    explicit TrainableNetwork(const Network& net, int threads = 1, bool latent_codes = false);

    std::vector<Parameter>& parameters() { return params_; }
    const std::vector<Parameter>& parameters() const { return params_; }
    // Parameters by name (nullptr if absent).
    Parameter* find(const std::string& name);

    // Runs the network on x (single input) keeping every activation; returns the first output.
    const Tensor& forward(const Tensor& x);
    // Back-propagates dL/d(first output) of the last forward(). Parameter gradients accumulate;
    // when input_grad is given it receives dL/dx (overwritten).
    void backward(const Tensor& grad_output, Tensor* input_grad = nullptr);
    // forward + softmax cross-entropy (mean over the batch) on the first output + backward.
    double loss_and_backward(const Tensor& x, const std::vector<int>& labels);
    // Loss of a forward pass only (no gradients).
    double loss(const Tensor& x, const std::vector<int>& labels);
    void zero_grad();
    // Selects the quantized layers' forward path for the next forward() (default Decoded).
    void set_forward(TrainForward f);
    TrainForward forward_path() const { return forward_path_; }

    // Rebuilds the ops whose parameter values changed (all with a trainable parameter) from
    // Parameter::value, re-assigning the codes of those with trainable latent codes; the next
    // forward() uses them.
    void commit();
    // The network with the committed parameter values.
    const Network& network() const { return net_; }
    const ExecContext& context() const { return ctx_; }

private:
    Network net_;
    ExecContext ctx_;
    std::vector<Parameter> params_;
    std::vector<std::vector<int>> params_of_node_;  // node -> indices into params_ (the op's own parameters)
    std::vector<int> codes_of_node_;                // node -> index into params_ of its codes, or -1
    std::vector<OpPtr> twin_of_node_;               // node -> dense twin of a quantized layer, or nullptr
    TrainForward forward_path_ = TrainForward::Decoded;
    std::vector<std::pair<Shape, std::unique_ptr<Plan>>> plans_;
    Plan* last_ = nullptr;  // plan of the last forward()
    Tensor input_;          // input of the last forward()
    std::vector<Tensor> grads_;     // per value id: dL/d value, valid where has_grad_
    std::vector<char> has_grad_;

    Plan& plan_for(const Shape& s);
};

struct SgdOptions {
    double lr = 0.01;
    double momentum = 0.0;      // heavy ball: v = momentum v + g; value -= lr v
    double weight_decay = 0.0;  // g += weight_decay * value
};

// An optimizer over a TrainableNetwork's trainable parameters: step() applies the accumulated
// gradients, then TrainableNetwork::commit(); set_lr() sets the learning rate of the next steps
// (a schedule; the optimizer's state is kept).
class Optimizer {
public:
    virtual ~Optimizer() = default;
    virtual void step(TrainableNetwork& net) = 0;
    virtual void set_lr(double lr) = 0;
};

// Plain SGD (velocities kept per parameter).
class Sgd final : public Optimizer {
public:
    explicit Sgd(SgdOptions opt) : opt_(opt) {}
    void step(TrainableNetwork& net) override;
    void set_lr(double lr) override { opt_.lr = lr; }

private:
    SgdOptions opt_;
    std::vector<Tensor> velocity_;
};

struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;  // decoupled (AdamW): value -= lr * weight_decay * value
};

// Adam (Kingma & Ba 2015) with bias correction and decoupled weight decay: per element
// m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, value -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
// Its step is invariant to a per-element scale of the gradient, so it needs no per-codeword
// normalisation: a codeword used by few sub-vectors moves as fast as a popular one.
class Adam final : public Optimizer {
public:
    explicit Adam(AdamOptions opt) : opt_(opt) {}
    void step(TrainableNetwork& net) override;
    void set_lr(double lr) override { opt_.lr = lr; }

private:
    AdamOptions opt_;
    int64_t t_ = 0;
    std::vector<Tensor> m_, v_;
};

}  // namespace qcnn
