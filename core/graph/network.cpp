#include "core/graph/network.h"

#include <unordered_map>

#include "core/util/error.h"

namespace qcnn {

int Network::add_value(ValueDecl v) {
    values.push_back(std::move(v));
    return static_cast<int>(values.size()) - 1;
}

int Network::find_value(const std::string& name) const {
    for (size_t i = 0; i < values.size(); ++i)
        if (values[i].name == name) return static_cast<int>(i);
    return -1;
}

std::vector<int> Network::weight_layers() const {
    std::vector<int> out;
    for (size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].op->weight_layer()) out.push_back(static_cast<int>(i));
    return out;
}

int Network::find_node(const std::string& name_or_alias) const {
    for (size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].alias == name_or_alias) return static_cast<int>(i);
    for (size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].name == name_or_alias) return static_cast<int>(i);
    return -1;
}

void Network::assign_aliases() {
    int nconv = 0, nfc = 0;
    for (auto& n : nodes) {
        LayerKind k;
        if (n.op->weight_layer(&k))
            n.alias = (k == LayerKind::Conv) ? cat("conv", ++nconv) : cat("fc", ++nfc);
        else
            n.alias.clear();
    }
}

Shape Network::sample_shape() const {
    if (inputs.empty()) fail(source, ": the network has no runtime input");
    const Shape& s = values.at(inputs[0]).shape;
    if (s.empty()) return {};
    return Shape(s.begin() + 1, s.end());
}

int64_t Network::planning_batch() const {
    if (inputs.empty()) fail(source, ": the network has no runtime input");
    const Shape& s = values.at(inputs[0]).shape;
    return !s.empty() && s[0] > 0 ? s[0] : 1;
}

void Network::validate() const {
    const int nv = static_cast<int>(values.size());
    std::vector<char> available(nv, 0);
    for (int i = 0; i < nv; ++i)
        if (values[i].is_initializer()) available[i] = 1;
    for (int id : inputs) {
        if (id < 0 || id >= nv) fail(source, ": graph input id out of range");
        available[id] = 1;
    }
    for (const auto& n : nodes) {
        if (!n.op) fail(source, ": node '", n.name, "' has no operator");
        for (int id : n.inputs) {
            if (id == -1) continue;
            if (id < 0 || id >= nv) fail(source, ": node '", n.name, "' has an input id out of range");
            if (!available[id])
                fail(source, ": node '", n.name, "' (", n.op->type(), ") reads '", values[id].name,
                     "' before any node produces it (cycle or missing producer)");
        }
        for (int id : n.outputs) {
            if (id < 0 || id >= nv) fail(source, ": node '", n.name, "' has an output id out of range");
            if (available[id])
                fail(source, ": value '", values[id].name, "' is produced twice (node '", n.name, "')");
            available[id] = 1;
        }
    }
    for (int id : outputs) {
        if (id < 0 || id >= nv || !available[id]) fail(source, ": a graph output is never produced");
    }
}

}  // namespace qcnn
