#include "core/train/finetune.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numbers>
#include <optional>

#include "core/graph/plan.h"
#include "core/quant/calibration.h"
#include "core/quant/random.h"
#include "core/quant/weight_layer_factory.h"
#include "core/train/trainable_network.h"
#include "core/util/error.h"
#include "core/util/heap_policy.h"
#include "core/util/parallel.h"

namespace qcnn {

namespace {

constexpr const char* kParamKinds = "codebooks, codes, bias, bn, float (comma-separated) or all (codebooks,bias,bn,float)";

bool selects(const FinetuneParams& p, ParamRole role, bool quantized_layer) {
    switch (role) {
        case ParamRole::Codebooks: return p.codebooks;
        case ParamRole::Bias: return p.bias;
        case ParamRole::BnScale:
        case ParamRole::BnShift: return p.bn;
        case ParamRole::Weight: return p.float_weights && !quantized_layer;
        case ParamRole::Codes: return p.codes;
    }
    return false;
}

bool is_quantized_layer(const Op& op) {
    const std::optional<WeightLayer> v = op.as_weight_layer();
    return v && v->quantized();
}

std::string short_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

// Sub-vectors coded with each codeword of a quantized layer: M x K counts (>= 1, so that a
// codeword nobody uses, whose gradient is 0 anyway, divides by 1).
std::vector<float> codeword_uses(const Op& op) {
    const PQWeights pq = pq_weights(*op.as_weight_layer());
    const PQGeometry& g = pq.geo;
    std::vector<float> uses(g.subspaces() * g.K, 0.0f);
    const std::vector<uint8_t> codes = pq.unpacked_codes();  // C_t x P x Mg
    const int64_t per_c = g.kernel_size() * g.subspaces_per_group();
    for (int64_t c = 0; c < g.out_channels; ++c) {
        const int64_t m0 = (c / g.outputs_per_group()) * g.subspaces_per_group();
        for (int64_t i = 0; i < per_c; ++i) {
            const int64_t j = i % g.subspaces_per_group();
            uses[(m0 + j) * g.K + codes[c * per_c + i]] += 1.0f;
        }
    }
    for (float& u : uses) u = std::max(u, 1.0f);
    return uses;
}

// The fraction of the quantized layers' codes of `now` that differ from those of `before` (the
// same graph, the codes possibly re-assigned by training).
double codes_changed(const Network& before, const Network& now) {
    int64_t changed = 0, total = 0;
    for (size_t ni = 0; ni < now.nodes.size(); ++ni) {
        if (!is_quantized_layer(*now.nodes[ni].op)) continue;
        const std::vector<uint8_t> a = pq_weights(*before.nodes[ni].op->as_weight_layer()).unpacked_codes();
        const std::vector<uint8_t> b = pq_weights(*now.nodes[ni].op->as_weight_layer()).unpacked_codes();
        for (size_t i = 0; i < a.size(); ++i) changed += a[i] != b[i];
        total += static_cast<int64_t>(a.size());
    }
    return total ? static_cast<double>(changed) / static_cast<double>(total) : 0.0;
}

// Top-1 hit by evaluate()'s ranking rule: rank 0 of the true class.
bool top1_hit(const float* logits, int64_t classes, int label) {
    const float y = logits[label];
    if (std::isnan(y)) return false;
    for (int64_t j = 0; j < classes; ++j)
        if (logits[j] > y || (j < label && logits[j] == y)) return false;
    return true;
}

void check_options(const FinetuneOptions& o) {
    if (o.epochs < 1) fail("fine-tuning: epochs must be >= 1, got ", o.epochs);
    if (!(o.lr > 0) || !std::isfinite(o.lr)) fail("fine-tuning: the learning rate must be a finite number > 0, got ", o.lr);
    if (o.batch < 1) fail("fine-tuning: the batch must be >= 1, got ", o.batch);
    if (!(o.momentum >= 0 && o.momentum < 1)) fail("fine-tuning: momentum must be in [0, 1), got ", o.momentum);
    if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay))
        fail("fine-tuning: weight decay must be a finite number >= 0, got ", o.weight_decay);
    if (!(o.val_fraction > 0 && o.val_fraction < 1))
        fail("fine-tuning: the held-out fraction must be in (0, 1), got ", o.val_fraction);
    if (o.images < 0) fail("fine-tuning: images must be >= 0 (0: all), got ", o.images);
    if (!o.params.any()) fail("fine-tuning: no parameter kind selected; choose from ", kParamKinds);
    if (!(o.distill >= 0) || !std::isfinite(o.distill))
        fail("fine-tuning: the distillation temperature must be a finite number >= 0 (0: off), got ", o.distill);
    if (!(o.codes_lr > 0) || !std::isfinite(o.codes_lr))
        fail("fine-tuning: the codes' learning-rate factor must be a finite number > 0, got ", o.codes_lr);
    if (o.distill > 0 && !o.teacher) fail("fine-tuning: distillation (temperature ", o.distill, ") needs a teacher network");
}

}  // namespace

