#include <gtest/gtest.h>

#include "core/eval/model_summary.h"
#include "core/util/error.h"
#include "eval_test_util.h"

namespace qcnn {
namespace {

TEST(ModelSummary, RowsShapesParamsAndFlopsPerImage) {
    // 2x6x5 -> Conv(4, 3x3 p1) -> Relu -> Flatten -> Fc(3).
    const auto t = test::make_test_net({2, 6, 5}, 4, 3, 7, "small.onnx");
    const ModelSummary m = summarize(*t.net);
    EXPECT_EQ(m.source, "small.onnx");
    EXPECT_EQ(m.input_name, "input");
    EXPECT_EQ(m.input_shape, (Shape{2, 6, 5}));
    EXPECT_EQ(m.output_name, "logits");
    EXPECT_EQ(m.output_shape, (Shape{3}));
    ASSERT_EQ(m.layers.size(), 4u);

    const LayerSummary& conv = m.layers[0];
    EXPECT_EQ(conv.name, "Conv_0");
    EXPECT_EQ(conv.alias, "conv1");
    EXPECT_EQ(conv.op, "Conv");
    EXPECT_TRUE(conv.weight_layer);
    EXPECT_EQ(conv.input_shape, (Shape{2, 6, 5}));
    EXPECT_EQ(conv.output_shape, (Shape{4, 6, 5}));
    EXPECT_EQ(conv.params, 4 * 2 * 3 * 3 + 4);
    EXPECT_EQ(conv.flops, 6 * 5 * 4 * 3 * 3 * 2);  // d_t^2 * C_t * d_k^2 * C_s

    EXPECT_EQ(m.layers[1].op, "Relu");
    EXPECT_EQ(m.layers[1].alias, "");
    EXPECT_FALSE(m.layers[1].weight_layer);
    EXPECT_EQ(m.layers[1].flops, 0);
    EXPECT_EQ(m.layers[2].op, "Flatten");
    EXPECT_EQ(m.layers[2].output_shape, (Shape{120}));

    const LayerSummary& fc = m.layers[3];
    EXPECT_EQ(fc.alias, "fc1");
    EXPECT_EQ(fc.input_shape, (Shape{120}));
    EXPECT_EQ(fc.output_shape, (Shape{3}));
    EXPECT_EQ(fc.params, 120 * 3 + 3);
    EXPECT_EQ(fc.flops, 120 * 3);

    EXPECT_EQ(m.conv_layers, 1);
    EXPECT_EQ(m.fc_layers, 1);
    EXPECT_EQ(m.total_params, conv.params + fc.params);
    EXPECT_EQ(m.total_flops, conv.flops + fc.flops);
    EXPECT_GT(m.activation_bytes, 0);
}

TEST(ModelSummary, DynamicImageSizeIsAnError) {
    auto t = test::make_test_net({1, 3, 3}, 0, 2, 9, "dyn.onnx");
    t.net->values[t.net->inputs[0]].shape = {-1, 1, -1, 3};
    try {
        summarize(*t.net);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("dyn.onnx: input 'input' has a dynamic dimension (1x?x3 per sample)"),
                  std::string::npos)
            << e.what();
    }
}

TEST(ModelSummary, FixedBatchInTheFileStillCountsPerImage) {
    // Test models often fix the batch (e.g. {2, 3, 7, 5}): plan with it, report one image.
    auto t = test::make_test_net({2, 4, 4}, 3, 5, 13, "fixed.onnx");
    const ModelSummary dynamic = summarize(*t.net);
    t.net->values[t.net->inputs[0]].shape = {6, 2, 4, 4};
    const ModelSummary fixed = summarize(*t.net);
    ASSERT_EQ(fixed.layers.size(), dynamic.layers.size());
    for (size_t i = 0; i < fixed.layers.size(); ++i) {
        EXPECT_EQ(fixed.layers[i].flops, dynamic.layers[i].flops);
        EXPECT_EQ(fixed.layers[i].input_shape, dynamic.layers[i].input_shape);
    }
    EXPECT_EQ(fixed.total_flops, 4 * 4 * 3 * 9 * 2 + 48 * 5);
    EXPECT_EQ(fixed.activation_bytes, dynamic.activation_bytes);
}

TEST(ModelSummary, FormatDims) {
    EXPECT_EQ(format_dims({3, 32, 32}), "3x32x32");
    EXPECT_EQ(format_dims({10}), "10");
    EXPECT_EQ(format_dims({-1, 4}), "?x4");
    EXPECT_EQ(format_dims({}), "scalar");
}

}  // namespace
}  // namespace qcnn
