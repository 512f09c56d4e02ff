#include "core/cli/cli.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "core/cli/command.h"

namespace qcnn {

namespace {

using cli::Command;
using cli::commands;
using cli::UsageError;

std::string main_help() {
    std::string s =
        "usage: qcnn <command> [options]\n\n"
        "Quantized CNNs (Wu et al., CVPR 2016): inspect, evaluate and quantize ONNX classifiers.\n\n"
        "commands:\n";
    size_t width = 0;
    for (const auto& c : commands()) width = std::max(width, c.name.size());
    for (const auto& c : commands()) s += "  " + c.name + std::string(width - c.name.size() + 3, ' ') + c.summary + "\n";
    s +=
        "\noptions:\n"
        "  -h, --help   show this help\n"
        "  --version    show the version\n\n"
        "Run 'qcnn <command> --help' for a command's options.\n";
    return s;
}

std::string command_list() {
    std::string s;
    for (const auto& c : commands()) s += (s.empty() ? "" : ", ") + c.name;
    return s;
}

// Error messages go out as one line: line breaks and runs of blanks become one space.
std::string one_line(const std::string& msg) {
    std::string out;
    for (char c : msg) {
        const bool blank = c == '\n' || c == '\r' || c == '\t' || c == ' ';
        if (!blank)
            out += c;
        else if (!out.empty() && out.back() != ' ')
            out += ' ';
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

int dispatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool err_is_terminal) {
    if (args.empty()) throw UsageError("no command given (commands: " + command_list() + "; see 'qcnn --help')");
    const std::string& name = args[0];
    if (name == "--help" || name == "-h" || name == "help") {
        out << main_help();
        return 0;
    }
    if (name == "--version") {
        out << "qcnn " << QCNN_VERSION << "\n";
        return 0;
    }
    const Command* cmd = nullptr;
    for (const auto& c : commands())
        if (c.name == name) cmd = &c;
    if (!cmd) {
        if (name.rfind("-", 0) == 0) throw UsageError("unknown option '" + name + "' (see 'qcnn --help')");
        throw UsageError("unknown command '" + name + "' (commands: " + command_list() + ")");
    }
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cli::help_requested(rest)) {
        out << cli::command_help(*cmd);
        return 0;
    }
    const cli::Args parsed = cli::parse_args(*cmd, rest);
    cli::CommandContext ctx{out, err, err_is_terminal};
    return cmd->run(parsed, ctx);
}

}  // namespace

int run_cli(int argc, char** argv, std::ostream& out, std::ostream& err) {
    const bool err_is_terminal = &err == &std::cerr && isatty(STDERR_FILENO) == 1;
    try {
        std::vector<std::string> args;
        for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
        const int rc = dispatch(args, out, err, err_is_terminal);
        out.flush();
        return rc;
    } catch (const UsageError& e) {
        err << "qcnn: error: " << one_line(e.what()) << "\n";
        return 2;
    } catch (const Cancelled& e) {
        err << "qcnn: error: " << one_line(e.what()) << "\n";
        return 1;
    } catch (const std::bad_alloc&) {
        err << "qcnn: error: out of memory\n";
        return 1;
    } catch (const std::exception& e) {
        err << "qcnn: error: " << one_line(e.what()) << "\n";
        return 1;
    }
}

}  // namespace qcnn
