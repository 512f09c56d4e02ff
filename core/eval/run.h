// One run = quantize a model with per-layer settings (optionally with error correction),
// evaluate float and quantized models, and price it with the cost model. The CLI
// (`qcnn quantize`, `qcnn demo`) and the workbench both call run_quantization(), so every
// number they show comes from here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/cost/cost_model.h"
#include "core/eval/evaluate.h"
#include "core/quant/calibration.h"
#include "core/quant/quantize_network.h"
#include "core/train/finetune.h"

namespace qcnn {

// One run's options, with their defaults (a sweep spec's base, core/sweep/sweep.h; the run
// options' table, core/sweep/run_options.h, reads and writes these fields).
struct RunSpec {
    std::string model;             // ONNX or quantized model file
    std::string data;              // evaluation data spec
    std::string calib_data;        // empty: the training split of `data` (calibration_split,
                                   // core/data/dataset.h; error if none is known)
    std::string layers;            // settings text, "conv=8/128,fc=4/32,conv1=dense"
    EcMode ec = EcMode::None;
    int64_t calib_images = 0;      // 0: 256 without error correction, QuantizeOptions' FC image
                                   // count with it (bounded by the data)
    uint64_t seed = 0;
    int kmeans_iters = QuantizeOptions{}.max_iter;  // the run options' defaults (core/sweep/run_options.h)
    int ec_iters = QuantizeOptions{}.ec_iterations;
    int64_t ec_conv_images = QuantizeOptions{}.ec_conv_images;  // of the calibration images
    int64_t ec_positions = QuantizeOptions{}.ec_positions;      // conv output positions per image (0: all)
    int64_t limit = 0;             // evaluation images (0: all)
    int64_t batch = 64;
    int threads = 0;               // 0: all cores
    LutKernel lut_kernel = LutKernel::Fast;  // how the quantized model is evaluated
    std::vector<float> mean, std;  // preprocessing after scaling to [0,1]
    // Image-folder preprocessing preset of data and calib_data (parse_preprocess's canonical
    // text, core/data/dataset.h); "none" leaves the data specs as written.
    std::string preprocess = "none";
    // Fine-tuning after quantization (and error correction) on the calibration/training split,
    // never on the evaluation data (core/train/finetune.h); the seed is the run's seed.
    bool finetune = false;
    int ft_epochs = FinetuneOptions{}.epochs;
    float ft_lr = static_cast<float>(FinetuneOptions{}.lr);
    int64_t ft_batch = FinetuneOptions{}.batch;
    std::string ft_params = to_string(FinetuneParams{});  // parse_finetune_params syntax
    // Training-split images fine-tuning uses (0: all): 5,000 keeps an epoch of the bundled VGG-7
    // near a minute on 2 cores, measured: 2,700 images took 40 s on one loaded core.
    int64_t ft_images = 5000;

    bool operator==(const RunSpec&) const = default;
};

// The spec with its preprocess preset folded into data and calib_data (with_preprocess,
// core/data/dataset.h) and preprocess reset to "none"; unchanged when it is "none". Throws
// qcnn::Error for a preset on a data set that is not an image folder.
RunSpec resolve_preprocess(RunSpec spec);

struct RunResult {
    RunSpec spec;                  // with preprocess, calib_data and calib_images resolved
    bool calib_is_eval = false;    // calibrated on the evaluation set (asked for explicitly)
    QuantizedNetwork q;
    NetworkCost cost;
    std::vector<LayerResponseError> response;  // per weight layer, on up to 256 calibration images
    EvalResult float_eval, quant_eval;
    double quantize_seconds = 0;
    // When spec.finetune: the fine-tuning's epochs, best epoch and status (its network is q.network,
    // which every later figure uses); finetune.status says why it stopped early (a diverging
    // learning rate), "" otherwise.
    FinetuneResult finetune;
    double finetune_seconds = 0;
};

// Stages reported through progress: "calibration data", "quantize"/"kmeans"/"calibration"/
// "error-correction" (from quantize_network), "finetune" (when spec.finetune; a cancel there
// throws qcnn::Cancelled like every other stage), "response-error", "evaluate float",
// "evaluate quantized". A false return cancels (qcnn::Cancelled). Errors name what is wrong.
RunResult run_quantization(const RunSpec& spec, const ProgressFn& progress = {});

// A float model evaluated once can be reused across runs: pass it in to skip re-evaluation.
RunResult run_quantization(const RunSpec& spec, const EvalResult* float_eval, const ProgressFn& progress);

}  // namespace qcnn
