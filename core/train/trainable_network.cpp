#include "core/train/trainable_network.h"

#include <algorithm>
#include <cmath>

#include "core/quant/weight_layer_factory.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qcnn {

namespace {

Shape batch1_shape(const Network& net) {
    Shape s = net.sample_shape();
    s.insert(s.begin(), net.planning_batch());
    return s;
}

std::string layer_name(const Node& n) { return n.alias.empty() ? n.name : n.alias; }

}  // namespace

void check_backward_support(const Network& net) {
    if (net.inputs.size() != 1) fail(net.source, ": training needs a network with one input, this one has ", net.inputs.size());
    const Plan plan(net, {batch1_shape(net)});
    for (int ni : plan.runtime_nodes()) {
        const Node& n = net.nodes[ni];
        if (!backward_entry(*n.op))
            fail(net.source, net.source.empty() ? "" : ": ", "node '", n.name, "': op ", n.op->type(),
                 " has no backward pass; fine-tuning supports: ", backward_supported_list());
    }
}

TrainableNetwork::TrainableNetwork(const Network& net, int threads, bool latent_codes) : net_(net) {
    check_backward_support(net_);
    ctx_.threads = resolve_threads(threads);
    ctx_.lut_kernel = LutKernel::Reference;
    params_of_node_.resize(net_.nodes.size());
    codes_of_node_.assign(net_.nodes.size(), -1);
    twin_of_node_.assign(net_.nodes.size(), nullptr);
    for (size_t ni = 0; ni < net_.nodes.size(); ++ni) {
        const Node& n = net_.nodes[ni];
        const BackwardEntry* e = backward_entry(*n.op);
        if (!e || !e->params) continue;
        std::vector<NamedParam> ps = e->params(*n.op);
        for (size_t k = 0; k < ps.size(); ++k) {
            Parameter p;
            p.node = static_cast<int>(ni);
            p.index = static_cast<int>(k);
            p.role = ps[k].role;
            p.name = layer_name(n) + "." + param_role_name(ps[k].role);
            p.grad = Tensor(ps[k].value.shape);
            p.value = std::move(ps[k].value);
            params_of_node_[ni].push_back(static_cast<int>(params_.size()));
            params_.push_back(std::move(p));
        }
        const std::optional<WeightLayer> view = n.op->as_weight_layer();
        if (view && view->quantized()) twin_of_node_[ni] = dense_twin(*n.op);
        if (latent_codes && view && view->quantized()) {
            Parameter p;
            p.node = static_cast<int>(ni);
            p.index = -1;
            p.role = ParamRole::Codes;
            p.name = layer_name(n) + "." + param_role_name(ParamRole::Codes);
            p.value = pq_weights(*view).decode();
            p.grad = Tensor(p.value.shape);
            codes_of_node_[ni] = static_cast<int>(params_.size());
            params_.push_back(std::move(p));
        }
    }
}

Parameter* TrainableNetwork::find(const std::string& name) {
    for (Parameter& p : params_)
        if (p.name == name) return &p;
    return nullptr;
}

Plan& TrainableNetwork::plan_for(const Shape& s) {
    for (auto& [shape, plan] : plans_)
        if (shape == s) return *plan;
    if (plans_.size() >= 4) plans_.erase(plans_.begin());
    std::vector<int> keep(net_.values.size());
    for (size_t i = 0; i < keep.size(); ++i) keep[i] = static_cast<int>(i);
    if (forward_path_ == TrainForward::Reference) {
        plans_.emplace_back(s, std::make_unique<Plan>(net_, std::vector<Shape>{s}, keep));
    } else {
        // The same graph with each quantized layer's dense twin in its place: same node and
        // value ids, so backward() walks this plan with net_'s ops (a Plan copies the nodes).
        Network twins = net_;
        for (size_t ni = 0; ni < twins.nodes.size(); ++ni)
            if (twin_of_node_[ni]) twins.nodes[ni].op = twin_of_node_[ni];
        plans_.emplace_back(s, std::make_unique<Plan>(twins, std::vector<Shape>{s}, keep));
    }
    return *plans_.back().second;
}

