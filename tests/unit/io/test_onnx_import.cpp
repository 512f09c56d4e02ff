// ONNX importer: bad inputs (each error names the file and the node/initializer/input), graph
// handling (topological sort, constant folding at import and plan time, BatchNorm and bias
// folding, Gemm/MatMul mapping, Dropout/Identity elision), and the small public helpers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/graph/plan.h"
#include "core/io/onnx_import.h"
#include "core/ops/batchnorm.h"
#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/ops/layout.h"
#include "core/ops/matmul.h"
#include "core/ops/pool.h"
#include "core/ops/softmax.h"
#include "core/util/error.h"
#include "tests/unit/io/onnx_builder.h"

namespace qcnn {
namespace {

using testing::max_abs_diff;
using testing::OnnxBuilder;
using testing::random_tensor;
using testing::run_net;
namespace fs = std::filesystem;
constexpr int kFloat = onnx::TensorProto_DataType_FLOAT;
constexpr int kInt64 = onnx::TensorProto_DataType_INT64;

void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
    try {
        f();
        ADD_FAILURE() << "no error thrown; expected one mentioning '" << parts.at(0) << "'";
    } catch (const Error& e) {
        const std::string msg = e.what();
        for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    }
}

int count_nodes(const Network& net, const std::string& type) {
    int n = 0;
    for (const auto& node : net.nodes) n += node.op->type() == type;
    return n;
}

Tensor relu(Tensor t) {
    for (float& v : t.data) v = std::max(v, 0.0f);
    return t;
}

std::string testdata(const std::string& rel) { return std::string(QCNN_ONNX_TESTDATA_DIR) + "/" + rel; }

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// A minimal valid model: y = Relu(x).
OnnxBuilder relu_model() {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.node("Relu", {"x"}, {"y"}, "relu");
    b.output("y");
    return b;
}

// ---------------------------------------------------------------------------------------------
// Bad files

TEST(OnnxImportErrors, MissingFile) {
    expect_error([] { import_onnx("/nonexistent/qcnn/model.onnx"); }, {"/nonexistent/qcnn/model.onnx", "cannot open"});
}

TEST(OnnxImportErrors, RandomBytes) {
    for (uint32_t seed : {1u, 7u, 42u}) {
        std::mt19937 rng(seed);
        std::string bytes(4096, '\0');
        for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
        SCOPED_TRACE(seed);
        expect_error([&] { import_onnx_bytes(bytes, "random.onnx"); }, {"random.onnx", "not a valid ONNX model"});
    }
    const fs::path p = fs::path(::testing::TempDir()) / "qcnn_random.onnx";
    std::ofstream(p, std::ios::binary) << std::string("\xff\xfe garbage \x01\x02", 14);
    expect_error([&] { import_onnx(p.string()); }, {p.string(), "not a valid ONNX model (protobuf parse failed)"});
}

TEST(OnnxImportErrors, TruncatedModel) {
    const std::string path = testdata("pytorch-converted/test_Conv2d/model.onnx");
    const std::string full = slurp(path);
    ASSERT_GT(full.size(), 100u);
    // Cut inside the weights: a length-delimited field runs past the end.
    expect_error([&] { import_onnx_bytes(full.substr(0, full.size() / 2), "cut.onnx"); },
                 {"cut.onnx: not a valid ONNX model (protobuf parse failed)"});
    // Every other cut point fails cleanly with an error naming the source (never a crash).
    for (size_t cut = 0; cut < full.size(); cut += 7)
        expect_error([&] { import_onnx_bytes(full.substr(0, cut), "cut.onnx"); }, {"cut.onnx"});
    const fs::path p = fs::path(::testing::TempDir()) / "qcnn_truncated.onnx";
    std::ofstream(p, std::ios::binary) << full.substr(0, full.size() - 20);
    expect_error([&] { import_onnx(p.string()); }, {p.string(), "not a valid ONNX model"});
}

TEST(OnnxImportErrors, UnsupportedOpNamesOpNodeAndList) {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.node("Foo", {"x"}, {"y"}, "foo_node");
    b.output("y");
    expect_error([&] { b.import(); },
                 {"test.onnx: node 'foo_node' uses op 'Foo', which is not supported; supported ops: Add, AveragePool,",
                  "Conv", "Gemm", "Unsqueeze"});
}

TEST(OnnxImportErrors, UnnamedNodeGetsTypeAndIndex) {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.node("Relu", {"x"}, {"r"});
    b.node("Cos", {"r"}, {"y"});
    b.output("y");
    expect_error([&] { b.import(); }, {"node 'Cos_1' uses op 'Cos'"});
}

TEST(OnnxImportErrors, NonFloatInitializer) {
    OnnxBuilder b = relu_model();
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(onnx::TensorProto_DataType_INT8);
    t->add_dims(2);
    t->add_int32_data(1);
    t->add_int32_data(2);
    expect_error([&] { b.import(); },
                 {"test.onnx: initializer 'w' has data type INT8; only FLOAT (and INT64 for shapes) is supported"});
}

TEST(OnnxImportErrors, RawDataSizeMismatch) {
    OnnxBuilder b = relu_model();
    auto* t = b.init("w", Tensor({2, 3}));
    t->set_raw_data(std::string(12, '\0'));
    expect_error([&] { b.import(); }, {"test.onnx: initializer 'w': raw_data has 12 bytes, dims [2x3] need 24"});
}

TEST(OnnxImportErrors, TypedDataCountMismatch) {
    OnnxBuilder b = relu_model();
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(kFloat);
    t->add_dims(4);
    t->add_float_data(1.0f);
    expect_error([&] { b.import(); }, {"initializer 'w'", "1 float values", "need 4"});
    OnnxBuilder c = relu_model();
    auto* s = c.init_i64("s", {3}, {1, 2});
    (void)s;
    expect_error([&] { c.import(); }, {"initializer 's'", "2 int64 values", "need 3"});
}

TEST(OnnxImportErrors, AbsurdAndNegativeDims) {
    OnnxBuilder b = relu_model();
    auto* t = b.graph().add_initializer();
    t->set_name("huge");
    t->set_data_type(kFloat);
    for (int64_t d : {65536, 65536, 4}) t->add_dims(d);
    expect_error([&] { b.import(); }, {"test.onnx: initializer 'huge'", "more than 2147483648 elements"});
    OnnxBuilder c = relu_model();
    auto* u = c.graph().add_initializer();
    u->set_name("neg");
    u->set_data_type(kFloat);
    u->add_dims(-3);
    expect_error([&] { c.import(); }, {"initializer 'neg'", "negative dimension"});
}

TEST(OnnxImportErrors, ExternalData) {
    OnnxBuilder b = relu_model();
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(kFloat);
    t->add_dims(2);
    t->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    expect_error([&] { b.import(); }, {"initializer 'w'", "external file"});
}

TEST(OnnxImportErrors, ForeignDomainAndMissingOpset) {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.node("FusedConv", {"x"}, {"y"}, "fused")->set_domain("com.microsoft");
    b.output("y");
    expect_error([&] { b.import(); }, {"test.onnx: node 'fused'", "domain 'com.microsoft'", "only the ai.onnx domain"});

    OnnxBuilder c = relu_model();
    c.model().clear_opset_import();
    auto* o = c.model().add_opset_import();
    o->set_domain("ai.onnx.ml");
    o->set_version(3);
    expect_error([&] { c.import(); }, {"test.onnx", "does not import the ai.onnx opset"});
}

TEST(OnnxImportErrors, CycleIsRefused) {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.node("Add", {"x", "b"}, {"a"}, "first");
    b.node("Relu", {"a"}, {"b"}, "second");
    b.output("a");
    expect_error([&] { b.import(); }, {"test.onnx: the graph has a cycle", "'first'", "'second'"});
}

TEST(OnnxImportErrors, DanglingAndDuplicateValues) {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.node("Add", {"x", "ghost"}, {"y"}, "adder");
    b.output("y");
    expect_error([&] { b.import(); }, {"node 'adder' (Add) reads 'ghost', which no node, initializer or graph input"});

    OnnxBuilder c;
    c.input("x", {1, 4});
    c.node("Relu", {"x"}, {"y"}, "r1");
    c.node("Sigmoid", {"x"}, {"y"}, "r2");
    c.output("y");
    expect_error([&] { c.import(); }, {"value 'y' is produced by both node 'r1' and node 'r2'"});

    OnnxBuilder d;
    d.input("x", {1, 4});
    d.node("Relu", {"x"}, {"r"}, "r1");
    d.output("nowhere");
    expect_error([&] { d.import(); }, {"graph output 'nowhere' is not produced"});
}

TEST(OnnxImportErrors, GraphInputTypes) {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.input("shape", {2}, kInt64);
    b.node("Reshape", {"x", "shape"}, {"y"}, "reshape");
    b.output("y");
    expect_error([&] { b.import(); }, {"test.onnx: graph input 'shape' is INT64", "bind_constants"});

    OnnxBuilder c;
    c.input("x", {1, 4}, onnx::TensorProto_DataType_UINT8);
    c.node("Relu", {"x"}, {"y"});
    c.output("y");
    expect_error([&] { c.import(); }, {"test.onnx: graph input 'x' has data type UINT8; only FLOAT"});

    OnnxBuilder d = relu_model();
    d.model().mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto_DataType_BOOL);
    expect_error([&] { d.import(); }, {"graph output 'y' has data type BOOL"});

