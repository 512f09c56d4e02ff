// The time estimate's view of one run (core/cost/time_estimate.h) from its RunSpec: what the CLI,
// the sweeps and the workbench run is what the estimate prices.
#pragma once

#include "core/cost/time_estimate.h"
#include "core/eval/run.h"

namespace qcnn {

// The RunWorkOptions of `spec`; `eval_images`: the images the run evaluates (the limit, or the
// data set's size), `evaluate_float`: the float model is evaluated too (not reused).
RunWorkOptions run_work_options(const RunSpec& spec, int64_t eval_images, bool evaluate_float, bool measure_speed);

}  // namespace qcnn
