// A small JSON writer and reader (RFC 8259), no external dependency.
//
// Writer: streams one JSON document to an std::ostream. Strings are escaped (quotes,
// backslashes, control characters; invalid UTF-8 bytes become U+FFFD so the output is always
// valid UTF-8). Numbers are written in the shortest form that reads back to the same value:
// a double round-trips as a double, a float as a float (std::to_chars). NaN and infinities,
// which JSON cannot represent, are written as null.
//
// Reader: parse() builds a Value tree (objects keep their key order). Errors throw
// qcnn::Error with the line and column. Numbers are held as double; a number written as an
// integer (no fraction, no exponent) that fits an int64 also keeps its exact value, so 64-bit
// integers (seeds up to 2^63-1) read back exactly through as_int() / exact_int().
#pragma once

#include <concepts>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace qcnn::json {

// `s` as a quoted JSON string literal.
std::string quote(std::string_view s);
// Shortest decimal that reads back to exactly `v` ("null" for NaN/inf).
std::string number(double v);
std::string number(float v);

class Writer {
public:
    // indent > 0: pretty-printed with that many spaces per level; 0: one line.
    explicit Writer(std::ostream& os, int indent = 2);

    Writer& begin_object();
    Writer& end_object();
    Writer& begin_array();
    Writer& end_array();
    // Inside an object: the key of the next value.
    Writer& key(std::string_view k);

    Writer& value(std::string_view s);
    Writer& value(const char* s) { return value(std::string_view(s)); }
    Writer& value(const std::string& s) { return value(std::string_view(s)); }
    Writer& value(bool b);
    Writer& value(double v);
    Writer& value(float v);
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    Writer& value(T v) {
        return raw(token(v));
    }
    Writer& null();
    // A value already in JSON form (a number or literal from a canonical text), written as is.
    Writer& raw_value(std::string_view token) { return raw(token); }

    template <class T>
    Writer& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }
    // An array of numbers or strings, written on one line ("[8, 28, 28]").
    template <class T>
    Writer& array(const std::vector<T>& v) {
        std::string s = "[";
        for (size_t i = 0; i < v.size(); ++i) {
            if (i) s += indent_ > 0 ? ", " : ",";
            s += token(v[i]);
        }
        return raw(s + "]");
    }

    // True once one complete top-level value has been written.
    bool done() const { return done_; }

private:
    static std::string token(std::string_view s) { return quote(s); }
    static std::string token(double v) { return number(v); }
    static std::string token(float v) { return number(v); }
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    static std::string token(T v) {
        return std::is_signed_v<T> ? std::to_string(static_cast<long long>(v))
                                   : std::to_string(static_cast<unsigned long long>(v));
    }

    enum class Ctx { Object, Array };
    struct Level {
        Ctx ctx;
        bool empty = true;
        bool has_key = false;
    };

    Writer& raw(std::string_view token);
    void before_value();
    void newline();

    std::ostream& os_;
    int indent_;
    std::vector<Level> stack_;
    bool done_ = false;
};

// ---- reader -----------------------------------------------------------------------------

class Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;

class Value {
public:
    Value() = default;
    explicit Value(bool b) : v_(b) {}
    explicit Value(double d) : v_(d) {}
    // A number written as an integer literal: `d` is its nearest double, `i` its exact value.
    Value(double d, int64_t i) : v_(d), int_(i), has_int_(true) {}
    explicit Value(std::string s) : v_(std::move(s)) {}
    explicit Value(Array a) : v_(std::move(a)) {}
    explicit Value(Object o) : v_(std::move(o)) {}

    bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
    bool is_bool() const { return std::holds_alternative<bool>(v_); }
    bool is_number() const { return std::holds_alternative<double>(v_); }
    bool is_string() const { return std::holds_alternative<std::string>(v_); }
    bool is_array() const { return std::holds_alternative<Array>(v_); }
    bool is_object() const { return std::holds_alternative<Object>(v_); }

    // Typed access; throws qcnn::Error naming the expected and actual type.
    bool as_bool() const;
    double as_number() const;
    // A number that is an integer (throws otherwise): the exact value of an integer literal,
    // else the double when it is integral and at most 2^53 in magnitude.
    int64_t as_int() const;
    // The exact value of an integer literal that fits an int64 (nullptr for any other value,
    // e.g. 1.0, 1e3 or 2^64).
    const int64_t* exact_int() const { return has_int_ ? &int_ : nullptr; }
    const std::string& as_string() const;
    const Array& as_array() const;
    const Object& as_object() const;

    // Object member by key: nullptr when absent (throws if this is not an object).
    const Value* find(std::string_view key) const;
    // Object member by key; throws qcnn::Error naming the key when absent.
    const Value& operator[](std::string_view key) const;
    // Array element; throws when out of range.
    const Value& operator[](size_t i) const;
    // Elements of an array or members of an object.
    size_t size() const;

    // "null", "bool", "number", "string", "array", "object".
    const char* type_name() const;

private:
    std::variant<std::monostate, bool, double, std::string, Array, Object> v_;
    int64_t int_ = 0;
    bool has_int_ = false;
};

// Parses one JSON document (surrounding whitespace allowed). `what` names the source in
// error messages, e.g. a file path.
Value parse(std::string_view text, const std::string& what = "JSON");
// Reads and parses a file; errors name the file.
Value parse_file(const std::string& path);

}  // namespace qcnn::json
