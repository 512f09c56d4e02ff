// The run options, declared once (issue 16): one descriptor per option holds its sweep-spec
// key, CLI flag, type, bounds, help and workbench label, and reads and writes its field: a
// RunSpec field of SweepSpec::base (core/eval/run.h), or the sweep's own ec, seeds and
// measure_speed. The defaults are RunSpec{}'s (SweepSpec{}'s): the descriptor prints them, it
// never repeats them. What reads the table:
//   - the sweep spec reader and writer (sweep_spec.cpp): keys, types, bounds, canonical order;
//   - the CLI (core/cli): the flags of `qcnn quantize` / `eval` / `demo`, their `--help` lines
//     with the defaults, and the parsing of their values (cli_option_spec, set_from_cli_text);
//   - the workbench's run-options form (ui/run_options_form.h): one widget per option with a
//     label, generated in table order, validated by the same checks.
// Adding a run option: one entry in run_options() (run_options.cpp) and its use in core (the
// RunSpec field and what reads it, e.g. run_quantization); docs/architecture.md "Run options".
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sweep/sweep.h"

namespace qcnn {

enum class OptionKind {
    Text,     // a string, checked by `canonical`
    Integer,  // an int64 in [min, max]
    Float,    // a finite float (checked by `canonical` for further bounds)
    Choice,   // one of `choices`
    Flag,     // true / false
};

enum class OptionArity {
    Scalar,     // one value
    List,       // a list of values (JSON array; CLI and form: comma-separated text)
    Dimension,  // a sweep dimension (ec, seeds): a JSON array of distinct values whose product
                // with the grid makes the runs; the CLI and the form set its first value
};

struct RunOption {
    std::string key;          // sweep spec key ("kmeans_iters")
    std::string flag;         // CLI flag ("--kmeans-iters"); "" when the CLI has none
    std::string metavar;      // CLI value name ("I")
    OptionKind kind = OptionKind::Text;
    OptionArity arity = OptionArity::Scalar;
    std::string label;        // workbench form label; "" when the form does not show it (model, base)
    std::string widget;       // object name of its form widget ("itersSpin")
    std::string help;         // one sentence, may span lines ('\n'); the default is appended by the users
    int64_t min = 0, max = 0;            // Integer
    std::vector<std::string> choices;    // Choice
    std::string special;      // Integer: what the minimum means ("all", "auto"); Text: what "" means
    std::string example;      // Text: a valid value other than the default (example_value)
    bool required = false;    // the spec must give it (model, data)
    bool omit_default = false;  // the canonical spec leaves it out at its default (keys added after
                                // version 1's first release, so old specs keep their canonical text)
    // One value's canonical text, or an Error saying what is wrong (without naming the option).
    // Unset: Integer / Float / Choice / Flag are checked by their kind only, Text is taken as is.
    std::function<std::string(const std::string&)> canonical;
    // The field's values as canonical texts (one for Scalar) and the setter (values already checked).
    std::function<std::vector<std::string>(const SweepSpec&)> get;
    std::function<void(SweepSpec&, const std::vector<std::string>&)> set;

    bool on_form() const { return !label.empty(); }
};

// Every run option in canonical order (the order of the spec file and of the form).
const std::vector<RunOption>& run_options();
// By key; QCNN_ASSERT that it exists.
const RunOption& run_option(std::string_view key);

// One value's text -> its canonical text (kind check, bounds, `canonical`); throws Error with a
// message that does not name the option ("expects an integer in [1, 10000], got '0'").
std::string check_option_value(const RunOption& o, const std::string& text);
// A whole text as the CLI and the form give it: Scalar and Dimension: one value; List: values
// separated by commas ("" = empty list). Sets the option in `s` (Dimension: its first value,
// later copies of that value dropped). Throws Error whose message starts with `who` (the flag,
// the key or the label): "--kmeans-iters expects an integer in [1, 10000], got '0'".
void set_from_text(const RunOption& o, SweepSpec& s, const std::string& text, const std::string& who);
// The text set_from_text reads back: Scalar / Dimension: the (first) value; List: joined with ",".
std::string option_text(const RunOption& o, const SweepSpec& s);
// "25", "0 = all", "none" (an empty List / Text), for help texts and tooltips.
std::string default_text(const RunOption& o);
// A valid value other than the default, as text (Integer: the maximum; Text: `example`): what
// the table-walking tests set every option to.
std::string example_value(const RunOption& o);
// Its help line with the default: "k-means iterations per sub-space (default: 25)".
std::string help_with_default(const RunOption& o);

// Cross-option checks after every option is set (a preprocess preset applies only to image
// folders); throws Error whose message names the key (`flags`: the CLI flag).
void check_run_options(const SweepSpec& s, bool flags = false);

}  // namespace qcnn