    ImportOptions opts;
    opts.bind_constants["nope"].init_f = std::make_shared<Tensor>(Shape{1});
    expect_error([&] { relu_model().import(opts); }, {"bind_constants names 'nope', which is not a graph input"});

    ImportOptions wrong;
    wrong.bind_constants["shape"].init_f = std::make_shared<Tensor>(Shape{2});
    expect_error([&] { b.import(wrong); }, {"graph input 'shape' is declared INT64, the bound constant is FLOAT"});
}

TEST(OnnxImportErrors, WeightsMustBeConstant) {
    OnnxBuilder b;
    b.input("x", {1, 3, 5, 5});
    b.input("w", {4, 3, 3, 3});
    b.node("Conv", {"x", "w"}, {"y"}, "conv");
    b.output("y");
    expect_error([&] { b.import(); }, {"test.onnx: node 'conv' (Conv): weight W 'w' must be a constant"});
}

TEST(OnnxImportErrors, UnsupportedModesNameTheNode) {
    OnnxBuilder b;
    b.input("x", {1, 2, 4, 4});
    auto* n = b.node("Pad", {"x", "p"}, {"y"}, "padder");
    OnnxBuilder::attr_s(n, "mode", "wrap");
    b.init_i64("p", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
    b.output("y");
    expect_error([&] { b.import(); }, {"node 'padder' (Pad): mode 'wrap' is not supported"});

    OnnxBuilder c;
    c.input("x", {1, 4});
    OnnxBuilder::attr_i(c.node("Cast", {"x"}, {"y"}, "caster"), "to", onnx::TensorProto_DataType_DOUBLE);
    c.output("y");
    expect_error([&] { c.import(); }, {"node 'caster' (Cast): Cast to DOUBLE is not supported"});
}

TEST(OnnxImportErrors, PlanTimeErrorsNameTheNode) {
    OnnxBuilder b;
    b.input("x", {-1, 6});
    b.init_i64("s", {2}, {4, 4});
    b.node("Reshape", {"x", "s"}, {"y"}, "bad_reshape");
    b.output("y");
    const Network net = b.import();
    expect_error([&] { Plan(net, {{2, 6}}); }, {"test.onnx: node 'bad_reshape' (Reshape)", "12 elements"});
}

// ---------------------------------------------------------------------------------------------
// Graph handling

TEST(OnnxImport, SortsUnsortedNodesTopologically) {
    OnnxBuilder b;
    b.input("x", {2, 3});
    const Tensor c = random_tensor({3}, 11);
    b.init("c", c);
    b.node("Mul", {"r", "c"}, {"y"}, "mul");  // listed before its producer
    b.node("Relu", {"x"}, {"r"}, "relu");
    b.output("y");
    const Network net = b.import();
    ASSERT_EQ(net.nodes.size(), 2u);
    EXPECT_EQ(net.nodes[0].name, "relu");
    EXPECT_EQ(net.nodes[1].name, "mul");
    const Tensor x = random_tensor({2, 3}, 12);
    const Tensor y = run_net(net, {&x});
    for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y.data[i], std::max(x.data[i], 0.0f) * c.data[i % 3]);
}

