#include "core/quant/calibration.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <memory>
#include <numeric>

#include "core/graph/plan.h"
#include "core/ops/fc.h"
#include "core/quant/random.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qcnn {

namespace {

// Rows gathered before one Gram update: large enough for an efficient GEMM, small enough that
// the double buffers stay a few tens of MB (4096 x 1152 doubles = 38 MB for a 1152-input FC).
constexpr int64_t kChunkRows = 4096;
// Columns per Gram tile.
constexpr int64_t kTile = 64;

// The first `nodes` nodes of `net` with graph outputs `outputs`: planning it runs nothing after.
Network prefix(const Network& net, int nodes, std::vector<int> outputs) {
    Network p;
    p.values = net.values;
    p.nodes.assign(net.nodes.begin(), net.nodes.begin() + nodes);
    p.inputs = net.inputs;
    p.outputs = std::move(outputs);
    p.source = net.source;
    return p;
}

// Contents of value `id` after plan.run(): the batch itself when `id` is the graph input.
const Tensor& value_of(const Plan& plan, const Network& net, int id, const Tensor& batch) {
    if (!net.inputs.empty() && net.inputs[0] == id) return batch;
    return plan.value(id);
}

// Images [start, start + count) of a {N, ...} tensor.
void slice_images(const Tensor& images, int64_t start, int64_t count, Tensor& out) {
    Shape s = images.shape;
    s[0] = count;
    out.resize(s);
    const int64_t per = images.size() / images.shape[0];
    std::copy(images.data.begin() + start * per, images.data.begin() + (start + count) * per, out.data.begin());
}

void check_images(const Tensor& images, const std::string& what) {
    if (images.rank() < 2 || images.shape[0] < 1)
        fail(what, ": calibration images must be a non-empty batch {N, ...sample shape}, got ",
             to_string(images.shape));
}

// Runs calibration images through one or more networks in fixed slices of `slice` images, each
// slice on one thread (ExecContext{1}) with that thread's own plans, up to `threads` slices at a
// time; then hands the slices to a consumer on the calling thread in image order. The slicing
// does not depend on the thread count, so neither do the bits of the results.
class SliceRunner {
public:
    SliceRunner(std::vector<const Network*> nets, std::vector<std::vector<int>> keep, int64_t slice, int threads)
        : nets_(std::move(nets)), keep_(std::move(keep)), slice_(std::max<int64_t>(1, slice)),
          threads_(std::max(1, threads)), workers_(threads_) {}

