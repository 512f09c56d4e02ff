// Per-layer quantization settings: one parser, one printer (round trip), and resolution
// against a Network.
//
// Syntax (whitespace around items, keys and values is ignored):
//   settings := "" | item ("," item)*
//   item     := key "=" value
//   key      := "conv" | "fc"            per-type default (all conv / all FC layers)
//             | <layer>                   one layer, by alias ("conv1", "fc2") or ONNX node name
//   value    := "dense" | <C_s'> "/" <K> [":noec"]
//               (decimal integers; C_s' >= 1, 2 <= K <= 256; ":noec" keeps that layer out of error
//               correction when a run uses it: plain k-means codebooks for that layer)
// Example: "conv=8/128,fc=4/32,conv1=dense". Layers without a setting stay dense. A key may
// appear once, and one layer may not be named twice (by alias and by name). Names cannot
// contain ',' or '=' ("conv" and "fc" always mean the defaults; use the alias for a node
// literally named so).
//
// Resolution: an explicit per-layer setting that does not fit the layer (C_s' not a
// divisor of its input channels per group) is an error naming the layer and its valid C_s'
// values; a per-type default that does not fit leaves the layer dense and says so in the
// note. K larger than the number of sub-vectors per subspace is allowed and noted.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/graph/network.h"
#include "core/quant/product_quantizer.h"

namespace qcnn {

struct QuantSetting {
    bool dense = true;
    PQConfig pq;    // used when !dense
    bool ec = true; // error-correct this layer when the run uses error correction (!dense only)

    static QuantSetting make_dense() { return {}; }
    static QuantSetting make_pq(int64_t dsub, int64_t K, bool ec = true) { return {false, PQConfig{dsub, K}, ec}; }
    std::string to_string() const;  // "dense", "C_s'/K" or "C_s'/K:noec"
    bool operator==(const QuantSetting&) const = default;
};

struct LayerSettings {
    std::optional<QuantSetting> conv;  // default for conv layers (absent: dense)
    std::optional<QuantSetting> fc;    // default for FC layers (absent: dense)
    std::vector<std::pair<std::string, QuantSetting>> layers;  // overrides, in text order

    bool operator==(const LayerSettings&) const = default;
};

// Throws qcnn::Error quoting the offending item and what was expected.
LayerSettings parse_layer_settings(const std::string& text);
// Canonical text: "conv=..", "fc=..", then the overrides in order; "" when nothing is set.
// parse_layer_settings(to_string(s)) == s. Throws qcnn::Error for a layer key that cannot be
// written (empty, or containing ',' '=' or surrounding whitespace, or "conv"/"fc").
std::string to_string(const LayerSettings& s);

struct ResolvedLayer {
    int node = -1;              // index into Network::nodes
    std::string name, alias;
    LayerKind kind = LayerKind::Conv;
    QuantSetting setting;       // what quantize_network applies (dense: left as is)
    bool already_quantized = false;  // the node already holds a quantized op (left as is)
    std::string note;           // how the setting was chosen, and any caveat
};

struct ResolvedSettings {
    std::vector<ResolvedLayer> layers;  // one per weight layer, in network order
};

// Throws qcnn::Error for unknown layer names (listing the layers), keys naming a node that
// is not a weight layer, a layer set twice, or an explicit setting that does not fit.
ResolvedSettings resolve_settings(const Network& net, const LayerSettings& s);

}  // namespace qcnn
