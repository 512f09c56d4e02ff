// The bad-input table of docs/bad-inputs.md: every file format and text input qcnn reads,
// damaged in one way each, run through `qcnn` in-process. Each must fail with exit code 1 or
// 2 and exactly one error line, asserted verbatim (the fixture directory shows as <dir>).
#include <gtest/gtest.h>
#include <hdf5/serial/hdf5.h>
#include <hdf5/serial/hdf5_hl.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "cli_test_util.h"
#include "core/util/sha256.h"
#include "tests/unit/io/onnx_builder.h"

namespace qcnn {
namespace {

using test::bundled;
using test::one_error_line;
using test::run_qcnn;
using test::TempDir;
using test::write_file;

struct BadInput {
    std::string name;               // row of docs/bad-inputs.md
    std::vector<std::string> args;  // qcnn arguments; "<dir>/" prefixes fixture files
    std::string message;            // the error line after "qcnn: error: ", with <dir> for the fixture directory
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
    return s;
}

std::string be32(uint32_t v) {
    return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

std::string idx_header(std::vector<uint32_t> dims) {
    std::string s = {0, 0, 8, char(dims.size())};
    for (uint32_t d : dims) s += be32(d);
    return s;
}

// A one-layer ONNX model: y = Relu(Conv(x, W)) with W {2, 1, 3, 3}, x {N, 1, 8, 8}.
testing::OnnxBuilder conv_model() {
    testing::OnnxBuilder b;
    b.input("x", {-1, 1, 8, 8});
    b.init("W", testing::random_tensor({2, 1, 3, 3}, 8));
    b.node("Conv", {"x", "W"}, {"c"}, "conv_a");
    b.node("Relu", {"c"}, {"y"}, "relu_a");
    b.output("y");
    return b;
}

void write_h5(const std::string& path, const std::vector<hsize_t>& dims, bool chunked_unwritten,
              const std::vector<int64_t>& labels = {}) {
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked_unwritten) {
        std::vector<hsize_t> chunk(dims.size(), 1);
        for (size_t i = 1; i < dims.size(); ++i) chunk[i] = dims[i];
        H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    }
    const hid_t ds = H5Dcreate2(f, "images", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (!chunked_unwritten) {
        hsize_t n = 1;
        for (hsize_t d : dims) n *= d;
        std::vector<uint8_t> px(n, 7);
        H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, px.data());
    }
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (!labels.empty()) {
        const hsize_t n = labels.size();
        H5LTmake_dataset(f, "labels", 1, &n, H5T_NATIVE_INT64, labels.data());
    }
    H5Fclose(f);
}

// Copies the committed quantized fuzz seed and lets `edit` change it through the HDF5 API.
template <class Edit>
void edit_model(const std::string& path, Edit edit) {
    std::filesystem::copy_file(std::string(QCNN_SOURCE_DIR) + "/fuzz/corpus/fuzz_model_file/tiny_quantized.qcnn", path,
                               std::filesystem::copy_options::overwrite_existing);
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    edit(f);
    H5Fclose(f);
}

std::string read_attr(hid_t f, const char* name) {
    hsize_t dims = 0;
    H5T_class_t cls;
    size_t size = 0;
    H5LTget_attribute_info(f, "/", name, &dims, &cls, &size);
    std::string s(size + 1, '\0');
    H5LTget_attribute_string(f, "/", name, s.data());
    s.resize(std::strlen(s.c_str()));
    return s;
}

std::string read_payload(hid_t f) {
    hsize_t n = 0;
    H5T_class_t cls;
    size_t size = 0;
    H5LTget_dataset_info(f, "payload", &n, &cls, &size);
    std::string p(n, '\0');
    H5LTread_dataset(f, "payload", H5T_NATIVE_UINT8, p.data());
    return p;
}

// Replaces /payload and its checksum, so the loader's checks behind the checksum are reached.
void rewrite_payload(hid_t f, const std::string& payload) {
    H5Ldelete(f, "payload", H5P_DEFAULT);
    const hsize_t n = payload.size();
    H5LTmake_dataset(f, "payload", 1, &n, H5T_NATIVE_UINT8, payload.data());
    H5LTset_attribute_string(f, "/", "payload_sha256", sha256_hex(payload).c_str());
}

class BadInputs : public ::testing::Test {
protected:
    void SetUp() override { make_fixtures(); }

    std::string file(const std::string& name) const { return dir_.file(name); }

