#include "core/eval/data_check.h"

#include "core/eval/evaluate.h"
#include "core/util/error.h"

namespace qcnn {

int64_t check_run_data(const Network& net, const RunSpec& run_in) {
    const RunSpec run = resolve_preprocess(run_in);
    DataOptions opts;
    opts.mean = run.mean;
    opts.std = run.std;
    opts.threads = run.threads;
    opts.limit = run.limit;
    const int64_t samples = [&] {
        const auto data = open_dataset(run.data, opts);
        check_compatible(net, *data, run.data);
        return data->size();
    }();
    std::string calib = run.calib_data;
    if (calib.empty()) {
        const auto split = calibration_split(run.data);
        if (!split)
            fail(no_training_split_message(run.data, "explicitly"));
        calib = *split;
    }
    if (calib != run.data) {  // the same spec gives the same shape
        opts.limit = 0;
        check_compatible(net, *open_dataset(calib, opts), calib);
    }
    return samples;
}

}  // namespace qcnn
