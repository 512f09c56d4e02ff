// Built-in reference architectures with random weights, for cost and speed work without
// model files. The layer sizes follow the Caffe models the Q-CNN paper and its reference
// code use (the reference code's CaffePara.cc configurations):
//   alexnet  3x227x227: conv1 96 11x11 s4; pool 3x3 s2; conv2 256 5x5 p2 g2; pool 3x3 s2;
//            conv3 384 3x3 p1; conv4 384 3x3 p1 g2; conv5 256 3x3 p1 g2; pool 3x3 s2;
//            fc6 9216->4096; fc7 4096->4096; fc8 4096->1000.
//   vgg16    3x224x224: 13 conv 3x3 p1 (64,64 | 128,128 | 256x3 | 512x3 | 512x3, a 2x2 s2
//            pool after each block); fc6 25088->4096; fc7 4096->4096; fc8 4096->1000.
//   cnn-s    3x224x224 (Chatfield et al. 2014, VGG_CNN_S): conv1 96 7x7 s2; pool 3x3 s3;
//            conv2 256 5x5 p1; pool 2x2 s2; conv3-5 512 3x3 p1; pool 3x3 s3;
//            fc6 18432->4096; fc7 4096->4096; fc8 4096->1000. Map sizes 224 -> 109 -> 37 ->
//            35 -> 18 -> 18 -> 6 (conv2 d_s=37, d_t=35; conv3-5 d_s=d_t=18).
// Every conv and fc6/fc7 is followed by a ReLU, pools are max pools with Caffe's ceil rounding
// (ceil_mode; CNN-S needs it, AlexNet and VGG-16 sizes are the same either way), a Flatten
// precedes fc6, and the output is fc8's logits (no softmax). LRN and dropout are omitted:
// they have no weights and do not change any shape or any cost-model number.
// Node and value names are the paper's layer names (conv1..conv5, fc6..fc8, relu1, pool1,
// ...); aliases follow Network::assign_aliases (conv1.., fc1.. for fc6..).
// Weights are He-normal (std sqrt(2 / fan_in), fan_in = C_s/g * k_h * k_w or in_features),
// biases zero; see fill_he_normal for the generator.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/cost/cost_model.h"
#include "core/graph/network.h"

namespace qcnn {

// {"alexnet", "vgg16", "cnn-s"}.
std::vector<std::string> builtin_names();

// Per-sample input shape, e.g. {3, 227, 227}. Throws qcnn::Error for an unknown name.
Shape builtin_sample_shape(const std::string& name);

// Weights plus biases of the architecture (floats), known without building it.
int64_t builtin_weight_elems(const std::string& name);

// The cost model's geometry of the architecture computed from its description without
// allocating weights; equal to network_geometry(*builtin_network(name, s), builtin_sample_shape(name)).
NetworkGeometry builtin_geometry(const std::string& name);

// Builds the network with random weights drawn from `seed` (layer i, counted over weight
// layers from 0, uses fill_he_normal with a seed derived from (seed, i)). Throws qcnn::Error
// for an unknown name or when the architecture has more than max_weight_elems weights and
// biases (checked before allocating anything).
std::shared_ptr<Network> builtin_network(const std::string& name, uint64_t seed,
                                         int64_t max_weight_elems = std::numeric_limits<int64_t>::max());

// Fills data[0, n) with N(0, 2 / fan_in) samples. The range is cut into blocks of 32768
// values, each drawn from its own std::mt19937_64 seeded from (seed, block), so the result
// is the same for any thread count and blocks are generated in parallel (~10 ns per value
// per core). Each 64-bit draw gives two values by a float Box-Muller transform on two
// 24-bit uniforms (the tails are cut at 5.9 standard deviations).
void fill_he_normal(float* data, int64_t n, int64_t fan_in, uint64_t seed);

}  // namespace qcnn