const Tensor& TrainableNetwork::forward(const Tensor& x) {
    set_global_threads(ctx_.threads);
    Plan& p = plan_for(x.shape);
    input_ = x;
    p.run({&input_}, ctx_);
    last_ = &p;
    return p.output(0);
}

void TrainableNetwork::backward(const Tensor& grad_output, Tensor* input_grad) {
    if (!last_) fail("TrainableNetwork::backward() needs a forward() first (or after commit())");
    set_global_threads(ctx_.threads);
    Plan& plan = *last_;
    const int input_id = net_.inputs[0];
    const int out_id = net_.outputs[0];
    if (grad_output.shape != plan.info(out_id).shape)
        fail("backward: the output gradient has shape ", to_string(grad_output.shape), ", the output ",
             to_string(plan.info(out_id).shape));
    // Gradient buffers keep their allocations between calls (no page faults per batch).
    grads_.resize(net_.values.size());
    has_grad_.assign(net_.values.size(), 0);
    auto grad = [&](int id) -> Tensor& {
        if (!has_grad_[id]) {
            grads_[id].resize(plan.info(id).shape);
            std::fill(grads_[id].data.begin(), grads_[id].data.end(), 0.0f);
            has_grad_[id] = 1;
        }
        return grads_[id];
    };
    grad(out_id) = grad_output;
    // A value gets a gradient when it is a run-time float value (not a constant), and the
    // graph input only when asked for.
    auto wanted = [&](int id) {
        if (id < 0) return false;
        const ValueInfo& vi = plan.info(id);
        return vi.dtype == DType::Float && !vi.is_const() && (id != input_id || input_grad);
    };
    auto value_of = [&](int id) -> const Tensor* {
        if (id < 0 || plan.info(id).dtype != DType::Float) return nullptr;
        return id == input_id ? &input_ : &plan.value(id);
    };
    std::vector<const Tensor*> in, out, gout;
    std::vector<const ValueInfo*> in_info;
    std::vector<Tensor*> gin, gparams;
    const std::vector<int>& order = plan.runtime_nodes();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        const int ni = *it;
        const Node& n = net_.nodes[ni];
        bool flows = false;
        for (int id : n.outputs) flows = flows || has_grad_[id];
        if (!flows) continue;  // nothing downstream of this node reaches the loss
        in.clear(), out.clear(), gout.clear(), in_info.clear(), gin.clear(), gparams.clear();
        for (int id : n.inputs) {
            in.push_back(value_of(id));
            in_info.push_back(id < 0 ? nullptr : &plan.info(id));
            if (id >= 0 && wanted(id)) {
                gin.push_back(&grad(id));
            } else {
                gin.push_back(nullptr);
            }
        }
        for (int id : n.outputs) {
            out.push_back(value_of(id));
            gout.push_back(&grad(id));
        }
        for (int pi : params_of_node_[ni]) gparams.push_back(params_[pi].trainable ? &params_[pi].grad : nullptr);
        const int ci = codes_of_node_[ni];
        Tensor* gweight = ci >= 0 && params_[ci].trainable ? &params_[ci].grad : nullptr;
        const BackwardEntry* e = backward_entry(*n.op);
        QCNN_ASSERT(e, "node ", n.name, " passed the backward check but has no entry");
        try {
            e->backward(*n.op, BackwardArgs{in, in_info, out, gout, gin, gparams, ctx_, gweight});
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& err) {
            fail("node '", n.name, "' (", n.op->type(), ") backward: ", err.what());
        }
        for (int id : n.outputs)
            if (id != out_id) has_grad_[id] = 0;  // consumed: every reader has run already
    }
    if (input_grad) *input_grad = grad(input_id);
}