struct ConvBnModel {
    Tensor w = random_tensor({4, 3, 3, 3}, 21), bias = random_tensor({4}, 22);
    Tensor gamma = random_tensor({4}, 23, 0.5f, 1.5f), beta = random_tensor({4}, 24);
    Tensor mean = random_tensor({4}, 25), var = random_tensor({4}, 26, 0.2f, 2.0f);
    float eps = 1e-3f;
    ConvParams p() const {
        ConvParams cp;
        cp.kernel_h = cp.kernel_w = 3;
        cp.pad_top = cp.pad_left = cp.pad_bottom = cp.pad_right = 1;
        return cp;
    }
    // conv -> bn [-> extra]; `share` adds y = bn + conv, so the conv output has two readers.
    OnnxBuilder build(bool share) const {
        OnnxBuilder b;
        b.input("x", {-1, 3, 6, 6});
        b.init("w", w);
        b.init("b", bias);
        for (auto [n, t] : {std::pair{"g", &gamma}, {"beta", &beta}, {"m", &mean}, {"v", &var}}) b.init(n, *t);
        OnnxBuilder::attr_ints(b.node("Conv", {"x", "w", "b"}, {"c"}, "conv"), "pads", {1, 1, 1, 1});
        OnnxBuilder::attr_f(b.node("BatchNormalization", {"c", "g", "beta", "m", "v"}, {"n"}, "bn"), "epsilon", eps);
        if (share) {
            b.node("Add", {"n", "c"}, {"y"}, "add");
        } else {
            b.node("Relu", {"n"}, {"y"}, "relu");
        }
        b.output("y");
        return b;
    }
    Tensor reference(const Tensor& x, bool share) const {
        const Tensor c = conv_reference(x, p(), w, bias.data.size() ? std::vector<float>(bias.data.begin(), bias.data.end()) : std::vector<float>{});
        auto vec = [](const Tensor& t) { return std::vector<float>(t.data.begin(), t.data.end()); };
        Tensor n = batchnorm_reference(c, vec(gamma), vec(beta), vec(mean), vec(var), eps);
        if (!share) return relu(n);
        for (int64_t i = 0; i < n.size(); ++i) n.data[i] += c.data[i];
        return n;
    }
};

