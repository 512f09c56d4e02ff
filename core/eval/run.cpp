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

// The recipe's step 2: the paper's float,bias; with a final fine-tune, also the kinds it selects.
FinetuneParams recipe_fc_params(bool finetune, const FinetuneParams& chosen) {
    FinetuneParams p{.codebooks = false, .bias = true, .bn = false, .float_weights = true, .codes = false};
    if (finetune) {
        p.codebooks = chosen.codebooks;
        p.bn = chosen.bn;
        p.codes = chosen.codes;
    }
    return p;
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
    const bool paper = spec.recipe == "paper";
    if (!paper && spec.recipe != "none") fail("recipe '", spec.recipe, "': expected none or paper");
    FinetuneParams chosen;  // spec.ft_params, parsed (and refused) only when fine-tuning runs
    if (spec.finetune || paper) {  // what fine-tuning would refuse is said before k-means
        chosen = parse_finetune_params(spec.ft_params);
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

    DataOptions dopts = copts;
    dopts.limit = spec.limit;
    const auto data = open_dataset(spec.data, dopts);
    EvalOptions eopt;
    eopt.batch = spec.batch;
    eopt.threads = spec.threads;
    eopt.limit = spec.limit;
    eopt.lut_kernel = spec.lut_kernel;

    using Clock = std::chrono::steady_clock;
    auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
    // A step's network evaluated on the evaluation data (not the last step: quant_eval is).
    auto evaluate_step = [&](const std::string& step, const Network& n, double seconds) {
        const EvalResult e = evaluate(std::make_shared<const Network>(n), *data, spec.data, eopt,
                                      staged(progress, "evaluate " + step));
        r.steps.push_back({step, e.top1, e.top5, seconds, {}});
    };
    auto fine_tune = [&](const Network& n, const FinetuneParams& params) {
        FinetuneOptions fopt;
        fopt.epochs = spec.ft_epochs;
        fopt.lr = spec.ft_lr;
        fopt.optimizer = parse_finetune_optimizer(spec.ft_optimizer);
        fopt.batch = spec.ft_batch;
        fopt.params = params;
        fopt.images = spec.ft_images;
        fopt.distill = spec.ft_distill;
        fopt.codes_lr = spec.ft_codes_lr;
        fopt.teacher = net;
        fopt.seed = spec.seed;
        fopt.threads = spec.threads;
        const auto t = Clock::now();
        r.finetune = finetune(n, *calib, fopt, progress);
        if (r.finetune.cancelled) throw Cancelled();  // the whole run stops, as in every stage
        r.finetune_seconds += since(t);
        return r.finetune.network;
    };
    const int recipe_steps = 3 + spec.finetune;
    auto announce = [&](int done, const std::string& step) {
        if (paper) report(progress, {"recipe", cat("step ", done + 1, "/", recipe_steps, ": ", step), done, recipe_steps});
    };
    auto t0 = Clock::now();
    if (!paper) {
        r.q = quantize_network(*net, resolved, qopt, images, progress);
        r.quantize_seconds = since(t0);
    } else {
        // (1) The conv layers; the FC layers stay dense for now.
        announce(0, "quantize conv");
        ResolvedSettings convs = resolved;
        for (ResolvedLayer& l : convs.layers)
            if (l.kind == LayerKind::Fc && !l.already_quantized) l.setting = QuantSetting::make_dense();
        r.q = quantize_network(*net, convs, qopt, images, progress);
        r.quantize_seconds = since(t0);
        evaluate_step("quantize conv", r.q.network, r.quantize_seconds);
        // (2) The still-dense layers and the biases, on the training split; with a final fine-tune
        // (spec.finetune), also the kinds it selects (ft_params: the conv codebooks adapt to the
        // fine-tuned FC layers here instead of only after those are quantized).
        announce(1, "fine-tune fc");
        const FinetuneParams fc_params = recipe_fc_params(spec.finetune, chosen);
        const Network tuned = fine_tune(r.q.network, fc_params);
        evaluate_step("fine-tune fc", tuned, r.finetune_seconds);
        r.steps.back().params = to_string(fc_params);
        // (3) The FC layers, from the fine-tuned weights, error-corrected against the fine-tuned network.
        announce(2, "quantize fc");
        ResolvedSettings fcs = resolved;
        for (ResolvedLayer& l : fcs.layers)
            if (l.kind != LayerKind::Fc) l.setting = QuantSetting::make_dense();  // quantized in (1) or dense
        t0 = Clock::now();
        QuantizedNetwork q3 = quantize_network(tuned, fcs, qopt, images, progress);
        r.quantize_seconds += since(t0);
        for (size_t i = 0; i < q3.layers.size(); ++i)
            if (q3.layers[i].kind == LayerKind::Fc) r.q.layers[i] = std::move(q3.layers[i]);
        r.q.network = std::move(q3.network);
    }
    if (spec.finetune) {
        evaluate_step(paper ? "quantize fc" : "quantize", r.q.network, paper ? since(t0) : r.quantize_seconds);
        announce(3, "fine-tune");
        const double before = r.finetune_seconds;
        r.q.network = fine_tune(r.q.network, chosen);
        r.steps.push_back({"fine-tune", 0, 0, r.finetune_seconds - before, to_string(chosen)});
    } else if (paper) {
        r.steps.push_back({"quantize fc", 0, 0, since(t0), {}});
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

    r.float_eval = float_eval ? *float_eval : evaluate(net, *data, spec.data, eopt, staged(progress, "evaluate float"));
    r.quant_eval = evaluate(std::make_shared<const Network>(r.q.network), *data, spec.data, eopt,
                            staged(progress, "evaluate quantized"));
    if (!r.steps.empty()) {
        r.steps.back().top1 = r.quant_eval.top1;
        r.steps.back().top5 = r.quant_eval.top5;
    }
    return r;
}

}  // namespace qcnn