    // consume(first_image, images, plans): plans[i] ran nets[i] on the slice's images.
    // after(images_done) is called after each group of slices (progress reports go there).
    template <class Consume, class After>
    void run(const Tensor& images, int64_t total, Consume&& consume, After&& after) {
        for (int64_t start = 0; start < total; start += slice_ * threads_) {
            const int group = static_cast<int>(std::min<int64_t>(threads_, (total - start + slice_ - 1) / slice_));
            std::vector<std::exception_ptr> errors(group);
#pragma omp parallel for schedule(static, 1) num_threads(group) if (group > 1)
            for (int i = 0; i < group; ++i) {
                try {
                    Worker& w = workers_[i];
                    const int64_t s0 = start + i * slice_;
                    slice_images(images, s0, std::min(slice_, total - s0), w.x);
                    w.plans.resize(nets_.size());
                    for (size_t n = 0; n < nets_.size(); ++n) {
                        if (!w.plans[n] || w.shape != w.x.shape)
                            w.plans[n] = std::make_unique<Plan>(*nets_[n], std::vector<Shape>{w.x.shape}, keep_[n]);
                        w.plans[n]->run({&w.x}, ExecContext{1, LutKernel::Reference});
                    }
                    w.shape = w.x.shape;
                } catch (...) {
                    errors[i] = std::current_exception();
                }
            }
            for (const std::exception_ptr& e : errors)
                if (e) std::rethrow_exception(e);
            for (int i = 0; i < group; ++i) consume(start + i * slice_, workers_[i].x, workers_[i].plans);
            after(std::min(total, start + slice_ * threads_));
        }
    }

private:
    struct Worker {
        Tensor x;
        Shape shape;
        std::vector<std::unique_ptr<Plan>> plans;
    };
    std::vector<const Network*> nets_;
    std::vector<std::vector<int>> keep_;
    int64_t slice_;
    int threads_;
    std::vector<Worker> workers_;
};

// Accumulates rows chunk by chunk into a LayerStats.
class RowSink {
public:
    RowSink(LayerStats& s, int threads) : s_(s), threads_(threads) {
        const CalibLayer& L = s.layer;
        const int64_t d = L.group_dim(), cg = L.out_channels / L.groups;
        x_.resize(L.groups);
        t_.resize(L.groups);
        for (int64_t g = 0; g < L.groups; ++g) {
            x_[g].resize(kChunkRows, d);
            t_[g].resize(kChunkRows, cg);
        }
    }
    // Row buffers of group g for the next row (valid until add_row / flush).
    double* x_row(int64_t g) { return x_[g].row(n_).data(); }
    double* t_row(int64_t g) { return t_[g].row(n_).data(); }
    void add_row() {
        if (++n_ == kChunkRows) flush();
    }
    // Gram updates over fixed tiles of columns, each one single-threaded GEMM, so the bits do
    // not depend on the thread count: gram[:, J] += X^T X[:, J] below the diagonal (then
    // mirrored), cross[:, J] += T^T X[:, J].
    void flush() {
        if (n_ == 0) return;
        const int prev = omp_get_max_threads();
        omp_set_num_threads(1);
        for (size_t g = 0; g < x_.size(); ++g) {
            const auto x = x_[g].topRows(n_);
            const auto t = t_[g].topRows(n_);
            Eigen::MatrixXd& a = s_.gram[g];
            RowMatrixXd& b = s_.cross[g];
            const int64_t d = x.cols(), tiles = (d + kTile - 1) / kTile;
            const int team = static_cast<int>(std::clamp<int64_t>(n_ * d * d / (int64_t(1) << 21), 1, threads_));
#pragma omp parallel for schedule(dynamic, 1) num_threads(team) if (team > 1 && tiles > 1)
            for (int64_t ti = 0; ti < tiles; ++ti) {
                const int64_t j0 = ti * kTile, nj = std::min(kTile, d - j0);
                a.block(j0, j0, d - j0, nj).noalias() += x.middleCols(j0, d - j0).transpose() * x.middleCols(j0, nj);
                b.middleCols(j0, nj).noalias() += t.transpose() * x.middleCols(j0, nj);
            }
            for (int64_t j = 1; j < d; ++j)
                for (int64_t i = 0; i < j; ++i) a(i, j) = a(j, i);
            s_.target_sq[g] += t.squaredNorm();
            s_.input_sum[g] += x.colwise().sum().transpose();
            s_.target_sum[g] += t.colwise().sum().transpose();
        }
        omp_set_num_threads(prev);
        s_.rows += n_;
        n_ = 0;
    }

private:
    LayerStats& s_;
    int threads_;
    std::vector<RowMatrixXd> x_, t_;
    int64_t n_ = 0;
};

}  // namespace

CalibLayer calib_layer(const Op& op, const std::string& layer) {
    const std::optional<WeightLayer> w = op.as_weight_layer();
    if (!w || w->quantized()) fail("layer ", layer, " (", op.type(), ") is not a float conv or FC layer");
    CalibLayer L;
    L.kind = w->kind;
    L.in_channels = w->in_channels;
    L.out_channels = w->out_channels;
    L.groups = w->groups;
    if (w->conv) L.conv = *w->conv;  // its kernel is the weight's
    L.bias.assign(w->bias.begin(), w->bias.end());
    return L;
}

LayerStats LayerStats::empty(CalibLayer layer) {
    LayerStats s;
    s.layer = std::move(layer);
    const int64_t d = s.layer.group_dim(), cg = s.layer.out_channels / s.layer.groups;
    s.gram.assign(s.layer.groups, Eigen::MatrixXd::Zero(d, d));
    s.cross.assign(s.layer.groups, RowMatrixXd::Zero(cg, d));
    s.target_sq.assign(s.layer.groups, 0.0);
    s.input_sum.assign(s.layer.groups, Eigen::VectorXd::Zero(d));
    s.target_sum.assign(s.layer.groups, Eigen::VectorXd::Zero(cg));
    return s;
}

double LayerStats::objective(const Tensor& w_hat) const { return objective(w_hat, layer.bias); }

