// ONNX backend conformance: every case of Debian's libonnx-testdata (node/, pytorch-converted/,
// pytorch-operator/, simple/) whose operators are all in supported_onnx_ops() runs as one test:
// import model.onnx, bind the inputs, plan, run, and compare with output_N.pb
// (|actual - expected| <= atol + rtol * |expected|, rtol 1e-3, atol 1e-5, as ONNX's backend
// tests). Binding: input_0 is the runtime input; every other input (weights, shapes, pads,
// indices given as graph inputs in node tests) and any INT64 input is bound as a constant
// via ImportOptions::bind_constants, so it folds at plan time.
// Cases that use a supported op with a data type or mode we refuse are listed in
// kExpectedFailures with the reason and must fail to import with that reason in the message.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "core/graph/plan.h"
#include "core/io/onnx_import.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

namespace fs = std::filesystem;

const char* const kRoot = QCNN_ONNX_TESTDATA_DIR;
const char* const kSuites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

// Case (suite/dir) -> text the import error must contain, and why.
struct ExpectedFailure {
    const char* error_text;
    const char* reason;
};
const std::map<std::string, ExpectedFailure> kExpectedFailures = {
    {"node/test_add_uint8", {"UINT8", "uint8 tensors: only FLOAT (and INT64 shapes) are supported"}},
    {"node/test_mul_uint8", {"UINT8", "uint8 tensors"}},
    {"node/test_sub_uint8", {"UINT8", "uint8 tensors"}},
    {"node/test_div_uint8", {"UINT8", "uint8 tensors"}},
    {"node/test_pow_types_float32_int32", {"INT32", "int32 tensors"}},
    {"node/test_pow_types_float32_uint32", {"UINT32", "uint32 tensors"}},
    {"node/test_pow_types_float32_uint64", {"UINT64", "uint64 tensors"}},
    {"node/test_pow_types_int32_float32", {"INT32", "int32 tensors"}},
    {"node/test_pow_types_int32_int32", {"INT32", "int32 tensors"}},
    {"node/test_pow_types_int64_int64", {"INT64 operands are not supported", "integer Pow (INT64 is for shapes)"}},
    {"node/test_pow_types_float", {"different types (INT64 and FLOAT)", "INT64 base with a FLOAT exponent"}},
    {"node/test_pow_types_int64_float32", {"different types (INT64 and FLOAT)", "INT64 base with a FLOAT exponent"}},
    {"node/test_maxpool_2d_uint8", {"UINT8", "uint8 tensors"}},
    {"node/test_clip_default_int8_inbounds", {"INT8", "int8 tensors"}},
    {"node/test_clip_default_int8_max", {"INT8", "int8 tensors"}},
    {"node/test_clip_default_int8_min", {"INT8", "int8 tensors"}},
    {"node/test_edge_pad", {"INT32", "int32 tensors"}},
    {"node/test_reflect_pad", {"INT32", "int32 tensors"}},
    {"pytorch-operator/test_operator_add_broadcast", {"DOUBLE", "float64 tensors"}},
    {"pytorch-operator/test_operator_add_size1_broadcast", {"DOUBLE", "float64 tensors"}},
    {"pytorch-operator/test_operator_add_size1_right_broadcast", {"DOUBLE", "float64 tensors"}},
    {"pytorch-operator/test_operator_add_size1_singleton_broadcast", {"DOUBLE", "float64 tensors"}},
    {"pytorch-operator/test_operator_addconstant", {"DOUBLE", "float64 tensors"}},
    {"node/test_cast_BFLOAT16_to_FLOAT", {"BFLOAT16", "bfloat16 tensors"}},
    {"node/test_cast_DOUBLE_to_FLOAT", {"DOUBLE", "float64 tensors"}},
    {"node/test_cast_DOUBLE_to_FLOAT16", {"DOUBLE", "float64 tensors"}},
    {"node/test_cast_FLOAT16_to_DOUBLE", {"FLOAT16", "float16 tensors"}},
    {"node/test_cast_FLOAT16_to_FLOAT", {"FLOAT16", "float16 tensors"}},
    {"node/test_cast_FLOAT_to_BFLOAT16", {"BFLOAT16", "bfloat16 tensors"}},
    {"node/test_cast_FLOAT_to_DOUBLE", {"DOUBLE", "float64 tensors"}},
    {"node/test_cast_FLOAT_to_FLOAT16", {"FLOAT16", "float16 tensors"}},
    {"node/test_cast_FLOAT_to_STRING", {"STRING", "string tensors"}},
    {"node/test_cast_STRING_to_FLOAT", {"STRING", "string tensors"}},
    {"node/test_castlike_BFLOAT16_to_FLOAT_expanded", {"BFLOAT16", "bfloat16 tensors"}},
    {"node/test_castlike_DOUBLE_to_FLOAT16_expanded", {"DOUBLE", "float64 tensors"}},
    {"node/test_castlike_DOUBLE_to_FLOAT_expanded", {"DOUBLE", "float64 tensors"}},
    {"node/test_castlike_FLOAT16_to_DOUBLE_expanded", {"FLOAT16", "float16 tensors"}},
    {"node/test_castlike_FLOAT16_to_FLOAT_expanded", {"FLOAT16", "float16 tensors"}},
    {"node/test_castlike_FLOAT_to_BFLOAT16_expanded", {"BFLOAT16", "bfloat16 tensors"}},
    {"node/test_castlike_FLOAT_to_DOUBLE_expanded", {"DOUBLE", "float64 tensors"}},
    {"node/test_castlike_FLOAT_to_FLOAT16_expanded", {"FLOAT16", "float16 tensors"}},
    {"node/test_castlike_FLOAT_to_STRING_expanded", {"STRING", "string tensors"}},
    {"node/test_castlike_STRING_to_FLOAT_expanded", {"STRING", "string tensors"}},
    {"node/test_identity_opt", {"not a tensor", "optional-typed input"}},
    {"node/test_identity_sequence", {"not a tensor", "sequence-typed input"}},
    {"node/test_dropout_default_mask", {"BOOL", "boolean mask output"}},
    {"node/test_dropout_default_mask_ratio", {"BOOL", "boolean mask output"}},
    {"node/test_training_dropout", {"BOOL", "training mode (boolean training_mode input)"}},
    {"node/test_training_dropout_default", {"BOOL", "training mode (boolean training_mode input)"}},
    {"node/test_training_dropout_default_mask", {"BOOL", "training mode (boolean training_mode input)"}},
    {"node/test_training_dropout_mask", {"BOOL", "training mode (boolean training_mode input)"}},
    {"node/test_training_dropout_zero_ratio", {"BOOL", "training mode (boolean training_mode input)"}},
    {"node/test_training_dropout_zero_ratio_mask", {"BOOL", "training mode (boolean training_mode input)"}},
    {"node/test_batchnorm_epsilon_training_mode", {"training_mode=1", "training-mode BatchNormalization"}},
    {"node/test_batchnorm_example_training_mode", {"training_mode=1", "training-mode BatchNormalization"}},
    {"node/test_maxpool_with_argmax_2d_precomputed_pads", {"Indices", "MaxPool's Indices output"}},
    {"node/test_maxpool_with_argmax_2d_precomputed_strides", {"Indices", "MaxPool's Indices output"}},
    {"pytorch-converted/test_Conv3d", {"3-D convolution", "3-D convolution"}},
    {"pytorch-converted/test_Conv3d_dilated", {"3-D convolution", "3-D convolution"}},
    {"pytorch-converted/test_Conv3d_dilated_strided", {"3-D convolution", "3-D convolution"}},
    {"pytorch-converted/test_Conv3d_groups", {"3-D convolution", "3-D convolution"}},
    {"pytorch-converted/test_Conv3d_no_bias", {"3-D convolution", "3-D convolution"}},
    {"pytorch-converted/test_Conv3d_stride", {"3-D convolution", "3-D convolution"}},
    {"pytorch-converted/test_Conv3d_stride_padding", {"3-D convolution", "3-D convolution"}},
};

