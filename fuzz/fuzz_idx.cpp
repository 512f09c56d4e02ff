// IDX reader: the input as an images file (3-D header), then as a labels file (1-D header)
// next to a valid one-image images file; plain or gzip (the reader detects gzip itself).
#include <cstdint>
#include <vector>

#include "core/data/readers.h"
#include "core/util/error.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace qcnn;
    const fuzz::TempFile f(data, size, "idx");
    try {
        (void)data::read_idx(f.path(), "", 0);
    } catch (const qcnn::Error&) {
    }
    // A valid images file of one 2x2 image, to pair the input with as labels.
    static const std::vector<uint8_t> one_image = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4};
    const fuzz::TempFile img(one_image.data(), one_image.size(), "idx-img");
    try {
        (void)data::read_idx(img.path(), f.path(), 0);
    } catch (const qcnn::Error&) {
    }
    return 0;
}
