#include "core/graph/plan.h"

#include <algorithm>
#include <functional>
#include <chrono>
#include <exception>

#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qcnn {

namespace {

ValueInfo initializer_info(const ValueDecl& v) {
    ValueInfo info;
    info.dtype = v.dtype;
    info.shape = v.shape;
    info.fconst = v.init_f;
    info.iconst = v.init_i;
    if (v.init_f) info.shape = v.init_f->shape;
    return info;
}

bool all_const(const std::vector<const ValueInfo*>& in) {
    for (auto* p : in)
        if (p && !p->is_const()) return false;
    return true;
}

}  // namespace

Plan::Plan(const Network& net, const std::vector<Shape>& input_shapes, const std::vector<int>& keep,
           PlanOptions options)
    : nodes_(net.nodes), inputs_(net.inputs), outputs_(net.outputs), source_(net.source) {
    const size_t nv = net.values.size();
    infos_.resize(nv);
    std::vector<char> known(nv, 0);
    for (size_t i = 0; i < nv; ++i)
        if (net.values[i].is_initializer()) {
            infos_[i] = initializer_info(net.values[i]);
            known[i] = 1;
        }
    if (input_shapes.size() != inputs_.size())
        fail(source_, ": the network takes ", inputs_.size(), " input(s), got ", input_shapes.size());
    for (size_t k = 0; k < inputs_.size(); ++k) {
        const ValueDecl& decl = net.values[inputs_[k]];
        const Shape& given = input_shapes[k];
        bool ok = decl.shape.empty() || decl.shape.size() == given.size();
        for (size_t d = 0; ok && d < decl.shape.size(); ++d)
            if (decl.shape[d] >= 0 && decl.shape[d] != given[d]) ok = false;
        if (!ok)
            fail(source_, ": input '", decl.name, "' expects shape ", to_string(decl.shape), ", got ",
                 to_string(given));
        infos_[inputs_[k]].shape = given;
        infos_[inputs_[k]].dtype = decl.dtype;
        known[inputs_[k]] = 1;
    }

    // Shape inference and constant folding, node by node.
    ExecContext fold_ctx{1};
    for (size_t ni = 0; ni < nodes_.size(); ++ni) {
        const Node& n = nodes_[ni];
        std::vector<const ValueInfo*> in;
        for (int id : n.inputs) {
            if (id < 0) {
                in.push_back(nullptr);
                continue;
            }
            if (!known[id])
                fail(source_, ": node '", n.name, "' (", n.op->type(), ") reads '", net.values[id].name,
                     "', which nothing produces before it");
            in.push_back(&infos_[id]);
        }
        std::vector<ValueInfo> out;
        try {
            out = n.op->infer(in);
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& e) {
            fail(source_, ": node '", n.name, "' (", n.op->type(), "): ", e.what());
        }
        if (out.size() < n.outputs.size())
            fail(source_, ": node '", n.name, "' (", n.op->type(), ") produces ", out.size(),
                 " outputs, the graph expects ", n.outputs.size());
        bool folded = true;
        for (size_t j = 0; j < n.outputs.size(); ++j) folded = folded && out[j].is_const();
        if (!folded && all_const(in) && !n.inputs.empty()) {
            bool float_out = true;
            for (size_t j = 0; j < n.outputs.size(); ++j) float_out = float_out && out[j].dtype == DType::Float;
            if (float_out) {
                std::vector<const Tensor*> tin;
                for (auto* p : in) tin.push_back(p ? p->fconst.get() : nullptr);
                std::vector<std::shared_ptr<Tensor>> touts;
                std::vector<Tensor*> tout;
                for (size_t j = 0; j < n.outputs.size(); ++j) {
                    touts.push_back(std::make_shared<Tensor>(out[j].shape));
                    tout.push_back(touts.back().get());
                }
                try {
                    n.op->run(RunArgs{tin, in, tout, fold_ctx});
                } catch (const Error& e) {
                    fail(source_, ": node '", n.name, "' (", n.op->type(), "): ", e.what());
                }
                for (size_t j = 0; j < n.outputs.size(); ++j) out[j].fconst = touts[j];
                folded = true;
            }
        }
        for (size_t j = 0; j < n.outputs.size(); ++j) {
            infos_[n.outputs[j]] = std::move(out[j]);
            known[n.outputs[j]] = 1;
        }
        if (!folded) run_nodes_.push_back(static_cast<int>(ni));
    }
    for (int id : outputs_)
        if (id < 0 || !known[id]) fail(source_, ": a graph output is never produced");
    post_.assign(nodes_.size(), std::nullopt);
    pool_.assign(nodes_.size(), 0);
    if (options.fuse_activations) {
        fuse_activations(keep);
        fuse_max_pools(keep);
    }

    // Buffer assignment: runtime values get slots, reused once their last reader has run.
    std::vector<int> last_use(nv, -1);
    for (int ni : run_nodes_)
        for (int id : nodes_[ni].inputs)
            if (id >= 0) last_use[id] = ni;
    for (int id : outputs_) last_use[id] = static_cast<int>(nodes_.size());
    for (int id : keep) {
        if (id < 0 || id >= static_cast<int>(nv)) fail(source_, ": kept value id ", id, " out of range");
        last_use[id] = static_cast<int>(nodes_.size());
    }
    slot_of_.assign(nv, -1);
    std::vector<int> free_slots;
    for (int ni : run_nodes_) {
        for (int id : nodes_[ni].outputs) {
            if (infos_[id].is_const()) continue;
            int64_t need = numel(infos_[id].shape);
            int best = -1;
            for (size_t k = 0; k < free_slots.size(); ++k) {
                int s = free_slots[k];
                if (best < 0 || (slot_capacity_[s] >= need && (slot_capacity_[best] < need ||
                                                               slot_capacity_[s] < slot_capacity_[best])) ||
                    (slot_capacity_[best] < need && slot_capacity_[s] > slot_capacity_[best]))
                    best = static_cast<int>(k);
            }
            int slot;
            if (best >= 0) {
                slot = free_slots[best];
                free_slots.erase(free_slots.begin() + best);
            } else {
                slot = static_cast<int>(slot_capacity_.size());
                slot_capacity_.push_back(0);
            }
            slot_capacity_[slot] = std::max(slot_capacity_[slot], need);
            slot_of_[id] = slot;
            if (last_use[id] < 0) free_slots.push_back(slot);  // dead output: reuse at once
        }
        for (int id : nodes_[ni].inputs)
            if (id >= 0 && slot_of_[id] >= 0 && last_use[id] == ni) {
                bool is_out = std::find(nodes_[ni].outputs.begin(), nodes_[ni].outputs.end(), id) !=
                              nodes_[ni].outputs.end();
                if (!is_out) free_slots.push_back(slot_of_[id]);
            }
    }
    slots_.resize(slot_capacity_.size());
    for (size_t s = 0; s < slots_.size(); ++s) slots_[s].data.reserve(slot_capacity_[s]);
}

