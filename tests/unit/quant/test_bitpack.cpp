// Bit packing of codeword indices: round trip for every width, layout, sizes.
#include <gtest/gtest.h>

#include "core/quant/bitpack.h"
#include "core/quant/random.h"

namespace qcnn {
namespace {

TEST(BitPack, CodeBitsIsCeilLog2) {
    EXPECT_EQ(code_bits(2), 1);
    EXPECT_EQ(code_bits(3), 2);
    EXPECT_EQ(code_bits(4), 2);
    EXPECT_EQ(code_bits(5), 3);
    EXPECT_EQ(code_bits(16), 4);
    EXPECT_EQ(code_bits(17), 5);
    EXPECT_EQ(code_bits(128), 7);
    EXPECT_EQ(code_bits(129), 8);
    EXPECT_EQ(code_bits(256), 8);
}

TEST(BitPack, RoundTripEveryWidthAndLength) {
    const uint64_t seed = 42;
    Rng rng(seed);
    for (int bits = 1; bits <= 8; ++bits) {
        for (int64_t count : {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000}) {
            std::vector<uint8_t> codes(count);
            for (auto& c : codes) c = static_cast<uint8_t>(rng.below(uint64_t{1} << bits));
            const PackedCodes p = pack_codes(codes, bits);
            ASSERT_EQ(p.bits, bits);
            ASSERT_EQ(p.count, count);
            ASSERT_EQ(static_cast<int64_t>(p.bytes.size()), (count * bits + 7) / 8)
                << "bits " << bits << " count " << count;
            EXPECT_EQ(unpack_codes(p), codes) << "bits " << bits << " count " << count << " seed " << seed;
            for (int64_t i = 0; i < count; ++i) ASSERT_EQ(p.get(i), codes[i]) << "bits " << bits << " i " << i;
        }
    }
}

TEST(BitPack, MaxValuesAndUnusedBitsZero) {
    for (int bits = 1; bits <= 8; ++bits) {
        std::vector<uint8_t> codes(13, static_cast<uint8_t>((1u << bits) - 1u));
        const PackedCodes p = pack_codes(codes, bits);
        EXPECT_EQ(unpack_codes(p), codes) << "bits " << bits;
        const int used_in_last = static_cast<int>((13 * bits) % 8);
        if (used_in_last != 0) {
            EXPECT_EQ(p.bytes.back() >> used_in_last, 0) << "bits " << bits;
        }
    }
}

TEST(BitPack, LsbFirstLayout) {
    // 3-bit codes 1, 2, 7: bits 001 | 010 | 111 -> byte0 = 0b11010001, byte1 = 0b1.
    const PackedCodes p = pack_codes(std::vector<uint8_t>{1, 2, 7}, 3);
    ASSERT_EQ(p.bytes.size(), 2u);
    EXPECT_EQ(p.bytes[0], 0b11010001);
    EXPECT_EQ(p.bytes[1], 0b1);
    // 4-bit codes: two per byte, low nibble first.
    const PackedCodes q = pack_codes(std::vector<uint8_t>{0x3, 0xA, 0xF}, 4);
    ASSERT_EQ(q.bytes.size(), 2u);
    EXPECT_EQ(q.bytes[0], 0xA3);
    EXPECT_EQ(q.bytes[1], 0x0F);
}

}  // namespace
}  // namespace qcnn
