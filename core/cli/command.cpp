#include "core/cli/command.h"

#include <cmath>
#include <cstdio>

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "core/data/dataset.h"
#include "core/sweep/run_options.h"
#include "core/util/parallel.h"

namespace qcnn::cli {

namespace {

const OptionSpec* find_spec(const Command& cmd, std::string_view name) {
    for (const auto& o : cmd.options)
        if (o.name == name) return &o;
    return nullptr;
}

}  // namespace

const std::string* Args::find(std::string_view name) const {
    const std::string* v = nullptr;
    for (const auto& [k, val] : values_)
        if (k == name) v = &val;
    return v;
}

bool Args::has(std::string_view name) const { return find(name) != nullptr; }

std::vector<std::string> Args::all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, val] : values_)
        if (k == name) out.push_back(val);
    return out;
}

std::string Args::str(std::string_view name, const std::string& fallback) const {
    const std::string* v = find(name);
    return v ? *v : fallback;
}

int64_t Args::integer(std::string_view name, int64_t fallback, int64_t min, int64_t max) const {
    const std::string* v = find(name);
    if (!v) return fallback;
    int64_t x = 0;
    const char* end = v->data() + v->size();
    auto r = std::from_chars(v->data(), end, x);
    const std::string range = max == INT64_MAX ? cat(">= ", min) : cat("in [", min, ", ", max, "]");
    if (r.ec != std::errc() || r.ptr != end || v->empty() || x < min || x > max)
        throw UsageError(cat(name, " expects an integer ", range, ", got '", *v, "'"));
    return x;
}

