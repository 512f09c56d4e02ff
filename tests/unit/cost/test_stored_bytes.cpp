// The cost model's stored bytes against the quantized network as loaded from its model file
// (layer by layer) and against the file's size (issue 14, section 3: within 10% + 64 KiB).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/cost/cost_model.h"
#include "core/io/model_file.h"
#include "core/io/onnx_import.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/quantize_network.h"
#include "core/quant/quantized_ops.h"
#include "core/quant/settings.h"

namespace qcnn {
namespace {

namespace fs = std::filesystem;

// Bytes of one layer as stored: dense 4 * (weights + bias); quantized
// ceil((32 * C_s * K + ceil(log2 K) * C_t * P * Mg) / 8) + 4 * C_t bias.
int64_t stored_bytes_formula(const Network& net) {
    int64_t total = 0;
    for (int ni : net.weight_layers()) {
        const Op* op = net.nodes[ni].op.get();
        if (const auto* c = dynamic_cast<const ConvOp*>(op))
            total += 4 * (c->weight().size() + static_cast<int64_t>(c->bias().size()));
        else if (const auto* f = dynamic_cast<const FcOp*>(op))
            total += 4 * (f->weight().size() + static_cast<int64_t>(f->bias().size()));
        else {
            const auto* qc = dynamic_cast<const QConvOp*>(op);
            const auto* qf = dynamic_cast<const QFcOp*>(op);
            EXPECT_TRUE(qc || qf) << net.nodes[ni].name;
            const PQGeometry& g = qc ? qc->geometry() : qf->geometry();
            const int64_t bias = static_cast<int64_t>(qc ? qc->bias().size() : qf->bias().size());
            total += (32 * g.in_channels * g.K + g.bits() * g.num_codes() + 7) / 8 + 4 * bias;
        }
    }
    return total;
}

TEST(StoredBytes, ModelFileSizeIsWithinTenPercentAnd64KiBOfTheCostModel) {
    const Network net = import_onnx(std::string(QCNN_DATASETS_DIR) + "/vgg7.onnx");
    for (const char* settings : {"conv=4/16,fc=4/16", "conv=8/64,fc=4/32", "conv=2/256,fc=8/16,conv3=dense"}) {
        SCOPED_TRACE(settings);
        QuantizeOptions opt;
        opt.seed = 3;
        opt.threads = 1;
        opt.max_iter = 2;  // sizes do not depend on how well k-means converged
        const Network q = quantize_network(net, resolve_settings(net, parse_layer_settings(settings)), opt).network;
        const fs::path path = fs::temp_directory_path() / "qcnn_stored_bytes_test.qcnn";
        save_quantized_model(path.string(), q, {});
        const Network loaded = load_model_file(path.string());
        const NetworkCost nc = network_cost(network_geometry(loaded, loaded.sample_shape()), stored_settings(loaded));
        const int64_t stored = nc.quantized.weight_bytes + nc.quantized.bias_bytes;
        EXPECT_EQ(stored, stored_bytes_formula(loaded));
        EXPECT_EQ(stored, stored_bytes_formula(q));
        const int64_t file = static_cast<int64_t>(fs::file_size(path));
        EXPECT_LE(std::llabs(file - stored), stored / 10 + 65536) << "file " << file << " bytes, stored " << stored;
        fs::remove(path);
    }
}

}  // namespace
}  // namespace qcnn
