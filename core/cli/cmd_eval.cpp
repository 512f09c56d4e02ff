// qcnn eval: accuracy of a model on a labelled dataset.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>

#include <sys/resource.h>

#include "core/cli/command.h"
#include "core/util/json.h"
#include "core/cli/progress_bar.h"
#include "core/cost/cost_model.h"
#include "core/util/parallel.h"
#include "core/eval/evaluate.h"
#include "core/eval/kernel_choice.h"
#include "core/eval/model_summary.h"

namespace qcnn::cli {

namespace {

// This process's memory now, from one read of /proc/self/status, in bytes: the peak resident
// set size so far (VmHWM; getrusage's ru_maxrss where that is missing), the resident set
// (VmRSS) and its file-backed part (RssFile + RssShmem: the program's and its libraries' code
// and read-only data; 0 where the kernel does not give them).
struct ProcessMemory {
    int64_t peak_rss = 0, rss = 0, file_rss = 0;
};
ProcessMemory process_memory() {
    ProcessMemory m;
    std::ifstream f("/proc/self/status");
    std::string line;
    bool have_peak = false;
    while (std::getline(f, line)) {
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        const std::string key = line.substr(0, colon);
        int64_t* field = key == "VmHWM" ? &m.peak_rss : key == "VmRSS" ? &m.rss
                       : key == "RssFile" || key == "RssShmem" ? &m.file_rss : nullptr;
        if (!field) continue;
        std::istringstream ls(line.substr(colon + 1));
        int64_t kib = 0;
        if (!(ls >> kib)) continue;
        *field += kib * 1024;
        have_peak = have_peak || key == "VmHWM";
    }
    if (!have_peak) {
        rusage u{};
        getrusage(RUSAGE_SELF, &u);
        m.peak_rss = static_cast<int64_t>(u.ru_maxrss) * 1024;  // KiB on Linux
    }
    return m;
}

// The run-time memory of the network as evaluated, accounted at the evaluation batch (weights
// and biases as stored, the Engine plan's activation buffers, the largest LUT buffer, and what
// the dense convs' backends hold: dense_backend_memory) beside what the process measured. The
// process's fixed footprint is what it holds that does not depend on the model: its peak RSS
// once the data set is open and before the model is loaded (code, libraries and their
// first-use allocations, the data set), or, when larger, its RSS then plus the file-backed
// pages first touched after that: the code and read-only data of the libraries that read the
// model file (HDF5, protobuf) and run it (oneDNN), paged in on first use. (The peak before the
// model can exceed the RSS then by a freed transient, which later allocations reuse.) peak RSS
// is the process's at the end.
struct MemoryCheck {
    bool accounted = false;  // false when the cost model could not price the network
    std::string why_not;     // its error then
    MemoryReport model;      // the cost model's report (weights, LUT)
    DenseBackendMemory dense;  // the dense convs' backends
    int64_t buffers = 0;     // the plan's activation buffers at the batch
    int64_t batch = 1;
    int64_t before_model = 0;      // peak RSS before the model is loaded
    int64_t rss_before_model = 0;  // RSS then (below the peak after a transient, e.g. a decompression)
    int64_t code_paged_in = 0;     // file-backed pages first touched after that
    int64_t peak_rss = 0;
    int64_t fixed_footprint() const { return std::max(before_model, rss_before_model + code_paged_in); }
    int64_t accounted_bytes() const {
        return model.weight_bytes + model.bias_bytes + buffers + model.lut_bytes + dense.held_bytes + dense.work_bytes;
    }
    double ratio() const { return double(peak_rss) / double(accounted_bytes() + fixed_footprint()); }
};

std::string megabytes(int64_t bytes) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f MB", bytes / 1e6);
    return b;
}

struct EvalReport {
    std::string model, data, data_description, logits_path;
    std::string kernel;           // auto, fast or reference
    bool timed_choice = false;    // auto on a model with quantized layers: choice.layers is filled
    KernelChoice choice;
    EvalResult r;
    MemoryCheck memory;
};

std::string milliseconds(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", s * 1e3);
    return b;
}

void print_json(const EvalReport& e, std::ostream& out) {
    const EvalResult& r = e.r;
    json::Writer w(out);
    w.begin_object();
    w.field("model", e.model).field("data", e.data).field("data_description", e.data_description);
    w.field("samples", r.samples)
        .field("top1", r.top1)
        .field("top5", r.top5)
        .field("top1_correct", r.top1_correct)
        .field("top5_correct", r.top5_correct)
        .field("seconds", r.seconds)
        .field("forward_seconds", r.forward_seconds)
        .field("images_per_second", r.images_per_second)
        .field("batch", r.batch)
        .field("threads", r.threads)
        .field("kernel", e.kernel);
    if (e.timed_choice) {
        w.key("layer_kernels").begin_array();
        for (const LayerChoice& c : e.choice.layers) {
            w.begin_object().field("layer", c.alias).field("node", c.name).field("type", c.op_type);
            w.field("path", layer_path_name(c.path))
                .field("quantized_ms", c.quantized_seconds * 1e3)
                .field("dense_ms", c.dense_seconds * 1e3)
                .field("quantized_ms_spread", c.quantized_spread)
                .field("dense_ms_spread", c.dense_spread)
                .field("noisy", c.noisy)
                .field("timed_samples", c.input_shape.empty() ? int64_t(0) : c.input_shape[0])
                .field("timed_threads", static_cast<int64_t>(c.threads))
                .field("reps", static_cast<int64_t>(c.reps));
            w.end_object();
        }
        w.end_array();
    }
    const MemoryCheck& m = e.memory;
    w.key("memory").begin_object();
    w.field("peak_rss_bytes", m.peak_rss)
        .field("fixed_footprint_bytes", m.fixed_footprint())
        .field("peak_rss_before_model_bytes", m.before_model)
        .field("rss_before_model_bytes", m.rss_before_model)
        .field("code_paged_in_bytes", m.code_paged_in);
    if (m.accounted) {
        w.field("accounted_batch", m.batch)
            .field("accounted_bytes", m.accounted_bytes())
            .field("accounted_weight_bytes", m.model.weight_bytes + m.model.bias_bytes)
            .field("accounted_activation_buffer_bytes", m.buffers)
            .field("accounted_peak_live_activation_bytes", m.model.activation_bytes)
            .field("accounted_lut_bytes", m.model.lut_bytes)
            .field("accounted_dense_work_bytes", m.dense.work_bytes)
            .field("accounted_dense_held_bytes", m.dense.held_bytes)
            .field("peak_rss_over_accounted_plus_fixed", m.ratio());
    } else {
        w.field("accounted_error", m.why_not);
    }
    w.end_object();
    w.key("per_class").begin_array();
    for (size_t c = 0; c < r.per_class.size(); ++c) {
        const ClassAccuracy& pc = r.per_class[c];
        w.begin_object().field("class", static_cast<int64_t>(c)).field("name", pc.name).field("samples", pc.samples);
        w.field("top1_correct", pc.top1_correct).field("top1", pc.top1());
        w.end_object();
    }
    w.end_array();
    if (!e.logits_path.empty()) w.field("logits", e.logits_path);
    w.end_object();
    out << '\n';
}

void print_text(const EvalReport& e, std::ostream& out) {
    const EvalResult& r = e.r;
    char speed[64];
    std::snprintf(speed, sizeof speed, "%.1f", r.images_per_second);
    out << "model:   " << e.model << "\n"
        << "data:    " << e.data << " (" << e.data_description << ")\n"
        << "samples: " << thousands(r.samples) << " (batch " << r.batch << ", " << r.threads
        << (r.threads == 1 ? " thread" : " threads") << ")\n"
        << "top-1:   " << percent(r.top1) << "  (" << thousands(r.top1_correct) << "/" << thousands(r.samples) << ")\n"
        << "top-5:   " << percent(r.top5) << "  (" << thousands(r.top5_correct) << "/" << thousands(r.samples) << ")\n"
        << "speed:   " << speed << " images/s (" << format_duration(r.seconds) << " in total, "
        << format_duration(r.forward_seconds) << " in the network)\n"
        << "kernel:  " << e.kernel;
    if (e.timed_choice)
        out << " (per layer the faster of the fast lookup-table kernels and the dense kernels on the decoded\n"
            << "         weights: " << e.choice.dense_layers() << " of " << e.choice.layers.size()
            << " quantized layers run dense)";
    out << "\n";
    const MemoryCheck& m = e.memory;
    out << "memory:  peak RSS " << megabytes(m.peak_rss) << "; without the model " << megabytes(m.fixed_footprint())
        << ": the larger of the peak RSS with the data set open, before loading the model, "
        << megabytes(m.before_model) << ",\n         and the RSS then, " << megabytes(m.rss_before_model)
        << ", plus the library code paged in to load and run the model, " << megabytes(m.code_paged_in) << "\n";
    if (m.accounted) {
        char ratio[32];
        std::snprintf(ratio, sizeof ratio, "%.2f", m.ratio());
        out << "         accounted " << megabytes(m.accounted_bytes()) << " at batch " << m.batch << " (weights "
            << megabytes(m.model.weight_bytes + m.model.bias_bytes) << ", activation buffers "
            << megabytes(m.buffers) << ", largest LUT " << megabytes(m.model.lut_bytes) << ", dense convs' backends "
            << megabytes(m.dense.work_bytes + m.dense.held_bytes) << ");\n         peak RSS / (accounted + without) = "
            << ratio << "\n";
    } else {
        out << "         accounted: not available (" << m.why_not << ")\n";
    }
    if (!e.logits_path.empty()) out << "logits:  " << e.logits_path << "\n";
    if (e.timed_choice) {
        std::vector<std::vector<std::string>> rows;
        for (const LayerChoice& c : e.choice.layers) {
            const double speedup = c.quantized_seconds > 0 ? c.dense_seconds / c.quantized_seconds : 0;
            char sp[32];
            std::snprintf(sp, sizeof sp, "%.2fx%s", speedup, c.noisy ? " noisy" : "");
            rows.push_back({c.alias, c.op_type, layer_path_name(c.path), milliseconds(c.quantized_seconds),
                            milliseconds(c.dense_seconds), sp});
        }
        const LayerChoice& c0 = e.choice.layers.front();
        out << "\nper-layer kernel choice (timed on " << (c0.input_shape.empty() ? 0 : c0.input_shape[0])
            << (c0.threads == 1 ? " samples, 1 thread" : " samples, " + std::to_string(c0.threads) + " threads")
            << "; median ms per run):\n"
            << format_table({"layer", "type", "path", "quantized ms", "dense ms", "dense/quantized"}, rows,
                            {false, false, false, true, true, true});
    }
    out << "\nper-class top-1:\n";
    std::vector<std::vector<std::string>> rows;
    for (size_t c = 0; c < r.per_class.size(); ++c) {
        const ClassAccuracy& pc = r.per_class[c];
        rows.push_back({std::to_string(c), pc.name, percent(pc.top1()),
                        thousands(pc.top1_correct) + "/" + thousands(pc.samples)});
    }
    out << format_table({"class", "name", "top-1", "correct"}, rows, {true, false, true, true});
}

}  // namespace

