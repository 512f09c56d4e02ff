#include "core/util/json.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <ostream>
#include <sstream>

#include "core/util/error.h"

namespace qcnn::json {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes there are not one.
size_t utf8_sequence_length(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(i + 1) || !cont(i + 2)) return 0;
        if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
        if (c == 0xED && b(i + 1) > 0x9F) return 0;   // UTF-16 surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
        if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
        if (c == 0xF4 && b(i + 1) > 0x8F) return 0;   // above U+10FFFF
        return 4;
    }
    return 0;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

constexpr uint32_t kReplacement = 0xFFFD;

template <class F>
std::string shortest(F v) {
    if (!std::isfinite(v)) return "null";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

}  // namespace

std::string quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const size_t len = utf8_sequence_length(s, i);
        if (len == 0) {
            append_utf8(out, kReplacement);
            ++i;
            continue;
        }
        if (len > 1) {
            out.append(s.substr(i, len));
            i += len;
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    static const char* hex = "0123456789abcdef";
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
    out += '"';
    return out;
}

std::string number(double v) { return shortest(v); }
std::string number(float v) { return shortest(v); }

// ---- Writer -----------------------------------------------------------------------------

Writer::Writer(std::ostream& os, int indent) : os_(os), indent_(indent) {}

void Writer::newline() {
    if (indent_ <= 0) return;
    os_ << '\n';
    for (size_t i = 0; i < stack_.size() * static_cast<size_t>(indent_); ++i) os_ << ' ';
}

void Writer::before_value() {
    QCNN_ASSERT(!done_, "JSON writer: a second top-level value");
    if (stack_.empty()) return;
    Level& top = stack_.back();
    if (top.ctx == Ctx::Object) {
        QCNN_ASSERT(top.has_key, "JSON writer: a value inside an object needs a key first");
        top.has_key = false;
        return;
    }
    if (!top.empty) os_ << ',';
    top.empty = false;
    newline();
}

Writer& Writer::key(std::string_view k) {
    QCNN_ASSERT(!stack_.empty() && stack_.back().ctx == Ctx::Object && !stack_.back().has_key,
                "JSON writer: key '", k, "' outside an object or after another key");
    Level& top = stack_.back();
    if (!top.empty) os_ << ',';
    top.empty = false;
    top.has_key = true;
    newline();
    os_ << quote(k) << (indent_ > 0 ? ": " : ":");
    return *this;
}

Writer& Writer::raw(std::string_view token) {
    before_value();
    os_ << token;
    if (stack_.empty()) done_ = true;
    return *this;
}

Writer& Writer::begin_object() {
    before_value();
    os_ << '{';
    stack_.push_back({Ctx::Object});
    return *this;
}

Writer& Writer::begin_array() {
    before_value();
    os_ << '[';
    stack_.push_back({Ctx::Array});
    return *this;
}

Writer& Writer::end_object() {
    QCNN_ASSERT(!stack_.empty() && stack_.back().ctx == Ctx::Object && !stack_.back().has_key,
                "JSON writer: end_object without a matching begin_object or after a dangling key");
    const bool empty = stack_.back().empty;
    stack_.pop_back();
    if (!empty) newline();
    os_ << '}';
    if (stack_.empty()) done_ = true;
    return *this;
}

Writer& Writer::end_array() {
    QCNN_ASSERT(!stack_.empty() && stack_.back().ctx == Ctx::Array,
                "JSON writer: end_array without a matching begin_array");
    const bool empty = stack_.back().empty;
    stack_.pop_back();
    if (!empty) newline();
    os_ << ']';
    if (stack_.empty()) done_ = true;
    return *this;
}

Writer& Writer::value(std::string_view s) { return raw(quote(s)); }
Writer& Writer::value(bool b) { return raw(b ? "true" : "false"); }
Writer& Writer::value(double v) { return raw(number(v)); }
Writer& Writer::value(float v) { return raw(number(v)); }
Writer& Writer::null() { return raw("null"); }

// ---- Value ------------------------------------------------------------------------------

const char* Value::type_name() const {
    static const char* names[] = {"null", "bool", "number", "string", "array", "object"};
    return names[v_.index()];
}

namespace {
[[noreturn]] void type_error(const Value& v, const char* expected) {
    fail("JSON: expected ", expected, ", found ", v.type_name());
}
}  // namespace

bool Value::as_bool() const {
    if (!is_bool()) type_error(*this, "a boolean");
    return std::get<bool>(v_);
}

double Value::as_number() const {
    if (!is_number()) type_error(*this, "a number");
    return std::get<double>(v_);
}

int64_t Value::as_int() const {
    const double d = as_number();
    if (has_int_) return int_;
    if (d != std::floor(d) || std::fabs(d) > 9007199254740992.0)
        fail("JSON: expected an integer, found ", number(d));
    return static_cast<int64_t>(d);
}

const std::string& Value::as_string() const {
    if (!is_string()) type_error(*this, "a string");
    return std::get<std::string>(v_);
}

const Array& Value::as_array() const {
    if (!is_array()) type_error(*this, "an array");
    return std::get<Array>(v_);
}

const Object& Value::as_object() const {
    if (!is_object()) type_error(*this, "an object");
    return std::get<Object>(v_);
}

const Value* Value::find(std::string_view key) const {
    for (const auto& [k, v] : as_object())
        if (k == key) return &v;
    return nullptr;
}

const Value& Value::operator[](std::string_view key) const {
    const Value* v = find(key);
    if (!v) fail("JSON: missing key ", quote(key));
    return *v;
}