    void make_fixtures() {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        // ONNX
        write_file(file("text.onnx"), "this is not a protobuf message\n");
        write_file(file("empty.onnx"), "");
        {
            auto b = conv_model();
            auto* t = b.graph().add_initializer();
            t->set_name("huge");
            t->set_data_type(onnx::TensorProto_DataType_FLOAT);
            for (int64_t d : {1000000, 1000000}) t->add_dims(d);
            write_file(file("huge_dims.onnx"), b.bytes());
        }
        {
            auto b = conv_model();
            auto* t = b.graph().add_initializer();
            t->set_name("overflow");
            t->set_data_type(onnx::TensorProto_DataType_FLOAT);
            for (int64_t d : {int64_t(1) << 40, int64_t(1) << 40}) t->add_dims(d);
            write_file(file("overflow_dims.onnx"), b.bytes());
        }
        {
            auto b = conv_model();
            b.graph().mutable_initializer(0)->mutable_raw_data()->resize(8);
            write_file(file("short_raw.onnx"), b.bytes());
        }
        {
            auto b = conv_model();
            float nan = std::numeric_limits<float>::quiet_NaN();
            std::memcpy(b.graph().mutable_initializer(0)->mutable_raw_data()->data() + 4 * 5, &nan, 4);
            write_file(file("nan_weight.onnx"), b.bytes());
        }
        {
            auto b = conv_model();
            b.graph().mutable_node(0)->set_input(0, "y");  // conv reads relu's output: a cycle
            write_file(file("cycle.onnx"), b.bytes());
        }
        {
            auto b = conv_model();
            b.graph().mutable_node(1)->set_op_type("Frobnicate");
            write_file(file("unsupported.onnx"), b.bytes());
        }
        {
            auto b = conv_model();
            b.graph().mutable_initializer(0)->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
            write_file(file("external.onnx"), b.bytes());
        }
        // IDX
        write_file(file("magic.idx"), std::string("\x01\x02\x08\x03", 4) + be32(1) + be32(28) + be32(28));
        write_file(file("billion.idx"), idx_header({1000000000, 28, 28}));
        write_file(file("two.idx"), idx_header({2, 28, 28}) + std::string(2 * 784, '\x10'));
        write_file(file("three_labels.idx"), idx_header({3}) + std::string(3, '\x01'));
        write_file(file("trailing.idx"), idx_header({2, 28, 28}) + std::string(2 * 784 + 5, '\x10'));
        // CIFAR
        write_file(file("short.bin"), std::string(3073 + 100, '\x01'));
        // HDF5 datasets
        write_h5(file("billion.h5"), {1000000000, 1, 28, 28}, true);
        write_h5(file("flat.h5"), {4, 784}, false);
        write_h5(file("labels.h5"), {2, 1, 28, 28}, false, {1, 2, 3});
        write_h5(file("negative_label.h5"), {2, 1, 28, 28}, false, {1, -4});
        write_file(file("not.h5"), "plain text, not HDF5\n");
        std::filesystem::copy_file(
            std::string(QCNN_SOURCE_DIR) + "/fuzz/known-libhdf5-crashes/segv-H5F__accum_read-via-H5LTpath_valid.h5",
            file("libhdf5_crash.h5"));
        {
            std::vector<float> px(2 * 28 * 28, 0.5f);
            px[784 + 10] = std::numeric_limits<float>::quiet_NaN();
            const hid_t f = H5Fcreate(file("nan.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
            const hsize_t dims[4] = {2, 1, 28, 28};
            H5LTmake_dataset_float(f, "images", 4, dims, px.data());
            H5Fclose(f);
        }
        // folder
        std::filesystem::create_directories(file("images/cat"));
        write_file(file("images/cat/broken.png"), "\x89PNG but not really");
        std::filesystem::create_directories(file("empty_folder"));
        std::filesystem::create_directories(file("val"));
        write_file(file("val/a.png"), "listed; never decoded (the labels file fails first)");
        write_file(file("labels_bad.txt"), "a.png 0\nb.png\n");
        write_file(file("labels_missing.txt"), "a.png 0\nnone.png 1\n");
        // quantized model files
        edit_model(file("corrupt.qcnn"), [](hid_t f) {
            std::string p = read_payload(f);
            p[3] ^= 0x40;
            H5Ldelete(f, "payload", H5P_DEFAULT);
            const hsize_t n = p.size();
            H5LTmake_dataset(f, "payload", 1, &n, H5T_NATIVE_UINT8, p.data());
        });
        edit_model(file("format.qcnn"), [](hid_t f) { H5LTset_attribute_string(f, "/", "format", "something-else"); });
        edit_model(file("record.qcnn"), [](hid_t f) { H5LTset_attribute_string(f, "/", "layers", "conv_a conv 1 2\n"); });
        edit_model(file("offsets.qcnn"), [](hid_t f) {
            const std::string layers = read_attr(f, "layers");
            const size_t nl = layers.find('\n');
            const std::string first = layers.substr(0, nl);  // the first record's bias length -> 999999
            const size_t window = first.rfind(' '), bias_len = first.rfind(' ', window - 1);  // fields 14, 13
            const std::string edited = first.substr(0, bias_len) + " 999999" + first.substr(window) + layers.substr(nl);
            H5LTset_attribute_string(f, "/", "layers", edited.c_str());
        });
        edit_model(file("nan_codebook.qcnn"), [](hid_t f) {
            std::string p = read_payload(f);
            const float inf = std::numeric_limits<float>::infinity();
            std::memcpy(p.data() + 4, &inf, 4);  // the first layer's codebooks start at offset 0
            rewrite_payload(f, p);
        });
        // sweep specs
        write_file(file("typo.json"), R"({"qcnn_sweep": 1, "modle": "m.onnx", "data": "fashion-mnist:test"})");
        write_file(file("syntax.json"), "{\"qcnn_sweep\": 1,\n  \"model\": \"m.onnx\" \"data\": 3}");
        write_file(file("bad_k.json"), R"({"qcnn_sweep": 1, "model": "m.onnx", "data": "fashion-mnist:test",
            "grid": [{"layers": "conv", "settings": ["8/128", "4/300"]}]})");
    }

    TempDir dir_;
};

TEST_F(BadInputs, EachGetsItsOneLineMessage) {
    const std::string lenet = bundled("lenet5.onnx");
    auto eval = [&](const std::string& data) {
        return std::vector<std::string>{"eval", "--model", lenet, "--data", data, "--threads", "1"};
    };
    const std::vector<BadInput> cases = {
        // ONNX
        {"ONNX: not a protobuf", {"info", "--model", "<dir>/text.onnx"},
         "<dir>/text.onnx: not a valid ONNX model (protobuf parse failed)"},
        {"ONNX: empty file", {"info", "--model", "<dir>/empty.onnx"},
         "<dir>/empty.onnx: not a valid ONNX model (it has no graph)"},
        {"ONNX: initializer of 10^12 elements", {"info", "--model", "<dir>/huge_dims.onnx"},
         "<dir>/huge_dims.onnx: initializer 'huge': shape [1000000x1000000] has more than 2147483648 elements"},
        {"ONNX: dims whose product overflows int64", {"info", "--model", "<dir>/overflow_dims.onnx"},
         "<dir>/overflow_dims.onnx: initializer 'overflow': shape [1099511627776x1099511627776] has more than "
         "2147483648 elements"},
        {"ONNX: raw_data shorter than the dims", {"info", "--model", "<dir>/short_raw.onnx"},
         "<dir>/short_raw.onnx: initializer 'W': raw_data has 8 bytes, dims [2x1x3x3] need 72"},
        {"ONNX: NaN in a weight", {"info", "--model", "<dir>/nan_weight.onnx"},
         "<dir>/nan_weight.onnx: initializer 'W' of layer conv_a (Conv) holds nan at element 5; weights must be "
         "finite (corrupt or diverged model?)"},
        {"ONNX: cyclic graph", {"info", "--model", "<dir>/cycle.onnx"},
         "<dir>/cycle.onnx: the graph has a cycle; these nodes wait on each other: 'conv_a', 'relu_a'"},
        {"ONNX: unsupported operator", {"info", "--model", "<dir>/unsupported.onnx"},
         "<dir>/unsupported.onnx: node 'relu_a' uses op 'Frobnicate', which is not supported; supported ops: "
         "Add, AveragePool, BatchNormalization, Cast, Clip, Concat, Constant, Conv, Div, Dropout, Erf, Flatten, "
         "Gather, Gemm, GlobalAveragePool, HardSigmoid, HardSwish, Identity, LayerNormalization, LeakyRelu, MatMul, "
         "MaxPool, Mul, Pad, Pow, ReduceMean, ReduceSum, Relu, Reshape, Shape, Sigmoid, Slice, Softmax, Sqrt, "
         "Squeeze, Sub, Tanh, Transpose, Unsqueeze"},
        {"ONNX: external weight data", {"info", "--model", "<dir>/external.onnx"},
         "<dir>/external.onnx: initializer 'W' keeps its data in an external file, which is not supported"},
        // IDX
        {"IDX: wrong magic number", eval("idx:<dir>/magic.idx"),
         "<dir>/magic.idx: not an IDX file (magic number starts with bytes 1, 2; expected 0, 0)"},
        {"IDX: header declares 10^9 images", eval("idx:<dir>/billion.idx"),
         "<dir>/billion.idx: truncated or wrong header: 1000000000 images of 28x28 pixels needs 784000000000 "
         "bytes after byte 16 but the file has only 0 more (file size 16)"},
        {"IDX: image and label counts differ", eval("idx:<dir>/two.idx,<dir>/three_labels.idx"),
         "IDX files disagree: <dir>/two.idx holds 2 images but <dir>/three_labels.idx holds 3 labels"},
        {"IDX: data after the declared images", eval("idx:<dir>/trailing.idx"),
         "<dir>/trailing.idx: unexpected data after the images declared in the IDX header (wrong header?)"},
        // CIFAR
        {"CIFAR: size not a whole number of records", eval("cifar10:<dir>/short.bin"),
         "<dir>/short.bin: truncated or not a CIFAR-10 binary file: its size 3173 is not a positive multiple "
         "of the 3073-byte record (1 label byte + 3072 pixels)"},
        // HDF5 datasets
        {"HDF5: 10^9 images declared, nothing stored", eval("hdf5:<dir>/billion.h5:images"),
         "<dir>/billion.h5:images: dimensions [1000000000x1x28x28] declare 784000000000 bytes but the file "
         "stores only 0 bytes of it (truncated file or corrupt header?)"},
        {"HDF5: images of rank 2", eval("hdf5:<dir>/flat.h5:images"),
         "<dir>/flat.h5:images: images must have 3 (N,H,W) or 4 (N,C,H,W or N,H,W,C) dimensions, found [4x784]"},
        {"HDF5: missing dataset", eval("hdf5:<dir>/flat.h5:pixels"),
         "<dir>/flat.h5: no HDF5 dataset 'pixels' for the images (top-level objects: images)"},
        {"HDF5: label count differs", eval("hdf5:<dir>/labels.h5:images:labels"),
         "<dir>/labels.h5: 2 images in 'images' but 3 labels in 'labels'"},
        {"HDF5: negative label", eval("hdf5:<dir>/negative_label.h5:images:labels"),
         "<dir>/negative_label.h5:labels: label -4 of sample 1 is not a class index (expected 0 or more)"},
        {"HDF5: not an HDF5 file", eval("hdf5:<dir>/not.h5:images"),
         "<dir>/not.h5: not an HDF5 file"},
        {"HDF5: NaN pixel", eval("hdf5:<dir>/nan.h5:images"),
         "<dir>/nan.h5:images: sample 1 holds nan at value 10 (C x H x W order); image data must be finite"},
        {"HDF5: a file that crashes libhdf5 1.10.8", eval("hdf5:<dir>/libhdf5_crash.h5:images:labels"),
         "<dir>/libhdf5_crash.h5: libhdf5 crashed with signal 11 (SIGSEGV: Segmentation fault) reading this file; it "
         "is corrupt (Debian 12's libhdf5 1.10.8 cannot read some damaged files safely, so qcnn reads HDF5 files in a "
         "separate process first: docs/hardening.md)"},
        // folder
        {"folder: undecodable image", eval("folder:<dir>/images"),
         "<dir>/images/cat/broken.png: not a readable image (unknown image type)"},
        {"folder: labels-file line without a class index", eval("folder:<dir>/val,labels=<dir>/labels_bad.txt"),
         "<dir>/labels_bad.txt:2: expected 'file_name class_index', got 'b.png'"},
        {"folder: labels file lists a missing image", eval("folder:<dir>/val,labels=<dir>/labels_missing.txt"),
         "<dir>/val/none.png: no such image file (listed in <dir>/labels_missing.txt:2)"},
        {"CLI: --preprocess on a data set that is not a folder",
         {"eval", "--model", lenet, "--data", "fashion-mnist:test", "--preprocess", "imagenet"},
         "--preprocess: preprocessing imagenet applies to image folders (folder:DIR...), not to dataset "
         "fashion-mnist:test"},
        {"folder: no class sub-folders", eval("folder:<dir>/empty_folder"),
         "image folder <dir>/empty_folder has no class sub-folders (expected <dir>/empty_folder/<class "
         "name>/<images>, or a labels file: folder:DIR,labels=FILE)"},
        // quantized model files
        {"model file: payload checksum mismatch", {"info", "--model", "<dir>/corrupt.qcnn"},
         "<dir>/corrupt.qcnn: checksum mismatch in /payload: the file is corrupt"},
        {"model file: wrong format attribute", {"info", "--model", "<dir>/format.qcnn"},
         "<dir>/format.qcnn: not a QCNN quantized model file"},
        {"model file: malformed layer record", {"info", "--model", "<dir>/record.qcnn"},
         "<dir>/record.qcnn: malformed layer record 'conv_a conv 1 2' (format version 2 has 14 fields)"},
        {"model file: layer slice outside the payload", {"info", "--model", "<dir>/offsets.qcnn"},
         "<dir>/offsets.qcnn: layer '/conv/Conv': bias has 999999 bytes at offset 21, expected 8 within a "
         "payload of 565 bytes"},
        {"model file: infinity in a codebook", {"info", "--model", "<dir>/nan_codebook.qcnn"},
         "<dir>/nan_codebook.qcnn: layer '/conv/Conv': codebooks: value 1 is inf; weights must be finite "
         "(corrupt file?)"},
        // sweep specs
        {"sweep spec: misspelt key", {"sweep", "<dir>/typo.json", "-o", "<dir>/out.h5"},
         "<dir>/typo.json: modle: unknown key (expected one of: qcnn_sweep, model, data, calib_data, "
         "calib_images, mean, std, preprocess, limit, batch, base, grid, vary, ec, seeds, threads, kmeans_iters, ec_iters, ec_conv_images, "
         "ec_positions, kernel, measure_speed, finetune, ft_epochs, ft_lr, ft_optimizer, ft_batch, ft_params, ft_images, ft_distill, ft_codes_lr, recipe)"},
        {"sweep spec: JSON syntax error", {"sweep", "<dir>/syntax.json", "-o", "<dir>/out.h5"},
         "<dir>/syntax.json:2:21: invalid JSON: expected ',' or '}' in an object"},
        {"sweep spec: K out of range", {"sweep", "<dir>/bad_k.json", "-o", "<dir>/out.h5"},
         "<dir>/bad_k.json: grid[0].settings[1]: layer settings item 'conv=4/300': K = 300 is out of range "
         "(2..256)"},
        // settings text
        {"settings: K out of range", {"info", "--model", lenet, "--layers", "conv=8/999"},
         "layer settings item 'conv=8/999': K = 999 is out of range (2..256)"},
        {"settings: unknown layer", {"info", "--model", lenet, "--layers", "conv9=4/16"},
         "layer settings: unknown layer 'conv9'; layers: conv1 ('/0/Conv'), conv2 ('/3/Conv'), fc1 "
         "('/7/Gemm'), fc2 ('/9/Gemm')"},
        {"settings: missing '='", {"info", "--model", lenet, "--layers", "conv 8/128"},
         "layer settings item 'conv 8/128': expected key=value (e.g. conv=8/128, fc1=dense)"},
        // CLI arguments
        {"CLI: non-numeric --limit", {"eval", "--model", lenet, "--limit", "ten"},
         "--limit expects an integer >= 0, got 'ten'"},
        {"CLI: negative --batch", {"eval", "--model", lenet, "--batch", "-4"},
         "--batch expects an integer in [1, 1048576], got '-4'"},
        {"CLI: unknown data scheme", {"eval", "--model", lenet, "--data", "mnist:test"},
         "dataset spec 'mnist:test': unknown scheme 'mnist'; valid forms: fashion-mnist:test | "
         "fashion-mnist:train (Debian package dataset-fashion-mnist) idx:IMAGES[,LABELS] (IDX/MNIST-format "
         "files, plain or .gz) cifar10:FILE[,FILE...] (CIFAR-10 binary batches) cifar100:FILE[,FILE...] "
         "(CIFAR-100 binary, fine labels) folder:DIR[,labels=FILE][,preprocess=P] (PNG/JPEG images: one "
         "sub-folder per class, or listed in FILE) "
         "hdf5:FILE:IMAGES[:LABELS][:nchw|:nhwc] (HDF5 datasets in FILE)"},
        {"CLI: missing model file", {"info", "--model", "<dir>/absent.onnx"},
         "<dir>/absent.onnx: cannot open model file (missing or unreadable)"},
    };
    const std::string dir = std::filesystem::path(file("x")).parent_path().string();
    for (const BadInput& c : cases) {
        std::vector<std::string> args;
        for (const std::string& a : c.args) args.push_back(replace_all(a, "<dir>", dir));
        const auto r = run_qcnn(args);
        EXPECT_TRUE(r.rc == 1 || r.rc == 2) << c.name << ": exit code " << r.rc;
        EXPECT_TRUE(r.out.empty()) << c.name << ": " << r.out;
        const std::string msg = replace_all(one_error_line(r), dir, "<dir>");
        EXPECT_EQ(msg, c.message) << c.name;
    }
}

}  // namespace
}  // namespace qcnn