struct Case {
    std::string key;    // "node/test_conv_with_strides_padding"
    std::string label;  // gtest name: "node_conv_with_strides_padding"
    std::string dir;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.key; }

std::string label_of(const std::string& suite, const std::string& name) {
    std::string s = suite + "_" + (name.rfind("test_", 0) == 0 ? name.substr(5) : name);
    for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return s;
}

std::vector<Case> discover() {
    std::vector<Case> cases;
    const auto& supported = supported_onnx_ops();
    for (const char* suite : kSuites) {
        const fs::path root = fs::path(kRoot) / suite;
        if (!fs::is_directory(root)) continue;
        std::vector<fs::path> dirs;
        for (const auto& e : fs::directory_iterator(root))
            if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
        std::sort(dirs.begin(), dirs.end());
        for (const auto& d : dirs) {
            bool all_supported = true;
            try {
                for (const auto& op : read_onnx_info((d / "model.onnx").string()).op_types)
                    all_supported = all_supported && std::binary_search(supported.begin(), supported.end(), op);
            } catch (const Error&) {
                // Unreadable model: keep it as a case so the failure shows up.
            }
            if (all_supported) {
                const std::string name = d.filename().string();
                cases.push_back({std::string(suite) + "/" + name, label_of(suite, name), d.string()});
            }
        }
    }
    return cases;
}

const std::vector<Case>& all_cases() {
    static const std::vector<Case> cases = discover();
    return cases;
}

