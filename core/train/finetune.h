// Fine-tuning after quantization (issue 19 section 2): SGD or Adam on a (quantized) network's selected
// parameters over a labelled training split, the best epoch by a held-out part of that split kept.
//
// Data: `images` samples of the training split (0: all) are drawn as a seeded random subset
// (calibration_indices with derive_seed(seed, kFinetuneDataStream)); its first
// round(val_fraction * n) samples are held out for validation (never trained on), the rest are
// trained on, reshuffled every epoch (epoch e's order: derive_seed(seed, kFinetuneShuffleStream + e)).
// The evaluation data of a run is never passed here: callers pass the calibration/training split.
//
// Optimiser (documented choice): SGD with heavy-ball momentum and weight decay (core/train Sgd),
// learning rate on a cosine schedule over all steps, lr_t = lr * (1 + cos(pi t / T)) / 2 for
// step t of T, no warm-up: the steps shrink to zero at the end, so the last epochs settle instead
// of jumping around a minimum, and a single lr works across epoch counts. Codebook gradients are
// divided by the number of sub-vectors coded with each codeword: dL/d codeword is the SUM of
// dL/dW over those sub-vectors (core/train/backward.h), so a codeword shared by 2,000 weights would
// otherwise step 2,000 times further than one dense weight; with the division each codeword moves
// by the mean of its members' dense steps, and one lr suits codebooks, biases and dense weights.
// Or Adam (FinetuneOptimizer::Adam, core/train Adam) on the same schedule: its step is scale-free
// per element, so no division; it wants a smaller peak rate (1e-3 and below).
//
// Which parameters train (FinetuneParams): codebooks (QConv/QFc codewords), bias (biases of weight
// layers, dense or quantized), bn (BatchNorm scale/shift), float (weights of layers left dense),
// codes (straight-through code re-assignment: each quantized layer keeps a dense latent weight,
// starting at its decoded weight, that the optimizer steps with dL/dW_hat; after every step each
// sub-vector takes the code of the codeword nearest its latent sub-vector, TrainableNetwork with
// latent codes). The others are frozen; without codes the codes stay as quantization chose them.
// SGD divides a codeword's gradient by its number of members counted once, before training.
//
// Validation top-1 (argmax rule of core/eval/evaluate.h: ties to the lower class, a NaN score of
// the true class never a hit) is measured before training (epoch 0: the network as given) and at
// the end of every epoch; the result is the best of these (the earliest on ties), so fine-tuning
// never returns a network worse on the held-out part than the one it was given.
//
// Stopping without an exception (the result is always usable; `stopped` says why):
//   - cancel (the ProgressFn returned false): `cancelled`; the best of the epochs finished so far
//     is returned (an epoch whose validation did not finish does not count). finetune() does NOT
//     throw qcnn::Cancelled: callers that end the whole job on cancel throw it themselves after
//     keeping what they want (run_quantization does).
//   - a non-finite loss (a learning rate that diverges): `diverged`, `status` names the epoch and
//     step ("fine-tuning stopped: the loss is nan at epoch 2, step 17 of 40 (...)"); the best of
//     the epochs before it is returned (the last good weights evaluated).
// Errors before any work (qcnn::Error): a data set without labels, a network with an op lacking a
// backward pass (check_backward_support's message), no selected parameter in the network, bad
// options, too few images for a held-out part and one batch.
//
// Progress: Progress{"finetune", "epoch E/N, loss L", steps done, total steps} before the first
// step and after every step (L: the running mean loss of the epoch), and
// Progress{"finetune", "epoch E/N, validation", ...} per validation batch.
// Threads: `threads` (0: all cores) for every forward and backward; same seed and thread count,
// same bits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/graph/network.h"
#include "core/util/progress.h"

namespace qcnn {

inline constexpr uint64_t kFinetuneDataStream = 0x4654'5f44'4154'4100ULL;     // "FT_DATA"
inline constexpr uint64_t kFinetuneShuffleStream = 0x4654'5f53'4855'0000ULL;  // "FT_SHU"

// The parameter kinds fine-tuning may train.
struct FinetuneParams {
    bool codebooks = true;
    bool bias = true;
    bool bn = true;
    bool float_weights = false;
    bool codes = false;

