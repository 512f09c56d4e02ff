// Model files: ONNX (float, as exported) and the project's quantized model format.
//
// Quantized model file (HDF5, format "qcnn-quantized-model", version 2, 3 or 4; docs/model-format.md):
//   /onnx      uint8 [bytes]  the source ONNX graph with each quantized layer as a weightless
//                             placeholder node (op Relu, doc string "qcnn: quantized layer, ...",
//                             the layer's input -> its output after folded nodes), the nodes
//                             folded into it removed, and initializers no node reads dropped:
//                             graph structure + every dense layer
//   /payload   uint8 [bytes]  per quantized layer, in order: codebooks (float32 LE,
//                             M x K x C_s' row-major), packed codes (C_t x P x M_g indices at
//                             ceil(log2 K) bits, LSB first), bias (float32 LE, C_t)
//   attributes on "/" (strings): format, format_version, layers (one line per quantized
//     layer: "node kind groups dsub K bits weight_shape codebook_off codebook_len codes_off
//     codes_len bias_off bias_len window", window = "stride_h,stride_w,pad_top,pad_left,
//     pad_bottom,pad_right,dilation_h,dilation_w,auto_pad" for conv, "-" for FC), stripped
//     (dropped initializer names, one per line), settings, seed, ec, source_path,
//     source_sha256, created_utc, app_version, onnx_sha256, payload_sha256 (checked on load: a
//     mismatch is refused as corrupt).
// Version 3 = version 2 + parameter overrides, written only when a node that is not a quantized
// layer (a dense layer, a BatchNorm) holds values other than its source graph's (fine-tuning):
//   /overrides uint8 [bytes]  float32 LE values, one record's after another
//   attributes overrides (one line per parameter: "node index role shape offset length", index
//     and role as backward_entry(op)->params lists them, core/train/backward.h) and
//     overrides_sha256; applied after the quantized layers are built (each node rebuilt).
// Version 4 = version 3 with the overridden values stored once, written whenever there are
// overrides: a node with any changed parameter gets a record for every parameter, and the
// initializers only it reads (a dense Conv/Gemm/MatMul's, the bias Add's and BatchNorm's folded
// into it, a BatchNormalization's) are kept in /onnx without values (name, dims, type):
//   attribute emptied (one line per such initializer: "initializer node"); on load they are
//     filled with zeros for the import and the node's records must give all its parameters.
// Loading builds each quantized layer straight from its record (no dense weight at any point);
// any other format version (e.g. 1, which rebuilt dense layers) is refused naming the version.
#pragma once

#include <string>

#include "core/graph/network.h"

namespace qcnn {

struct ModelProvenance {
    std::string settings;   // the settings string as given ("conv=8/128,fc=4/32")
    std::string seed;
    std::string ec;         // error-correction mode
    std::string source_path;
    std::string source_sha256;
    std::string created_utc;
    std::string app_version;
};

// True when the file starts with the HDF5 signature.
bool is_hdf5_file(const std::string& path);

// Loads either an ONNX model or a quantized model file (by content, not extension).
// prov (optional) receives the quantized file's provenance (empty for ONNX).
Network load_model_file(const std::string& path, ModelProvenance* prov = nullptr);

// Writes `net` (a float network with some nodes quantized, loaded from `net.source`, an
// ONNX or quantized model file) as a quantized model file. Throws qcnn::Error naming the file.
void save_quantized_model(const std::string& path, const Network& net, const ModelProvenance& prov);

}  // namespace qcnn
