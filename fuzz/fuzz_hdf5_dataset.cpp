// HDF5 dataset reader: the input as an HDF5 file with datasets "images" and "labels" (the
// seeds use these names), layout detection and both explicit layouts; then open_dataset on
// the same file so Dataset's checks (labels, shapes) and one preprocessed batch run too.
#include <hdf5.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/readers.h"
#include "core/util/error.h"
#include "core/util/isolate.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace qcnn;
    // In-process reads: a crash in our reading code must reach the fuzzer, not become the
    // "corrupt file" error of the isolated first read (tests/unit/*/test_hdf5_isolation*).
    set_isolated_reads(false);
    const fuzz::TempFile f(data, size, "h5");
    for (data::Layout layout : {data::Layout::detect, data::Layout::nchw, data::Layout::nhwc}) {
        try {
            (void)data::read_hdf5(f.path(), "images", "labels", layout, 0);
        } catch (const qcnn::Error&) {
        }
    }
    try {
        auto ds = open_dataset("hdf5:" + f.path() + ":images:labels", DataOptions{.limit = 4});
        Tensor out;
        std::vector<int> labels;
        ds->batch(0, ds->size(), out, labels);
    } catch (const qcnn::Error&) {
    }
    // Every HDF5 handle the reader opened must be closed again, whatever went wrong.
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) std::abort();
    return 0;
}
