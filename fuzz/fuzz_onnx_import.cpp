// ONNX import from bytes: a serialized ModelProto -> Network (import_onnx_bytes): protobuf
// parsing, initializer checks, topological sort, constant folding and op construction.
#include <cstdint>
#include <string>

#include "core/io/onnx_import.h"
#include "core/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    try {
        qcnn::Network net = qcnn::import_onnx_bytes(bytes, "fuzz.onnx");
        (void)net;
    } catch (const qcnn::Error&) {
    }
    return 0;
}
