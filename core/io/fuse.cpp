#include "core/io/fuse.h"

#include <cmath>
#include <optional>

#include "core/ops/elementwise.h"
#include "core/ops/layer_norm.h"
#include "core/ops/reduce.h"

namespace qcnn {

namespace {

class Fuser {
public:
    explicit Fuser(Network& net) : net_(net) { index(); }

    FuseStats run() {
        FuseStats st;
        for (size_t i = 0; i < net_.nodes.size(); ++i) {
            if (removed_[i]) continue;
            if (try_layer_norm(i))
                ++st.layer_norm;
            else if (try_gelu(i))
                ++st.gelu;
            else if (try_hard_swish(i))
                ++st.hard_swish;
        }
        std::vector<Node> kept;
        for (size_t i = 0; i < net_.nodes.size(); ++i)
            if (!removed_[i]) kept.push_back(std::move(net_.nodes[i]));
        net_.nodes = std::move(kept);
        return st;
    }

private:
    Network& net_;
    std::vector<int> producer_, readers_;
    std::vector<char> removed_;

    void index() {
        producer_.assign(net_.values.size(), -1);
        readers_.assign(net_.values.size(), 0);
        removed_.assign(net_.nodes.size(), 0);
        for (size_t i = 0; i < net_.nodes.size(); ++i) {
            for (int id : net_.nodes[i].inputs)
                if (id >= 0) ++readers_[id];
            for (int id : net_.nodes[i].outputs) producer_[id] = static_cast<int>(i);
        }
        for (int id : net_.outputs) readers_[id] += 1 << 20;  // a graph output is never an inner value
    }

    // The live node producing value id with op type `type`, or nullptr.
    const Node* made_by(int id, const char* type, int* index = nullptr) const {
        if (id < 0 || producer_[id] < 0 || removed_[producer_[id]]) return nullptr;
        const Node& n = net_.nodes[producer_[id]];
        if (n.op->type() != type) return nullptr;
        if (index) *index = producer_[id];
        return &n;
    }
    bool only_read_by(int id, int readers) const { return id >= 0 && readers_[id] == readers; }
    // Input k of n, or -1 when the node has fewer inputs (files may omit required ones; the
    // planner reports that later, the matcher must not read past the list).
    static int in(const Node& n, size_t k) { return k < n.inputs.size() ? n.inputs[k] : -1; }

    const Tensor* constant(int id) const {
        return id >= 0 && net_.values[id].init_f ? net_.values[id].init_f.get() : nullptr;
    }
    std::optional<float> scalar(int id) const {
        const Tensor* t = constant(id);
        if (!t || t->size() != 1) return std::nullopt;
        return t->data[0];
    }
    static bool near(float v, double want) { return std::abs(v - want) <= 1e-6 * std::max(1.0, std::abs(want)); }

    // For a two-input node, the input that is not `x`, or -1 when neither/both are x.
    static int other(const Node& n, int x) {
        if (n.inputs.size() != 2) return -1;
        if (n.inputs[0] == x && n.inputs[1] != x) return n.inputs[1];
        if (n.inputs[1] == x && n.inputs[0] != x) return n.inputs[0];
        return -1;
    }

    void replace(size_t last, std::initializer_list<int> dead, OpPtr op, int input) {
        for (int d : dead) removed_[d] = 1;
        Node& n = net_.nodes[last];
        n.op = std::move(op);
        n.inputs = {input};
    }