std::vector<const ValueInfo*> Plan::input_infos(const Node& n) const {
    std::vector<const ValueInfo*> in;
    for (int id : n.inputs) in.push_back(id < 0 ? nullptr : &infos_[id]);
    return in;
}

void Plan::absorb_readers(const std::vector<int>& keep, const std::function<bool(int, int, const Node&)>& absorb) {
    const size_t nv = infos_.size();
    std::vector<int> readers(nv, 0), reader(nv, -1);
    for (int ni : run_nodes_)
        for (int id : nodes_[ni].inputs)
            if (id >= 0) {
                ++readers[id];
                reader[id] = ni;
            }
    std::vector<char> pinned(nv, 0);
    for (int id : outputs_) pinned[id] = 1;
    for (int id : keep)
        if (id >= 0 && id < static_cast<int>(nv)) pinned[id] = 1;
    std::vector<char> dropped(nodes_.size(), 0);
    for (int ni : run_nodes_) {
        Node& a = nodes_[ni];
        if (dropped[ni] || a.outputs.size() != 1 || !(a.op->weight_layer() || a.op->applies_post_op())) continue;
        const int v = a.outputs[0];
        if (v < 0 || pinned[v] || readers[v] != 1 || infos_[v].is_const()) continue;
        const int bi = reader[v];
        const Node& b = nodes_[bi];
        if (b.inputs.empty() || b.inputs[0] != v || b.outputs.size() != 1 || b.outputs[0] < 0 ||
            infos_[b.outputs[0]].is_const() || !absorb(ni, v, b))
            continue;
        a.outputs[0] = b.outputs[0];  // the layer writes the reader's output; v is never materialised
        dropped[bi] = 1;
    }
    std::erase_if(run_nodes_, [&](int ni) { return dropped[ni] != 0; });
}