TEST(OnnxImport, BatchNormFoldsIntoConv) {
    const ConvBnModel m;
    const Tensor x = random_tensor({2, 3, 6, 6}, 27);
    const Network folded = m.build(false).import();
    EXPECT_EQ(count_nodes(folded, "BatchNormalization"), 0);
    ASSERT_EQ(folded.nodes.size(), 2u);
    EXPECT_EQ(folded.nodes[0].alias, "conv1");
    EXPECT_EQ(folded.values[folded.nodes[0].outputs[0]].name, "n");  // the value now carries BN's output name
    ImportOptions keep;
    keep.fold_batchnorm = false;
    const Network unfolded = m.build(false).import(keep);
    EXPECT_EQ(count_nodes(unfolded, "BatchNormalization"), 1);
    const Tensor ref = m.reference(x, false);
    EXPECT_LT(max_abs_diff(run_net(folded, {&x}), ref), 1e-4);
    EXPECT_LT(max_abs_diff(run_net(unfolded, {&x}), ref), 1e-4);
}

TEST(OnnxImport, BatchNormKeptWhenConvOutputHasOtherReaders) {
    const ConvBnModel m;
    const Network net = m.build(true).import();
    EXPECT_EQ(count_nodes(net, "BatchNormalization"), 1);
    const Tensor x = random_tensor({1, 3, 6, 6}, 28);
    EXPECT_LT(max_abs_diff(run_net(net, {&x}, 2), m.reference(x, true)), 1e-4);
}

TEST(OnnxImport, BatchNormFoldsIntoGemm) {
    OnnxBuilder b;
    b.input("x", {-1, 5});
    const Tensor w = random_tensor({4, 5}, 31), bias = random_tensor({4}, 32);
    const Tensor g = random_tensor({4}, 33, 0.5f, 1.5f), be = random_tensor({4}, 34), mu = random_tensor({4}, 35),
                 var = random_tensor({4}, 36, 0.5f, 1.5f);
    b.init("w", w);
    b.init("b", bias);
    b.init("g", g);
    b.init("be", be);
    b.init("mu", mu);
    b.init("var", var);
    OnnxBuilder::attr_i(b.node("Gemm", {"x", "w", "b"}, {"f"}, "fc"), "transB", 1);
    b.node("BatchNormalization", {"f", "g", "be", "mu", "var"}, {"y"}, "bn");
    b.output("y");
    const Network net = b.import();
    ASSERT_EQ(net.nodes.size(), 1u);
    EXPECT_EQ(net.nodes[0].alias, "fc1");
    const Tensor x = random_tensor({3, 5}, 37);
    auto vec = [](const Tensor& t) { return std::vector<float>(t.data.begin(), t.data.end()); };
    const Tensor ref = batchnorm_reference(fc_reference(x, w, vec(bias)), vec(g), vec(be), vec(mu), vec(var), 1e-5f);
    EXPECT_LT(max_abs_diff(run_net(net, {&x}), ref), 1e-4);
}

TEST(OnnxImport, MatMulPlusConstantBecomesFcWithBias) {
    OnnxBuilder b;
    b.input("x", {2, 3, 5});
    const Tensor w = random_tensor({5, 4}, 41), bias = random_tensor({4}, 42);
    b.init("w", w);
    b.init("bias", bias);
    b.node("MatMul", {"x", "w"}, {"m"}, "linear");
    b.node("Add", {"bias", "m"}, {"y"}, "add");  // constant on the left
    b.output("y");
    const Network net = b.import();
    ASSERT_EQ(net.nodes.size(), 1u);
    const auto* fc = dynamic_cast<const FcOp*>(net.nodes[0].op.get());
    ASSERT_NE(fc, nullptr);
    EXPECT_EQ(fc->type(), "MatMul");
    EXPECT_EQ(fc->bias().size(), 4u);
    const Tensor x = random_tensor({2, 3, 5}, 43);
    Tensor ref = matmul_reference(x, w);
    for (int64_t i = 0; i < ref.size(); ++i) ref.data[i] += bias.data[i % 4];
    EXPECT_LT(max_abs_diff(run_net(net, {&x}), ref), 1e-5);
}

