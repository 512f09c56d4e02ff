#include "core/eval/kernel_choice.h"

#include <algorithm>
#include <random>

#include "core/eval/speed.h"
#include "core/graph/plan.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qcnn {

const char* layer_path_name(LayerPath p) { return p == LayerPath::Dense ? "dense" : "quantized"; }

int KernelChoice::dense_layers() const {
    return static_cast<int>(std::count_if(layers.begin(), layers.end(),
                                          [](const LayerChoice& l) { return l.path == LayerPath::Dense; }));
}

namespace {

// The first `rows` output channels of W_hat (groups = 1), in the dense weight layout.
Tensor decode_leading_rows(const PQWeights& pq, int64_t rows) {
    const PQGeometry& g = pq.geo;
    const int64_t P = g.kernel_size(), M = g.subspaces(), dsub = g.dsub;
    const std::vector<uint8_t> codes = pq.unpacked_codes();  // C_t x P x M
    Shape shape = g.weight_shape();
    shape[0] = rows;
    Tensor w(shape);
    for (int64_t c = 0; c < rows; ++c) {
        float* wc = w.ptr() + c * g.in_channels * P;
        const uint8_t* cc = codes.data() + c * P * M;
        for (int64_t p = 0; p < P; ++p)
            for (int64_t m = 0; m < M; ++m) {
                const float* cw = pq.codeword(m, cc[p * M + m]);
                for (int64_t l = 0; l < dsub; ++l) wc[(m * dsub + l) * P + p] = cw[l];
            }
    }
    return w;
}

// The dense op timed for a quantized layer: its dense twin restricted to the first `rows`
// output channels, so that no more than max_bytes of dense weights exist while it is timed.
// rows = C_t (the whole twin) when that fits, when the layer is grouped, or when it has at most
// 64 outputs; otherwise max(64, max_bytes / row bytes) rounded down to a multiple of 16. The
// dense time scales with the output channels (one GEMM row per channel), so the slice's time
// times C_t / rows estimates the whole layer's.
struct DenseSlice {
    std::shared_ptr<const Op> op;
    int64_t rows = 0, out_channels = 0;
};

DenseSlice dense_slice(const Op& op, int64_t max_bytes) {
    const std::optional<WeightLayer> v = op.as_weight_layer();
    if (!v || !v->quantized()) return {};
    const PQWeights pq = pq_weights(*v);
    const PQGeometry& g = pq.geo;
    const int64_t row_bytes = g.in_channels / g.groups * g.kernel_size() * int64_t(sizeof(float));
    int64_t rows = g.out_channels;
    if (g.groups == 1 && g.out_channels > 64 && rows * row_bytes > max_bytes)
        rows = std::min(g.out_channels, std::max<int64_t>(64, max_bytes / row_bytes / 16 * 16));
    if (rows == g.out_channels) return {dense_twin(op), rows, rows};
    std::vector<float> bias(v->bias.begin(), v->bias.end());
    if (!bias.empty()) bias.resize(rows);
    WeightLayer like = *v;  // kind, conv parameters and source type of the slice
    like.out_channels = rows;
    return {make_dense_layer(like, decode_leading_rows(pq, rows), std::move(bias)), rows, g.out_channels};
}

}  // namespace

bool has_dense_twin(const Op& op) {
    const std::optional<WeightLayer> v = op.as_weight_layer();
    return v && v->quantized();
}

OpRunShape engine_op_run_shape(int64_t batch, int threads) {
    threads = std::max(threads, 1);
    if (threads <= 1 || batch < 2 * threads) return {batch, threads};
    const int64_t slices = std::min<int64_t>(4 * threads, batch / 2);
    return {(batch + slices - 1) / slices, 1};  // the largest slice
}

std::shared_ptr<const Network> with_dense_layers(const Network& net, const std::vector<int>& nodes) {
    auto out = std::make_shared<Network>(net);
    for (int i : nodes) {
        if (i < 0 || i >= static_cast<int>(net.nodes.size())) fail("with_dense_layers: no node ", i, " in ", net.source);
        auto dense = dense_twin(*net.nodes[i].op);
        if (!dense) fail("node ", net.nodes[i].name, " (", net.nodes[i].op->type(), ") is not a quantized weight layer");
        out->nodes[i].op = std::move(dense);
    }
    return out;
}

