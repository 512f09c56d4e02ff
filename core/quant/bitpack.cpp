#include "core/quant/bitpack.h"

#include <algorithm>

#include "core/kernels/lut_tables.h"
#include "core/util/error.h"

namespace qcnn {

int code_bits(int64_t K) {
    QCNN_ASSERT(K >= 2 && K <= 256, "code_bits: K = ", K, " (expected 2..256)");
    int bits = 1;
    while ((int64_t{1} << bits) < K) ++bits;
    return bits;
}

uint8_t PackedCodes::get(int64_t i) const {
    QCNN_ASSERT(i >= 0 && i < count, "PackedCodes::get(", i, ") of ", count);
    return read_packed_code(bytes.data(), i, bits);
}

PackedCodes pack_codes(const uint8_t* codes, int64_t count, int bits) {
    QCNN_ASSERT(bits >= 1 && bits <= 8, "pack_codes: bits = ", bits);
    QCNN_ASSERT(count >= 0, "pack_codes: count = ", count);
    PackedCodes p;
    p.bits = bits;
    p.count = count;
    p.bytes.assign(PackedCodes::byte_size(count, bits), 0);
    for (int64_t i = 0; i < count; ++i) {
        const unsigned v = codes[i];
        QCNN_ASSERT(v < (1u << bits), "pack_codes: code ", v, " at ", i, " does not fit ", bits, " bits");
        const int64_t pos = i * bits;
        const int64_t byte = pos >> 3;
        const int shift = static_cast<int>(pos & 7);
        p.bytes[byte] = static_cast<uint8_t>(p.bytes[byte] | (v << shift));
        if (shift + bits > 8) p.bytes[byte + 1] = static_cast<uint8_t>(p.bytes[byte + 1] | (v >> (8 - shift)));
    }
    return p;
}

PackedCodes pack_codes(const std::vector<uint8_t>& codes, int bits) {
    return pack_codes(codes.data(), static_cast<int64_t>(codes.size()), bits);
}

void unpack_codes(const PackedCodes& p, uint8_t* out) {
    QCNN_ASSERT(static_cast<int64_t>(p.bytes.size()) == PackedCodes::byte_size(p.count, p.bits),
                "unpack_codes: ", p.bytes.size(), " bytes for ", p.count, " codes of ", p.bits, " bits");
    if (p.bits == 8) {
        std::copy(p.bytes.begin(), p.bytes.end(), out);
        return;
    }
    for (int64_t i = 0; i < p.count; ++i) out[i] = p.get(i);
}

std::vector<uint8_t> unpack_codes(const PackedCodes& p) {
    std::vector<uint8_t> out(p.count);
    unpack_codes(p, out.data());
    return out;
}

}  // namespace qcnn