::testing::AssertionResult close_enough(const Tensor& got, const Tensor& want) {
    if (got.shape != want.shape)
        return ::testing::AssertionFailure() << "shape " << to_string(got.shape) << ", expected " << to_string(want.shape);
    constexpr double rtol = 1e-3, atol = 1e-5;
    for (int64_t i = 0; i < want.size(); ++i) {
        const double g = got.data[i], w = want.data[i];
        if (std::isnan(w) ? !std::isnan(g) : !(std::abs(g - w) <= atol + rtol * std::abs(w)) && g != w)
            return ::testing::AssertionFailure() << "element " << i << ": got " << g << ", expected " << w;
    }
    return ::testing::AssertionSuccess();
}

std::vector<fs::path> data_sets(const std::string& dir) {
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    return sets;
}

// Imports the case with its inputs bound per the rule above; fills the runtime inputs.
Network import_case(const Case& c, const OnnxModelInfo& info, const fs::path& set, std::vector<Tensor>* runtime) {
    ImportOptions opts;
    for (size_t k = 0; k < info.inputs.size(); ++k) {
        const fs::path pb = set / ("input_" + std::to_string(k) + ".pb");
        if (k == 0 && info.inputs[k].dtype == "FLOAT") {
            if (runtime) runtime->push_back(*read_tensor_pb(pb.string()).init_f);
            continue;
        }
        if (info.inputs[k].dtype != "FLOAT" && info.inputs[k].dtype != "INT64") continue;  // refused at import
        opts.bind_constants[info.inputs[k].name] = read_tensor_pb(pb.string());
    }
    return import_onnx(c.dir + "/model.onnx", opts);
}

class OnnxConformance : public ::testing::TestWithParam<Case> {};

TEST_P(OnnxConformance, MatchesReference) {
    const Case& c = GetParam();
    const OnnxModelInfo info = read_onnx_info(c.dir + "/model.onnx");
    const auto sets = data_sets(c.dir);
    ASSERT_FALSE(sets.empty()) << c.key << " has no test_data_set_*";

    auto xf = kExpectedFailures.find(c.key);
    if (xf != kExpectedFailures.end()) {
        try {
            import_case(c, info, sets[0], nullptr);
            FAIL() << c.key << " imported, but is listed as refused (" << xf->second.reason << ")";
        } catch (const Error& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find(xf->second.error_text), std::string::npos)
                << "error for " << c.key << " does not mention '" << xf->second.error_text << "': " << msg;
            EXPECT_NE(msg.find("model.onnx"), std::string::npos) << "error does not name the file: " << msg;
        }
        return;
    }

    for (const auto& set : sets) {
        SCOPED_TRACE(set.string());
        std::vector<Tensor> inputs;
        const Network net = import_case(c, info, set, &inputs);
        std::vector<Shape> shapes;
        std::vector<const Tensor*> ptrs;
        for (const Tensor& t : inputs) {
            shapes.push_back(t.shape);
            ptrs.push_back(&t);
        }
        Plan plan(net, shapes);
        plan.run(ptrs, ExecContext{2});
        ASSERT_EQ(plan.num_outputs(), info.outputs.size());
        for (size_t j = 0; j < info.outputs.size(); ++j) {
            const ValueDecl want = read_tensor_pb((set / ("output_" + std::to_string(j) + ".pb")).string());
            const ValueInfo& got = plan.info(net.outputs[j]);
            if (want.init_i) {
                ASSERT_EQ(got.dtype, DType::Int64) << "output " << j;
                ASSERT_TRUE(got.iconst) << "output " << j << " is not a plan-time constant";
                EXPECT_EQ(got.shape, want.shape) << "output " << j;
                EXPECT_EQ(*got.iconst, *want.init_i) << "output " << j;
            } else {
                ASSERT_EQ(got.dtype, DType::Float) << "output " << j;
                EXPECT_TRUE(close_enough(plan.output(j), *want.init_f)) << "output " << j;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(LibOnnxTestdata, OnnxConformance, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.label; });

TEST(OnnxConformanceSuite, TestdataIsInstalled) {
    EXPECT_GT(all_cases().size(), 200u) << "libonnx-testdata not found under " << kRoot;
}

TEST(OnnxConformanceSuite, EveryExpectedFailureIsADiscoveredCase) {
    for (const auto& entry : kExpectedFailures) {
        const std::string& key = entry.first;  // not a structured binding: clang 14 (asan preset) cannot capture one
        const bool found = std::any_of(all_cases().begin(), all_cases().end(), [&](const Case& c) { return c.key == key; });
        EXPECT_TRUE(found) << key << " is listed as refused but is not a discovered case (stale entry)";
    }
}

}  // namespace
}  // namespace qcnn