void Plan::fuse_activations(const std::vector<int>& keep) {
    absorb_readers(keep, [&](int ni, int v, const Node& b) {
        std::optional<PostOp> post = b.op->as_post_op(input_infos(b));
        if (!post || infos_[b.outputs[0]].shape != infos_[v].shape) return false;
        post_[ni] = post;
        return true;
    });
}

void Plan::fuse_max_pools(const std::vector<int>& keep) {
    absorb_readers(keep, [&](int ni, int v, const Node& b) {
        if (b.inputs.size() != 1 || !b.op->is_max_pool2(input_infos(b)) ||
            !nodes_[ni].op->applies_max_pool2(input_infos(nodes_[ni])))
            return false;
        const Shape& s = infos_[v].shape;
        if (infos_[b.outputs[0]].shape != Shape{s[0], s[1], s[2] / 2, s[3] / 2}) return false;
        pool_[ni] = 1;
        return true;
    });
}

Tensor& Plan::buffer(int value_id) {
    Tensor& t = slots_[slot_of_[value_id]];
    t.resize_for_overwrite(infos_[value_id].shape);  // the op writes every element
    return t;
}

int64_t Plan::activation_bytes() const {
    int64_t b = 0;
    for (int64_t c : slot_capacity_) b += c * static_cast<int64_t>(sizeof(float));
    return b;
}

