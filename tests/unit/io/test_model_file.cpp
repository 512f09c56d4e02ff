// Quantized model files: save/load round trip, size, and refusal of corrupt files.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <hdf5_hl.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/data/dataset.h"
#include "core/graph/plan.h"
#include "core/io/model_file.h"
#include "core/io/onnx_import.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/quantize_network.h"
#include "core/quant/quantized_ops.h"
#include "core/quant/settings.h"
#include "core/quant/calibration.h"
#include "core/train/trainable_network.h"
#include "core/util/error.h"
#include "tests/unit/io/onnx_builder.h"

namespace qcnn {
namespace {

namespace fs = std::filesystem;

const std::string kLenet = std::string(QCNN_DATASETS_DIR) + "/lenet5.onnx";

fs::path temp_file(const std::string& name) {
    fs::path dir = fs::temp_directory_path() / "qcnn_model_file_test";
    fs::create_directories(dir);
    return dir / name;
}

Network quantized_lenet(const std::string& settings) {
    Network net = import_onnx(kLenet);
    QuantizeOptions opt;
    opt.seed = 7;
    opt.threads = 1;
    return quantize_network(net, resolve_settings(net, parse_layer_settings(settings)), opt).network;
}

Tensor logits(const Network& net, const Tensor& x) {
    Engine e(std::make_shared<Network>(net), 1);
    return e.forward(x);
}

std::string file_bytes(const fs::path& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

Tensor sample_input() {
    Tensor x({3, 1, 28, 28});
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0, 1);
    for (auto& v : x.data) v = u(rng);
    return x;
}

TEST(ModelFile, RoundTripGivesBitIdenticalOutputs) {
    Network q = quantized_lenet("conv=4/16,fc=4/16");
    const fs::path path = temp_file("lenet_q.h5");
    ModelProvenance prov;
    prov.settings = "conv=4/16,fc=4/16";
    prov.seed = "7";
    save_quantized_model(path.string(), q, prov);
    ASSERT_TRUE(is_hdf5_file(path.string()));
    ModelProvenance back;
    Network loaded = load_model_file(path.string(), &back);
    EXPECT_EQ(back.settings, "conv=4/16,fc=4/16");
    EXPECT_EQ(back.seed, "7");
    ASSERT_EQ(loaded.nodes.size(), q.nodes.size());
    int quantized = 0;
    for (const auto& n : loaded.nodes) quantized += n.op->type() == "QConv" || n.op->type() == "QFc";
    EXPECT_EQ(quantized, 3);  // conv1 has one input channel: 4/16 does not fit, it stays dense
    const Tensor x = sample_input();
    const Tensor a = logits(q, x), b = logits(loaded, x);
    ASSERT_EQ(a.shape, b.shape);
    for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.data[i], b.data[i]) << i;
    // Saving a loaded quantized model again works (its graph comes from the file itself).
    const fs::path again = temp_file("lenet_q2.h5");
    save_quantized_model(again.string(), loaded, prov);
    const Tensor c = logits(load_model_file(again.string()), x);
    for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.data[i], c.data[i]) << i;
}

TEST(ModelFile, LayersWithoutBiasRoundTrip) {
    // Regression: DenseNet's convs have no bias; their saved records hold 0 bias bytes, which
    // the loader refused ("bias has 0 bytes at offset ..., expected 128").
    testing::OnnxBuilder b;
    b.input("x", {-1, 4, 6, 6});
    b.init("w1", testing::random_tensor({8, 4, 3, 3}, 41));
    b.init("w2", testing::random_tensor({4, 8, 1, 1}, 42));
    b.init("b2", testing::random_tensor({4}, 43));
    testing::OnnxBuilder::attr_ints(b.node("Conv", {"x", "w1"}, {"c1"}, "conv_no_bias"), "pads", {1, 1, 1, 1});
    b.node("Relu", {"c1"}, {"r"}, "relu");
    b.node("Conv", {"r", "w2", "b2"}, {"y"}, "conv_bias");
    b.output("y");
    const fs::path onnx = temp_file("no_bias.onnx");
    {
        std::ofstream f(onnx, std::ios::binary);
        f << b.bytes();
    }
    Network net = import_onnx(onnx.string());
    QuantizeOptions opt;
    opt.seed = 3;
    const Network q = quantize_network(net, resolve_settings(net, parse_layer_settings("conv=4/16")), opt).network;
    const fs::path path = temp_file("no_bias_q.h5");
    save_quantized_model(path.string(), q, ModelProvenance{});
    const Network loaded = load_model_file(path.string());
    int quantized = 0;
    for (const auto& n : loaded.nodes) quantized += n.op->type() == "QConv";
    EXPECT_EQ(quantized, 2);
    Tensor x = testing::random_tensor({2, 4, 6, 6}, 44);
    const Tensor a = logits(q, x), c = logits(loaded, x);
    ASSERT_EQ(a.shape, c.shape);
    for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.data[i], c.data[i]) << i;
}

