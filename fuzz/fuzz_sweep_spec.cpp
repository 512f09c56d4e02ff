// Sweep spec: JSON text -> parse_sweep_spec (validation of every key and settings value),
// then the canonical JSON of an accepted spec must parse back to the same spec.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/sweep/sweep.h"
#include "core/util/error.h"
#include "core/util/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace qcnn;
    SweepSpec spec;
    try {
        spec = parse_sweep_spec(json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json"),
                                "fuzz.json");
    } catch (const qcnn::Error&) {
        return 0;
    }
    // An accepted spec must survive its own canonical form.
    if (!(parse_sweep_spec(json::parse(to_json(spec), "canonical"), "canonical") == spec)) std::abort();
    return 0;
}