int run_eval(const Args& args, CommandContext& ctx) {
    // The run options of the table (core/sweep/run_options.h); --kernel takes "auto" here too.
    const SweepSpec options = run_options_from_args(args, {"kernel"});
    EvalReport e;
    e.model = options.base.model;
    e.data = run_spec(options, expand(options).front()).data;  // with --preprocess applied
    EvalOptions opts;
    opts.limit = options.base.limit;
    opts.batch = options.base.batch;
    opts.threads = options.base.threads;
    e.kernel = args.str("--kernel", "auto");
    if (e.kernel != "auto" && e.kernel != "fast" && e.kernel != "reference")
        throw UsageError(cat("--kernel: expected auto, fast or reference, got '", e.kernel, "'"));
    if (e.kernel != "auto") opts.lut_kernel = parse_lut_kernel(e.kernel);
    DataOptions dopts;
    dopts.mean = options.base.mean;
    dopts.std = options.base.std;
    dopts.limit = opts.limit;
    dopts.threads = opts.threads;
    e.logits_path = args.str("--logits", "");

    // The data set first (unless --convert needs the model's input shape), so the footprint
    // without the model includes it and the libraries that read it.
    std::shared_ptr<const Dataset> data;
    if (!args.has("--convert")) data = open_dataset(e.data, dopts);
    const ProcessMemory before = process_memory();
    e.memory.before_model = before.peak_rss;
    e.memory.rss_before_model = before.rss;
    std::shared_ptr<const Network> net = load_model(e.model);
    if (args.has("--convert")) {
        dopts.sample_shape = net->sample_shape();
        data = open_dataset(e.data, dopts);
    }
    check_compatible(*net, *data, e.data);  // before any timing or evaluation
    e.data_description = data->description();

    std::ofstream logits;
    LogitsCsvWriter csv(logits);
    if (!e.logits_path.empty()) {
        logits.open(e.logits_path, std::ios::binary | std::ios::trunc);
        if (!logits) fail("cannot create logits file ", e.logits_path, ": ", std::strerror(errno));
        opts.logits_sink = std::ref(csv);
    }

    if (e.kernel == "auto") {
        // The fast kernels, except in layers where the dense kernels on the decoded weights
        // are faster at this batch size and thread count (core/eval/kernel_choice.h).
        bool quantized = false;
        for (int i : net->weight_layers()) quantized = quantized || dense_twin(*net->nodes[i].op) != nullptr;
        if (quantized) {
            KernelChoiceOptions ko;
            ko.batch = std::max<int64_t>(1, std::min(opts.batch, data->size()));
            ko.threads = opts.threads;
            e.choice = choose_kernels(net, data->sample_shape(), ko);
            e.timed_choice = true;
            net = e.choice.network;
        }
    }

    // Accounted for the network as evaluated (after the kernel choice, which may run layers dense).
    e.memory.batch = std::max<int64_t>(1, std::min(opts.batch, data->size()));
    try {
        CostOptions co;
        co.batch = e.memory.batch;
        const NetworkGeometry geo = network_geometry(*net, data->sample_shape());
        e.memory.model = network_cost(geo, stored_settings(*net), co).quantized;
        e.memory.buffers = geo.buffer_bytes * co.batch;
        Shape input{e.memory.batch};
        for (int64_t d : data->sample_shape()) input.push_back(d);
        e.memory.dense = dense_backend_memory(*net, input, resolve_threads(opts.threads));
        e.memory.accounted = true;
    } catch (const Error& err) {
        e.memory.why_not = err.what();
    }
    ProgressBar bar(ctx.err, ctx.err_is_terminal, "evaluate");
    e.r = evaluate(net, *data, e.data, opts, bar.callback());
    bar.finish();
    const ProcessMemory after = process_memory();
    e.memory.peak_rss = after.peak_rss;
    e.memory.code_paged_in = std::max<int64_t>(0, after.file_rss - before.file_rss);
    if (logits.is_open()) {
        logits.close();
        if (!logits) fail("cannot write logits file ", e.logits_path);
    }

    if (args.has("--json"))
        print_json(e, ctx.out);
    else
        print_text(e, ctx.out);
    return 0;
}

}  // namespace qcnn::cli
