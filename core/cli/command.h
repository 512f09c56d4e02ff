// The `qcnn` command line: a table of subcommands, each with its option specs and a run
// function. A subcommand is added by writing its function and one entry in commands()
// (commands.cpp); parsing, `--help` texts and error reporting are shared.
//
// Exit codes: 0 success, 1 failure (bad file, bad data, cancelled), 2 usage error (unknown
// option, bad option value, unexpected argument). Errors are one line on stderr:
// "qcnn: error: <message>".
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "core/graph/op.h"
#include "core/sweep/sweep.h"
#include "core/util/error.h"
#include "core/util/paths.h"  // bundled_model: the default --model

namespace qcnn::cli {

// Bad command-line usage (exit code 2).
class UsageError : public Error {
public:
    using Error::Error;
};

// A name without a leading '-' ("SPEC") declares a positional argument: parse_args stores the
// first non-option argument under that name (Args::str("SPEC", ...)); with metavar "..." it takes
// every non-option argument (Args::all("FILES")).
struct OptionSpec {
    std::string name;      // "--model"
    std::string metavar;   // "M" for an option taking a value; empty for a flag
    std::string help;      // one line; mention the default here
};

// Parsed options of one subcommand invocation.
class Args {
public:
    Args(std::string command, std::vector<std::pair<std::string, std::string>> values)
        : command_(std::move(command)), values_(std::move(values)) {}

    const std::string& command() const { return command_; }
    // True when the option was given (flags and valued options alike).
    bool has(std::string_view name) const;
    // Every value of a repeated option or positional, in command-line order.
    std::vector<std::string> all(std::string_view name) const;
    // The option's value (the last one when repeated), or `fallback` when absent.
    std::string str(std::string_view name, const std::string& fallback) const;
    // Integer in [min, max]; UsageError naming the option otherwise.
    int64_t integer(std::string_view name, int64_t fallback, int64_t min, int64_t max) const;
    // Comma-separated floats ("0.5" or "0.485,0.456,0.406"); empty vector when absent.
    std::vector<float> float_list(std::string_view name) const;

private:
    const std::string* find(std::string_view name) const;
    std::string command_;
    std::vector<std::pair<std::string, std::string>> values_;
};

struct CommandContext {
    std::ostream& out;
    std::ostream& err;
    bool err_is_terminal;  // progress bars only when true
};

struct Command {
    std::string name;
    std::string summary;       // one line for `qcnn --help`
    std::string description;   // a paragraph for `qcnn <name> --help`
    std::vector<OptionSpec> options;
    std::function<int(const Args&, CommandContext&)> run;
};

// All subcommands, in the order `qcnn --help` lists them.
const std::vector<Command>& commands();

// Parses the arguments after the subcommand name. `--name value` and `--name=value` both
// work; `--help`/`-h` is handled by the caller (help_requested). Throws UsageError for an
// unknown option (naming it and the command), a missing value, a value given to a flag, or a
// positional argument the command does not declare.
Args parse_args(const Command& cmd, const std::vector<std::string>& argv);
bool help_requested(const std::vector<std::string>& argv);

// The text `qcnn <name> --help` prints.
std::string command_help(const Command& cmd);

// Default paths of the bundled files (the source tree's datasets/ folder).
inline constexpr const char* kDefaultModel = "vgg7";
inline constexpr const char* kDefaultData = "fashion-mnist:test";

// Text table: columns padded to their widest cell, separated by two spaces; columns with
// right_align[i] set are right-aligned (numbers). A dashed rule follows the header.
std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right_align);

// For one command: the calling thread's default OpenMP team size (set_global_threads, which
// also sets the decoding threads of image folders, DataOptions::threads = 0), restored after.
class ScopedThreads {
public:
    explicit ScopedThreads(int threads);
    ~ScopedThreads();
    ScopedThreads(const ScopedThreads&) = delete;
    ScopedThreads& operator=(const ScopedThreads&) = delete;

private:
    int saved_;
};

// "fast" or "reference" (--kernel); UsageError otherwise.
LutKernel parse_lut_kernel(const std::string& text);

// The flag of run option `key` (core/sweep/run_options.h): its metavar and its help line with
// the default; `default_text` replaces the table's default in the help (--model, --data: the
// bundled files).
OptionSpec run_option_spec(std::string_view key, const std::string& default_text = "");
// Sets every run option whose flag was given (all but `except`) in `spec`, checked by the
// table: UsageError naming the flag ("--kmeans-iters expects an integer in [1, 10000], got '0'").
// Then the cross-option checks (--preprocess applies to image folders only).
void apply_run_options(const Args& args, SweepSpec& spec, std::initializer_list<std::string_view> except = {});
// A SweepSpec with the CLI's defaults for the files (the bundled model, kDefaultData) and every
// run option given on the command line applied.
SweepSpec run_options_from_args(const Args& args, std::initializer_list<std::string_view> except = {});

// v with `decimals` decimals ("12.35"); "-" for NaN (not measured) and infinities.
std::string fixed(double v, int decimals);
// "1,234,567".
std::string thousands(int64_t v);
// "91.53%" with `decimals` decimals; "n/a" for NaN.
std::string percent(double fraction, int decimals = 2);

// Subcommand entry points (one file each).
int run_info(const Args& args, CommandContext& ctx);
int run_eval(const Args& args, CommandContext& ctx);
int run_quantize(const Args& args, CommandContext& ctx);
int run_demo(const Args& args, CommandContext& ctx);
int run_sweep(const Args& args, CommandContext& ctx);
int run_merge(const Args& args, CommandContext& ctx);
int run_sensitivity(const Args& args, CommandContext& ctx);
int run_auto(const Args& args, CommandContext& ctx);

}  // namespace qcnn::cli
