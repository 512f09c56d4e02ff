// A run's steps (the paper's recipe, or quantization then fine-tuning) as JSON, one writer for
// `qcnn quantize --json` and `qcnn auto --json`:
// [{"step": "quantize conv", "top1": 0.93, "top5": 0.99, "seconds": 2.1, "params": "..."}, ...]
// ("params": a fine-tuning step's trained kinds, only on those steps).
#pragma once

#include <vector>

#include "core/eval/run.h"
#include "core/util/json.h"

namespace qcnn {

// Writes the array value (the caller has written its key).
inline void write_run_steps(json::Writer& w, const std::vector<RunStep>& steps) {
    w.begin_array();
    for (const RunStep& st : steps) {
        w.begin_object();
        w.field("step", st.step).field("top1", st.top1).field("top5", st.top5).field("seconds", st.seconds);
        if (!st.params.empty()) w.field("params", st.params);
        w.end_object();
    }
    w.end_array();
}

}  // namespace qcnn
