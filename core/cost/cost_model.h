// The Q-CNN cost model (paper Table 1; docs qcnn-method.md section 4): per weight layer and
// per network, dense and Q-CNN FLOPs, weight storage, theoretical speed-up and compression,
// and the run-time memory (weights, biases, peak activations, LUT buffers).
//
// Settings are core/quant's QuantSetting (dense, or C_s'/K), one per weight layer in network
// order (ResolvedSettings::layers[i].setting).
//
// Counting conventions (one multiply-add or one lookup-add = 1 FLOP; sizes per sample):
//   g = group, M = C_s / C_s' subspaces over all input channels, M_g = (C_s/g) / C_s' per group,
//   b = ceil(log2 K) bits per stored index (the packed code width; equals log2 K for the powers
//   of two the paper uses), H_s x W_s = UNPADDED input size, H_t x W_t = output size.
//   dense FLOPs       H_t*W_t * C_t * k_h*k_w * C_s/g
//   Q-CNN FLOPs       H_s*W_s * C_s * K                (LUT build, "table" term)
//                   + H_t*W_t * C_t * k_h*k_w * M_g    (lookup-adds, "lookup" term)
//   dense bits        32 * k_h*k_w * C_s/g * C_t       (the weights that exist)
//   Q-CNN bits        32 * codebook floats + b * k_h*k_w * M_g * C_t
//                     codebook floats = C_s * K (one codebook per subspace, GroupCodebooks::
//                     PerGroup, the method's formula) or C_s/g * K (GroupCodebooks::Shared: the
//                     reference code applies one set of M_g codebooks to every group).
//   LUT buffer        4 * H_s*W_s * M * K bytes (conv), 4 * M * K (FC)
// A fully-connected layer is the same formulas with k_h = k_w = 1 and H x W = rows x 1
// (rows = 1 for the usual {N, C_s} input; an FC over {N, T, C_s} has rows = T), which is
// exactly the FC row of the method's table (C_s*C_t; C_s*K + C_t*M; 4*C_s*C_t; 4*C_s*K +
// C_t*M*log2(K)/8).
// Biases stay float32 and are reported apart (bias_bytes = 4*C_t): compression() is over
// weights only, as in the paper; compression_with_biases() adds the biases to both sides.
// All counts are exact int64 integers (storage in bits); only the ratios are doubles.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/graph/network.h"
#include "core/quant/settings.h"

namespace qcnn {

// One weight layer as the cost model sees it.
struct LayerGeometry {
    std::string name;   // node name
    std::string alias;  // "conv1", "fc2", ... (Network::assign_aliases order)
    LayerKind kind = LayerKind::Conv;
    int64_t c_s = 0, c_t = 0;  // input / output channels (FC: in / out features)
    int64_t h_s = 1, w_s = 1;  // unpadded input spatial size (FC: rows x 1)
    int64_t h_t = 1, w_t = 1;  // output spatial size (FC: rows x 1)
    int64_t k_h = 1, k_w = 1;  // kernel size (FC: 1 x 1)
    int64_t group = 1;
    bool bias = true;          // has a bias vector of C_t floats
    // Conv only: the dense kernel builds an im2col buffer (false for 1x1, stride-1, unpadded
    // convs, which it runs as one GEMM on the input).
    bool im2col = true;
};

// A node that runs at run time, with the activation bytes live while it runs (its inputs,
// its outputs and every value still needed later; the graph input and outputs included).
struct ActivationStep {
    int node = -1;            // index into Network::nodes; -1 when built without a Network
    int layer = -1;           // index into NetworkGeometry::layers, -1 for other nodes
    int64_t live_bytes = 0;   // at batch 1
};

struct NetworkGeometry {
    std::vector<LayerGeometry> layers;   // weight layers in network order
    std::vector<ActivationStep> steps;   // run-time nodes in execution order
    // Bytes per sample of the activation buffers the engine's plan allocates for a whole run
    // (Plan::activation_bytes() of the Engine's plan, activations and 2x2 max pools fused:
    // liveness-reused slots, each as large as the largest value it holds); 0 when built without
    // a Network (then the peak live bytes stand in). The steps' live bytes are those of the
    // unfused graph (every node's output), an upper bound of what the fused plan keeps.
    int64_t buffer_bytes = 0;
};

// Plans `net` for one sample ({1, sample_shape...}) and reads every weight layer's geometry
// (ConvOp / FcOp attributes, or QConvOp / QFcOp ones for already-quantized layers, and the
// planned shapes) and the activation liveness of the plan. Throws qcnn::Error when planning
// fails or a weight layer is none of those four ops.
NetworkGeometry network_geometry(const Network& net, const Shape& sample_shape);
std::vector<LayerGeometry> layer_geometry(const Network& net, const Shape& sample_shape);

// How each weight layer of `net` is stored now: dense for ConvOp / FcOp, C_s'/K for QConvOp /
// QFcOp. network_cost(network_geometry(net, s), stored_settings(net)) costs a quantized network.
std::vector<QuantSetting> stored_settings(const Network& net);

// What the dense convs' backends hold to run `net` in the Engine on `input` (batch first), one
// thread's: ConvOp::dense_memory of every ConvOp in the Engine's fused plan (activations and
// 2x2 max pools fused, so the same backend choice as the run). Held bytes (oneDNN weight copies,
// zero biases) are summed over layers; each backend keeps one work buffer per thread shared by
// its layers, so work is the largest layer's per backend, summed over the backends in use.
// The cost model's MemoryReport::scratch_bytes prices the im2col path from geometry alone (no
// network needed); this asks the backends the Engine will actually run. qcnn eval's memory
// check uses it. threads: the Engine's thread count (oneDNN sizes its scratchpad by its team).
struct DenseBackendMemory {
    int64_t held_bytes = 0;
    int64_t work_bytes = 0;
    int layers = 0;  // dense convs counted
};
DenseBackendMemory dense_backend_memory(const Network& net, const Shape& input, int threads = 1);

// A chain of weight layers and nothing else: step l has layer l's input and output live.
NetworkGeometry chain_geometry(std::vector<LayerGeometry> layers);

enum class GroupCodebooks {
    PerGroup,  // M = C_s/C_s' codebooks, 4*C_s*K bytes: the method's formula and what core/quant
               // stores (PQWeights::codebooks is M x K x dsub)
    Shared,    // M_g codebooks shared by all groups, 4*(C_s/g)*K bytes: the reference code's
               // layout, which section 5's 18.54x AlexNet compression assumes
};

struct CostOptions {
    GroupCodebooks group_codebooks = GroupCodebooks::PerGroup;
    int64_t batch = 1;  // the memory report's activations and LUT buffers scale with it
};

struct LayerCost {
    LayerGeometry geometry;
    QuantSetting setting;  // core/quant/settings.h: dense, or C_s'/K
    int64_t m = 0;          // subspaces over all input channels (0 when dense)
    int64_t m_group = 0;    // subspaces per group (0 when dense)
    int64_t code_bits = 0;  // bits per stored index, ceil(log2 K) (0 when dense)