std::vector<float> Args::float_list(std::string_view name) const {
    const std::string* v = find(name);
    std::vector<float> out;
    if (!v) return out;
    size_t pos = 0;
    for (;;) {
        const size_t comma = v->find(',', pos);
        const std::string item = v->substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        float x = 0;
        const char* end = item.data() + item.size();
        auto r = std::from_chars(item.data(), end, x);
        if (item.empty() || r.ec != std::errc() || r.ptr != end || !std::isfinite(x))
            throw UsageError(cat(name, " expects comma-separated numbers (e.g. 0.5 or 0.485,0.456,0.406), got '",
                                 *v, "'"));
        out.push_back(x);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

ScopedThreads::ScopedThreads(int threads) : saved_(omp_get_max_threads()) { set_global_threads(threads); }
ScopedThreads::~ScopedThreads() { omp_set_num_threads(saved_); }

LutKernel parse_lut_kernel(const std::string& text) {
    if (text == "fast") return LutKernel::Fast;
    if (text == "reference") return LutKernel::Reference;
    throw UsageError(cat("--kernel: expected fast or reference, got '", text, "'"));
}

OptionSpec run_option_spec(std::string_view key, const std::string& default_text) {
    const RunOption& o = run_option(key);
    QCNN_ASSERT(!o.flag.empty(), "run option ", key, " has no CLI flag");
    return {o.flag, o.metavar,
            default_text.empty() ? help_with_default(o) : cat(o.help, " (default: ", default_text, ")")};
}

void apply_run_options(const Args& args, SweepSpec& spec, std::initializer_list<std::string_view> except) {
    for (const RunOption& o : run_options()) {
        if (o.flag.empty() || !args.has(o.flag) ||
            std::find(except.begin(), except.end(), std::string_view(o.key)) != except.end())
            continue;
        try {
            // A flag without a value (--finetune) switches its option on.
            const bool bare = o.kind == OptionKind::Flag && o.metavar.empty();
            set_from_text(o, spec, bare ? "true" : args.str(o.flag, ""), o.flag);
        } catch (const UsageError&) {
            throw;
        } catch (const Error& e) {
            throw UsageError(e.what());
        }
    }
    try {
        check_run_options(spec, true);
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
}

SweepSpec run_options_from_args(const Args& args, std::initializer_list<std::string_view> except) {
    SweepSpec spec;
    spec.base.model = bundled_model(kDefaultModel);
    spec.base.data = kDefaultData;
    apply_run_options(args, spec, except);
    return spec;
}

bool help_requested(const std::vector<std::string>& argv) {
    for (const auto& a : argv) {
        if (a == "--") break;
        if (a == "--help" || a == "-h") return true;
    }
    return false;
}

Args parse_args(const Command& cmd, const std::vector<std::string>& argv) {
    std::vector<std::pair<std::string, std::string>> values;
    const std::string hint = cat(" (see 'qcnn ", cmd.name, " --help')");
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a.size() < 2 || a[0] != '-') {
            const auto positional = std::find_if(cmd.options.begin(), cmd.options.end(), [&](const OptionSpec& o) {
                return !o.name.empty() && o.name[0] != '-' &&
                       (o.metavar == "..." || std::none_of(values.begin(), values.end(), [&](const auto& v) { return v.first == o.name; }));
            });
            if (positional == cmd.options.end())
                throw UsageError(cat("unexpected argument '", a, "' for 'qcnn ", cmd.name, "'", hint));
            values.emplace_back(positional->name, a);
            continue;
        }
        std::string name = a, value;
        bool inline_value = false;
        if (const size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            name = a.substr(0, eq);
            value = a.substr(eq + 1);
            inline_value = true;
        }
        const OptionSpec* spec = find_spec(cmd, name);
        if (!spec) throw UsageError(cat("unknown option '", name, "' for 'qcnn ", cmd.name, "'", hint));
        if (spec->metavar.empty()) {
            if (inline_value) throw UsageError(cat("option ", name, " takes no value, got '", a, "'"));
        } else if (!inline_value) {
            if (i + 1 >= argv.size()) throw UsageError(cat("option ", name, " needs a value (", name, " ", spec->metavar, ")"));
            value = argv[++i];
        }
        values.emplace_back(name, value);
    }
    return Args(cmd.name, std::move(values));
}

std::string command_help(const Command& cmd) {
    std::ostringstream os;
    os << "usage: qcnn " << cmd.name << " [options]";
    for (const auto& o : cmd.options)
        if (!o.name.empty() && o.name[0] != '-') os << " " << o.name << (o.metavar == "..." ? "..." : "");
    os << "\n\n" << cmd.description << "\n\noptions:\n";
    size_t width = std::string("-h, --help").size();
    std::vector<std::string> left;
    for (const auto& o : cmd.options) {
        const bool positional = !o.name.empty() && o.name[0] != '-';
        left.push_back(o.metavar.empty() || positional ? o.name : o.name + " " + o.metavar);
        width = std::max(width, left.back().size());
    }
    // Help texts may span lines ('\n'): continuation lines align with the first.
    const std::string indent(width + 4, ' ');
    for (size_t i = 0; i < cmd.options.size(); ++i) {
        os << "  " << left[i] << std::string(width - left[i].size() + 2, ' ');
        for (char c : cmd.options[i].help) {
            os << c;
            if (c == '\n') os << indent;
        }
        os << '\n';
    }
    os << "  -h, --help" << std::string(width - 10 + 2, ' ') << "show this help\n";
    return os.str();
}

namespace {

// Columns a UTF-8 cell takes ("±" is two bytes, one column): bytes that do not continue a
// multi-byte character.
size_t columns(const std::string& s) {
    size_t n = 0;
    for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
    return n;
}

}  // namespace

std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right_align) {
    std::vector<size_t> width(header.size());
    for (size_t c = 0; c < header.size(); ++c) width[c] = columns(header[c]);
    for (const auto& r : rows)
        for (size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], columns(r[c]));
    std::ostringstream os;
    const auto line = [&](const std::vector<std::string>& cells) {
        std::string s;
        for (size_t c = 0; c < width.size(); ++c) {
            const std::string& cell = c < cells.size() ? cells[c] : std::string();
            const std::string pad(width[c] - columns(cell), ' ');
            if (c) s += "  ";
            s += (c < right_align.size() && right_align[c]) ? pad + cell : cell + pad;
        }
        while (!s.empty() && s.back() == ' ') s.pop_back();
        os << s << '\n';
    };
    line(header);
    size_t total = 0;
    for (size_t c = 0; c < width.size(); ++c) total += width[c] + (c ? 2 : 0);
    os << std::string(total, '-') << '\n';
    for (const auto& r : rows) line(r);
    return os.str();
}

std::string thousands(int64_t v) {
    const uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    const std::string digits = std::to_string(magnitude);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return v < 0 ? "-" + out : out;
}

std::string percent(double fraction, int decimals) {
    if (std::isnan(fraction)) return "n/a";
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(decimals);
    os << fraction * 100.0 << '%';
    return os.str();
}

std::string fixed(double v, int decimals) {
    if (!std::isfinite(v)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

}  // namespace qcnn::cli
