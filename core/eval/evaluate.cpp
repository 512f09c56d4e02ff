#include "core/eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/eval/model_summary.h"
#include "core/util/error.h"

namespace qcnn {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string model_name(const Network& net) { return net.source.empty() ? std::string("(unnamed)") : net.source; }

}  // namespace

double ClassAccuracy::top1() const {
    return samples > 0 ? static_cast<double>(top1_correct) / static_cast<double>(samples)
                       : std::numeric_limits<double>::quiet_NaN();
}

void check_compatible(const Network& net, const Dataset& data, const std::string& dataset_name) {
    const Shape want = net.sample_shape();
    const Shape have = data.sample_shape();
    bool ok = want.size() == have.size();
    for (size_t i = 0; ok && i < want.size(); ++i)
        if (want[i] >= 0 && want[i] != have[i]) ok = false;
    if (!ok)
        fail("dataset ", dataset_name, " gives ", format_dims(have), " images, model ", model_name(net), " expects ",
             format_dims(want));
}

int64_t rank_of(const float* logits, int64_t classes, int label) {
    const float t = logits[label];
    if (std::isnan(t)) return classes;
    int64_t rank = 0;
    for (int64_t j = 0; j < classes; ++j)
        if (logits[j] > t || (j < label && logits[j] == t)) ++rank;
    return rank;
}

EvalResult evaluate(Engine& engine, const Dataset& data, const std::string& dataset_name,
                    const EvalOptions& options, const ProgressFn& progress) {
    const Network& net = engine.network();
    if (options.batch < 1) fail("evaluation batch size must be at least 1, got ", options.batch);
    if (options.limit < 0) fail("evaluation limit must be >= 0 (0 = all samples), got ", options.limit);
    if (!data.has_labels()) fail("dataset ", dataset_name, " has no labels, so accuracy cannot be measured");
    check_compatible(net, data, dataset_name);
    const int64_t total = options.limit > 0 ? std::min(options.limit, data.size()) : data.size();
    if (total == 0) fail("dataset ", dataset_name, " has no samples");
    engine.set_threads(options.threads);
    engine.set_lut_kernel(options.lut_kernel);

    const int num_classes = data.num_classes();
    const std::vector<std::string> names = data.class_names();
    EvalResult r;
    r.threads = engine.threads();
    r.batch = options.batch;
    r.per_class.resize(num_classes);
    for (int c = 0; c < num_classes; ++c) r.per_class[c].name = c < static_cast<int>(names.size()) ? names[c] : cat(c);

    report(progress, Progress{"evaluate", "", 0, total});
    const auto t0 = Clock::now();
    Tensor x;
    std::vector<int> labels;
    for (int64_t start = 0; start < total; start += options.batch) {
        const int64_t n = std::min(options.batch, total - start);
        data.batch(start, n, x, labels);
        const auto tf = Clock::now();
        const Tensor& y = engine.forward(x);
        r.forward_seconds += seconds_since(tf);

        // Class scores: {N, classes} (trailing 1-sized dimensions, as in {N, C, 1, 1}, accepted).
        bool ok = y.rank() >= 2 && y.dim(0) == n;
        for (int d = 2; ok && d < y.rank(); ++d) ok = y.dim(d) == 1;
        if (!ok)
            fail("model ", model_name(net), " outputs shape ", to_string(y.shape), " for a batch of ", n,
                 " images; expected class scores {", n, ", classes}");
        const int64_t classes = y.dim(1);
        if (classes < num_classes)
            fail("model ", model_name(net), " outputs ", classes, " class scores, but dataset ", dataset_name,
                 " has ", num_classes, " classes");

        for (int64_t i = 0; i < n; ++i) {
            const int label = labels[i];
            QCNN_ASSERT(label >= 0 && label < num_classes, "dataset label ", label, " outside [0, ", num_classes, ")");
            const float* row = y.ptr() + i * classes;
            const int64_t rank = rank_of(row, classes, label);
            ClassAccuracy& pc = r.per_class[label];
            ++pc.samples;
            if (rank < 1) {
                ++r.top1_correct;
                ++pc.top1_correct;
            }
            if (rank < 5) ++r.top5_correct;
            if (options.logits_sink) options.logits_sink(start + i, label, row, classes);
        }
        r.samples += n;
        report(progress, Progress{"evaluate", "", r.samples, total});
    }
    r.seconds = seconds_since(t0);
    r.top1 = static_cast<double>(r.top1_correct) / static_cast<double>(r.samples);
    r.top5 = static_cast<double>(r.top5_correct) / static_cast<double>(r.samples);
    r.images_per_second = r.seconds > 0 ? static_cast<double>(r.samples) / r.seconds : 0.0;
    return r;
}

EvalResult evaluate(std::shared_ptr<const Network> net, const Dataset& data, const std::string& dataset_name,
                    const EvalOptions& options, const ProgressFn& progress) {
    Engine engine(std::move(net), options.threads);
    return evaluate(engine, data, dataset_name, options, progress);
}

void LogitsCsvWriter::operator()(int64_t, int label, const float* logits, int64_t classes) {
    char buf[32];
    os_ << label;
    for (int64_t j = 0; j < classes; ++j) {
        std::snprintf(buf, sizeof buf, ",%.9g", static_cast<double>(logits[j]));
        os_ << buf;
    }
    os_ << '\n';
    if (!os_) fail("cannot write the logits CSV (disk full or file closed?)");
}

}  // namespace qcnn
