// Up-front validation of a run's data against its model: the commands (`qcnn eval`,
// `qcnn quantize`, `qcnn sweep`) call it before any work starts, so a data set that does not
// fit the model fails in a second, not after k-means.
#pragma once

#include <cstdint>

#include "core/eval/run.h"

namespace qcnn {

// Opens the evaluation data of `run` (run.data with its preprocess preset, mean, std and limit) and the
// calibration data (run.calib_data, or the training split of run.data) as run_quantization()
// will, and checks each against the model's input with check_compatible, whose error names
// both shapes: "dataset folder:val,preprocess=imagenet gives 3x224x224 images, model m.onnx
// expects 1x28x28". Image folders are read up to their headers (nothing is decoded). Returns
// the evaluation sample count (after run.limit). Throws qcnn::Error, also when no calibration
// data is given and run.data has no known training split.
int64_t check_run_data(const Network& net, const RunSpec& run);

}  // namespace qcnn
