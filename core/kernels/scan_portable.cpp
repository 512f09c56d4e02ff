// Portable scan and the code packer.
#include <cstring>

#include "core/kernels/scan.h"
#include "core/util/error.h"

namespace qcnn::lut_scan {

int64_t block_width(KernelIsa isa) { return isa == KernelIsa::Avx512 || isa == KernelIsa::Avx512Vnni ? 64 : 32; }

CodeLayout code_layout(KernelIsa isa, LutMethod method) {
    if (method != LutMethod::Shuffle16) return CodeLayout::Bytes;
    return isa == KernelIsa::Avx512Vnni ? CodeLayout::NibbleQuads : CodeLayout::NibblePairs;
}

namespace {

int64_t vectors_per_tap(int64_t Mg, CodeLayout layout) {
    switch (layout) {
        case CodeLayout::NibblePairs: return (Mg + 1) / 2;
        case CodeLayout::NibbleQuads: return (Mg + 3) / 4;
        case CodeLayout::Bytes:
        case CodeLayout::Plain: return Mg;
    }
    return Mg;
}

}  // namespace

int64_t packed_block_bytes(int64_t P, int64_t Mg, int64_t B, CodeLayout layout) {
    if (layout == CodeLayout::Plain) return P * Mg;  // one channel
    return P * vectors_per_tap(Mg, layout) * (layout == CodeLayout::NibbleQuads ? 2 * B : B);
}

std::vector<uint8_t> pack_codes(CodeView codes, int64_t ct, int64_t groups, int64_t P, int64_t Mg, int64_t B,
                                CodeLayout layout) {
    QCNN_ASSERT(codes.count == ct * P * Mg, "pack_codes: codes size");
    if (layout == CodeLayout::Plain) {
        std::vector<uint8_t> out(codes.count);
        for (int64_t i = 0; i < codes.count; ++i) out[i] = codes[i];
        return out;
    }
    QCNN_ASSERT(layout != CodeLayout::NibbleQuads || B == 64, "pack_codes: NibbleQuads blocks are 64 channels");
    const int64_t ctg = ct / groups, nbg = (ctg + B - 1) / B;
    const int64_t V = vectors_per_tap(Mg, layout), block_bytes = packed_block_bytes(P, Mg, B, layout);
    const int64_t vec_bytes = block_bytes / (P * V);
    std::vector<uint8_t> out(groups * nbg * block_bytes, 0);
    // code(channel in group, p, j), 0 outside the group's channels or past Mg.
    auto code = [&](int64_t gi, int64_t cg, int64_t p, int64_t j) -> uint8_t {
        if (cg >= ctg || j >= Mg) return 0;
        return codes[((gi * ctg + cg) * P + p) * Mg + j];
    };
    for (int64_t gi = 0; gi < groups; ++gi)
        for (int64_t bi = 0; bi < nbg; ++bi) {
            uint8_t* blk = out.data() + (gi * nbg + bi) * block_bytes;
            for (int64_t p = 0; p < P; ++p)
                for (int64_t v = 0; v < V; ++v) {
                    uint8_t* vec = blk + (p * V + v) * vec_bytes;
                    for (int64_t b = 0; b < B; ++b) {
                        const int64_t lane = (b % 2 == 0) ? b / 2 : B / 2 + b / 2;
                        switch (layout) {
                            case CodeLayout::NibblePairs:
                                vec[b] = static_cast<uint8_t>(code(gi, bi * B + lane, p, 2 * v) |
                                                              code(gi, bi * B + lane, p, 2 * v + 1) << 4);
                                break;
                            case CodeLayout::Bytes: vec[b] = code(gi, bi * B + lane, p, v); break;
                            case CodeLayout::Plain: break;  // handled above
                            case CodeLayout::NibbleQuads:
                                // Byte b = 4i + t of the index vectors of groups q (low) and q + 1 (high).
                                for (int64_t half = 0; half < 2; ++half) {
                                    const int64_t i = b / 4, t = b % 4, q = 2 * half;
                                    vec[half * B + b] = static_cast<uint8_t>(
                                        code(gi, bi * B + 16 * q + i, p, 4 * v + t) |
                                        code(gi, bi * B + 16 * (q + 1) + i, p, 4 * v + t) << 4);
                                }
                                break;
                        }
                    }
                }
        }
    return out;
}

CodeStore::CodeStore(CodeView codes, int64_t ct, int64_t groups, int64_t P, int64_t Mg, int64_t B, CodeLayout layout)
    : layout_(layout), ct_(ct), groups_(groups), taps_(P), terms_(Mg), block_(layout == CodeLayout::Plain ? 1 : B),
      block_bytes_(packed_block_bytes(P, Mg, block_, layout)), bytes_(pack_codes(codes, ct, groups, P, Mg, B, layout)) {}

uint8_t CodeStore::code(int64_t c, int64_t p, int64_t j) const {
    QCNN_ASSERT(c >= 0 && c < ct_ && p >= 0 && p < taps_ && j >= 0 && j < terms_, "CodeStore::code(", c, ", ", p,
                ", ", j, ")");
    if (layout_ == CodeLayout::Plain) return bytes_[(c * taps_ + p) * terms_ + j];
    // The inverse of pack_codes: the block of c's group, the vector of (p, j), the byte of c's lane.
    const int64_t B = block_, ctg = ct_ / groups_, nbg = (ctg + B - 1) / B;
    const int64_t gi = c / ctg, cg = c % ctg, lane = cg % B;
    const int64_t V = vectors_per_tap(terms_, layout_);
    const uint8_t* blk = bytes_.data() + (gi * nbg + cg / B) * block_bytes_;
    const int64_t b = lane < B / 2 ? 2 * lane : 2 * (lane - B / 2) + 1;  // lane of byte b: pack_codes
    switch (layout_) {
        case CodeLayout::NibblePairs: {
            const uint8_t v = blk[(p * V + j / 2) * B + b];
            return j % 2 ? v >> 4 : v & 15;
        }
        case CodeLayout::Bytes: return blk[(p * V + j) * B + b];
        case CodeLayout::NibbleQuads: {
            const int64_t q = lane / 16, i = lane % 16, half = q / 2;
            const uint8_t v = blk[(p * V + j / 4) * 2 * B + half * B + 4 * i + j % 4];
            return q % 2 ? v >> 4 : v & 15;
        }
        case CodeLayout::Plain: break;
    }
    return 0;
}

void CodeStore::channel_codes(int64_t c, uint8_t* out) const {
    if (layout_ == CodeLayout::Plain) {
        std::memcpy(out, bytes_.data() + c * taps_ * terms_, taps_ * terms_);
        return;
    }
    for (int64_t p = 0; p < taps_; ++p)
        for (int64_t j = 0; j < terms_; ++j) out[p * terms_ + j] = code(c, p, j);
}

std::vector<uint8_t> CodeStore::unpack() const {
    std::vector<uint8_t> out(ct_ * taps_ * terms_);
    for (int64_t c = 0; c < ct_; ++c) channel_codes(c, out.data() + c * taps_ * terms_);
    return out;
}

void scan16_portable(const ScanJob& job) {
    constexpr int64_t B = 32;
    const int64_t pairs = job.terms / 2;
    const bool odd = job.terms % 2 != 0;
    for (int64_t r = 0; r < job.rows; ++r) {
        uint32_t acc[B] = {};
        const uint8_t* code = job.codes;
        for (int64_t p = 0; p < job.taps; ++p) {
            const uint8_t* L = job.luts[r * job.taps + p] + job.lut_offset;
            for (int64_t v = 0; v < pairs; ++v, code += B) {
                const uint8_t* l0 = L + 32 * v;
                const uint8_t* l1 = l0 + 16;
                for (int64_t b = 0; b < B; ++b) acc[b] += l0[code[b] & 15] + l1[code[b] >> 4];
            }
            if (odd) {
                const uint8_t* l0 = L + 32 * pairs;
                for (int64_t b = 0; b < B; ++b) acc[b] += l0[code[b] & 15];
                code += B;
            }
        }
        for (int64_t b = 0; b < B; ++b) job.acc[((b % 2 == 0) ? b / 2 : B / 2 + b / 2) * job.acc_stride + r] = acc[b];
    }
}

void scan(KernelIsa isa, LutMethod method, const ScanJob& job) {
    switch (method) {
        case LutMethod::Shuffle16:
            if (isa == KernelIsa::Avx512Vnni) scan16_avx512_vnni(job);
            else if (isa == KernelIsa::Avx512) scan16_avx512(job);
            else if (isa == KernelIsa::Avx2) scan16_avx2(job);
            else scan16_portable(job);
            return;
        case LutMethod::Perm64: scan_perm_avx512(job, 64); return;
        case LutMethod::Perm128: scan_perm_avx512(job, 128); return;
        case LutMethod::Perm256: scan_perm_avx512(job, 256); return;
        case LutMethod::Float: break;
    }
    QCNN_ASSERT(false, "lut_scan::scan called for the float method");
}

}  // namespace qcnn::lut_scan
