// CIFAR binary reader: the input as a CIFAR-10 batch (1 label byte) and as a CIFAR-100 batch
// (2 label bytes), whole and with a limit.
#include <cstdint>

#include "core/data/readers.h"
#include "core/util/error.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace qcnn;
    const fuzz::TempFile f(data, size, "cifar");
    for (int label_bytes : {1, 2})
        for (int64_t limit : {0, 1}) {
            try {
                (void)data::read_cifar({f.path()}, label_bytes, limit);
            } catch (const qcnn::Error&) {
            }
        }
    return 0;
}