double TrainableNetwork::loss_and_backward(const Tensor& x, const std::vector<int>& labels) {
    Tensor dlogits;
    const double l = softmax_cross_entropy(forward(x), labels, &dlogits);
    backward(dlogits);
    return l;
}

double TrainableNetwork::loss(const Tensor& x, const std::vector<int>& labels) {
    return softmax_cross_entropy(forward(x), labels, nullptr);
}

void TrainableNetwork::set_forward(TrainForward f) {
    if (f == forward_path_) return;
    forward_path_ = f;
    plans_.clear();
    last_ = nullptr;
}

void TrainableNetwork::zero_grad() {
    for (Parameter& p : params_) std::fill(p.grad.data.begin(), p.grad.data.end(), 0.0f);
}

void TrainableNetwork::commit() {
    for (size_t ni = 0; ni < net_.nodes.size(); ++ni) {
        const std::vector<int>& ids = params_of_node_[ni];
        const int ci = codes_of_node_[ni];
        const bool codes = ci >= 0 && params_[ci].trainable;
        bool any = codes;
        for (int pi : ids) any = any || params_[pi].trainable;
        if (!any) continue;
        std::vector<Tensor> values;
        for (int pi : ids) values.push_back(params_[pi].value);
        Node& n = net_.nodes[ni];
        try {
            n.op = codes ? rebuild_quantized(*n.op, values, &params_[ci].value) : backward_entry(*n.op)->rebuild(*n.op, values);
        } catch (const Error& err) {
            fail("node '", n.name, "': rebuilding ", n.op->type(), " from trained values: ", err.what());
        }
        if (twin_of_node_[ni]) twin_of_node_[ni] = dense_twin(*n.op);
    }
    plans_.clear();
    last_ = nullptr;
}

void Sgd::step(TrainableNetwork& net) {
    std::vector<Parameter>& ps = net.parameters();
    if (velocity_.size() != ps.size()) {
        velocity_.clear();
        for (const Parameter& p : ps) velocity_.emplace_back(p.value.shape);
    }
    for (size_t k = 0; k < ps.size(); ++k) {
        Parameter& p = ps[k];
        if (!p.trainable) continue;
        const double lr = opt_.lr * p.lr_scale;
        for (int64_t i = 0; i < p.value.size(); ++i) {
            const double g = p.grad.data[i] + opt_.weight_decay * p.value.data[i];
            const double v = opt_.momentum * velocity_[k].data[i] + g;
            velocity_[k].data[i] = static_cast<float>(v);
            p.value.data[i] = static_cast<float>(p.value.data[i] - lr * v);
        }
    }
    net.commit();
}

void Adam::step(TrainableNetwork& net) {
    std::vector<Parameter>& ps = net.parameters();
    if (m_.size() != ps.size()) {
        m_.clear();
        v_.clear();
        for (const Parameter& p : ps) {
            m_.emplace_back(p.value.shape);
            v_.emplace_back(p.value.shape);
        }
    }
    ++t_;
    const double c1 = 1 - std::pow(opt_.beta1, static_cast<double>(t_));
    const double c2 = 1 - std::pow(opt_.beta2, static_cast<double>(t_));
    for (size_t k = 0; k < ps.size(); ++k) {
        Parameter& p = ps[k];
        if (!p.trainable) continue;
        const double lr = opt_.lr * p.lr_scale;
        for (int64_t i = 0; i < p.value.size(); ++i) {
            const double g = p.grad.data[i];
            const double m = opt_.beta1 * m_[k].data[i] + (1 - opt_.beta1) * g;
            const double v = opt_.beta2 * v_[k].data[i] + (1 - opt_.beta2) * g * g;
            m_[k].data[i] = static_cast<float>(m);
            v_[k].data[i] = static_cast<float>(v);
            const double w = p.value.data[i] * (1 - lr * opt_.weight_decay);
            p.value.data[i] = static_cast<float>(w - lr * (m / c1) / (std::sqrt(v / c2) + opt_.eps));
        }
    }
    net.commit();
}

}  // namespace qcnn