void Plan::run(const std::vector<const Tensor*>& inputs, const ExecContext& ctx,
               std::vector<double>* node_seconds) {
    if (inputs.size() != inputs_.size())
        fail(source_, ": run() got ", inputs.size(), " inputs, the plan takes ", inputs_.size());
    for (size_t k = 0; k < inputs.size(); ++k)
        if (inputs[k]->shape != infos_[inputs_[k]].shape)
            fail(source_, ": input shape ", to_string(inputs[k]->shape), " differs from the planned ",
                 to_string(infos_[inputs_[k]].shape));
    if (node_seconds) node_seconds->assign(nodes_.size(), 0.0);
    std::vector<const Tensor*> in;
    std::vector<const ValueInfo*> in_info;
    std::vector<Tensor*> out;
    auto tensor_of = [&](int id) -> const Tensor* {
        const ValueInfo& vi = infos_[id];
        if (vi.fconst) return vi.fconst.get();
        if (vi.dtype != DType::Float) return nullptr;
        for (size_t k = 0; k < inputs_.size(); ++k)
            if (inputs_[k] == id) return inputs[k];
        return &slots_[slot_of_[id]];
    };
    for (int ni : run_nodes_) {
        const Node& n = nodes_[ni];
        in.clear();
        in_info.clear();
        out.clear();
        for (int id : n.inputs) {
            in.push_back(id < 0 ? nullptr : tensor_of(id));
            in_info.push_back(id < 0 ? nullptr : &infos_[id]);
        }
        for (int id : n.outputs) out.push_back(slot_of_[id] >= 0 ? &buffer(id) : nullptr);
        const PostOp* post = post_[ni] ? &*post_[ni] : nullptr;
        auto t0 = std::chrono::steady_clock::now();
        n.op->run(RunArgs{in, in_info, out, ctx, post, pool_[ni] != 0});
        if (post && !n.op->applies_post_op() && !pool_[ni]) {  // a pooling layer applies it first
            // Right after the layer wrote it: still in cache unless the map outgrows the L2.
            float* y = out[0]->ptr();
            const int64_t size = out[0]->size();
            const int t = ctx.threads_for(size);
#pragma omp parallel for schedule(static) num_threads(t) if (t > 1)
            for (int i = 0; i < t; ++i) post->apply(y + size * i / t, size * (i + 1) / t - size * i / t);
        }
        if (node_seconds)
            (*node_seconds)[ni] =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
}

const Tensor& Plan::output(size_t i) const { return value(outputs_.at(i)); }

const Tensor& Plan::value(int id) const {
    if (infos_.at(id).fconst) return *infos_[id].fconst;
    if (slot_of_[id] < 0) fail(source_, ": value '", id, "' is not kept by this plan");
    return slots_[slot_of_[id]];
}

Engine::Engine(std::shared_ptr<const Network> net, int threads) : net_(std::move(net)) {
    ctx_.threads = resolve_threads(threads);
}

void Engine::set_threads(int threads) { ctx_.threads = resolve_threads(threads); }

void Engine::set_fuse_activations(bool fuse) {
    if (fuse == options_.fuse_activations) return;
    options_.fuse_activations = fuse;
    plans_.clear();
    slices_.clear();
}

Plan& Engine::plan_for(const Shape& input_shape) {
    for (auto& [s, p] : plans_)
        if (s == input_shape) return *p;
    if (plans_.size() >= 4) plans_.erase(plans_.begin());
    plans_.emplace_back(input_shape, std::make_unique<Plan>(*net_, std::vector<Shape>{input_shape},
                                                            std::vector<int>{}, options_));
    return *plans_.back().second;
}

const Tensor& Engine::forward(const Tensor& input, std::vector<double>* node_seconds) {
    const int t = ctx_.threads;
    const int64_t n = input.shape.empty() ? 0 : input.shape[0];
    if (t <= 1 || n < 2 * t || node_seconds) {
        Plan& p = plan_for(input.shape);
        p.run({&input}, ctx_, node_seconds);
        return p.output(0);
    }
    const int64_t per_sample = n ? input.size() / n : 0;
    // More slices than threads, taken dynamically: a thread the OS delays (a loaded
    // machine) does not hold the others up. Each slice has its own plan and buffers.
    const int ns = static_cast<int>(std::min<int64_t>(4 * t, n / 2));
    slices_.resize(ns);
    for (int i = 0; i < ns; ++i) {
        const int64_t b0 = n * i / ns, b1 = n * (i + 1) / ns;
        Shape s = input.shape;
        s[0] = b1 - b0;
        if (!slices_[i].plan || slices_[i].shape != s) {
            slices_[i].plan = std::make_unique<Plan>(*net_, std::vector<Shape>{s}, std::vector<int>{}, options_);
            slices_[i].shape = s;
        }
        slices_[i].input.resize(s);
    }
    std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(t)
    for (int i = 0; i < ns; ++i) {
        try {
            Slice& sl = slices_[i];
            const int64_t b0 = n * i / ns;
            std::copy_n(input.ptr() + b0 * per_sample, sl.input.size(), sl.input.ptr());
            sl.plan->run({&sl.input}, ExecContext{1, ctx_.lut_kernel});
        } catch (...) {
#pragma omp critical(qcnn_engine_error)
            if (!error) error = std::current_exception();
        }
    }
    if (error) std::rethrow_exception(error);
    // Gather the slices' first outputs along the batch dimension.
    Shape os = slices_[0].plan->output(0).shape;
    os[0] = n;
    split_output_.resize(os);
    int64_t off = 0;
    for (auto& sl : slices_) {
        const Tensor& o = sl.plan->output(0);
        std::copy_n(o.ptr(), o.size(), split_output_.ptr() + off);
        off += o.size();
    }
    return split_output_;
}

}  // namespace qcnn