    // Anchored at the Div of the LayerNorm pattern.
    bool try_layer_norm(size_t i) {
        const Node& div = net_.nodes[i];
        if (div.op->type() != "Div" || div.inputs.size() != 2) return false;
        const int d = in(div, 0), s = in(div, 1);
        int i_sub, i_mean, i_sqrt, i_add, i_var, i_pow;
        const Node* sub = made_by(d, "Sub", &i_sub);
        const Node* sqrt = made_by(s, "Sqrt", &i_sqrt);
        if (!sub || !sqrt || !only_read_by(d, 2) || !only_read_by(s, 1)) return false;
        const int x = in(*sub, 0), m = in(*sub, 1);
        if (x < 0) return false;
        const Node* mean = made_by(m, "ReduceMean", &i_mean);
        if (!mean || in(*mean, 0) != x || !only_read_by(m, 1)) return false;
        const Node* add = made_by(in(*sqrt, 0), "Add", &i_add);
        if (!add || !only_read_by(in(*sqrt, 0), 1)) return false;
        int v = in(*add, 0);
        std::optional<float> eps = scalar(in(*add, 1));
        if (!eps) {
            v = in(*add, 1);
            eps = scalar(in(*add, 0));
        }
        if (!eps || !(*eps >= 0)) return false;
        const Node* var = made_by(v, "ReduceMean", &i_var);
        if (!var || !only_read_by(v, 1)) return false;
        const Node* pow = made_by(in(*var, 0), "Pow", &i_pow);
        if (!pow || in(*pow, 0) != d || !only_read_by(in(*var, 0), 1)) return false;
        const auto two = scalar(in(*pow, 1));
        if (!two || *two != 2.0f) return false;
        // Both means over the same trailing axes, kept, given as an attribute.
        const auto* r1 = dynamic_cast<const ReduceOp*>(mean->op.get());
        const auto* r2 = dynamic_cast<const ReduceOp*>(var->op.get());
        if (!r1 || !r2 || !r1->reduce_params().axes || !r2->reduce_params().axes || !r1->reduce_params().keepdims || !r2->reduce_params().keepdims)
            return false;
        const std::vector<int64_t>& axes = *r1->reduce_params().axes;
        if (axes != *r2->reduce_params().axes || axes.empty()) return false;
        const int64_t k = static_cast<int64_t>(axes.size());
        for (int64_t j = 0; j < k; ++j)
            if (axes[j] != j - k) return false;
        // Optional affine tail: Mul by gamma, then Add beta, each the only reader.
        size_t last = i;
        std::vector<int> dead{i_sub, i_mean, i_sqrt, i_add, i_var, i_pow};
        Tensor gamma({1}, 1.0f);
        std::vector<float> beta;
        auto affine_param = [&](const Tensor* t) {
            if (!t) return false;
            if (t->size() == 1) return true;
            size_t lead = 0;
            while (lead < t->shape.size() && t->shape[lead] == 1) ++lead;
            if (static_cast<int64_t>(t->shape.size() - lead) != k) return false;
            for (size_t j = lead; j < t->shape.size(); ++j)
                if (t->shape[j] == 1) return false;
            return true;
        };
        auto sole_reader = [&](int value, const char* type) -> int {
            if (!only_read_by(value, 1)) return -1;
            for (size_t j = last + 1; j < net_.nodes.size(); ++j)
                if (!removed_[j] && net_.nodes[j].op->type() == type && other(net_.nodes[j], value) >= 0)
                    return static_cast<int>(j);
            return -1;
        };
        if (const int j = sole_reader(div.outputs[0], "Mul"); j >= 0) {
            const Tensor* g = constant(other(net_.nodes[j], div.outputs[0]));
            if (affine_param(g)) {
                gamma = *g;
                dead.push_back(static_cast<int>(last));
                last = j;
                if (const int a = sole_reader(net_.nodes[j].outputs[0], "Add"); a >= 0) {
                    const Tensor* b = constant(other(net_.nodes[a], net_.nodes[j].outputs[0]));
                    if (affine_param(b) && (b->size() == 1 || b->size() == gamma.size() || gamma.size() == 1)) {
                        if (gamma.size() == 1 && b->size() > 1) gamma = Tensor(b->shape, gamma.data[0]);
                        beta.assign(b->data.begin(), b->data.end());
                        if (b->size() == 1 && gamma.size() > 1) beta.assign(gamma.size(), b->data[0]);
                        dead.push_back(static_cast<int>(last));
                        last = a;
                    }
                }
            }
        }
        auto op = std::make_shared<LayerNormOp>(-k, *eps, std::move(gamma), std::move(beta));
        for (int dn : dead) removed_[dn] = 1;
        Node& n = net_.nodes[last];
        n.op = std::move(op);
        n.inputs = {x};
        return true;
    }

    // Anchored at the final Mul by 0.5.
    bool try_gelu(size_t i) {
        const Node& half = net_.nodes[i];
        if (half.op->type() != "Mul" || half.inputs.size() != 2) return false;
        for (int side = 0; side < 2; ++side) {
            const auto c = scalar(in(half, 1 - side));
            const int p = in(half, side);
            int i_mul, i_add, i_erf, i_div;
            const Node* mul = made_by(p, "Mul", &i_mul);
            if (!c || !near(*c, 0.5) || !mul || !only_read_by(p, 1)) continue;
            for (int xs = 0; xs < 2; ++xs) {
                const int x = in(*mul, xs), a = in(*mul, 1 - xs);
                if (x < 0) continue;
                const Node* add = made_by(a, "Add", &i_add);
                if (!add || !only_read_by(a, 1)) continue;
                for (int es = 0; es < 2; ++es) {
                    const auto one = scalar(in(*add, 1 - es));
                    const Node* erf = made_by(in(*add, es), "Erf", &i_erf);
                    if (!one || *one != 1.0f || !erf || !only_read_by(in(*add, es), 1)) continue;
                    const Node* div = made_by(in(*erf, 0), "Div", &i_div);
                    if (!div || in(*div, 0) != x || !only_read_by(in(*erf, 0), 1)) continue;
                    const auto r2 = scalar(in(*div, 1));
                    if (!r2 || !near(*r2, std::sqrt(2.0))) continue;
                    replace(i, {i_mul, i_add, i_erf, i_div}, std::make_shared<ActivationOp>(ActivationKind::Gelu), x);
                    return true;
                }
            }
        }
        return false;
    }

    // Anchored at the Mul of x by HardSigmoid(x).
    bool try_hard_swish(size_t i) {
        const Node& mul = net_.nodes[i];
        if (mul.op->type() != "Mul" || mul.inputs.size() != 2) return false;
        for (int side = 0; side < 2; ++side) {
            const int h = in(mul, side), x = in(mul, 1 - side);
            if (x < 0) continue;
            int i_hs;
            const Node* hs = made_by(h, "HardSigmoid", &i_hs);
            if (!hs || in(*hs, 0) != x || !only_read_by(h, 1)) continue;
            const auto* act = dynamic_cast<const ActivationOp*>(hs->op.get());
            if (!act || !near(act->alpha(), 1.0 / 6.0) || !near(act->beta(), 0.5)) continue;
            replace(i, {i_hs}, std::make_shared<ActivationOp>(ActivationKind::HardSwish), x);
            return true;
        }
        return false;
    }
};

}  // namespace

FuseStats fuse_patterns(Network& net) { return Fuser(net).run(); }

}  // namespace qcnn