TEST(OnnxImport, GemmMapsToFcOnlyWhenItCan) {
    struct Variant {
        bool trans_a, trans_b;
        Shape c_shape;  // empty: no C
        bool expect_fc;
    };
    const Variant variants[] = {
        {false, false, {}, true},     {false, true, {4}, true},    {false, false, {1, 4}, true},
        {false, true, {1}, true},     {true, false, {4}, false},   {false, false, {3, 4}, false},
        {false, true, {3, 1}, false}, {true, true, {3, 4}, false},
    };
    for (const auto& v : variants) {
        SCOPED_TRACE(cat("transA ", v.trans_a, " transB ", v.trans_b, " C ", to_string(v.c_shape)));
        OnnxBuilder b;
        const Shape a_shape = v.trans_a ? Shape{5, 3} : Shape{3, 5};
        const Shape b_shape = v.trans_b ? Shape{4, 5} : Shape{5, 4};
        b.input("a", a_shape);
        const Tensor bt = random_tensor(b_shape, 51);
        b.init("b", bt);
        std::vector<std::string> ins{"a", "b"};
        Tensor ct;
        if (!v.c_shape.empty()) {
            ct = random_tensor(v.c_shape, 52);
            b.init("c", ct);
            ins.push_back("c");
        }
        auto* n = b.node("Gemm", ins, {"y"}, "gemm");
        OnnxBuilder::attr_i(n, "transA", v.trans_a);
        OnnxBuilder::attr_i(n, "transB", v.trans_b);
        OnnxBuilder::attr_f(n, "alpha", 0.75f);
        OnnxBuilder::attr_f(n, "beta", 1.5f);
        b.output("y");
        const Network net = b.import();
        ASSERT_EQ(net.nodes.size(), 1u);
        EXPECT_EQ(net.nodes[0].op->weight_layer(), v.expect_fc);
        const Tensor a = random_tensor(a_shape, 53);
        GemmParams gp{0.75f, 1.5f, v.trans_a, v.trans_b};
        const Tensor ref = gemm_reference(a, bt, v.c_shape.empty() ? nullptr : &ct, gp);
        EXPECT_LT(max_abs_diff(run_net(net, {&a}), ref), 1e-5);
    }
}

TEST(OnnxImport, FoldsPyTorchDynamicBatchReshapeChainAtPlanTime) {
    OnnxBuilder b;
    b.input("x", {-1, 2, 4, 4});
    const Tensor w = random_tensor({3, 2, 3, 3}, 61), w2 = random_tensor({5, 48}, 62), b2 = random_tensor({5}, 63);
    b.init("w", w);
    b.init("w2", w2);
    b.init("b2", b2);
    b.init_i64("axes0", {1}, {0});
    OnnxBuilder::attr_ints(b.node("Conv", {"x", "w"}, {"c"}, "conv"), "pads", {1, 1, 1, 1});
    b.node("Shape", {"c"}, {"s"}, "shape");
    OnnxBuilder::attr_tensor_i64(b.node("Constant", {}, {"zero"}, "const0"), "value", {}, {0});
    OnnxBuilder::attr_i(b.node("Gather", {"s", "zero"}, {"n"}, "gather"), "axis", 0);
    b.node("Unsqueeze", {"n", "axes0"}, {"nu"}, "unsqueeze");
    OnnxBuilder::attr_tensor_i64(b.node("Constant", {}, {"minus1"}, "const1"), "value", {1}, {-1});
    OnnxBuilder::attr_i(b.node("Concat", {"nu", "minus1"}, {"shp"}, "concat"), "axis", 0);
    b.node("Reshape", {"c", "shp"}, {"r"}, "reshape");
    OnnxBuilder::attr_i(b.node("Gemm", {"r", "w2", "b2"}, {"y"}, "fc"), "transB", 1);
    b.output("y");
    const Network net = b.import();
    for (int64_t batch : {1, 4}) {
        SCOPED_TRACE(batch);
        const Tensor x = random_tensor({batch, 2, 4, 4}, 64 + static_cast<uint32_t>(batch));
        Plan plan(net, {x.shape});
        std::vector<std::string> runtime;
        for (int ni : plan.runtime_nodes()) runtime.push_back(net.nodes[ni].op->type());
        EXPECT_EQ(runtime, (std::vector<std::string>{"Conv", "Reshape", "Gemm"}));
        plan.run({&x}, ExecContext{1});
        ConvParams cp;
        cp.kernel_h = cp.kernel_w = 3;
        cp.pad_top = cp.pad_left = cp.pad_bottom = cp.pad_right = 1;
        Tensor c = conv_reference(x, cp, w, {});
        c.reshape({batch, 48});
        const Tensor ref = fc_reference(c, w2, std::vector<float>(b2.data.begin(), b2.data.end()));
        EXPECT_LT(max_abs_diff(plan.output(0), ref), 1e-4);
    }
}

