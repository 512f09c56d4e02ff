// Pattern fusion after import (core/io/fuse.h) and the new operators through the importer:
// PyTorch's decomposed LayerNorm, exact GELU and HardSigmoid x input fuse into one op each
// and compute what the unfused graph computes; a pattern whose inner value has another
// reader stays unfused; LayerNormalization (opset 17), ReduceMean with axes as an attribute
// (opset 13) or an input (opset 18), HardSigmoid's attributes; docs/onnx-ops.md is the
// registry's own listing.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/graph/plan.h"
#include "core/io/onnx_import.h"
#include "core/ops/layer_norm.h"
#include "core/util/error.h"
#include "tests/unit/io/onnx_builder.h"

namespace qcnn {
namespace {

using testing::max_abs_diff;
using testing::OnnxBuilder;
using testing::random_tensor;
using testing::run_net;

std::vector<std::string> node_types(const Network& net) {
    std::vector<std::string> t;
    for (const auto& n : net.nodes) t.push_back(n.op->type());
    return t;
}

Tensor scalar(float v) { return Tensor(Shape{}, v); }

// PyTorch 1.13's export of nn.LayerNorm(8) at opset < 17 (native_layer_norm symbolic).
OnnxBuilder decomposed_layer_norm(bool sub_is_also_output) {
    OnnxBuilder b(13);
    b.input("x", {-1, 5, 8});
    b.init("two", scalar(2.0f));
    b.init("eps", scalar(1e-5f));
    b.init("gamma", random_tensor({8}, 21, 0.5f, 1.5f));
    b.init("beta", random_tensor({8}, 22));
    OnnxBuilder::attr_ints(b.node("ReduceMean", {"x"}, {"m"}, "mean"), "axes", {-1});
    b.node("Sub", {"x", "m"}, {"d"}, "sub");
    b.node("Pow", {"d", "two"}, {"p"}, "pow");
    OnnxBuilder::attr_ints(b.node("ReduceMean", {"p"}, {"v"}, "var"), "axes", {-1});
    b.node("Add", {"v", "eps"}, {"ve"}, "add_eps");
    b.node("Sqrt", {"ve"}, {"s"}, "sqrt");
    b.node("Div", {"d", "s"}, {"n"}, "div");
    b.node("Mul", {"n", "gamma"}, {"g"}, "mul_gamma");
    b.node("Add", {"g", "beta"}, {"y"}, "add_beta");
    b.output("y");
    if (sub_is_also_output) b.output("d");
    return b;
}

TEST(OnnxFuse, DecomposedLayerNormBecomesOneOp) {
    const OnnxBuilder b = decomposed_layer_norm(false);
    const Network fused = b.import();
    ImportOptions plain;
    plain.fuse = false;
    const Network unfused = b.import(plain);
    EXPECT_EQ(node_types(fused), std::vector<std::string>{"LayerNormalization"});
    EXPECT_EQ(unfused.nodes.size(), 9u);
    const Tensor x = random_tensor({3, 5, 8}, 23, -4.0f, 6.0f);
    const Tensor yf = run_net(fused, {&x}, 2), yu = run_net(unfused, {&x});
    EXPECT_LT(max_abs_diff(yf, yu), 2e-5);
    const Tensor gamma = random_tensor({8}, 21, 0.5f, 1.5f), beta = random_tensor({8}, 22);
    const Tensor ref = layer_norm_reference(x, -1, 1e-5f, gamma, std::vector<float>(beta.data.begin(), beta.data.end()));
    EXPECT_LT(max_abs_diff(yf, ref), 1e-5);
    // The pattern's constants are gone from the value table.
    for (const auto& v : fused.values) EXPECT_FALSE(v.is_initializer()) << v.name;
}

TEST(OnnxFuse, PatternWithAnOutsideReaderStaysUnfused) {
    const OnnxBuilder b = decomposed_layer_norm(true);
    const Network net = b.import();
    EXPECT_EQ(net.nodes.size(), 9u);
    const Tensor x = random_tensor({2, 5, 8}, 24);
    ImportOptions plain;
    plain.fuse = false;
    EXPECT_EQ(max_abs_diff(run_net(net, {&x}), run_net(b.import(plain), {&x})), 0.0);
}

TEST(OnnxFuse, ExactGeluBecomesOneOp) {
    // PyTorch 1.13's GELU symbolic: x * (erf(x / sqrt 2) + 1) * 0.5
    OnnxBuilder b(13);
    b.input("x", {-1, 16});
    b.init("sqrt2", scalar(1.41421356f));
    b.init("one", scalar(1.0f));
    b.init("half", scalar(0.5f));
    b.node("Div", {"x", "sqrt2"}, {"a"});
    b.node("Erf", {"a"}, {"e"});
    b.node("Add", {"e", "one"}, {"c"});
    b.node("Mul", {"x", "c"}, {"d"});
    b.node("Mul", {"d", "half"}, {"y"});
    b.output("y");
    const Network fused = b.import();
    EXPECT_EQ(node_types(fused), std::vector<std::string>{"Gelu"});
    ImportOptions plain;
    plain.fuse = false;
    const Tensor x = random_tensor({4, 16}, 25, -5.0f, 5.0f);
    const Tensor yf = run_net(fused, {&x}), yu = run_net(b.import(plain), {&x});
    EXPECT_LT(max_abs_diff(yf, yu), 1e-6);
    for (int64_t i = 0; i < x.size(); ++i) {
        const double v = x.data[i];
        EXPECT_NEAR(yf.data[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6);
    }
}

TEST(OnnxFuse, GeluWithOtherConstantsIsLeftAlone) {
    OnnxBuilder b(13);
    b.input("x", {-1, 4});
    b.init("sqrt2", scalar(1.41421356f));
    b.init("one", scalar(1.0f));
    b.init("third", scalar(0.3f));  // not 0.5: not GELU
    b.node("Div", {"x", "sqrt2"}, {"a"});
    b.node("Erf", {"a"}, {"e"});
    b.node("Add", {"e", "one"}, {"c"});
    b.node("Mul", {"x", "c"}, {"d"});
    b.node("Mul", {"d", "third"}, {"y"});
    b.output("y");
    EXPECT_EQ(b.import().nodes.size(), 5u);
}

TEST(OnnxFuse, HardSigmoidTimesInputBecomesHardSwish) {
    OnnxBuilder b(13);
    b.input("x", {-1, 3, 4, 4});
    auto* hs = b.node("HardSigmoid", {"x"}, {"h"});
    OnnxBuilder::attr_f(hs, "alpha", 1.0f / 6.0f);
    OnnxBuilder::attr_f(hs, "beta", 0.5f);
    b.node("Mul", {"x", "h"}, {"y"});
    b.output("y");
    const Network fused = b.import();
    EXPECT_EQ(node_types(fused), std::vector<std::string>{"HardSwish"});
    const Tensor x = random_tensor({2, 3, 4, 4}, 26, -5.0f, 5.0f);
    ImportOptions plain;
    plain.fuse = false;
    EXPECT_LT(max_abs_diff(run_net(fused, {&x}), run_net(b.import(plain), {&x})), 1e-6);
    // The SE-block form, HardSigmoid of another value times x, is a gate, not HardSwish.
    OnnxBuilder gate(13);
    gate.input("x", {-1, 4});
    gate.init("w", random_tensor({4, 4}, 27));
    gate.node("MatMul", {"x", "w"}, {"z"});
    gate.node("HardSigmoid", {"z"}, {"h"});
    gate.node("Mul", {"x", "h"}, {"y"});
    gate.output("y");
    EXPECT_EQ(node_types(gate.import()), (std::vector<std::string>{"MatMul", "HardSigmoid", "Mul"}));
}

TEST(OnnxFuse, PatternNodesWithMissingInputsAreLeftToThePlanner) {
    // A damaged file: the LayerNorm pattern with a one-input Sub and a one-input Mul. The
    // matcher must not read past the node's input list (found by review before fuzzing could).
    OnnxBuilder b = decomposed_layer_norm(false);
    b.graph().mutable_node(1)->mutable_input()->RemoveLast();  // Sub(x) without m
    OnnxBuilder g(13);
    g.input("x", {-1, 4});
    g.node("HardSigmoid", {"x"}, {"h"});
    g.node("Mul", {"h"}, {"y"}, "one_input_mul");
    g.output("y");
    const Tensor xb = random_tensor({2, 5, 8}, 1), xg = random_tensor({2, 4}, 2);
    for (const auto& [m, x] : {std::pair{&b, &xb}, std::pair{&g, &xg}}) {
        try {
            run_net(m->import(), {x});
            ADD_FAILURE() << "a node with a missing input ran";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("needs input"), std::string::npos) << e.what();
        }
    }
}

TEST(OnnxFuse, LayerNormalizationOpset17WithStatistics) {
    OnnxBuilder b(17);
    b.input("x", {-1, 6, 10});
    const Tensor g = random_tensor({6, 10}, 28, 0.5f, 1.5f), bias = random_tensor({6, 10}, 29);
    b.init("g", g);
    b.init("b", bias);
    auto* ln = b.node("LayerNormalization", {"x", "g", "b"}, {"y", "mean", "inv"}, "ln");
    OnnxBuilder::attr_i(ln, "axis", 1);
    OnnxBuilder::attr_f(ln, "epsilon", 1e-3f);
    b.output("y");
    b.output("mean");
    b.output("inv");
    const Network net = b.import();
    const Tensor x = random_tensor({2, 6, 10}, 30);
    Plan plan(net, {x.shape});
    plan.run({&x}, ExecContext{1});
    Tensor mean, inv;
    const Tensor ref = layer_norm_reference(x, 1, 1e-3f, g, std::vector<float>(bias.data.begin(), bias.data.end()), &mean, &inv);
    EXPECT_LT(max_abs_diff(plan.output(0), ref), 1e-5);
    EXPECT_LT(max_abs_diff(plan.output(1), mean), 1e-6);
    EXPECT_LT(max_abs_diff(plan.output(2), inv), 1e-5);
    // A Scale that is not a constant is refused, naming the node.
    OnnxBuilder bad(17);
    bad.input("x", {1, 4});
    bad.input("g", {4});
    bad.node("LayerNormalization", {"x", "g"}, {"y"}, "ln_bad");
    bad.output("y");
    try {
        bad.import();
        ADD_FAILURE() << "runtime Scale accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("node 'ln_bad' (LayerNormalization): Scale 'g' must be a constant"),
                  std::string::npos)
            << e.what();
    }
}

TEST(OnnxFuse, ReduceMeanAxesAttributeOrInputByOpset) {
    const Tensor x = random_tensor({2, 3, 4, 5}, 31);
    OnnxBuilder a(13);
    a.input("x", {-1, 3, 4, 5});
    auto* r = a.node("ReduceMean", {"x"}, {"y"});
    OnnxBuilder::attr_ints(r, "axes", {2, 3});
    OnnxBuilder::attr_i(r, "keepdims", 0);
    a.output("y");
    OnnxBuilder b(18);
    b.input("x", {-1, 3, 4, 5});
    b.init_i64("axes", {2}, {-2, -1});
    OnnxBuilder::attr_i(b.node("ReduceMean", {"x", "axes"}, {"y"}), "keepdims", 0);
    b.output("y");
    const Tensor ya = run_net(a.import(), {&x}), yb = run_net(b.import(), {&x});
    EXPECT_EQ(ya.shape, (Shape{2, 3}));
    EXPECT_EQ(max_abs_diff(ya, yb), 0.0);
    double s = 0;
    for (int i = 0; i < 20; ++i) s += x.data[i];
    EXPECT_NEAR(ya.data[0], s / 20, 1e-6);
    // The opset-13 attribute at opset 18 is an error that says where axes go.
    OnnxBuilder c(18);
    c.input("x", {1, 4});
    OnnxBuilder::attr_ints(c.node("ReduceMean", {"x"}, {"y"}, "rm"), "axes", {1});
    c.output("y");
    EXPECT_THROW(c.import(), Error);
}

TEST(OnnxOps, DocsListTheRegistry) {
    std::ifstream f(std::string(QCNN_SOURCE_DIR) + "/docs/onnx-ops.md");
    ASSERT_TRUE(f) << "docs/onnx-ops.md is missing; write it with `qcnn info --ops > docs/onnx-ops.md`";
    std::stringstream ss;
    ss << f.rdbuf();
    EXPECT_EQ(ss.str(), onnx_ops_markdown()) << "docs/onnx-ops.md is stale: regenerate it with `qcnn info --ops`";
    for (const std::string& op : supported_onnx_ops())
        EXPECT_NE(onnx_ops_markdown().find("| " + op + " |"), std::string::npos) << op;
}

}  // namespace
}  // namespace qcnn
