// Quantized-model loader: the input as a model file (HDF5 quantized model or ONNX, detected
// by content like the CLI does), with its provenance.
#include <hdf5.h>

#include <cstdint>
#include <cstdlib>

#include "core/io/model_file.h"
#include "core/util/error.h"
#include "core/util/isolate.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace qcnn;
    // In-process reads: a crash in our reading code must reach the fuzzer, not become the
    // "corrupt file" error of the isolated first read (tests/unit/*/test_hdf5_isolation*).
    set_isolated_reads(false);
    const fuzz::TempFile f(data, size, "model");
    try {
        ModelProvenance prov;
        (void)load_model_file(f.path(), &prov);
    } catch (const qcnn::Error&) {
    }
    // Every HDF5 handle the reader opened must be closed again, whatever went wrong.
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) std::abort();
    return 0;
}