double LayerStats::objective(const Tensor& w_hat, const std::vector<float>& bias) const {
    const int64_t d = layer.group_dim(), cg = layer.out_channels / layer.groups;
    QCNN_ASSERT(w_hat.size() == layer.out_channels * d, "weight ", to_string(w_hat.shape), " does not fit the layer");
    QCNN_ASSERT(bias.empty() || int64_t(bias.size()) == layer.out_channels, "bias of ", bias.size(), " values");
    double obj = 0;
    for (int64_t g = 0; g < layer.groups; ++g) {
        const RowMatrixXd w = ConstMatMapF(w_hat.ptr() + g * cg * d, cg, d).cast<double>();
        obj += target_sq[g] - 2.0 * (w.cwiseProduct(cross[g])).sum() + (w * gram[g]).cwiseProduct(w).sum();
        // A bias changed by delta: sum_r (T' - delta - W x_r)^2 = E(W) - 2 delta.(s_T - W s_X) + rows |delta|^2.
        const Eigen::VectorXd a = target_sum[g] - w * input_sum[g];
        for (int64_t c = 0; c < cg; ++c) {
            const int64_t co = g * cg + c;
            const double delta = (bias.empty() ? 0.0 : double(bias[co])) -
                                 (layer.bias.empty() ? 0.0 : double(layer.bias[co]));
            obj += -2.0 * delta * a(c) + double(rows) * delta * delta;
        }
    }
    return std::max(obj, 0.0);
}

double LayerStats::relative_error(double objective) const {
    return response_sq > 0 ? std::sqrt(std::max(objective, 0.0) / response_sq) : 0.0;
}

std::vector<int64_t> sample_positions(int64_t total, int64_t count, uint64_t seed) {
    std::vector<int64_t> idx(total);
    std::iota(idx.begin(), idx.end(), int64_t(0));
    if (count <= 0 || count >= total) return idx;
    Rng rng(seed);
    for (int64_t i = 0; i < count; ++i) std::swap(idx[i], idx[i + rng.below(total - i)]);
    idx.resize(count);
    std::sort(idx.begin(), idx.end());
    return idx;
}

std::vector<int64_t> calibration_indices(int64_t dataset_size, int64_t count, uint64_t seed) {
    QCNN_ASSERT(dataset_size >= 0, "negative dataset size");
    count = std::clamp<int64_t>(count, 0, dataset_size);
    std::vector<int64_t> idx(dataset_size);
    std::iota(idx.begin(), idx.end(), int64_t(0));
    Rng rng(seed);
    for (int64_t i = 0; i < count; ++i) std::swap(idx[i], idx[i + rng.below(dataset_size - i)]);
    idx.resize(count);
    return idx;
}

