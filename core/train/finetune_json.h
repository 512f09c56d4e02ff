// The per-epoch fine-tuning record as JSON, one writer for every output that has it
// (`qcnn quantize --json`, `qcnn auto --json`, the workbench's stored record):
// [{"epoch": 1, "train_loss": 0.52, "val_top1": 0.85, "seconds": 1.9}, ...], with "codes_changed"
// (fraction of the quantized layers' codes re-assigned so far) when the codes are trained.
#pragma once

#include <cstdint>
#include <vector>

#include "core/train/finetune.h"
#include "core/util/json.h"

namespace qcnn {

// Writes the array value (the caller has written its key, if any).
inline void write_finetune_epochs(json::Writer& w, const std::vector<FinetuneEpoch>& epochs) {
    w.begin_array();
    for (const FinetuneEpoch& e : epochs) {
        w.begin_object();
        w.field("epoch", static_cast<int64_t>(e.epoch)).field("train_loss", e.train_loss);
        w.field("val_top1", e.val_top1).field("seconds", e.seconds);
        if (e.codes_changed >= 0) w.field("codes_changed", e.codes_changed);
        w.end_object();
    }
    w.end_array();
}

}  // namespace qcnn
