#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

#include "core/util/json.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControls) {
    EXPECT_EQ(json::quote("plain"), "\"plain\"");
    EXPECT_EQ(json::quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(json::quote("l1\nl2\tx\r\b\f"), "\"l1\\nl2\\tx\\r\\b\\f\"");
    EXPECT_EQ(json::quote(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
    EXPECT_EQ(json::quote(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
    EXPECT_EQ(json::quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST(JsonQuote, InvalidUtf8BecomesReplacementCharacter) {
    // A lone continuation byte, a truncated sequence, an overlong encoding, a UTF-16 surrogate.
    EXPECT_EQ(json::quote("a\x80z"), "\"a\xef\xbf\xbdz\"");
    EXPECT_EQ(json::quote("a\xc3"), "\"a\xef\xbf\xbd\"");
    EXPECT_EQ(json::quote("\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    EXPECT_EQ(json::quote("\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    // And the result parses.
    EXPECT_EQ(json::parse(json::quote("a\x80z")).as_string(), "a\xef\xbf\xbdz");
}

TEST(JsonNumber, ShortestRoundTripAndNonFinite) {
    EXPECT_EQ(json::number(0.1), "0.1");
    EXPECT_EQ(json::number(0.1f), "0.1");
    EXPECT_EQ(json::number(1e300), "1e+300");
    EXPECT_EQ(json::number(-0.0), "-0");
    EXPECT_EQ(json::number(std::numeric_limits<double>::quiet_NaN()), "null");
    EXPECT_EQ(json::number(std::numeric_limits<float>::infinity()), "null");

    std::mt19937_64 rng(42);
    for (int i = 0; i < 2000; ++i) {
        uint64_t bits = rng();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        if (!std::isfinite(d)) continue;
        const double back = json::parse(json::number(d)).as_number();
        EXPECT_EQ(std::memcmp(&back, &d, sizeof d), 0) << json::number(d);

        uint32_t fbits = static_cast<uint32_t>(rng());
        float f;
        std::memcpy(&f, &fbits, sizeof f);
        if (!std::isfinite(f)) continue;
        const float fback = static_cast<float>(json::parse(json::number(f)).as_number());
        EXPECT_EQ(std::memcmp(&fback, &f, sizeof f), 0) << json::number(f);
    }
}

TEST(JsonWriter, PrettyAndCompactDocumentsParseBack) {
    for (int indent : {0, 2}) {
        std::ostringstream os;
        json::Writer w(os, indent);
        w.begin_object();
        w.field("name", "conv1").field("n", int64_t{-12345678901234}).field("u", 7u).field("ok", true);
        w.field("x", 0.25).field("f", 1.5f);
        w.key("none").null();
        w.key("shape").array(std::vector<int64_t>{8, 28, 28});
        w.key("empty_a").begin_array().end_array();
        w.key("empty_o").begin_object().end_object();
        w.key("rows").begin_array();
        for (int i = 0; i < 2; ++i) w.begin_object().field("i", i).end_object();
        w.end_array();
        w.end_object();
        EXPECT_TRUE(w.done());
        const std::string text = os.str();
        if (indent == 0)
            EXPECT_EQ(text,
                      "{\"name\":\"conv1\",\"n\":-12345678901234,\"u\":7,\"ok\":true,\"x\":0.25,\"f\":1.5,"
                      "\"none\":null,\"shape\":[8,28,28],\"empty_a\":[],\"empty_o\":{},\"rows\":[{\"i\":0},{\"i\":1}]}");
        else
        {
            EXPECT_NE(text.find("\n  \"name\": \"conv1\",\n"), std::string::npos) << text;
            EXPECT_NE(text.find("\n  \"shape\": [8, 28, 28],\n"), std::string::npos) << text;
        }

        const json::Value v = json::parse(text);
        EXPECT_EQ(v["name"].as_string(), "conv1");
        EXPECT_EQ(v["n"].as_int(), -12345678901234);
        EXPECT_EQ(v["u"].as_int(), 7);
        EXPECT_TRUE(v["ok"].as_bool());
        EXPECT_EQ(v["x"].as_number(), 0.25);
        EXPECT_TRUE(v["none"].is_null());
        ASSERT_EQ(v["shape"].size(), 3u);
        EXPECT_EQ(v["shape"][2].as_int(), 28);
        EXPECT_EQ(v["empty_a"].size(), 0u);
        EXPECT_EQ(v["empty_o"].size(), 0u);
        EXPECT_EQ(v["rows"][1]["i"].as_int(), 1);
        EXPECT_EQ(v.find("missing"), nullptr);
        EXPECT_EQ(v.as_object()[0].first, "name");  // key order kept
    }
}

TEST(JsonWriter, InlineArraysOfStringsAndFloats) {
    std::ostringstream os;
    json::Writer w(os, 0);
    w.begin_array();
    w.array(std::vector<std::string>{"a\"b", "c"});
    w.array(std::vector<float>{0.1f, std::numeric_limits<float>::quiet_NaN()});
    w.array(std::vector<int>{});
    w.end_array();
    EXPECT_EQ(os.str(), "[[\"a\\\"b\",\"c\"],[0.1,null],[]]");
}

TEST(JsonParse, EscapesAndSurrogatePairs) {
    const json::Value v = json::parse(R"(["\"\\\/\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00"])");
    EXPECT_EQ(v[0].as_string(), "\"\\/\b\f\n\r\t");
    EXPECT_EQ(v[1].as_string(), "\xc3\xa9\xe2\x82\xac");
    EXPECT_EQ(v[2].as_string(), "\xf0\x9f\x98\x80");
}

TEST(JsonParse, ErrorsNameSourceLineAndColumn) {
    const auto message = [](const std::string& text) {
        try {
            json::parse(text, "file.json");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message("{\n  \"a\": 1,\n  \"b\" 2\n}"), "file.json:3:7: invalid JSON: expected ':' after an object key");
    EXPECT_EQ(message("[1, 2"), "file.json:1:6: invalid JSON: expected ',' or ']' in an array");
    EXPECT_EQ(message("01"), "file.json:1:2: invalid JSON: leading zeros are not allowed in numbers");
    EXPECT_EQ(message("\"a\nb\""), "file.json:1:3: invalid JSON: control character inside a string");
    EXPECT_EQ(message("\"\\ud800\""), "file.json:1:8: invalid JSON: unpaired UTF-16 surrogate in a \\u escape");
    EXPECT_EQ(message("1e999"), "file.json:1:1: invalid JSON: number out of the range of a double");
    EXPECT_EQ(message("{} x"), "file.json:1:4: invalid JSON: unexpected characters after the JSON value");
    EXPECT_EQ(message("nul"), "file.json:1:1: invalid JSON: expected 'null'");
    EXPECT_EQ(message(""), "file.json:1:1: invalid JSON: unexpected end of input, expected a value");
    EXPECT_EQ(message(std::string(600, '[')), "file.json:1:514: invalid JSON: nesting deeper than 512 levels");
}

TEST(JsonValue, TypeErrorsAreMessages) {
    const json::Value v = json::parse(R"({"a": "text", "b": 1.5, "c": [1]})");
    EXPECT_THROW(v["a"].as_number(), Error);
    EXPECT_THROW(v["b"].as_int(), Error);
    EXPECT_THROW(v["c"][1], Error);
    EXPECT_THROW(v["zzz"], Error);
    EXPECT_THROW(v["a"].size(), Error);
    try {
        v["a"].as_array();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "JSON: expected an array, found string");
    }
}

}  // namespace
}  // namespace qcnn