TEST(ModelFile, QuantizedFileIsMuchSmallerThanTheFloatModel) {
    Network q = quantized_lenet("conv=4/16,fc=4/16");
    const fs::path path = temp_file("lenet_small.h5");
    save_quantized_model(path.string(), q, {});
    EXPECT_LT(fs::file_size(path) * 4, fs::file_size(kLenet));
}

TEST(ModelFile, RefusesCorruptPayloadAndGraph) {
    Network q = quantized_lenet("fc=4/16");
    const fs::path path = temp_file("lenet_corrupt.h5");
    save_quantized_model(path.string(), q, {});
    const std::string bytes = file_bytes(path);
    // Locate the stored codebooks of the first quantized layer and the stored ONNX graph.
    const QFcOp* fc = nullptr;
    for (const auto& n : q.nodes)
        if (!fc) fc = dynamic_cast<const QFcOp*>(n.op.get());
    ASSERT_NE(fc, nullptr);
    const std::string codebook(reinterpret_cast<const char*>(fc->pq().codebooks.data()), 64);
    const size_t in_payload = bytes.find(codebook);
    const size_t in_graph = bytes.find("pytorch");
    ASSERT_NE(in_payload, std::string::npos);
    ASSERT_NE(in_graph, std::string::npos);
    for (size_t pos : {in_payload + 13, in_graph + 2}) {
        std::string bad = bytes;
        bad[pos] ^= 0x5a;
        const fs::path p = temp_file("flip.h5");
        std::ofstream(p, std::ios::binary).write(bad.data(), static_cast<std::streamsize>(bad.size()));
        try {
            load_model_file(p.string());
            FAIL() << "a flipped byte at " << pos << " was not detected";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
        }
    }
}

TEST(ModelFile, RefusesTruncatedAndMissingFiles) {
    Network q = quantized_lenet("fc=4/16");
    const fs::path path = temp_file("lenet_trunc.h5");
    save_quantized_model(path.string(), q, {});
    fs::resize_file(path, fs::file_size(path) / 2);
    EXPECT_THROW(load_model_file(path.string()), Error);
    try {
        load_model_file(temp_file("does_not_exist.h5").string());
        FAIL() << "missing file accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("does_not_exist.h5"), std::string::npos);
    }
}

TEST(ModelFile, RefusesSavingAnUnquantizedNetwork) {
    Network net = import_onnx(kLenet);
    EXPECT_THROW(save_quantized_model(temp_file("dense.h5").string(), net, {}), Error);
}


// Loading builds each quantized layer straight from its record: no node of the loaded graph
// holds a dense weight for a quantized layer, the file's graph keeps no weight data for one,
// and each op holds its codes and codebooks once (what the store holds, nothing else).
TEST(ModelFile, LoadingBuildsNoDenseWeightForAQuantizedLayer) {
    const Network q = quantized_lenet("conv=4/16,fc=4/16");
    const fs::path path = temp_file("lenet_no_dense.h5");
    save_quantized_model(path.string(), q, {});
    const Network loaded = load_model_file(path.string());
    int quantized = 0;
    for (const Node& n : q.nodes) {
        const auto* qc = dynamic_cast<const QConvOp*>(n.op.get());
        const auto* qf = dynamic_cast<const QFcOp*>(n.op.get());
        if (!qc && !qf) continue;
        ++quantized;
        const int li = loaded.find_node(n.name);
        ASSERT_GE(li, 0) << n.name;
        const Op* op = loaded.nodes[li].op.get();
        EXPECT_EQ(loaded.nodes[li].alias, n.alias);
        EXPECT_EQ(dynamic_cast<const ConvOp*>(op), nullptr) << n.name;
        EXPECT_EQ(dynamic_cast<const FcOp*>(op), nullptr) << n.name;
        const auto* lc = dynamic_cast<const QConvOp*>(op);
        const auto* lf = dynamic_cast<const QFcOp*>(op);
        ASSERT_TRUE(qc ? lc != nullptr : lf != nullptr) << n.name << " loaded as " << op->type();
        const PQWeights a = qc ? qc->pq() : qf->pq(), b = lc ? lc->pq() : lf->pq();
        EXPECT_EQ(a.codebooks, b.codebooks) << n.name;
        EXPECT_EQ(a.codes, b.codes) << n.name;
        // One copy: the store's codes, its codebook rows (M x dsub x Kp) and the bias.
        if (lc) {
            const FastConv& s = lc->store();
            EXPECT_EQ(lc->weight_bytes_held(), s.codes().bytes() + 4 * (b.geo.subspaces() * b.geo.dsub * s.kp() +
                                                                        b.geo.out_channels));
        } else {
            const FastFc& s = lf->store();
            EXPECT_EQ(lf->weight_bytes_held(), s.codes().bytes() + 4 * (b.geo.subspaces() * b.geo.dsub * s.kp() +
                                                                        b.geo.out_channels));
        }
        // No initializer of the loaded graph has the quantized layer's weight shape.
        for (const ValueDecl& v : loaded.values)
            EXPECT_FALSE(v.init_f && v.init_f->shape == a.geo.weight_shape()) << v.name << " for " << n.name;
    }
    EXPECT_GE(quantized, 3);
    // The dense layers that remain are exactly those the settings kept dense.
    int dense = 0, dense_loaded = 0;
    for (const Node& n : q.nodes) dense += dynamic_cast<const ConvOp*>(n.op.get()) || dynamic_cast<const FcOp*>(n.op.get());
    for (const Node& n : loaded.nodes)
        dense_loaded += dynamic_cast<const ConvOp*>(n.op.get()) || dynamic_cast<const FcOp*>(n.op.get());
    EXPECT_EQ(dense_loaded, dense);
}