const Value& Value::operator[](size_t i) const {
    const Array& a = as_array();
    if (i >= a.size()) fail("JSON: index ", i, " out of range (array of ", a.size(), ")");
    return a[i];
}

size_t Value::size() const {
    if (is_array()) return std::get<Array>(v_).size();
    if (is_object()) return std::get<Object>(v_).size();
    type_error(*this, "an array or an object");
}

// ---- parser -----------------------------------------------------------------------------

namespace {

class Parser {
public:
    Parser(std::string_view text, const std::string& what) : s_(text), what_(what) {}

    Value document() {
        skip_ws();
        Value v = value(0);
        skip_ws();
        if (pos_ != s_.size()) error("unexpected characters after the JSON value");
        return v;
    }

private:
    static constexpr int kMaxDepth = 512;

    [[noreturn]] void error(const std::string& msg) const {
        int line = 1, col = 1;
        for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
            if (s_[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        fail(what_, ":", line, ":", col, ": invalid JSON: ", msg);
    }

    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }

    bool eat(char c) {
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    void expect_word(std::string_view w) {
        if (s_.substr(pos_, w.size()) != w) error(cat("expected '", w, "'"));
        pos_ += w.size();
    }

    Value value(int depth) {
        if (depth > kMaxDepth) error("nesting deeper than 512 levels");
        if (pos_ >= s_.size()) error("unexpected end of input, expected a value");
        const char c = s_[pos_];
        switch (c) {
            case '{': return object(depth);
            case '[': return array(depth);
            case '"': return Value(string());
            case 't': expect_word("true"); return Value(true);
            case 'f': expect_word("false"); return Value(false);
            case 'n': expect_word("null"); return Value();
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return num();
                error(cat("unexpected character '", c, "'"));
        }
    }

    Value object(int depth) {
        ++pos_;  // '{'
        Object obj;
        skip_ws();
        if (eat('}')) return Value(std::move(obj));
        for (;;) {
            skip_ws();
            if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string key");
            std::string k = string();
            skip_ws();
            if (!eat(':')) error("expected ':' after an object key");
            skip_ws();
            obj.emplace_back(std::move(k), value(depth + 1));
            skip_ws();
            if (eat('}')) return Value(std::move(obj));
            if (!eat(',')) error("expected ',' or '}' in an object");
        }
    }

    Value array(int depth) {
        ++pos_;  // '['
        Array arr;
        skip_ws();
        if (eat(']')) return Value(std::move(arr));
        for (;;) {
            skip_ws();
            arr.push_back(value(depth + 1));
            skip_ws();
            if (eat(']')) return Value(std::move(arr));
            if (!eat(',')) error("expected ',' or ']' in an array");
        }
    }

    uint32_t hex4() {
        if (pos_ + 4 > s_.size()) error("truncated \\u escape");
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = s_[pos_++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= c - '0';
            else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
            else error("bad hex digit in a \\u escape");
        }
        return v;
    }

    std::string string() {
        ++pos_;  // opening quote
        std::string out;
        for (;;) {
            if (pos_ >= s_.size()) error("unterminated string");
            const unsigned char c = static_cast<unsigned char>(s_[pos_]);
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c < 0x20) error("control character inside a string");
            if (c != '\\') {
                const size_t len = utf8_sequence_length(s_, pos_);
                if (len == 0) error("invalid UTF-8 in a string");
                out.append(s_.substr(pos_, len));
                pos_ += len;
                continue;
            }
            ++pos_;
            if (pos_ >= s_.size()) error("unterminated escape");
            const char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        // A high surrogate must be followed by a low one.
                        if (s_.substr(pos_, 2) == "\\u") {
                            pos_ += 2;
                            const uint32_t lo = hex4();
                            if (lo >= 0xDC00 && lo <= 0xDFFF)
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            else
                                error("unpaired UTF-16 surrogate in a \\u escape");
                        } else {
                            error("unpaired UTF-16 surrogate in a \\u escape");
                        }
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        error("unpaired UTF-16 surrogate in a \\u escape");
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: error(cat("unknown escape '\\", e, "'"));
            }
        }
    }

    Value num() {
        const size_t start = pos_;
        bool integral = true;
        const auto digit = [&] { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; };
        eat('-');
        if (eat('0')) {
            if (digit()) error("leading zeros are not allowed in numbers");
        } else {
            if (!digit()) error("expected a digit");
            while (digit()) ++pos_;
        }
        if (eat('.')) {
            integral = false;
            if (!digit()) error("expected a digit after the decimal point");
            while (digit()) ++pos_;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            integral = false;
            if (!eat('+')) eat('-');
            if (!digit()) error("expected a digit in the exponent");
            while (digit()) ++pos_;
        }
        double v = 0;
        auto r = std::from_chars(s_.data() + start, s_.data() + pos_, v);
        if (r.ec == std::errc::result_out_of_range) {
            pos_ = start;
            error("number out of the range of a double");
        }
        int64_t i = 0;
        if (integral) {
            const auto ri = std::from_chars(s_.data() + start, s_.data() + pos_, i);
            if (ri.ec == std::errc() && ri.ptr == s_.data() + pos_) return Value(v, i);
        }
        return Value(v);
    }

    std::string_view s_;
    const std::string& what_;
    size_t pos_ = 0;
};

}  // namespace

Value parse(std::string_view text, const std::string& what) { return Parser(text, what).document(); }

Value parse_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail("cannot open JSON file ", path);
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) fail("cannot read JSON file ", path);
    return parse(ss.str(), path);
}

}  // namespace qcnn::json