TEST(OnnxImport, DropoutAndIdentityAreElided) {
    OnnxBuilder b;
    b.input("x", {2, 3});
    b.node("Dropout", {"x"}, {"d"}, "drop");
    b.node("Relu", {"d"}, {"r"}, "relu");
    b.node("Identity", {"r"}, {"i"}, "id1");
    b.node("Sigmoid", {"i"}, {"s"}, "sig");
    b.node("Identity", {"s"}, {"y"}, "id_out");  // a graph output: kept as a node
    b.output("y");
    const Network net = b.import();
    std::vector<std::string> names;
    for (const auto& n : net.nodes) names.push_back(n.name);
    EXPECT_EQ(names, (std::vector<std::string>{"relu", "sig", "id_out"}));
    const Tensor x = random_tensor({2, 3}, 71);
    const Tensor y = run_net(net, {&x});
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(y.data[i], 1.0 / (1.0 + std::exp(-std::max(x.data[i], 0.0f))), 1e-6);
}

TEST(OnnxImport, NodeNamesAliasesAndOldStyleInitializerInputs) {
    OnnxBuilder b(9);
    b.input("x", {-1, 1, 4, 4});
    b.input("w1", {2, 1, 3, 3});  // old exporters list initializers as graph inputs
    b.init("w1", random_tensor({2, 1, 3, 3}, 81));
    b.init("w2", random_tensor({2, 2, 1, 1}, 82));
    b.init("wf", random_tensor({3, 2}, 83));
    b.node("Conv", {"x", "w1"}, {"c1"});
    b.node("Relu", {"c1"}, {"r1"});
    b.node("Conv", {"r1", "w2"}, {"c2"}, "named_conv");
    OnnxBuilder::attr_ints(b.node("MaxPool", {"c2"}, {"p"}), "kernel_shape", {2, 2});
    OnnxBuilder::attr_i(b.node("Flatten", {"p"}, {"f"}), "axis", 1);
    OnnxBuilder::attr_i(b.node("Gemm", {"f", "wf"}, {"y"}), "transB", 1);
    b.output("y");
    const Network net = b.import();
    ASSERT_EQ(net.inputs.size(), 1u);
    EXPECT_EQ(net.values[net.inputs[0]].name, "x");
    std::vector<std::string> names, aliases;
    for (const auto& n : net.nodes) {
        names.push_back(n.name);
        aliases.push_back(n.alias);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"Conv_0", "Relu_1", "named_conv", "MaxPool_3", "Flatten_4", "Gemm_5"}));
    EXPECT_EQ(aliases, (std::vector<std::string>{"conv1", "", "conv2", "", "", "fc1"}));
    EXPECT_EQ(net.sample_shape(), (Shape{1, 4, 4}));
    const Tensor x = random_tensor({3, 1, 4, 4}, 84);
    EXPECT_EQ(run_net(net, {&x}).shape, (Shape{3, 3}));
}

TEST(OnnxImport, BoundConstantsFoldAtImport) {
    OnnxBuilder b;
    b.input("x", {2, 6});
    b.input("shape", {3}, kInt64);
    b.input("scale", {1});
    b.node("Reshape", {"x", "shape"}, {"r"}, "reshape");
    b.node("Mul", {"r", "scale"}, {"y"}, "mul");
    b.output("y");
    ImportOptions opts;
    opts.bind_constants["shape"].shape = {3};
    opts.bind_constants["shape"].init_i = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{3, -1, 2});
    opts.bind_constants["scale"].init_f = std::make_shared<Tensor>(Shape{1}, 2.0f);
    const Network net = b.import(opts);
    ASSERT_EQ(net.inputs.size(), 1u);
    const Tensor x = random_tensor({2, 6}, 91);
    const Tensor y = run_net(net, {&x});
    EXPECT_EQ(y.shape, (Shape{3, 2, 2}));
    for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(y.data[i], 2.0f * x.data[i]);
}

