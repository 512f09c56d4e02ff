// JSON integers are exact to 64 bits (issue 16: seeds 0..2^63-1 in the sweep spec): an integer
// literal keeps its int64 value beside the double, which cannot hold 2^53 + 1 or 2^63 - 1.
#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>

#include "core/util/error.h"
#include "core/util/json.h"

namespace qcnn {
namespace {

TEST(JsonInt64, IntegerLiteralsAreExactBeyondTwoToThe53) {
    const json::Value v = json::parse(R"({"a": 9223372036854775807, "b": 9007199254740993, "c": -9223372036854775808})");
    ASSERT_NE(v["a"].exact_int(), nullptr);
    EXPECT_EQ(v["a"].as_int(), INT64_MAX);
    EXPECT_EQ(v["b"].as_int(), 9007199254740993);  // 2^53 + 1: the double would say ...992
    EXPECT_NE(static_cast<int64_t>(v["b"].as_number()), 9007199254740993);
    EXPECT_EQ(v["c"].as_int(), INT64_MIN);
}

TEST(JsonInt64, WriterAndReaderRoundTripEveryBit) {
    for (const int64_t x : {int64_t(0), int64_t(1) << 53, (int64_t(1) << 53) + 1, INT64_MAX - 1, INT64_MAX, INT64_MIN}) {
        std::ostringstream os;
        json::Writer(os, 0).begin_array().value(x).end_array();
        EXPECT_EQ(json::parse(os.str())[size_t(0)].as_int(), x) << os.str();
    }
}

TEST(JsonInt64, NonIntegerLiteralsHaveNoExactInteger) {
    const json::Value v = json::parse(R"([1.0, 1e3, 18446744073709551616, 9223372036854775808, 1.5])");
    for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i].exact_int(), nullptr) << i;
    EXPECT_EQ(v[size_t(0)].as_int(), 1);      // integral doubles up to 2^53 still read as integers
    EXPECT_EQ(v[size_t(1)].as_int(), 1000);
    EXPECT_THROW(v[size_t(2)].as_int(), Error);  // 2^64: beyond int64 and beyond 2^53
    EXPECT_THROW(v[size_t(4)].as_int(), Error);
}

}  // namespace
}  // namespace qcnn