    bool operator==(const FinetuneParams&) const = default;
    bool any() const { return codebooks || bias || bn || float_weights || codes; }
};
// "codebooks,codes,bias,bn,float" in any order and subset (at least one); "all" = codebooks,bias,
// bn,float, every kind that keeps the codes quantization chose (add codes to re-assign them too);
// throws qcnn::Error quoting the text and listing the kinds.
FinetuneParams parse_finetune_params(const std::string& text);
// The canonical text: the chosen kinds in the order codebooks,codes,bias,bn,float.
std::string to_string(const FinetuneParams& p);

// The optimizer (core/train/trainable_network.h): SGD with momentum (the default, with each
// codeword's gradient divided by its number of members), or Adam (momentum 0.9, 0.999; no
// normalisation needed; wants a smaller learning rate, e.g. 1e-3 to 1e-4).
enum class FinetuneOptimizer { Sgd, Adam };
// "sgd" / "adam"; throws qcnn::Error quoting the text.
FinetuneOptimizer parse_finetune_optimizer(const std::string& text);
std::string to_string(FinetuneOptimizer o);

struct FinetuneOptions {
    int epochs = 3;
    double lr = 0.01;            // peak learning rate (cosine schedule, see the top)
    FinetuneOptimizer optimizer = FinetuneOptimizer::Sgd;
    int64_t batch = 32;
    double momentum = 0.9;
    double weight_decay = 0.0;
    FinetuneParams params;
    int64_t images = 0;          // training-split samples used, held-out part included (0: all)
    double val_fraction = 0.1;   // held-out part of those, in (0, 1)
    uint64_t seed = 0;
    int threads = 0;             // 0: all cores
    // Knowledge distillation: > 0 trains on the teacher's soft targets at this temperature
    // (softmax_distillation, core/train/backward.h) instead of the labels' cross-entropy; the
    // labels still choose the best epoch (held-out top-1). 0: cross-entropy on the labels.
    double distill = 0;
    // The latent codes' learning rate (params.codes), a multiple of lr: the latent weights start at
    // the codewords, so at 1 they rarely reach another codeword's cell (Adam, lr 1e-3, VGG-7:
    // 0.01% of the codes in 560 steps); 3 re-assigns some 18% over two epochs, 10 and more re-assign
    // so many per step that the loss rises (docs/results.md, session 12).
    double codes_lr = 3;
    // The teacher when distill > 0, normally the float network the quantized one came from; same
    // input and output shapes as the network trained. Shared: finetune() runs it through an
    // Engine (core/graph/plan.h) of its own.
    std::shared_ptr<const Network> teacher;
};

struct FinetuneEpoch {
    int epoch = 0;            // 1-based
    double train_loss = 0;    // mean loss over the epoch's steps (cross-entropy, or distillation)
    double val_top1 = 0;      // held-out top-1, fraction in [0, 1]
    double seconds = 0;       // wall time of the epoch incl. its validation
    // With codes trained: the fraction of all quantized layers' codes that differ from those of the
    // network as given, at the end of the epoch; -1 when the codes are not trained.
    double codes_changed = -1;
};

struct FinetuneResult {
    Network network;                  // the best network (epoch best_epoch; 0: as given)
    int best_epoch = 0;
    double initial_val_top1 = 0;      // held-out top-1 of the network as given
    double best_val_top1 = 0;
    std::vector<FinetuneEpoch> epochs;  // finished epochs in order
    int64_t train_images = 0, val_images = 0;
    std::vector<std::string> trained;   // names of the trained parameters ("conv2.codebooks", ...)
    bool cancelled = false;
    bool diverged = false;
    std::string status;               // why it stopped early ("" when all epochs ran)
};

FinetuneResult finetune(const Network& net, const Dataset& train, const FinetuneOptions& options,
                        const ProgressFn& progress = {});

}  // namespace qcnn
