#include "core/eval/run_work.h"

namespace qcnn {

RunWorkOptions run_work_options(const RunSpec& spec, int64_t eval_images, bool evaluate_float, bool measure_speed) {
    RunWorkOptions o;
    o.ec = spec.ec;
    o.kmeans_iters = spec.kmeans_iters;
    o.ec_iters = spec.ec_iters;
    o.calib_images = spec.calib_images;
    o.ec_conv_images = spec.ec_conv_images;
    o.ec_positions = spec.ec_positions;
    o.eval_images = eval_images;
    o.evaluate_float = evaluate_float;
    o.measure_speed = measure_speed;
    return o;
}

}  // namespace qcnn