void accumulate_stats(LayerStats& s, const Tensor& input, const Tensor& target, int64_t first_image,
                      int64_t positions_per_image, uint64_t seed, int threads) {
    const CalibLayer& L = s.layer;
    const int64_t G = L.groups, cs = L.in_channels, ct = L.out_channels;
    const int64_t csg = cs / G, ctg = ct / G, P = L.kernel_size();
    RowSink sink(s, threads);
    auto bias = [&](int64_t c) { return L.bias.empty() ? 0.0 : double(L.bias[c]); };
    if (L.kind == LayerKind::Fc) {
        if (input.rank() < 2 || input.shape.back() != cs)
            fail("FC calibration input ", to_string(input.shape), " does not end in the layer's ", cs, " features");
        if (target.rank() != input.rank() || target.shape.back() != ct ||
            target.size() / ct != input.size() / cs)
            fail("FC calibration target ", to_string(target.shape), " does not match the input ",
                 to_string(input.shape), " and ", ct, " outputs");
        const int64_t rows = input.size() / cs;
        for (int64_t r = 0; r < rows; ++r) {
            const float* x = input.ptr() + r * cs;
            const float* t = target.ptr() + r * ct;
            double* xr = sink.x_row(0);
            double* tr = sink.t_row(0);
            for (int64_t i = 0; i < cs; ++i) xr[i] = x[i];
            for (int64_t c = 0; c < ct; ++c) {
                tr[c] = double(t[c]) - bias(c);
                s.response_sq += double(t[c]) * double(t[c]);
            }
            sink.add_row();
        }
        sink.flush();
        s.images += input.shape[0];
        return;
    }

    if (input.rank() != 4 || input.shape[1] != cs)
        fail("conv calibration input ", to_string(input.shape), " is not {N, ", cs, ", H, W}");
    const int64_t n = input.shape[0], H = input.shape[2], W = input.shape[3];
    ConvParams p;
    const auto [Ht, Wt] = L.conv.output_hw(H, W, &p);
    if (target.shape != Shape{n, ct, Ht, Wt})
        fail("conv calibration target ", to_string(target.shape), " is not the layer's output {", n, ", ", ct, ", ",
             Ht, ", ", Wt, "} for input ", to_string(input.shape));
    const int64_t kh = L.conv.kernel_h, kw = L.conv.kernel_w;
    for (int64_t img = 0; img < n; ++img) {
        const std::vector<int64_t> pos =
            sample_positions(Ht * Wt, positions_per_image, derive_seed(seed, static_cast<uint64_t>(first_image + img)));
        const float* xi = input.ptr() + img * cs * H * W;
        const float* ti = target.ptr() + img * ct * Ht * Wt;
        for (int64_t pt : pos) {
            const int64_t oy = pt / Wt, ox = pt % Wt;
            for (int64_t g = 0; g < G; ++g) {
                double* xr = sink.x_row(g);
                for (int64_t ci = 0; ci < csg; ++ci) {
                    const float* plane = xi + (g * csg + ci) * H * W;
                    for (int64_t ki = 0; ki < kh; ++ki) {
                        const int64_t y = oy * p.stride_h - p.pad_top + ki * p.dilation_h;
                        for (int64_t kj = 0; kj < kw; ++kj) {
                            const int64_t x = ox * p.stride_w - p.pad_left + kj * p.dilation_w;
                            const bool inside = y >= 0 && y < H && x >= 0 && x < W;
                            xr[ci * P + ki * kw + kj] = inside ? double(plane[y * W + x]) : 0.0;
                        }
                    }
                }
                double* tr = sink.t_row(g);
                for (int64_t c = 0; c < ctg; ++c) {
                    const double t = ti[(g * ctg + c) * Ht * Wt + pt];
                    tr[c] = t - bias(g * ctg + c);
                    s.response_sq += t * t;
                }
            }
            sink.add_row();
        }
    }
    sink.flush();
    s.images += n;
}

LayerStats capture_layer_stats(const Network& input_net, const Network& target_net, int node, const Tensor& images,
                               const CalibrationOptions& options, const std::string& label,
                               const ProgressFn& progress) {
    if (node < 0 || node >= static_cast<int>(target_net.nodes.size()) ||
        input_net.nodes.size() != target_net.nodes.size())
        fail(target_net.source, ": calibration of layer ", label, ": node ", node,
             " is out of range or the two networks differ in size");
    check_images(images, cat(target_net.source, ": calibration of layer ", label));
    const Node& tn = target_net.nodes[node];
    const Node& in = input_net.nodes[node];
    if (in.inputs.empty() || tn.inputs.empty() || in.inputs[0] != tn.inputs[0] || tn.outputs.empty())
        fail(target_net.source, ": calibration of layer ", label, ": the input network's node '", in.name,
             "' does not read the same value as the target network's node '", tn.name, "'");
    LayerStats stats = LayerStats::empty(calib_layer(*tn.op, label));
    const int in_id = tn.inputs[0], out_id = tn.outputs[0];

    const bool one_pass = &input_net == &target_net;
    const Network tnet =
        prefix(target_net, node + 1, one_pass ? std::vector<int>{in_id, out_id} : std::vector<int>{out_id});
    const Network inet = one_pass ? Network{} : prefix(input_net, node, {in_id});
    std::vector<const Network*> nets{&tnet};
    if (!one_pass) nets.push_back(&inet);
    SliceRunner runner(nets, std::vector<std::vector<int>>(nets.size()), options.batch, options.threads);

    const int64_t total = options.images > 0 ? std::min(options.images, images.shape[0]) : images.shape[0];
    report(progress, Progress{"calibration", label, 0, total});
    runner.run(
        images, total,
        [&](int64_t first, const Tensor& x, const std::vector<std::unique_ptr<Plan>>& plans) {
            const Tensor& target = plans[0]->value(out_id);
            const Tensor& input = one_pass ? value_of(*plans[0], tnet, in_id, x) : value_of(*plans[1], inet, in_id, x);
            try {
                accumulate_stats(stats, input, target, first, options.positions_per_image, options.seed,
                                 options.threads);
            } catch (const Error& e) {
                fail(target_net.source, ": calibration of layer ", label, ": ", e.what());
            }
        },
        [&](int64_t done) { report(progress, Progress{"calibration", label, done, total}); });
    return stats;
}

