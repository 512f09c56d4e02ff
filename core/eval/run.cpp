#include "core/eval/run.h"

#include <chrono>

#include "core/eval/model_summary.h"
#include "core/train/trainable_network.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

ProgressFn staged(const ProgressFn& progress, const std::string& stage) {
    if (!progress) return {};
    return [progress, stage](const Progress& p) {
        Progress q = p;
        if (q.stage.empty() || q.stage == "evaluate") q.stage = stage;
        return progress(q);
    };
}

}  // namespace

RunSpec resolve_preprocess(RunSpec spec) {
    if (spec.preprocess == RunSpec{}.preprocess) return spec;  // "none": the data specs as written
    spec.data = with_preprocess(spec.data, spec.preprocess);
    if (!spec.calib_data.empty()) spec.calib_data = with_preprocess(spec.calib_data, spec.preprocess);
    spec.preprocess = RunSpec{}.preprocess;
    return spec;
}

RunResult run_quantization(const RunSpec& spec, const ProgressFn& progress) {
    return run_quantization(spec, nullptr, progress);
}

RunResult run_quantization(const RunSpec& spec_in, const EvalResult* float_eval, const ProgressFn& progress) {
    const RunSpec spec = resolve_preprocess(spec_in);
    RunResult r;
    r.spec = spec;
    if (r.spec.calib_data.empty()) {
        auto split = calibration_split(spec.data);
        if (!split)
            fail(no_training_split_message(spec.data, "explicitly"));
        r.spec.calib_data = *split;
    }
    r.calib_is_eval = r.spec.calib_data == spec.data;
    if (r.spec.calib_images <= 0) r.spec.calib_images = spec.ec == EcMode::None ? 256 : QuantizeOptions{}.ec_fc_images;

    const auto net = load_model(spec.model);
    const ResolvedSettings resolved = resolve_settings(*net, parse_layer_settings(spec.layers));

    DataOptions copts;
    copts.mean = spec.mean;
    copts.std = spec.std;
    report(progress, {"calibration data", "", 0, 1});
    const auto calib = open_dataset(r.spec.calib_data, copts);
    check_compatible(*net, *calib, r.spec.calib_data);
    if (spec.finetune) {  // what fine-tuning would refuse is said before k-means
        parse_finetune_params(spec.ft_params);
        if (!calib->has_labels())
            fail("fine-tuning needs a labelled training set; ", r.spec.calib_data, " has no labels");
        check_backward_support(*net);
    }
    r.spec.calib_images = std::min(r.spec.calib_images, calib->size());
    Tensor images;
    std::vector<int> labels;
    calib->gather(calibration_indices(calib->size(), r.spec.calib_images, spec.seed), images, labels);

    QuantizeOptions qopt;
    qopt.seed = spec.seed;
    qopt.threads = spec.threads;
    qopt.ec = spec.ec;
    qopt.max_iter = spec.kmeans_iters;
    qopt.ec_iterations = spec.ec_iters;
    qopt.ec_conv_images = spec.ec_conv_images;
    qopt.ec_fc_images = r.spec.calib_images;
    qopt.ec_positions = spec.ec_positions;
    const auto t0 = std::chrono::steady_clock::now();
    r.q = quantize_network(*net, resolved, qopt, images, progress);
    r.quantize_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (spec.finetune) {
        FinetuneOptions fopt;
        fopt.epochs = spec.ft_epochs;
        fopt.lr = spec.ft_lr;
        fopt.batch = spec.ft_batch;
        fopt.params = parse_finetune_params(spec.ft_params);
        fopt.images = spec.ft_images;
        fopt.seed = spec.seed;
        fopt.threads = spec.threads;
        const auto t1 = std::chrono::steady_clock::now();
        r.finetune = finetune(r.q.network, *calib, fopt, progress);
        if (r.finetune.cancelled) throw Cancelled();  // the whole run stops, as in every stage
        r.q.network = r.finetune.network;
        r.finetune_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    }

    std::vector<QuantSetting> per_layer;
    for (const auto& l : r.q.layers) per_layer.push_back(l.setting);
    r.cost = network_cost(network_geometry(*net, net->sample_shape()), per_layer);

    // Response errors on up to 256 calibration images, for every run, EC or not.
    Shape s = images.shape;
    s[0] = std::min<int64_t>(256, s[0]);
    images.data.resize(numel(s));
    images.shape = s;
    r.response = response_errors(*net, r.q.network, images, 64, spec.threads, progress);

    DataOptions dopts = copts;
    dopts.limit = spec.limit;
    const auto data = open_dataset(spec.data, dopts);
    EvalOptions eopt;
    eopt.batch = spec.batch;
    eopt.threads = spec.threads;
    eopt.limit = spec.limit;
    eopt.lut_kernel = spec.lut_kernel;
    r.float_eval = float_eval ? *float_eval : evaluate(net, *data, spec.data, eopt, staged(progress, "evaluate float"));
    r.quant_eval = evaluate(std::make_shared<const Network>(r.q.network), *data, spec.data, eopt,
                            staged(progress, "evaluate quantized"));
    return r;
}

}  // namespace qcnn