KernelChoice choose_kernels(std::shared_ptr<const Network> net, const Shape& sample_shape,
                            const KernelChoiceOptions& options, const ProgressFn& progress) {
    if (options.batch < 1) fail("kernel choice: batch must be >= 1, got ", options.batch);
    KernelChoice kc;
    kc.batch = options.batch;
    kc.threads = resolve_threads(options.threads);
    const OpRunShape rs = engine_op_run_shape(options.batch, kc.threads);
    Shape input{rs.samples};
    input.insert(input.end(), sample_shape.begin(), sample_shape.end());
    const Plan plan(*net, {input});

    std::vector<int> todo;  // by op type: building the twins here held every dense weight at once
    for (int i : net->weight_layers())
        if (has_dense_twin(*net->nodes[i].op)) todo.push_back(i);
    std::mt19937_64 rng(options.seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<int> dense_nodes;
    for (size_t li = 0; li < todo.size(); ++li) {
        const Node& node = net->nodes[todo[li]];
        report(progress, Progress{"kernel-choice", node.alias, static_cast<int64_t>(li),
                                  static_cast<int64_t>(todo.size())});
        LayerChoice c;
        c.node = todo[li];
        c.name = node.name;
        c.alias = node.alias;
        c.op_type = node.op->type();
        c.threads = rs.threads;
        const ValueInfo& xi = plan.info(node.inputs.at(0));
        c.input_shape = xi.shape;
        Tensor x(xi.shape);
        for (float& v : x.data) v = u(rng);
        // The dense side: a slice of the twin (dense_slice), freed before the next layer.
        const DenseSlice dense = dense_slice(*node.op, options.max_dense_bytes);
        c.dense_timed_outputs = dense.rows;
        c.out_channels = dense.out_channels;
        const std::vector<ValueInfo> out = node.op->infer({&xi});
        Tensor yq(out.at(0).shape), yd(dense.op->infer({&xi}).at(0).shape);
        const std::vector<const Tensor*> in{&x};
        const std::vector<const ValueInfo*> in_info{&xi};
        const std::vector<Tensor*> outq{&yq}, outd{&yd};
        const ExecContext ctx{rs.threads, LutKernel::Fast};
        const RunArgs aq{in, in_info, outq, ctx}, ad{in, in_info, outd, ctx};
        // Warm-up (scratch buffers, caches), then the two paths alternate: speed.h's procedure.
        SpeedOptions so;
        so.warmup = 1;
        so.min_rounds = std::max(options.min_reps, 1);
        so.max_rounds = std::max(so.min_rounds, 1000);
        so.budget_seconds = 2 * options.budget_s;
        const AlternatingTiming t = time_alternating(
            2, [&](int side, std::vector<double>&) { side ? dense.op->run(ad) : node.op->run(aq); }, so,
            steady_seconds(), process_preemptions());
        c.quantized_seconds = t.total[0].median;
        c.dense_seconds = t.total[1].median * static_cast<double>(dense.out_channels) / static_cast<double>(dense.rows);
        c.quantized_spread = t.total[0].spread();
        c.dense_spread = t.total[1].spread();
        c.noisy = !(c.quantized_spread <= so.noisy_spread && c.dense_spread <= so.noisy_spread);
        c.reps = t.rounds;
        c.path = c.dense_seconds < c.quantized_seconds ? LayerPath::Dense : LayerPath::Quantized;
        if (c.path == LayerPath::Dense) dense_nodes.push_back(c.node);
        kc.layers.push_back(std::move(c));
    }
    report(progress, Progress{"kernel-choice", "", static_cast<int64_t>(todo.size()), static_cast<int64_t>(todo.size())});
    kc.network = dense_nodes.empty() ? net : with_dense_layers(*net, dense_nodes);
    return kc;
}

}  // namespace qcnn