std::vector<LayerResponseError> response_errors(const Network& reference, const Network& quantized,
                                                const Tensor& images, int64_t batch, int threads,
                                                const ProgressFn& progress) {
    const std::vector<int> layers = reference.weight_layers();
    bool same = reference.nodes.size() == quantized.nodes.size() && reference.values.size() == quantized.values.size() &&
                reference.inputs == quantized.inputs && quantized.weight_layers() == layers;
    for (size_t i = 0; same && i < reference.nodes.size(); ++i)
        same = reference.nodes[i].inputs == quantized.nodes[i].inputs &&
               reference.nodes[i].outputs == quantized.nodes[i].outputs;
    if (!same)
        fail(quantized.source, ": response errors: the quantized network is not a copy of the reference network ",
             reference.source, " with weight layers replaced");
    check_images(images, cat(reference.source, ": response errors"));

    std::vector<int> ref_keep, q_keep;
    for (int ni : layers) {
        ref_keep.push_back(reference.nodes[ni].inputs[0]);
        ref_keep.push_back(reference.nodes[ni].outputs[0]);
        q_keep.push_back(quantized.nodes[ni].outputs[0]);
    }
    SliceRunner runner({&reference, &quantized}, {ref_keep, q_keep}, batch, resolve_threads(threads));
    const size_t L = layers.size();
    std::vector<double> t_sq(L, 0.0), net_sq(L, 0.0), own_sq(L, 0.0);
    std::vector<LayerResponseError> out(L);
    for (size_t l = 0; l < L; ++l) {
        const Node& n = quantized.nodes[layers[l]];
        out[l].node = layers[l];
        out[l].name = n.name;
        out[l].alias = n.alias;
        n.op->weight_layer(&out[l].kind);
        out[l].quantized = n.op.get() != reference.nodes[layers[l]].op.get() && n.op->as_weight_layer()->quantized();
    }

    const int64_t total = images.shape[0];
    const ExecContext one{1, LutKernel::Reference};
    Tensor y;
    report(progress, Progress{"response-error", "", 0, total});
    runner.run(
        images, total,
        [&](int64_t, const Tensor& x, const std::vector<std::unique_ptr<Plan>>& plans) {
            const Plan& rp = *plans[0];
            const Plan& qp = *plans[1];
            for (size_t l = 0; l < L; ++l) {
                const Node& rn = reference.nodes[layers[l]];
                const int in_id = rn.inputs[0], out_id = rn.outputs[0];
                const Tensor& t = rp.value(out_id);
                const Tensor& tq = qp.value(out_id);
                for (int64_t i = 0; i < t.size(); ++i) {
                    const double tv = t.data[i], e = double(tq.data[i]) - tv;
                    t_sq[l] += tv * tv;
                    net_sq[l] += e * e;
                }
                if (!out[l].quantized) continue;
                // The quantized layer alone, on the float network's input.
                const Tensor& s = value_of(rp, reference, in_id, x);
                const ValueInfo& s_info = rp.info(in_id);
                const Op& qop = *quantized.nodes[layers[l]].op;
                const std::vector<ValueInfo> yi = qop.infer({&s_info});
                y.resize(yi.at(0).shape);
                const std::vector<const Tensor*> ins{&s};
                const std::vector<const ValueInfo*> infos{&s_info};
                const std::vector<Tensor*> outs{&y};
                qop.run(RunArgs{ins, infos, outs, one});
                for (int64_t i = 0; i < t.size(); ++i) {
                    const double e = double(y.data[i]) - double(t.data[i]);
                    own_sq[l] += e * e;
                }
            }
        },
        [&](int64_t done) { report(progress, Progress{"response-error", "", done, total}); });
    for (size_t l = 0; l < L; ++l) {
        out[l].network_error = t_sq[l] > 0 ? std::sqrt(net_sq[l] / t_sq[l]) : 0.0;
        out[l].layer_error = t_sq[l] > 0 ? std::sqrt(own_sq[l] / t_sq[l]) : 0.0;
    }
    return out;
}

}  // namespace qcnn