TEST(OnnxImport, ConstantSubgraphsFoldAtImport) {
    // y = x MatMul Transpose(W): the transposed weight is folded, so the MatMul becomes an Fc.
    OnnxBuilder b;
    b.input("x", {-1, 5});
    const Tensor w = random_tensor({4, 5}, 95);
    b.init("w", w);
    OnnxBuilder::attr_ints(b.node("Transpose", {"w"}, {"wt"}, "t"), "perm", {1, 0});
    b.node("MatMul", {"x", "wt"}, {"y"}, "mm");
    b.output("y");
    const Network net = b.import();
    ASSERT_EQ(net.nodes.size(), 1u);
    EXPECT_EQ(net.nodes[0].alias, "fc1");
    const Tensor x = random_tensor({2, 5}, 96);
    EXPECT_LT(max_abs_diff(run_net(net, {&x}), fc_reference(x, w, {})), 1e-5);
}

TEST(OnnxImport, BranchesWithResidualAddAndConcat) {
    // x -> conv_a -> relu --+--> add -> concat(add, x) -> GlobalAveragePool -> Flatten -> Gemm
    // x -> conv_b ----------+
    // Nodes are listed out of order; conv_b's weight is stored in typed float_data.
    OnnxBuilder b;
    b.input("x", {-1, 3, 5, 5});
    const Tensor wa = random_tensor({3, 3, 3, 3}, 111), wb = random_tensor({3, 3, 1, 1}, 112);
    const Tensor wf = random_tensor({4, 6}, 113), bf = random_tensor({4}, 114);
    b.init("wa", wa);
    auto* twb = b.graph().add_initializer();
    twb->set_name("wb");
    twb->set_data_type(kFloat);
    for (int64_t d : wb.shape) twb->add_dims(d);
    for (float v : wb.data) twb->add_float_data(v);
    b.init("wf", wf);
    b.init("bf", bf);
    OnnxBuilder::attr_i(b.node("Gemm", {"flat", "wf", "bf"}, {"y"}, "fc"), "transB", 1);
    b.node("Add", {"ra", "cb"}, {"sum"}, "residual");
    OnnxBuilder::attr_ints(b.node("Conv", {"x", "wa"}, {"ca"}, "conv_a"), "pads", {1, 1, 1, 1});
    b.node("GlobalAveragePool", {"cat"}, {"gap"}, "gap");
    OnnxBuilder::attr_i(b.node("Concat", {"sum", "x"}, {"cat"}, "concat"), "axis", 1);
    b.node("Relu", {"ca"}, {"ra"}, "relu");
    b.node("Flatten", {"gap"}, {"flat"}, "flatten");
    b.node("Conv", {"x", "wb"}, {"cb"}, "conv_b");
    b.output("y");
    const Network net = b.import();
    std::vector<std::string> names;
    for (const auto& n : net.nodes) names.push_back(n.name);
    EXPECT_EQ(names, (std::vector<std::string>{"conv_a", "relu", "conv_b", "residual", "concat", "gap", "flatten", "fc"}));
    // The weights live in the ops only: consumed initializers are dropped from the value table.
    for (const ValueDecl& v : net.values) EXPECT_FALSE(v.is_initializer()) << v.name;
    EXPECT_EQ(net.values.size(), 9u);  // x and the 8 node outputs

    const Tensor x = random_tensor({2, 3, 5, 5}, 115);
    ConvParams pa;
    pa.kernel_h = pa.kernel_w = 3;
    pa.pad_top = pa.pad_left = pa.pad_bottom = pa.pad_right = 1;
    ConvParams pb;
    const Tensor ra = relu(conv_reference(x, pa, wa, {}));
    const Tensor cb = conv_reference(x, pb, wb, {});
    Tensor feat({2, 6});
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t c = 0; c < 6; ++c) {
            double s = 0;
            for (int64_t i = 0; i < 25; ++i)
                s += c < 3 ? ra.data[(n * 3 + c) * 25 + i] + cb.data[(n * 3 + c) * 25 + i] : x.data[(n * 3 + c - 3) * 25 + i];
            feat.data[n * 6 + c] = static_cast<float>(s / 25);
        }
    const Tensor ref = fc_reference(feat, wf, std::vector<float>(bf.data.begin(), bf.data.end()));
    EXPECT_LT(max_abs_diff(run_net(net, {&x}, 2), ref), 1e-5);
}

