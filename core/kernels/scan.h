// The lookup-add scans of the 8-bit LUT methods (internal to core/kernels: FastFc and FastConv
// call them; tests call them directly for the worst-case accumulator check).
//
// A scan computes, for `rows` rows (FC: input vectors; conv: output positions) and one block
// of B output channels (channel-major, so NCHW outputs are written contiguously),
//   acc[c*acc_stride + r] = sum over taps p < P, terms j < Mg of
//                           luts[r*P + p][lut_offset + j*Kp + code(c, p, j)]
// where luts[r*P + p] points at the 8-bit LUT rows (subspaces j = 0.., Kp bytes each) that row r
// reads for kernel tap p (FC: P = 1). A tap outside a padded input points at zero rows. Tables
// must stay readable kLutReadPad bytes past the last row a scan reads (what is there is never
// added).
//
// Packed codes (pack_codes): blocks of B output channels (per group; the last block of a group
// is zero-padded), block index gi*blocks_per_group + bi, each block P x V vectors (p-major):
//   NibblePairs (vpshufb, portable; Shuffle16): V = ceil(Mg/2) vectors of B bytes; byte b holds
//     code j = 2v (low nibble) and j = 2v+1 (high nibble, 0 past Mg) of channel
//     (b even ? b/2 : B/2 + b/2), so a uint16 lane holds channels i and B/2 + i and the
//     even/odd-byte sums of the uint16 accumulation come out in channel order.
//   NibbleQuads (VNNI; Shuffle16, B = 64): V = ceil(Mg/4) vectors of 128 bytes for the terms
//     j = 4v + t, t < 4. Channel group q < 4 (channels 16q .. 16q+15) has a 64-byte index
//     vector whose byte 4i + t holds code(16q + i, 4v + t) (0 past Mg); q = 0 / 1 are the
//     low / high nibbles of bytes 0..63, q = 2 / 3 those of bytes 64..127.
//   Bytes (vpermb / vpermi2b; Perm*): V = Mg vectors of B bytes; byte b holds code j = v of
//     channel (b even ? b/2 : B/2 + b/2).
// B = 32 for the portable and AVX2 scans, 64 for the AVX-512 scans.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/kernels/isa.h"
#include "core/kernels/lut_tables.h"

namespace qcnn::lut_scan {

// Bytes a scan may read past the rows it uses (the VNNI scan loads 4 rows at a time).
inline constexpr int64_t kLutReadPad = 64;

struct ScanJob {
    const uint8_t* codes = nullptr;         // this block's packed codes: P x V vectors
    const uint8_t* const* luts = nullptr;   // rows x P pointers
    int64_t lut_offset = 0;                 // bytes added to every pointer (group gi: gi*Mg*Kp)
    int64_t rows = 0, taps = 1, terms = 0;  // rows, P, Mg
    uint32_t* acc = nullptr;                // B x acc_stride (channel-major), columns < rows overwritten
    int64_t acc_stride = 0;                 // >= rows
};

// Plain: C_t x P x Mg bytes, no blocks (the LutMethod::Float gather reads codes this way).
enum class CodeLayout { NibblePairs, NibbleQuads, Bytes, Plain };

// The layout and channels per block of a (resolved isa, 8-bit method).
CodeLayout code_layout(KernelIsa isa, LutMethod method);
int64_t block_width(KernelIsa isa);

// codes: C_t x P x Mg (one byte each, or bit-packed: CodeView). Returns the packed layout above
// (Plain: the codes as bytes).
std::vector<uint8_t> pack_codes(CodeView codes, int64_t out_channels, int64_t groups, int64_t P, int64_t Mg,
                                int64_t B, CodeLayout layout);
int64_t packed_block_bytes(int64_t P, int64_t Mg, int64_t B, CodeLayout layout);

// The one copy of a prepared layer's codes, in the layout its scan reads (FastFc / FastConv own
// one each); everything else (the scalar twins, QFcOp / QConvOp's float reference path, saving a
// model) reads codes through code() / channel_codes() / unpack().
class CodeStore {
public:
    CodeStore() = default;
    // codes: C_t x P x Mg; B: channels per block (ignored for Plain).
    CodeStore(CodeView codes, int64_t out_channels, int64_t groups, int64_t P, int64_t Mg, int64_t B,
              CodeLayout layout);

    CodeLayout layout() const { return layout_; }
    int64_t block_width() const { return block_; }
    // Bytes of one block of B channels (P x V vectors); blocks are numbered gi*blocks_per_group + bi.
    int64_t block_bytes() const { return block_bytes_; }
    const uint8_t* block(int64_t index) const { return bytes_.data() + index * block_bytes_; }
    const uint8_t* data() const { return bytes_.data(); }
    int64_t bytes() const { return static_cast<int64_t>(bytes_.size()); }  // what is held

    // Code (c, p, j): output channel c, kernel tap p < P, term j < Mg.
    uint8_t code(int64_t c, int64_t p, int64_t j) const;
    // Channel c's P x Mg codes into out.
    void channel_codes(int64_t c, uint8_t* out) const;
    // All codes, C_t x P x Mg bytes.
    std::vector<uint8_t> unpack() const;

private:
    CodeLayout layout_ = CodeLayout::Plain;
    int64_t ct_ = 0, groups_ = 1, taps_ = 1, terms_ = 0, block_ = 1, block_bytes_ = 0;
    std::vector<uint8_t> bytes_;
};

// The per-variant scans. Perm scans need AVX512-VBMI; kp is 64, 128 or 256.
void scan16_portable(const ScanJob& job);     // NibblePairs, B = 32
void scan16_avx2(const ScanJob& job);         // NibblePairs, B = 32
void scan16_avx512(const ScanJob& job);       // NibblePairs, B = 64
void scan16_avx512_vnni(const ScanJob& job);  // NibbleQuads, B = 64
void scan_perm_avx512(const ScanJob& job, int64_t kp);  // Bytes, B = 64

// Dispatch on (isa, method); method is never Float here.
void scan(KernelIsa resolved_isa, LutMethod method, const ScanJob& job);

}  // namespace qcnn::lut_scan