FinetuneParams parse_finetune_params(const std::string& text) {
    FinetuneParams p{false, false, false, false, false};
    size_t pos = 0;
    for (;;) {
        const size_t comma = text.find(',', pos);
        const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (item == "codebooks") p.codebooks = true;
        else if (item == "bias") p.bias = true;
        else if (item == "bn") p.bn = true;
        else if (item == "float") p.float_weights = true;
        else if (item == "codes") p.codes = true;
        else if (item == "all") p.codebooks = p.bias = p.bn = p.float_weights = true;
        else fail("fine-tuning parameters '", text, "': '", item, "' is not a parameter kind; expected ", kParamKinds);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return p;
}

FinetuneOptimizer parse_finetune_optimizer(const std::string& text) {
    if (text == "sgd") return FinetuneOptimizer::Sgd;
    if (text == "adam") return FinetuneOptimizer::Adam;
    fail("fine-tuning optimizer '", text, "' is not known; expected sgd or adam");
}

std::string to_string(FinetuneOptimizer o) { return o == FinetuneOptimizer::Adam ? "adam" : "sgd"; }

std::string to_string(const FinetuneParams& p) {
    std::string s;
    for (const auto& [on, name] : {std::pair{p.codebooks, "codebooks"}, std::pair{p.codes, "codes"}, std::pair{p.bias, "bias"},
                                   std::pair{p.bn, "bn"}, std::pair{p.float_weights, "float"}})
        if (on) {
            if (!s.empty()) s += ',';
            s += name;
        }
    return s;
}

FinetuneResult finetune(const Network& net, const Dataset& train, const FinetuneOptions& o, const ProgressFn& progress) {
    using Clock = std::chrono::steady_clock;
    // Everything that can be wrong with the input is said before any work.
    check_options(o);
    if (!train.has_labels()) fail("fine-tuning needs a labelled training set; ", train.description(), " has no labels");
    const KeepHeapWhileTraining keep_heap;  // every step frees and reallocates the same big buffers
    TrainableNetwork tn(net, o.threads, o.params.codes);  // refuses an op without a backward pass
    std::optional<Engine> teacher;  // the float logits per batch, plans cached by batch shape
    if (o.distill > 0) {
        if (o.teacher->inputs.size() != 1 || o.teacher->sample_shape() != net.sample_shape())
            fail("fine-tuning: the distillation teacher ", o.teacher->source, " takes ", to_string(o.teacher->sample_shape()),
                 ", the network trained ", to_string(net.sample_shape()));
        teacher.emplace(o.teacher, o.threads);
    }
    FinetuneResult r;
    std::vector<std::vector<float>> uses(tn.parameters().size());
    for (size_t k = 0; k < tn.parameters().size(); ++k) {
        Parameter& p = tn.parameters()[k];
        const Op& op = *net.nodes[p.node].op;
        p.trainable = selects(o.params, p.role, is_quantized_layer(op));
        if (!p.trainable) continue;
        if (p.role == ParamRole::Codes) p.lr_scale = o.codes_lr;
        r.trained.push_back(p.name);
        // SGD: a codeword's gradient is the sum over its members; divided by their number, every
        // codeword moves like a single weight. Adam's step is scale-free per element already.
        if (p.role == ParamRole::Codebooks && o.optimizer == FinetuneOptimizer::Sgd) uses[k] = codeword_uses(op);
    }
    if (r.trained.empty())
        fail(net.source, net.source.empty() ? "" : ": ", "fine-tuning ", to_string(o.params),
             ": the network has no such parameter (codebooks, codes: quantized layers; float: layers left dense)");
    const int64_t n = o.images > 0 ? std::min(o.images, train.size()) : train.size();
    const int64_t n_val = std::llround(o.val_fraction * static_cast<double>(n));
    if (n_val < 1 || n - n_val < 1)
        fail("fine-tuning: ", n, " training images leave ", n_val, " held out and ", n - n_val,
             " to train on; each needs at least 1 (more images or another held-out fraction)");
    const std::vector<int64_t> picked = calibration_indices(train.size(), n, derive_seed(o.seed, kFinetuneDataStream));
    const std::vector<int64_t> val(picked.begin(), picked.begin() + n_val);
    std::vector<int64_t> order(picked.begin() + n_val, picked.end());
    r.train_images = static_cast<int64_t>(order.size());
    r.val_images = n_val;
    const int64_t steps_per_epoch = (r.train_images + o.batch - 1) / o.batch;
    const int64_t total = steps_per_epoch * o.epochs;

    Tensor x;
    std::vector<int> labels;
    // Held-out top-1 of the current weights; reports per batch (may throw Cancelled).
    auto validate = [&](int epoch) {
        int64_t hits = 0;
        const std::string label = cat("epoch ", epoch, "/", o.epochs, ", validation");
        for (int64_t s = 0; s < n_val; s += o.batch) {
            report(progress, {"finetune", label, std::min<int64_t>(epoch, o.epochs) * steps_per_epoch, total});
            const int64_t count = std::min(o.batch, n_val - s);
            train.gather(std::span<const int64_t>(val.data() + s, count), x, labels);
            const Tensor& z = tn.forward(x);
            const int64_t classes = z.size() / count;
            for (int64_t i = 0; i < count; ++i) {
                if (labels[i] >= classes)
                    fail("fine-tuning: sample ", val[s + i], " of ", train.description(), " has label ", labels[i],
                         ", the network outputs ", classes, " classes");
                hits += top1_hit(z.data.data() + i * classes, classes, labels[i]);
            }
        }
        return static_cast<double>(hits) / static_cast<double>(n_val);
    };

    r.network = tn.network();
    try {
        r.initial_val_top1 = r.best_val_top1 = validate(0);
    } catch (const Cancelled&) {
        r.cancelled = true;
        r.status = "fine-tuning cancelled before the first step";
        return r;
    }
    std::unique_ptr<Optimizer> opt;
    if (o.optimizer == FinetuneOptimizer::Adam)
        opt = std::make_unique<Adam>(AdamOptions{.lr = o.lr, .weight_decay = o.weight_decay});
    else
        opt = std::make_unique<Sgd>(SgdOptions{o.lr, o.momentum, o.weight_decay});
    // A diverging step: the status names the epoch and step; r keeps the best epoch so far.
    auto stop = [&](const std::string& what, int e, int64_t b) {
        r.diverged = true;
        r.status = cat("fine-tuning stopped: ", what, " at epoch ", e, ", step ", b + 1, " of ", steps_per_epoch,
                       " (learning rate ", short_number(o.lr), " too high?); kept the weights of ",
                       r.best_epoch == 0 ? std::string("the network as given") : cat("epoch ", r.best_epoch),
                       ", held-out top-1 ", short_number(100 * r.best_val_top1), "%");
    };
    int64_t step = 0;
    try {
        for (int e = 1; e <= o.epochs; ++e) {
            const auto t0 = Clock::now();
            Rng rng(derive_seed(o.seed, kFinetuneShuffleStream + static_cast<uint64_t>(e)));
            for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i)
                std::swap(order[i], order[rng.below(static_cast<uint64_t>(i + 1))]);
            double loss_sum = 0;
            report(progress, {"finetune", cat("epoch ", e, "/", o.epochs), step, total});
            for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
                const int64_t start = b * o.batch, count = std::min(o.batch, r.train_images - start);
                train.gather(std::span<const int64_t>(order.data() + start, count), x, labels);
                tn.zero_grad();
                double loss = 0;
                if (teacher) {
                    const Tensor& t = teacher->forward(x);
                    Tensor dlogits;
                    loss = softmax_distillation(tn.forward(x), t, o.distill, &dlogits);
                    tn.backward(dlogits);
                } else {
                    loss = tn.loss_and_backward(x, labels);
                }
                if (!std::isfinite(loss)) {
                    stop(cat("the loss is ", short_number(loss)), e, b);
                    return r;
                }
                loss_sum += loss;
                for (size_t k = 0; k < uses.size(); ++k) {
                    if (uses[k].empty()) continue;
                    Tensor& g = tn.parameters()[k].grad;
                    const int64_t dsub = g.shape.back();
                    for (int64_t i = 0; i < g.size(); ++i) g.data[i] /= uses[k][i / dsub];
                }
                opt->set_lr(o.lr * 0.5 * (1 + std::cos(std::numbers::pi * static_cast<double>(step) / total)));
                try {
                    opt->step(tn);
                } catch (const Error& err) {  // a rebuild refusing non-finite values
                    stop(cat("the update is not finite (", err.what(), ")"), e, b);
                    return r;
                }
                report(progress, {"finetune",
                                  cat("epoch ", e, "/", o.epochs, ", loss ", short_number(loss_sum / (b + 1))),
                                  step + 1, total});
            }
            FinetuneEpoch ep;
            ep.epoch = e;
            ep.train_loss = loss_sum / steps_per_epoch;
            ep.val_top1 = validate(e);
            if (o.params.codes) ep.codes_changed = codes_changed(net, tn.network());
            ep.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
            r.epochs.push_back(ep);
            if (ep.val_top1 > r.best_val_top1) {
                r.best_val_top1 = ep.val_top1;
                r.best_epoch = e;
                r.network = tn.network();
            }
        }
    } catch (const Cancelled&) {
        r.cancelled = true;
        r.status = cat("fine-tuning cancelled at step ", step, " of ", total, "; kept ",
                       r.best_epoch == 0 ? std::string("the network as given") : cat("epoch ", r.best_epoch));
    }
    return r;
}

}  // namespace qcnn