TEST(OnnxImport, BundledLeNet5RunsLikeItsReferenceTwins) {
    // The repository's exported Fashion-MNIST LeNet-5 (opset 13, dynamic batch): imported
    // structure, and the engine's kernels against the plain reference twins layer by layer.
    const std::string path = std::string(QCNN_DATASETS_DIR) + "/lenet5.onnx";
    const Network net = import_onnx(path);
    std::vector<std::string> aliases;
    for (int i : net.weight_layers()) aliases.push_back(net.nodes[i].alias);
    EXPECT_EQ(aliases, (std::vector<std::string>{"conv1", "conv2", "fc1", "fc2"}));
    EXPECT_EQ(net.sample_shape(), (Shape{1, 28, 28}));
    const Tensor x = random_tensor({3, 1, 28, 28}, 121, 0.0f, 1.0f);
    Tensor ref = x;
    for (const Node& n : net.nodes) {
        const Op& op = *n.op;
        if (const auto* conv = dynamic_cast<const ConvOp*>(&op))
            ref = conv_reference(ref, conv->conv_params(), conv->weight(), conv->bias());
        else if (const auto* fc = dynamic_cast<const FcOp*>(&op))
            ref = fc_reference(ref, fc->weight(), fc->bias());
        else if (const auto* pool = dynamic_cast<const PoolOp*>(&op))
            ref = pool_reference(ref, pool->pool_params());
        else if (op.type() == "Relu")
            ref = relu(ref);
        else if (op.type() == "Flatten")
            ref.reshape({ref.shape[0], ref.size() / ref.shape[0]});
        else
            FAIL() << "unexpected op " << op.type() << " in " << path;
    }
    const Tensor y = run_net(net, {&x}, 2);
    EXPECT_EQ(y.shape, (Shape{3, 10}));
    EXPECT_LT(max_abs_diff(y, ref), 1e-4);
}

TEST(OnnxImport, SoftmaxFollowsTheModelOpset) {
    for (int64_t opset : {11, 13}) {
        OnnxBuilder b(opset);
        b.input("x", {2, 3, 4});
        OnnxBuilder::attr_i(b.node("Softmax", {"x"}, {"y"}, "sm"), "axis", 1);
        b.output("y");
        const Tensor x = random_tensor({2, 3, 4}, 97, -3.0f, 3.0f);
        const Tensor y = run_net(b.import(), {&x});
        EXPECT_LT(max_abs_diff(y, softmax_reference(x, 1, opset < 13)), 1e-6) << "opset " << opset;
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

TEST(OnnxTensorPb, ReadsFloatAndInt64AndRefusesOthers) {
    const fs::path dir = fs::path(::testing::TempDir());
    onnx::TensorProto t;
    const Tensor v = random_tensor({2, 3}, 101);
    OnnxBuilder::fill_float(&t, "input", v);
    std::ofstream(dir / "qcnn_f.pb", std::ios::binary) << t.SerializeAsString();
    const ValueDecl f = read_tensor_pb((dir / "qcnn_f.pb").string());
    EXPECT_EQ(f.name, "input");
    ASSERT_TRUE(f.init_f);
    EXPECT_EQ(f.init_f->shape, v.shape);
    EXPECT_EQ(f.init_f->data, v.data);

    onnx::TensorProto i;
    i.set_data_type(kInt64);
    i.add_dims(3);
    for (int64_t x : {5, -1, 7}) i.add_int64_data(x);
    std::ofstream(dir / "qcnn_i.pb", std::ios::binary) << i.SerializeAsString();
    const ValueDecl iv = read_tensor_pb((dir / "qcnn_i.pb").string());
    ASSERT_TRUE(iv.init_i);
    EXPECT_EQ(*iv.init_i, (std::vector<int64_t>{5, -1, 7}));
    EXPECT_EQ(iv.shape, (Shape{3}));

    i.set_data_type(onnx::TensorProto_DataType_INT32);
    std::ofstream(dir / "qcnn_b.pb", std::ios::binary) << i.SerializeAsString();
    expect_error([&] { read_tensor_pb((dir / "qcnn_b.pb").string()); }, {"qcnn_b.pb", "INT32"});
    expect_error([&] { read_tensor_pb((dir / "qcnn_missing.pb").string()); }, {"qcnn_missing.pb", "cannot open"});
}

TEST(OnnxModelInfoTest, ListsRuntimeInputsOutputsAndOps) {
    const OnnxModelInfo info = read_onnx_info(testdata("pytorch-converted/test_Conv2d/model.onnx"));
    EXPECT_EQ(info.opset, 6);
    ASSERT_EQ(info.inputs.size(), 1u);  // the weights are initializers
    EXPECT_EQ(info.inputs[0].dtype, "FLOAT");
    EXPECT_EQ(info.op_types, (std::vector<std::string>{"Conv"}));
    ASSERT_EQ(info.outputs.size(), 1u);
    const auto& ops = supported_onnx_ops();
    EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
}

}  // namespace
}  // namespace qcnn
