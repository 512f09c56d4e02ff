// Quantized model files are read by libhdf5 in a child process first (hdf5_handle.h): a
// model loads the same with the isolated first read as without it, and the model files that
// crashed libhdf5 under the fuzzer (fuzz/known-libhdf5-crashes/*.qcnn) end in an error or a
// clean load, never a crash of this process.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/graph/plan.h"
#include "core/io/model_file.h"
#include "core/io/onnx_import.h"
#include "core/quant/quantize_network.h"
#include "core/quant/settings.h"
#include "core/util/error.h"
#include "core/util/isolate.h"

namespace qcnn {
namespace {

namespace fs = std::filesystem;

TEST(ModelFileIsolation, IsolatedAndInProcessLoadsAgree) {
    Network net = import_onnx(std::string(QCNN_DATASETS_DIR) + "/lenet5.onnx");
    QuantizeOptions opt;
    opt.seed = 11;
    opt.threads = 1;
    const Network q =
        quantize_network(net, resolve_settings(net, parse_layer_settings("conv=4/16,fc=4/16")), opt).network;
    const fs::path dir = fs::temp_directory_path() / "qcnn_model_file_isolation";
    fs::create_directories(dir);
    const std::string path = (dir / "lenet_q.h5").string();
    ModelProvenance prov;
    prov.settings = "conv=4/16,fc=4/16";
    save_quantized_model(path, q, prov);

    ASSERT_TRUE(isolated_reads());
    ModelProvenance a_prov, b_prov;
    const Network a = load_model_file(path, &a_prov);
    set_isolated_reads(false);
    const Network b = load_model_file(path, &b_prov);
    set_isolated_reads(true);
    EXPECT_EQ(a_prov.settings, "conv=4/16,fc=4/16");
    EXPECT_EQ(a_prov.settings, b_prov.settings);
    Tensor x({2, 1, 28, 28});
    for (int64_t i = 0; i < x.size(); ++i) x.data[i] = static_cast<float>(i % 97) / 97.0f;
    const Tensor ya = Engine(std::make_shared<Network>(a), 1).forward(x);
    const Tensor yb = Engine(std::make_shared<Network>(b), 1).forward(x);
    ASSERT_EQ(ya.shape, yb.shape);
    for (int64_t i = 0; i < ya.size(); ++i) ASSERT_EQ(ya.data[i], yb.data[i]) << i;

    // A damaged copy gets the same error either way (the child's qcnn::Error is passed on).
    const std::string bad = (dir / "not_a_model.h5").string();
    fs::copy_file(std::string(QCNN_SOURCE_DIR) + "/fuzz/known-libhdf5-crashes/segv-H5F__accum_read-via-H5LTpath_valid.h5",
                  bad, fs::copy_options::overwrite_existing);
    std::string isolated, in_process;
    try {
        (void)load_model_file(bad);
    } catch (const Error& e) {
        isolated = e.what();
    }
    set_isolated_reads(false);
    try {
        (void)load_model_file(bad);
    } catch (const Error& e) {
        in_process = e.what();
    }
    set_isolated_reads(true);
    EXPECT_FALSE(isolated.empty());
    EXPECT_EQ(isolated, in_process);
}

TEST(ModelFileIsolation, KnownLibhdf5CrashFilesEndCleanly) {
    int files = 0;
    for (const auto& e : fs::directory_iterator(std::string(QCNN_SOURCE_DIR) + "/fuzz/known-libhdf5-crashes")) {
        if (e.path().extension() != ".qcnn") continue;
        ++files;
        try {
            const Network n = load_model_file(e.path().string());
            EXPECT_FALSE(n.nodes.empty()) << e.path();
        } catch (const Error&) {
        }
    }
    EXPECT_EQ(files, 3);
}

}  // namespace
}  // namespace qcnn
