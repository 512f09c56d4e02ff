// The run-option table (run_options.h): one entry per option, each reading and writing its
// RunSpec field in SweepSpec::base (the sweep dimensions ec and seeds and measure_speed: their
// SweepSpec fields). Bounds and help live here only; defaults are RunSpec{}'s.
#include "core/sweep/run_options.h"

#include <charconv>
#include <cmath>

#include "core/data/dataset.h"
#include "core/quant/settings.h"
#include "core/train/finetune.h"
#include "core/util/error.h"
#include "core/util/json.h"

namespace qcnn {

namespace {

using Texts = std::vector<std::string>;

std::string int_text(int64_t v) { return std::to_string(v); }
int64_t text_int(const std::string& t) {
    int64_t v = 0;
    std::from_chars(t.data(), t.data() + t.size(), v);
    return v;
}

// Accessors of a RunSpec field (in SweepSpec::base) of an integral type.
template <class T>
void integer_field(RunOption& o, T RunSpec::*field) {
    o.get = [field](const SweepSpec& s) { return Texts{int_text(static_cast<int64_t>(s.base.*field))}; };
    o.set = [field](SweepSpec& s, const Texts& v) { s.base.*field = static_cast<T>(text_int(v.at(0))); };
}

void text_field(RunOption& o, std::string RunSpec::*field) {
    o.get = [field](const SweepSpec& s) { return Texts{s.base.*field}; };
    o.set = [field](SweepSpec& s, const Texts& v) { s.base.*field = v.at(0); };
}

void floats_field(RunOption& o, std::vector<float> RunSpec::*field) {
    o.get = [field](const SweepSpec& s) {
        Texts out;
        for (float x : s.base.*field) out.push_back(json::number(x));
        return out;
    };
    o.set = [field](SweepSpec& s, const Texts& v) {
        (s.base.*field).clear();
        for (const std::string& t : v) (s.base.*field).push_back(std::stof(t));
    };
}

RunOption option(std::string key, std::string flag, std::string metavar, OptionKind kind, std::string label,
                 std::string widget, std::string help) {
    RunOption o;
    o.key = std::move(key);
    o.flag = std::move(flag);
    o.metavar = std::move(metavar);
    o.kind = kind;
    o.label = std::move(label);
    o.widget = std::move(widget);
    o.help = std::move(help);
    return o;
}

RunOption integer(std::string key, std::string flag, std::string metavar, int64_t min, int64_t max, std::string label,
                  std::string widget, std::string help, std::string special = "") {
    RunOption o = option(std::move(key), std::move(flag), std::move(metavar), OptionKind::Integer, std::move(label),
                         std::move(widget), std::move(help));
    o.min = min;
    o.max = max;
    o.special = std::move(special);
    return o;
}

RunOption text(std::string key, std::string flag, std::string metavar, std::string label, std::string widget,
               std::string help) {
    return option(std::move(key), std::move(flag), std::move(metavar), OptionKind::Text, std::move(label),
                  std::move(widget), std::move(help));
}

// A choice among texts, stored in a string field, left out of the canonical spec at its default
// (the choices added after version 1's first release).
RunOption added_choice(std::string key, std::string flag, std::string metavar, std::string label, std::string widget,
                       std::string help, std::vector<std::string> choices, std::string RunSpec::*field) {
    RunOption o = option(std::move(key), std::move(flag), std::move(metavar), OptionKind::Choice, std::move(label),
                         std::move(widget), std::move(help));
    o.choices = std::move(choices);
    o.omit_default = true;
    text_field(o, field);
    return o;
}

std::vector<RunOption> make_table() {
    constexpr int64_t kMaxImages = int64_t(1) << 24;
    std::vector<RunOption> t;

    RunOption model = text("model", "--model", "M", "", "",
                           "ONNX or quantized model file, or builtin:alexnet|vgg16|cnn-s (random weights, for cost and\n"
                           "speed work)");
    model.required = true;
    model.example = "nets/vgg7.onnx";
    model.canonical = [](const std::string& v) {
        if (v.empty()) fail("expected a model file path, got \"\"");
        return v;
    };
    text_field(model, &RunSpec::model);
    t.push_back(model);

    std::string forms;
    for (const std::string& f : dataset_spec_forms()) forms += "\n  " + f;
    RunOption data = text("data", "--data", "SPEC", "Data", "dataEdit", "evaluation dataset, one of:" + forms);
    data.required = true;
    data.example = "folder:/data/val";
    data.canonical = [](const std::string& v) {
        if (v.empty()) fail("expected a dataset spec (e.g. fashion-mnist:test), got \"\"");
        return v;
    };
    text_field(data, &RunSpec::data);
    t.push_back(data);

    RunOption calib_data = text("calib_data", "--calib-data", "SPEC", "Calib. data", "calibDataEdit",
                                "calibration dataset (a dataset spec as for the evaluation data)");
    calib_data.special = "the training split of the evaluation data";
    calib_data.example = "folder:/data/train";
    text_field(calib_data, &RunSpec::calib_data);
    t.push_back(calib_data);

    RunOption calib = integer("calib_images", "--calib", "N", 0, kMaxImages, "Calib. images", "calibSpin",
                              cat("calibration images, a seeded subset of the calibration data (auto: 256 without error\n"
                                  "correction, ", QuantizeOptions{}.ec_fc_images, " with; conv layers use the first "
                                  "ec_conv_images of them)"),
                              "auto");
    integer_field(calib, &RunSpec::calib_images);
    t.push_back(calib);

    for (const bool is_mean : {true, false}) {
        RunOption o = option(is_mean ? "mean" : "std", is_mean ? "--mean" : "--std", is_mean ? "M[,M..]" : "S[,S..]",
                             OptionKind::Float, is_mean ? "Mean" : "Std", is_mean ? "meanEdit" : "stdEdit",
                             is_mean ? "per-channel mean subtracted after scaling pixels to [0,1] (one value: every channel)"
                                     : "per-channel standard deviation divided by after the mean (one value: every channel)");
        o.arity = OptionArity::List;
        o.special = "none";
        if (!is_mean)
            o.canonical = [](const std::string& v) {
                if (std::stof(v) <= 0) fail("a standard deviation must be > 0, got ", v);
                return v;
            };
        floats_field(o, is_mean ? &RunSpec::mean : &RunSpec::std);
        t.push_back(o);
    }

    RunOption pre = text("preprocess", "--preprocess", "P", "Preprocess", "preprocessEdit",
                         "image folders (data and calib_data): none (images as they are) or imagenet: torchvision's\n"
                         "ImageNet transform - short side resized to 256 (Pillow's antialiased bilinear), center crop\n"
                         "224, RGB, mean 0.485,0.456,0.406 and std 0.229,0.224,0.225 unless mean/std say otherwise;\n"
                         "imagenet:RESIZE/CROP for other sizes (the crop must be the model's input size)");
    pre.omit_default = true;
    pre.example = "imagenet:160/128";
    pre.canonical = [](const std::string& v) { return to_string(parse_preprocess(v)); };
    text_field(pre, &RunSpec::preprocess);
    t.push_back(pre);

    RunOption limit = integer("limit", "--limit", "N", 0, INT64_MAX, "Images", "limitEdit",
                              "evaluate only the first N images", "all");
    integer_field(limit, &RunSpec::limit);
    t.push_back(limit);

    RunOption batch = integer("batch", "--batch", "B", 1, int64_t(1) << 20, "Batch", "batchSpin",
                              "images per forward pass");
    integer_field(batch, &RunSpec::batch);
    t.push_back(batch);

    RunOption base = text("base", "--layers", "CFG", "", "",
                          "per-layer settings, e.g. conv=8/128,fc=4/32,conv1=dense (defaults per layer type,\n"
                          "overrides by ONNX node name or alias)");
    base.special = "every layer dense";
    base.example = "conv1=dense,fc=4/32";
    base.canonical = [](const std::string& v) { return to_string(parse_layer_settings(v)); };
    text_field(base, &RunSpec::layers);
    t.push_back(base);

    RunOption ec = option("ec", "--ec", "MODE", OptionKind::Choice, "EC", "ecCombo",
                          "error correction: none, layer (each layer against the float layer's output) or network\n"
                          "(bottom-up, against the float network's output)");
    ec.arity = OptionArity::Dimension;
    for (EcMode m : {EcMode::None, EcMode::Layer, EcMode::Network}) ec.choices.push_back(to_string(m));
    ec.get = [](const SweepSpec& s) {
        Texts out;
        for (EcMode m : s.ec) out.push_back(to_string(m));
        return out;
    };
    ec.set = [](SweepSpec& s, const Texts& v) {
        s.ec.clear();
        for (const std::string& x : v) s.ec.push_back(parse_ec_mode(x));
    };
    t.push_back(ec);

    RunOption seeds = integer("seeds", "--seed", "S", 0, INT64_MAX, "Seed", "seedEdit",
                              "seed of every random choice (calibration subset, k-means, EC positions)");
    seeds.arity = OptionArity::Dimension;
    seeds.get = [](const SweepSpec& s) {
        Texts out;
        for (uint64_t x : s.seeds) out.push_back(std::to_string(x));
        return out;
    };
    seeds.set = [](SweepSpec& s, const Texts& v) {
        s.seeds.clear();
        for (const std::string& x : v) s.seeds.push_back(static_cast<uint64_t>(text_int(x)));
    };
    t.push_back(seeds);

    RunOption threads = integer("threads", "--threads", "T", 0, 4096, "Threads", "threadsSpin",
                                "threads, also decoding image folders (results do not depend on it)", "all");
    integer_field(threads, &RunSpec::threads);
    t.push_back(threads);

    RunOption iters = integer("kmeans_iters", "--kmeans-iters", "I", 1, 10000, "k-means iters", "itersSpin",
                              "k-means iterations per sub-space");
    integer_field(iters, &RunSpec::kmeans_iters);
    t.push_back(iters);

    RunOption ec_iters = integer("ec_iters", "--ec-iters", "I", 1, 1000, "EC iters", "ecItersSpin",
                                 "error correction: sweeps over the sub-spaces, each refitting codebooks and codes");
    integer_field(ec_iters, &RunSpec::ec_iters);
    t.push_back(ec_iters);

    RunOption ec_conv = integer("ec_conv_images", "--ec-conv-images", "N", 1, kMaxImages, "EC conv images",
                                "ecConvImagesSpin",
                                "error correction of conv layers uses the first N calibration images (FC layers: all)");
    ec_conv.omit_default = true;
    integer_field(ec_conv, &RunSpec::ec_conv_images);
    t.push_back(ec_conv);

    RunOption ec_pos = integer("ec_positions", "--ec-positions", "P", 0, kMaxImages, "EC positions", "ecPositionsSpin",
                               "error correction of conv layers: output positions sampled per calibration image,\n"
                               "seeded by the run's seed",
                               "all");
    ec_pos.omit_default = true;
    integer_field(ec_pos, &RunSpec::ec_positions);
    t.push_back(ec_pos);

    RunOption kernel = option("kernel", "--kernel", "K", OptionKind::Choice, "Kernel", "kernelCombo",
                              "evaluating the quantized layers: fast (SIMD lookup tables: 8-bit entries for K <= 16,\n"
                              "16-bit above) or reference (the paper's float lookup tables); the same top-1 either way");
    kernel.choices = {"fast", "reference"};
    kernel.get = [](const SweepSpec& s) { return Texts{s.base.lut_kernel == LutKernel::Fast ? "fast" : "reference"}; };
    kernel.set = [](SweepSpec& s, const Texts& v) {
        s.base.lut_kernel = v.at(0) == "fast" ? LutKernel::Fast : LutKernel::Reference;
    };
    t.push_back(kernel);

    RunOption speed = option("measure_speed", "", "", OptionKind::Flag, "measure speed", "speedCheck",
                             "time dense and quantized forward passes after each run (the measured speed-up)");
    speed.get = [](const SweepSpec& s) { return Texts{s.measure_speed ? "true" : "false"}; };
    speed.set = [](SweepSpec& s, const Texts& v) { s.measure_speed = v.at(0) == "true"; };
    t.push_back(speed);

    // Fine-tuning (issue 19, core/train/finetune.h); added after version 1's first release.
    RunOption ft = option("finetune", "--finetune", "", OptionKind::Flag, "fine-tune", "finetuneCheck",
                          "fine-tune after quantization (and error correction): SGD with momentum and a cosine\n"
                          "schedule on the calibration/training split, the best epoch by its held-out 10%");
    ft.omit_default = true;
    ft.get = [](const SweepSpec& s) { return Texts{s.base.finetune ? "true" : "false"}; };
    ft.set = [](SweepSpec& s, const Texts& v) { s.base.finetune = v.at(0) == "true"; };
    t.push_back(ft);

    RunOption ft_epochs = integer("ft_epochs", "--ft-epochs", "E", 1, 1000, "FT epochs", "ftEpochsSpin",
                                  "fine-tuning: epochs over the training images");
    ft_epochs.omit_default = true;
    integer_field(ft_epochs, &RunSpec::ft_epochs);
    t.push_back(ft_epochs);

    RunOption ft_lr = option("ft_lr", "--ft-lr", "LR", OptionKind::Float, "FT learning rate", "ftLrEdit",
                             "fine-tuning: peak learning rate (cosine decay to 0 over all steps)");
    ft_lr.omit_default = true;
    ft_lr.canonical = [](const std::string& v) {
        if (std::stof(v) <= 0) fail("a learning rate must be > 0, got ", v);
        return v;
    };
    ft_lr.get = [](const SweepSpec& s) { return Texts{json::number(s.base.ft_lr)}; };
    ft_lr.set = [](SweepSpec& s, const Texts& v) { s.base.ft_lr = std::stof(v.at(0)); };
    t.push_back(ft_lr);

    t.push_back(added_choice("ft_optimizer", "--ft-optimizer", "O", "FT optimizer", "ftOptimizerCombo",
                             "fine-tuning: sgd (momentum 0.9, each codeword's gradient averaged over its members)\n"
                             "or adam (per-element steps; give it a smaller --ft-lr, e.g. 0.001)",
                             {"sgd", "adam"}, &RunSpec::ft_optimizer));

    RunOption ft_batch = integer("ft_batch", "--ft-batch", "B", 1, 65536, "FT batch", "ftBatchSpin",
                                 "fine-tuning: images per SGD step");
    ft_batch.omit_default = true;
    integer_field(ft_batch, &RunSpec::ft_batch);
    t.push_back(ft_batch);

    RunOption ft_params = text("ft_params", "--ft-params", "P[,P..]", "FT parameters", "ftParamsEdit",
                               "fine-tuning: what trains, any of codebooks (codewords of quantized layers), codes\n"
                               "(re-assigned to the codeword nearest a latent weight trained straight-through), bias\n"
                               "(of weight layers), bn (BatchNorm scale/shift), float (weights of layers left dense),\n"
                               "or all (codebooks,bias,bn,float: the codes stay as quantized)");
    ft_params.omit_default = true;
    ft_params.example = "all";
    ft_params.canonical = [](const std::string& v) { return to_string(parse_finetune_params(v)); };
    text_field(ft_params, &RunSpec::ft_params);
    t.push_back(ft_params);

    RunOption ft_images = integer("ft_images", "--ft-images", "N", 0, kMaxImages, "FT images", "ftImagesSpin",
                                  "fine-tuning: training-split images used, a seeded subset (10% of them held out)",
                                  "all");
    ft_images.omit_default = true;
    integer_field(ft_images, &RunSpec::ft_images);
    t.push_back(ft_images);

    RunOption ft_distill = option("ft_distill", "--ft-distill", "T", OptionKind::Float, "FT distillation", "ftDistillEdit",
                                  "fine-tuning: 0 trains on the labels (cross-entropy); T > 0 on the float network's\n"
                                  "soft targets at temperature T (knowledge distillation; the labels pick the best epoch)");
    ft_distill.omit_default = true;
    ft_distill.canonical = [](const std::string& v) {
        const float t = std::stof(v);
        if (!(t >= 0) || !std::isfinite(t)) fail("a distillation temperature must be >= 0 (0: off), got ", v);
        return v;
    };
    ft_distill.get = [](const SweepSpec& s) { return Texts{json::number(s.base.ft_distill)}; };
    ft_distill.set = [](SweepSpec& s, const Texts& v) { s.base.ft_distill = std::stof(v.at(0)); };
    t.push_back(ft_distill);

    RunOption ft_codes_lr = option("ft_codes_lr", "--ft-codes-lr", "X", OptionKind::Float, "FT codes lr factor",
                                   "ftCodesLrEdit",
                                   "fine-tuning with codes in --ft-params: the latent weights' learning rate as a\n"
                                   "multiple of --ft-lr (higher: more codes re-assigned per step)");
    ft_codes_lr.omit_default = true;
    ft_codes_lr.canonical = [](const std::string& v) {
        const float x = std::stof(v);
        if (!(x > 0) || !std::isfinite(x)) fail("a learning-rate factor must be > 0, got ", v);
        return v;
    };
    ft_codes_lr.get = [](const SweepSpec& s) { return Texts{json::number(s.base.ft_codes_lr)}; };
    ft_codes_lr.set = [](SweepSpec& s, const Texts& v) { s.base.ft_codes_lr = std::stof(v.at(0)); };
    t.push_back(ft_codes_lr);

    t.push_back(added_choice("recipe", "--recipe", "R", "recipe", "recipeCombo",
                             "none, or paper (Wu et al.): quantize the conv layers, fine-tune the dense layers and\n"
                             "biases (float,bias, with --finetune also ft_params' kinds; the ft_* options), then quantize\n"
                             "the FC layers against the result",
                             {"none", "paper"}, &RunSpec::recipe));
    return t;
}

std::string join(const Texts& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

}  // namespace

const std::vector<RunOption>& run_options() {
    static const std::vector<RunOption> table = make_table();
    return table;
}

const RunOption& run_option(std::string_view key) {
    for (const RunOption& o : run_options())
        if (o.key == key) return o;
    QCNN_ASSERT(false, "no run option '" + std::string(key) + "'");
    return run_options().front();
}

std::string check_option_value(const RunOption& o, const std::string& text) {
    std::string v = text;
    switch (o.kind) {
        case OptionKind::Integer: {
            int64_t x = 0;
            const char* end = text.data() + text.size();
            const auto r = std::from_chars(text.data(), end, x);
            if (text.empty() || r.ec != std::errc() || r.ptr != end || x < o.min || x > o.max)
                fail("expects an integer ", o.max == INT64_MAX ? cat(">= ", o.min) : cat("in [", o.min, ", ", o.max, "]"),
                     ", got '", text, "'");
            v = int_text(x);
            break;
        }
        case OptionKind::Float: {
            float x = 0;
            const char* end = text.data() + text.size();
            const auto r = std::from_chars(text.data(), end, x);
            if (text.empty() || r.ec != std::errc() || r.ptr != end || !std::isfinite(x))
                fail("expects a finite number, got '", text, "'");
            v = json::number(x);
            break;
        }
        case OptionKind::Choice: {
            bool known = false;
            for (const std::string& c : o.choices) known = known || c == text;
            if (!known) fail("expects one of ", join(o.choices), ", got '", text, "'");
            break;
        }
        case OptionKind::Flag:
            if (text != "true" && text != "false") fail("expects true or false, got '", text, "'");
            break;
        case OptionKind::Text: break;
    }
    return o.canonical ? o.canonical(v) : v;
}

void set_from_text(const RunOption& o, SweepSpec& s, const std::string& text, const std::string& who) {
    const auto check = [&](const std::string& value) {
        try {
            return check_option_value(o, value);
        } catch (const Error& e) {
            const std::string msg = e.what();
            if (o.arity == OptionArity::List && msg.rfind("expects ", 0) == 0)
                fail(who, " expects comma-separated numbers (e.g. 0.5 or 0.485,0.456,0.406), got '", text, "'");
            fail(who, msg.rfind("expects ", 0) == 0 ? " " : ": ", msg);
        }
    };
    if (o.arity == OptionArity::List) {
        Texts values;
        size_t pos = 0;
        while (!text.empty()) {
            const size_t comma = text.find(',', pos);
            values.push_back(check(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos)));
            if (comma == std::string::npos) break;
            pos = comma + 1;
        }
        o.set(s, values);
        return;
    }
    const std::string v = check(text);
    if (o.arity == OptionArity::Scalar) {
        o.set(s, {v});
        return;
    }
    Texts values = o.get(s);
    Texts out{v};
    for (size_t i = 1; i < values.size(); ++i)
        if (values[i] != v) out.push_back(values[i]);
    o.set(s, out);
}

std::string option_text(const RunOption& o, const SweepSpec& s) {
    const Texts v = o.get(s);
    if (o.arity == OptionArity::List) return join(v);
    return v.empty() ? std::string() : v.front();
}

std::string default_text(const RunOption& o) {
    const std::string v = option_text(o, SweepSpec{});
    if (v.empty()) return o.special.empty() ? "none" : o.special;
    if (o.kind == OptionKind::Integer && !o.special.empty() && v == int_text(o.min)) return v + " = " + o.special;
    return v;
}

std::string example_value(const RunOption& o) {
    switch (o.kind) {
        case OptionKind::Integer: return int_text(o.max);  // no default is its maximum
        case OptionKind::Float: return o.arity == OptionArity::List ? "0.5,0.25,0.125" : "0.5";
        case OptionKind::Choice: return o.choices.back();
        case OptionKind::Flag: return option_text(o, SweepSpec{}) == "true" ? "false" : "true";
        case OptionKind::Text: return o.example;
    }
    return o.example;
}

std::string help_with_default(const RunOption& o) { return cat(o.help, " (default: ", default_text(o), ")"); }

void check_run_options(const SweepSpec& s, bool flags) {
    try {
        resolve_preprocess(s.base);  // only image folders take a preset
    } catch (const Error& e) {
        const RunOption& o = run_option("preprocess");
        fail(flags ? o.flag : o.key, ": ", e.what());
    }
}

}  // namespace qcnn