    int64_t flops_dense = 0;
    int64_t flops_qcnn = 0;       // = flops_table + flops_lookup; = flops_dense when dense
    int64_t flops_table = 0;      // LUT build
    int64_t flops_lookup = 0;     // lookup-adds
    int64_t weight_bits_dense = 0;
    int64_t weight_bits_qcnn = 0; // = codebook_bits + index_bits; = weight_bits_dense when dense
    int64_t codebook_bits = 0;
    int64_t index_bits = 0;
    int64_t bias_bytes = 0;       // 4 * C_t, or 0 without a bias; the same on both sides
    int64_t lut_bytes = 0;        // LUT buffer at batch 1 (0 when dense)
    // Dense conv kernel's working buffer at batch 1 (0 when quantized, for FC and for im2col-free
    // convs): the im2col matrix, 4 * C_s/g * k_h*k_w * H_t*W_t bytes (core/ops/conv.cpp).
    int64_t scratch_bytes = 0;

    double speedup() const { return double(flops_dense) / double(flops_qcnn); }
    double compression() const { return double(weight_bits_dense) / double(weight_bits_qcnn); }
};

// Throws qcnn::Error naming the layer for an impossible setting (C_s' not dividing C_s/g,
// with the valid C_s' values listed; K outside 2..256: the quantizer's own fit rules,
// pq_fit_problem) or an inconsistent geometry.
LayerCost layer_cost(const LayerGeometry& layer, const QuantSetting& setting,
                     GroupCodebooks group_codebooks = GroupCodebooks::PerGroup);

// Run-time memory for one way of storing the network, in bytes.
struct MemoryReport {
    int64_t weight_bytes = 0;      // dense floats, or per quantized layer ceil(bits / 8)
    int64_t bias_bytes = 0;
    int64_t activation_bytes = 0;  // peak live activations over the steps, x batch
    int64_t lut_bytes = 0;         // largest single LUT buffer (layers run one at a time), x batch
    // weight + bias bytes + max over steps of (live activations + that step's LUT buffer),
    // x batch for the last two. Scratch buffers of the dense kernels (im2col) are not counted.
    int64_t peak_bytes = 0;
    // The dense conv kernel's largest working buffer (one thread's): the im2col matrix of the
    // images it multiplies at once (up to 512 / (H_t*W_t) images of the batch, at least one;
    // core/ops/conv.cpp), plus the product it copies out when that is more than one image.
    int64_t scratch_bytes = 0;
    // What the engine holds while running the network: weight + bias bytes + its activation
    // buffers (NetworkGeometry::buffer_bytes, all allocated for the whole run; the peak live
    // activations without a plan) + the largest step's LUT buffer plus dense scratch, x batch
    // for all but the weights. `qcnn eval` reports this beside the measured peak RSS.
    int64_t runtime_bytes = 0;
};

struct NetworkCost {
    std::vector<LayerCost> layers;
    int64_t flops_dense = 0, flops_qcnn = 0;
    int64_t weight_bits_dense = 0, weight_bits_qcnn = 0;
    int64_t bias_bytes = 0;
    int64_t lut_bytes_sum = 0;     // sum of the layers' LUT buffers at batch 1
    MemoryReport dense;            // every layer dense
    MemoryReport quantized;        // with the settings

    double speedup() const { return double(flops_dense) / double(flops_qcnn); }
    // Over weights only (the paper's figure).
    double compression() const { return double(weight_bits_dense) / double(weight_bits_qcnn); }
    // Float32 biases added to both sides.
    double compression_with_biases() const {
        return double(weight_bits_dense + 8 * bias_bytes) / double(weight_bits_qcnn + 8 * bias_bytes);
    }
};

// settings[i] applies to geometry.layers[i]; throws qcnn::Error when the counts differ, a
// setting is impossible for its layer, or options.batch < 1.
NetworkCost network_cost(const NetworkGeometry& geometry, const std::vector<QuantSetting>& settings,
                         const CostOptions& options = {});
// The layers taken as a chain (chain_geometry) for the activation part of the memory report.
NetworkCost network_cost(const std::vector<LayerGeometry>& layers, const std::vector<QuantSetting>& settings,
                         const CostOptions& options = {});

}  // namespace qcnn