// Format version 4: fine-tuning trained the dense layers' weights and the biases; the file holds
// them once, as parameter overrides (their initializers in /onnx emptied), and the loaded network
// gives the fine-tuned logits bit for bit.
TEST(ModelFile, FineTunedDenseLayersRoundTripAsOverrides) {
    if (!fs::exists(std::string(QCNN_FASHION_MNIST_DIR) + "/train-images-idx3-ubyte.gz"))
        GTEST_SKIP() << "Fashion-MNIST not installed";
    const Network q = quantized_lenet("conv=4/16");  // conv2 quantized; conv1 and the FC layers dense
    // Five SGD steps on 64 training images, trained as fine-tuning's "float,bias" does: the
    // weights of the layers left dense and every bias (core/train/finetune.h).
    DataOptions dopt;
    dopt.limit = 64;
    const auto train = open_dataset("fashion-mnist:train", dopt);
    Tensor images;
    std::vector<int> labels;
    train->gather(calibration_indices(64, 64, 1), images, labels);
    TrainableNetwork tn(q, 1);
    int dense_weights = 0;
    for (Parameter& p : tn.parameters()) {
        const std::optional<WeightLayer> v = q.nodes[p.node].op->as_weight_layer();
        p.trainable = p.role == ParamRole::Bias || (p.role == ParamRole::Weight && v && !v->quantized());
        dense_weights += p.trainable && p.role == ParamRole::Weight;
    }
    EXPECT_EQ(dense_weights, 3);  // conv1, fc1, fc2
    Sgd sgd(SgdOptions{0.05, 0.9, 0.0});
    for (int step = 0; step < 5; ++step) {
        tn.zero_grad();
        tn.loss_and_backward(images, labels);
        sgd.step(tn);
    }
    const Network& tuned = tn.network();
    const fs::path path = temp_file("lenet_ft.h5");
    save_quantized_model(path.string(), tuned, {});
    const std::string bytes = file_bytes(path);
    const size_t name = bytes.find("format_version");
    ASSERT_NE(name, std::string::npos);
    EXPECT_NE(bytes.find(std::string("4\0", 2), name + 15), std::string::npos) << "not saved as version 4";
    // Stored once: the file is no larger than the untuned network's (same layers, same settings)
    // but for the records' text and HDF5's headers; a second copy of the dense weights would
    // add conv1's, fc1's and fc2's 4 x 48,120 values.
    const fs::path plain = temp_file("lenet_plain.h5");
    save_quantized_model(plain.string(), q, {});
    EXPECT_LE(static_cast<int64_t>(bytes.size()), static_cast<int64_t>(fs::file_size(plain)) + 8192)
        << "fine-tuned file " << bytes.size() << " bytes, untuned " << fs::file_size(plain);
    const Network loaded = load_model_file(path.string());
    const Tensor x = sample_input();
    const Tensor a = logits(tuned, x), b = logits(loaded, x), c = logits(q, x);
    ASSERT_EQ(a.shape, b.shape);
    bool differs = false;
    for (int64_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a.data[i], b.data[i]) << i;
        differs = differs || a.data[i] != c.data[i];
    }
    EXPECT_TRUE(differs) << "fine-tuning changed nothing the logits see";
    // Saving the loaded model again keeps the overrides (its source is the file itself).
    const fs::path again = temp_file("lenet_ft2.h5");
    save_quantized_model(again.string(), loaded, {});
    const Tensor d = logits(load_model_file(again.string()), x);
    for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.data[i], d.data[i]) << i;
    // A flipped byte in the overrides' values is refused as corrupt.
    const std::optional<WeightLayer> v = tuned.nodes.back().op->as_weight_layer();
    ASSERT_TRUE(v && !v->quantized() && v->weight) << tuned.nodes.back().name;
    const std::string w(reinterpret_cast<const char*>(v->weight->data.data()), 64);
    const size_t at = bytes.find(w);
    ASSERT_NE(at, std::string::npos) << "the fine-tuned weights are not in the file";
    EXPECT_EQ(bytes.find(w, at + 1), std::string::npos) << "the fine-tuned weights are in the file twice";
    const std::optional<WeightLayer> v0 = q.nodes.back().op->as_weight_layer();
    EXPECT_EQ(bytes.find(std::string(reinterpret_cast<const char*>(v0->weight->data.data()), 64)), std::string::npos)
        << "the untuned weights of a fine-tuned layer are still in the file";
    std::string bad = bytes;
    bad[at + 9] ^= 0x5a;
    const fs::path p = temp_file("flip_overrides.h5");
    std::ofstream(p, std::ios::binary).write(bad.data(), static_cast<std::streamsize>(bad.size()));
    try {
        load_model_file(p.string());
        FAIL() << "a flipped byte in /overrides was not detected";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("checksum mismatch in /overrides"), std::string::npos) << e.what();
    }
    // Records missing for a node whose initializers are emptied: refused (they would load as
    // zeros). Without conv1's weight record its weight initializer holds more values than the
    // node's records (the refill would allocate more than /overrides holds); without its bias
    // record the node's parameters are not all given.
    const auto drop_record = [&](int line, const std::string& expect) {
        const fs::path cut = temp_file("cut_overrides.h5");
        fs::copy_file(path, cut, fs::copy_options::overwrite_existing);
        std::string node;
        {
            const hid_t f = H5Fopen(cut.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
            ASSERT_GE(f, 0);
            char table[1 << 14] = {};
            ASSERT_GE(H5LTget_attribute_string(f, "/", "overrides", table), 0);
            std::vector<std::string> lines;
            std::stringstream ts(table);
            for (std::string l; std::getline(ts, l);) lines.push_back(l);
            ASSERT_GT(lines.size(), 2u);
            node = lines[line].substr(0, lines[line].find(' '));  // conv1's node, "/0/Conv"
            ASSERT_EQ(tuned.nodes.at(tuned.find_node(node)).alias, "conv1") << table;
            std::string kept;
            for (size_t i = 0; i < lines.size(); ++i)
                if (static_cast<int>(i) != line) kept += lines[i] + "\n";
            ASSERT_GE(H5Adelete(f, "overrides"), 0);
            ASSERT_GE(H5LTset_attribute_string(f, "/", "overrides", kept.c_str()), 0);
            H5Fclose(f);
        }
        try {
            load_model_file(cut.string());
            FAIL() << "a file whose overrides miss record " << line << " of an emptied node was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(node), std::string::npos) << e.what();
        }
    };
    drop_record(0, "more than the node's parameter overrides hold");
    drop_record(1, "stored without values for node");
}

// An older or foreign format version is refused with a message naming the version.
TEST(ModelFile, RefusesOtherFormatVersionsNamingThem) {
    Network q = quantized_lenet("fc=4/16");
    const fs::path path = temp_file("lenet_version.h5");
    save_quantized_model(path.string(), q, {});
    const std::string bytes = file_bytes(path);
    // The attribute's value "2\0" follows its name, type and dataspace (the checksums cover the
    // data sets, not the attributes).
    const size_t name = bytes.find("format_version");
    ASSERT_NE(name, std::string::npos);
    const size_t value = bytes.find(std::string("2\0", 2), name + 15);
    ASSERT_NE(value, std::string::npos);
    for (const char* v : {"1", "7"}) {
        std::string bad = bytes;
        bad[value] = v[0];
        const fs::path p = temp_file("version.h5");
        std::ofstream(p, std::ios::binary).write(bad.data(), static_cast<std::streamsize>(bad.size()));
        try {
            load_model_file(p.string());
            FAIL() << "format version " << v << " accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(cat("format version ", v, " is not supported")), std::string::npos)
                << e.what();
            EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
        }
    }
}

}  // namespace
}  // namespace qcnn
