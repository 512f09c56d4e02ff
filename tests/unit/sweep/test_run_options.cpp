// The run-option table (core/sweep/run_options.h): every descriptor is walked through the spec
// reader/writer and the CLI text path with a non-default value, so an option added to the table
// is covered without a test edit; bad values are rejected naming the key (spec) or the flag (CLI).
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "core/sweep/run_options.h"
#include "core/util/error.h"
#include "sweep_test_util.h"

namespace qcnn {
namespace {


// A spec with every run option set to a value other than its default.
SweepSpec every_key_set() {
    SweepSpec s;
    for (const RunOption& o : run_options()) set_from_text(o, s, example_value(o), o.key);
    return s;
}

TEST(RunOptions, TableIsConsistent) {
    std::set<std::string> keys, flags, widgets;
    for (const RunOption& o : run_options()) {
        SCOPED_TRACE(o.key);
        EXPECT_TRUE(keys.insert(o.key).second) << "key twice";
        if (!o.flag.empty()) {
            EXPECT_TRUE(flags.insert(o.flag).second) << "flag twice";
        }
        if (o.on_form()) {
            EXPECT_TRUE(widgets.insert(o.widget).second) << "widget name twice";
        }
        EXPECT_FALSE(o.help.empty());
        EXPECT_TRUE(o.get && o.set);
        if (o.kind == OptionKind::Integer) {
            EXPECT_LT(o.min, o.max);
        }
        if (o.kind == OptionKind::Choice) {
            EXPECT_FALSE(o.choices.empty());
        }
        // The default is valid by the option's own checks.
        if (!o.required) {
            SweepSpec s;
            EXPECT_NO_THROW(set_from_text(o, s, option_text(o, SweepSpec{}), o.key));
            EXPECT_TRUE(s == SweepSpec{});
        }
    }
    // The defaults come from RunSpec (one place) and the help prints them.
    EXPECT_EQ(help_with_default(run_option("kmeans_iters")),
              run_option("kmeans_iters").help + " (default: " + std::to_string(RunSpec{}.kmeans_iters) + ")");
    EXPECT_EQ(default_text(run_option("threads")), "0 = all");
}

TEST(RunOptions, EveryKeyRoundTripsThroughTheSpecFileAndTheCliText) {
    const SweepSpec s = every_key_set();
    for (const RunOption& o : run_options()) {
        SCOPED_TRACE(o.key);
        EXPECT_NE(o.get(s), o.get(SweepSpec{})) << "the test value equals the default";
        // CLI / form text path.
        SweepSpec t;
        set_from_text(o, t, option_text(o, s), o.key);
        EXPECT_EQ(o.get(t), o.get(s));
    }
    // Spec file path: every key written (none at its default) and read back equal.
    const std::string text = to_json(s);
    for (const RunOption& o : run_options()) EXPECT_NE(text.find("\"" + o.key + "\":"), std::string::npos) << o.key;
    EXPECT_TRUE(parse_sweep_spec(json::parse(text), "s.json") == s) << text;
}

TEST(RunOptions, SixtyThreeBitSeedsAreExactInTheSpecAndTheCliText) {
    SweepSpec s;
    set_from_text(run_option("seeds"), s, "9223372036854775807", "--seed");
    EXPECT_EQ(s.seeds, std::vector<uint64_t>{9223372036854775807ull});
    s.base.model = "m.onnx";
    s.base.data = "fashion-mnist:test";
    s.seeds = {9223372036854775807ull, 9007199254740993ull, 0};
    const std::string text = to_json(s);
    EXPECT_NE(text.find("[9223372036854775807, 9007199254740993, 0]"), std::string::npos) << text;
    EXPECT_EQ(parse_sweep_spec(json::parse(text), "s.json").seeds, s.seeds);
    EXPECT_EQ(run_spec(s, expand(s).at(0)).seed, 9223372036854775807ull);
    EXPECT_EQ(run_spec(s, expand(s).at(1)).seed, 9007199254740993ull);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

TEST(RunOptions, BadValuesAreRejectedNamingTheKeyOrTheFlag) {
    // Every integer option out of range, by the CLI text path and by the spec file.
    for (const RunOption& o : run_options()) {
        if (o.kind != OptionKind::Integer) continue;
        SCOPED_TRACE(o.key);
        const std::string low = std::to_string(o.min - 1);
        SweepSpec s;
        EXPECT_EQ(error_of([&] { set_from_text(o, s, low, o.flag); }).rfind(o.flag + " expects an integer ", 0), 0u);
        EXPECT_EQ(error_of([&] { set_from_text(o, s, "x", o.flag); }).rfind(o.flag + " expects an integer ", 0), 0u);
        const std::string value = o.arity == OptionArity::Scalar ? low : "[" + low + "]";
        const std::string key = o.arity == OptionArity::Scalar ? o.key : o.key + "[0]";
        const std::string spec = R"({"qcnn_sweep": 1, "model": "m", "data": "d", ")" + o.key + "\": " + value + "}";
        EXPECT_EQ(error_of([&] { parse_sweep_spec(json::parse(spec), "s.json"); }),
                  "s.json: " + key + ": " + low + " is out of range (" + std::to_string(o.min) + ".." +
                      std::to_string(o.max) + ")");
    }
    SweepSpec s;
    EXPECT_EQ(error_of([&] { set_from_text(run_option("kernel"), s, "slow", "--kernel"); }),
              "--kernel expects one of fast,reference, got 'slow'");
    EXPECT_EQ(error_of([&] { set_from_text(run_option("std"), s, "0.5,0", "--std"); }),
              "--std: a standard deviation must be > 0, got 0");
    EXPECT_EQ(error_of([&] { set_from_text(run_option("mean"), s, "0.5,,1", "--mean"); }),
              "--mean expects comma-separated numbers (e.g. 0.5 or 0.485,0.456,0.406), got '0.5,,1'");
    EXPECT_EQ(error_of([&] { set_from_text(run_option("preprocess"), s, "fancy", "--preprocess"); })
                  .rfind("--preprocess: preprocessing 'fancy' is not known", 0),
              0u);
}

TEST(RunOptions, TheFormAndCliSetTheFirstValueOfASweepDimension) {
    SweepSpec s;
    s.seeds = {1, 2, 3};
    set_from_text(run_option("seeds"), s, "7", "Seed");
    EXPECT_EQ(s.seeds, (std::vector<uint64_t>{7, 2, 3}));
    set_from_text(run_option("seeds"), s, "3", "Seed");  // the later copy goes: values stay distinct
    EXPECT_EQ(s.seeds, (std::vector<uint64_t>{3, 2}));
    EXPECT_EQ(option_text(run_option("seeds"), s), "3");
}

}  // namespace
}  // namespace qcnn
