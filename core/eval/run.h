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
    std::string ft_optimizer = to_string(FinetuneOptions{}.optimizer);  // "sgd" or "adam"
    int64_t ft_batch = FinetuneOptions{}.batch;
    std::string ft_params = to_string(FinetuneParams{});  // parse_finetune_params syntax
    // Training-split images fine-tuning uses (0: all): 5,000 keeps an epoch of the bundled VGG-7
    // near a minute on 2 cores, measured: 2,700 images took 40 s on one loaded core.
    int64_t ft_images = 5000;
    // Distillation temperature (FinetuneOptions::distill): > 0 trains on the float network's soft
    // targets instead of the labels; 0: cross-entropy on the labels.
    float ft_distill = 0;
    // The latent codes' learning rate as a multiple of ft_lr (FinetuneOptions::codes_lr); used when
    // ft_params has codes.
    float ft_codes_lr = static_cast<float>(FinetuneOptions{}.codes_lr);
    // "paper": Wu et al.'s whole-network recipe in one run (run_quantization below); "none": one
    // quantization (then fine-tuning when `finetune`).
    std::string recipe = "none";

    bool operator==(const RunSpec&) const = default;
};

// The spec with its preprocess preset folded into data and calib_data (with_preprocess,
// core/data/dataset.h) and preprocess reset to "none"; unchanged when it is "none". Throws
// qcnn::Error for a preset on a data set that is not an image folder.
RunSpec resolve_preprocess(RunSpec spec);

// One step of a run with several (a recipe, or quantization then fine-tuning): the top-1/top-5
// on the evaluation data of the network after the step, and the step's wall time.
struct RunStep {
    std::string step;   // "quantize", "quantize conv", "fine-tune fc", "quantize fc", "fine-tune"
    double top1 = 0, top5 = 0;
    double seconds = 0;
    std::string params;  // a fine-tuning step's trained kinds (to_string(FinetuneParams)); "" otherwise
};

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
    // When spec.finetune or spec.recipe == "paper": every step in order, the last one's top-1
    // being quant_eval's (empty for a plain quantization).
    std::vector<RunStep> steps;
};

// recipe "paper" (Wu et al., CVPR 2016, section 5): (1) quantize the conv layers (FC layers kept
// dense) with the run's error correction; (2) fine-tune the still-dense layers' weights and all
// biases ("float,bias") on the calibration/training split with the ft_* options, with `finetune`
// also the other kinds ft_params selects (codebooks: the conv layers' codewords adapt to the FC
// layers being tuned, bn); (3) quantize the
// FC layers, error correction against the fine-tuned network; with `finetune` also (4) fine-tune
// the result with ft_params. Each step is evaluated (RunResult::steps) and announced through
// progress as stage "recipe" ("step 2/3: fine-tune fc", done = steps finished).
// Stages reported through progress: "calibration data", "quantize"/"kmeans"/"calibration"/
// "error-correction" (from quantize_network), "finetune" (when spec.finetune; a cancel there
// throws qcnn::Cancelled like every other stage), "response-error", "evaluate float",
// "evaluate quantized". A false return cancels (qcnn::Cancelled). Errors name what is wrong.
RunResult run_quantization(const RunSpec& spec, const ProgressFn& progress = {});

// A float model evaluated once can be reused across runs: pass it in to skip re-evaluation.
RunResult run_quantization(const RunSpec& spec, const EvalResult* float_eval, const ProgressFn& progress);

}  // namespace qcnn
