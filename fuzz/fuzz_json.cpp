// JSON reader (core/util/json.h): parse, then walk the tree through the typed accessors the
// sweep-spec and settings readers use.
#include <cstdint>
#include <string_view>

#include "core/util/error.h"
#include "core/util/json.h"

namespace {

void walk(const qcnn::json::Value& v) {
    if (v.is_array()) {
        for (const auto& e : v.as_array()) walk(e);
    } else if (v.is_object()) {
        for (const auto& [k, e] : v.as_object()) walk(e);
    } else if (v.is_number()) {
        try {
            (void)v.as_int();
        } catch (const qcnn::Error&) {
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        walk(qcnn::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json"));
    } catch (const qcnn::Error&) {
    }
    return 0;
}
