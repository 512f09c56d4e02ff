// Named settings presets, one list for the workbench's Settings > Preset and `qcnn demo`
// (issue 16's drift: the GUI's "Fast (K=16)" was conv=8/16,fc=4/16, the demo's conv=4/16).
// apply_preset() fits a preset to a network with the cost model: a layer whose preset setting
// would enlarge it (compression < 1) or slow it down (theoretical speed-up < 1), such as a
// 10-output classifier under the paper's FC 4/32, is kept dense and gets a note saying why
// (issue 18 item 7).
#pragma once

#include <string>
#include <vector>

#include "core/graph/network.h"

namespace qcnn {

struct Preset {
    std::string name;      // shown to users: "Paper (conv 8/128, FC 4/32)"
    std::string settings;  // settings.h text for every layer of its kind ("" = every layer dense)
    std::string what;      // one line for the demo's table
};

// In display order (the workbench's menu): Paper, Fast (K=16), All dense, FC only, High compression.
const std::vector<Preset>& presets();
// By name; throws qcnn::Error listing the names for an unknown one.
const Preset& preset(const std::string& name);

struct PresetLayerNote {
    std::string alias;     // "fc3"
    std::string note;      // "kept dense: 4/32 would give 0.29x speed-up, 0.31x compression"
};

struct AppliedPreset {
    std::string settings;                // the preset's text plus "alias=dense" per skipped layer
    std::vector<PresetLayerNote> notes;  // one per skipped layer, network order
};

// The preset's settings for `net` (planned at its sample shape), every layer whose setting
// costs more than it saves kept dense, with its note.
AppliedPreset apply_preset(const Network& net, const Preset& p);

}  // namespace qcnn
