// Bit-packed codeword indices. Codes are stored at `bits` bits each (1..8, enough for
// K <= 256), LSB-first: code i occupies bits [i*bits, (i+1)*bits) of the byte stream, and
// stream bit b is bit (b % 8) of byte b / 8. Unused high bits of the last byte are zero.
// Computation uses the unpacked view: one uint8_t per code.
#pragma once

#include <cstdint>
#include <vector>

namespace qcnn {

// Bits per code for K codewords: ceil(log2 K), K in 2..256 (asserted).
int code_bits(int64_t K);

struct PackedCodes {
    int bits = 8;                // 1..8
    int64_t count = 0;           // number of codes
    std::vector<uint8_t> bytes;  // ceil(count * bits / 8) bytes

    static int64_t byte_size(int64_t count, int bits) { return (count * bits + 7) / 8; }

    // Code i (0 <= i < count, asserted).
    uint8_t get(int64_t i) const;
    bool operator==(const PackedCodes&) const = default;
};

// Packs count codes, each < 2^bits (asserted).
PackedCodes pack_codes(const uint8_t* codes, int64_t count, int bits);
PackedCodes pack_codes(const std::vector<uint8_t>& codes, int bits);

// Unpacks into out[0 .. count).
void unpack_codes(const PackedCodes& p, uint8_t* out);
std::vector<uint8_t> unpack_codes(const PackedCodes& p);

}  // namespace qcnn
