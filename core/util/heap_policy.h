// Keep freed heap memory for reuse while training.
#pragma once

namespace qcnn {

// While one of these lives, freed blocks of any size go back to the heap and stay mapped instead
// of being returned to the kernel. A training step allocates and frees the same activations and
// gradients (tens of MB at batch 64) every step; with glibc's defaults the large ones are
// mmap'ed and unmapped, or trimmed off the top of the heap, each time, and every step page-faults
// them in again. Measured on VGG-7 fine-tuning (one epoch of 12,000 images, 2 threads): 0.83-0.96
// million minor faults and 25-30 s with the defaults, 0.09 million and 19-20 s with the heap
// kept (docs/results.md, "Session 15").
//
// On leaving the outermost scope the heap is trimmed and the thresholds are left where glibc's
// own dynamic rule would have taken them after a large free (mmap threshold 32 MiB, trim 64
// MiB), so evaluation after training does not map and unmap every big buffer either. Nested
// and concurrent scopes count: only the last one out restores. No effect without glibc.
class KeepHeapWhileTraining {
public:
    KeepHeapWhileTraining();
    ~KeepHeapWhileTraining();
    KeepHeapWhileTraining(const KeepHeapWhileTraining&) = delete;
    KeepHeapWhileTraining& operator=(const KeepHeapWhileTraining&) = delete;
};

// How many scopes are open (for tests).
int keep_heap_scopes();

}  // namespace qcnn
