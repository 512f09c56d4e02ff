// The lookup-add scans against a plain loop over unpacked codes (bit-exact integer sums),
// for every instruction set and 8-bit method this CPU runs, and the worst-case accumulator.
#include <gtest/gtest.h>

#include <array>
#include <climits>
#include <random>

#include "core/kernels/scan.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

struct Variant {
    KernelIsa isa;
    LutMethod method;
};

std::vector<Variant> variants() {
    std::vector<Variant> v;
    for (KernelIsa isa : supported_isas()) v.push_back({isa, LutMethod::Shuffle16});
    if (isa_supported(KernelIsa::Avx512) && cpu_features().avx512vbmi)
        for (LutMethod m : {LutMethod::Perm64, LutMethod::Perm128, LutMethod::Perm256}) v.push_back({KernelIsa::Avx512, m});
    return v;
}

std::string name(const Variant& v) { return std::string(isa_name(v.isa)) + "/" + lut_method_name(v.method); }

// Tables of one scan problem: luts[r*taps + p] holds `lead` bytes (skipped by lut_offset), then
// `terms` rows of kp bytes.
struct Problem {
    int64_t rows, taps, terms, channels, kp, lead;
    std::vector<std::vector<uint8_t>> luts;
    std::vector<uint8_t> codes;  // channels x taps x terms
};

Problem make_problem(int64_t rows, int64_t taps, int64_t terms, int64_t channels, const Variant& v, uint64_t seed,
                     bool worst_case) {
    const int64_t K = v.method == LutMethod::Shuffle16 ? 16 : lut_row_length(v.method, 0);
    Problem pr{rows, taps, terms, channels, lut_row_length(v.method, 16), 2 * lut_row_length(v.method, 16), {}, {}};
    // Read padding past the rows (the VNNI scan loads 4 rows at a time) holds junk, as the next
    // group's rows do in a layer's table: a scan must not add what it reads there.
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> byte(0, 255), code(0, static_cast<int>(K) - 1);
    pr.luts.resize(rows * taps);
    for (auto& l : pr.luts) {
        l.resize(pr.lead + terms * pr.kp + lut_scan::kLutReadPad);
        for (auto& b : l) b = worst_case ? 255 : static_cast<uint8_t>(byte(rng) | 1);
    }
    pr.codes.resize(channels * taps * terms);
    for (auto& c : pr.codes) c = static_cast<uint8_t>(code(rng));
    return pr;
}

// acc[r][c] = sum_p sum_j luts[r*taps + p][lead + j*kp + code(c, p, j)]
std::vector<uint32_t> plain_scan(const Problem& pr) {
    std::vector<uint32_t> acc(pr.rows * pr.channels, 0);
    for (int64_t r = 0; r < pr.rows; ++r)
        for (int64_t c = 0; c < pr.channels; ++c)
            for (int64_t p = 0; p < pr.taps; ++p)
                for (int64_t j = 0; j < pr.terms; ++j)
                    acc[r * pr.channels + c] +=
                        pr.luts[r * pr.taps + p][pr.lead + j * pr.kp + pr.codes[(c * pr.taps + p) * pr.terms + j]];
    return acc;
}

std::vector<uint32_t> fast_scan(const Problem& pr, const Variant& v) {
    const int64_t B = lut_scan::block_width(v.isa);
    const lut_scan::CodeLayout layout = lut_scan::code_layout(v.isa, v.method);
    const std::vector<uint8_t> packed = lut_scan::pack_codes(pr.codes, pr.channels, 1, pr.taps, pr.terms, B, layout);
    const int64_t block_bytes = lut_scan::packed_block_bytes(pr.taps, pr.terms, B, layout);
    std::vector<const uint8_t*> ptrs;
    for (const auto& l : pr.luts) ptrs.push_back(l.data());
    std::vector<uint32_t> acc(pr.rows * pr.channels), block(B * (pr.rows + 1), 7);
    for (int64_t b0 = 0; b0 < pr.channels; b0 += B) {
        lut_scan::ScanJob job;
        job.codes = packed.data() + (b0 / B) * block_bytes;
        job.luts = ptrs.data();
        job.lut_offset = pr.lead;
        job.rows = pr.rows;
        job.taps = pr.taps;
        job.terms = pr.terms;
        job.acc = block.data();
        job.acc_stride = pr.rows + 1;  // a column past the rows must stay untouched
        lut_scan::scan(v.isa, v.method, job);
        for (int64_t c = 0; c < B; ++c) EXPECT_EQ(block[c * (pr.rows + 1) + pr.rows], 7u) << "column past the rows";
        for (int64_t r = 0; r < pr.rows; ++r)
            for (int64_t c = b0; c < std::min(b0 + B, pr.channels); ++c)
                acc[r * pr.channels + c] = block[(c - b0) * (pr.rows + 1) + r];
    }
    return acc;
}

TEST(LutScan, MatchesPlainLoopOnAwkwardShapes) {
    uint64_t seed = 1;
    for (const Variant& v : variants())
        for (int64_t rows : {1, 2, 3, 4, 5, 7, 9})
            for (int64_t taps : {1, 2, 3})
                for (int64_t terms : {1, 2, 3, 7, 16})
                    for (int64_t channels : {1, 31, 33, 64, 65}) {
                        const Problem pr = make_problem(rows, taps, terms, channels, v, ++seed, false);
                        ASSERT_EQ(fast_scan(pr, v), plain_scan(pr))
                            << name(v) << " rows " << rows << " taps " << taps << " terms " << terms << " channels "
                            << channels << " seed " << seed;
                    }
}

TEST(LutScan, MatchesPlainLoopAcrossUint16Chunks) {
    uint64_t seed = 1000;
    for (const Variant& v : variants())
        for (int64_t taps : {1, 2})
            for (int64_t terms : {255, 256, 257, 258, 513}) {
                const Problem pr = make_problem(5, taps, terms, 65, v, ++seed, false);
                ASSERT_EQ(fast_scan(pr, v), plain_scan(pr))
                    << name(v) << " taps " << taps << " terms " << terms << " seed " << seed;
            }
}

// Every entry 255: the largest possible sum for the number of terms. Without the widening
// every 256 terms the uint16 partial sums would wrap after 257 terms.
TEST(LutScan, WorstCaseSumsDoNotOverflow) {
    for (const Variant& v : variants()) {
        const bool nib = v.method == LutMethod::Shuffle16;
        // 70001 terms: 17,850,255 > 2^24 (beyond float-exact) and far beyond uint16.
        const std::vector<std::array<int64_t, 3>> shapes =
            nib ? std::vector<std::array<int64_t, 3>>{{5, 3, 257}, {5, 9, 512}, {2, 1, 70001}}
                : std::vector<std::array<int64_t, 3>>{{5, 3, 257}, {5, 9, 512}, {1, 1, 9001}};
        for (const auto& [rows, taps, terms] : shapes) {
            const Problem pr = make_problem(rows, taps, terms, 65, v, 7, true);
            const std::vector<uint32_t> acc = fast_scan(pr, v);
            const uint32_t expected = static_cast<uint32_t>(255 * taps * terms);
            for (size_t i = 0; i < acc.size(); ++i)
                ASSERT_EQ(acc[i], expected) << name(v) << " taps " << taps << " terms " << terms << " output " << i;
        }
    }
}

// kMaxLutTerms entries of 255 still fit an int32 accumulator; one more term is rejected.
TEST(LutScan, GeometryRejectsTermCountsThatCouldOverflowInt32) {
    EXPECT_LE(255 * kMaxLutTerms, int64_t(INT32_MAX));
    EXPECT_GT(255 * (kMaxLutTerms + 1), int64_t(INT32_MAX) - 255);
    LutGeometry g;
    g.out_channels = 1;
    g.in_channels = kMaxLutTerms;  // dsub 1: Mg = P * Mg = kMaxLutTerms terms
    g.dsub = 1;
    g.K = 16;
    EXPECT_NO_THROW(g.validate("layer"));
    g.in_channels = kMaxLutTerms + 1;
    EXPECT_THROW(g.validate("layer"), Error);
    g.in_channels = kMaxLutTerms / 9 + 1;
    g.kernel_h = g.kernel_w = 3;
    EXPECT_THROW(g.validate("layer"), Error);
}

TEST(LutScan, PackedLayoutPlacesChannelPairsInUint16Lanes) {
    // 3 channels, 1 tap, 3 terms, B = 32: byte 2i <-> channel i, byte 2i+1 <-> channel 16 + i.
    const std::vector<uint8_t> codes{1, 2, 3, 4, 5, 6, 7, 8, 9};
    const std::vector<uint8_t> packed = lut_scan::pack_codes(codes, 3, 1, 1, 3, 32, lut_scan::CodeLayout::NibblePairs);
    ASSERT_EQ(packed.size(), 2u * 32u);
    EXPECT_EQ(packed[0], 1 | (2 << 4));  // channel 0: j = 0 low, j = 1 high
    EXPECT_EQ(packed[2], 4 | (5 << 4));  // channel 1
    EXPECT_EQ(packed[4], 7 | (8 << 4));  // channel 2
    EXPECT_EQ(packed[32 + 4], 9);        // channel 2, j = 2 (no partner)
    EXPECT_EQ(packed[1], 0);             // channel 16: padding
}

TEST(LutScan, NibbleQuadLayoutPutsFourTermsOfAChannelInOneDword) {
    // 20 channels, 1 tap, 5 terms: code(c, j) = (c + 3j) % 16.
    std::vector<uint8_t> codes(20 * 5);
    for (int c = 0; c < 20; ++c)
        for (int j = 0; j < 5; ++j) codes[c * 5 + j] = static_cast<uint8_t>((c + 3 * j) % 16);
    const std::vector<uint8_t> packed = lut_scan::pack_codes(codes, 20, 1, 1, 5, 64, lut_scan::CodeLayout::NibbleQuads);
    ASSERT_EQ(packed.size(), 2u * 128u);
    for (int i = 0; i < 16; ++i)
        for (int t = 0; t < 4; ++t) {
            EXPECT_EQ(packed[4 * i + t] & 15, (i + 3 * t) % 16);                    // group 0: channel i
            EXPECT_EQ(packed[4 * i + t] >> 4, i < 4 ? (16 + i + 3 * t) % 16 : 0);  // group 1: channel 16 + i
            EXPECT_EQ(packed[64 + 4 * i + t], 0);                                   // groups 2, 3: padding
        }
    EXPECT_EQ(packed[128 + 4 * 2 + 0] & 15, (2 + 12) % 16);  // term 4 of channel 2
    EXPECT_EQ(packed[128 + 4 * 2 + 1], 0);                   // term 5 does not exist
}


// The code store (the one copy a prepared layer keeps) gives back every code it was built from,
// in every layout, over shapes that leave partial blocks, odd terms and several groups; built
// from bit-packed codes it holds the same bytes as from one byte per code.
TEST(LutScan, CodeStoreReadsBackEveryCodeInEveryLayout) {
    using lut_scan::CodeLayout;
    struct Shape5 {
        int64_t ct, groups, P, Mg, K;
    };
    for (const Shape5& sh : {Shape5{1, 1, 1, 1, 16}, Shape5{17, 1, 1, 3, 16}, Shape5{33, 1, 9, 5, 16},
                             Shape5{130, 2, 4, 7, 16}, Shape5{65, 5, 1, 2, 2}, Shape5{64, 1, 3, 63, 256},
                             Shape5{31, 1, 2, 4, 100}}) {
        const uint32_t seed = static_cast<uint32_t>(sh.ct * 131 + sh.Mg);
        std::mt19937 rng(seed);
        std::vector<uint8_t> codes(sh.ct * sh.P * sh.Mg);
        for (auto& c : codes) c = static_cast<uint8_t>(rng() % sh.K);
        int bits = 1;
        while ((int64_t{1} << bits) < sh.K) ++bits;
        std::vector<uint8_t> bitpacked((codes.size() * bits + 7) / 8, 0);
        for (size_t i = 0; i < codes.size(); ++i)
            for (int b = 0; b < bits; ++b)
                if (codes[i] >> b & 1) bitpacked[(i * bits + b) / 8] |= static_cast<uint8_t>(1u << ((i * bits + b) % 8));
        std::vector<std::pair<CodeLayout, int64_t>> layouts{{CodeLayout::Plain, 1}, {CodeLayout::Bytes, 32},
                                                           {CodeLayout::Bytes, 64}};
        if (sh.K <= 16)
            for (auto l : {std::pair{CodeLayout::NibblePairs, int64_t{32}}, std::pair{CodeLayout::NibblePairs, int64_t{64}},
                           std::pair{CodeLayout::NibbleQuads, int64_t{64}}})
                layouts.push_back(l);
        for (const auto& [layout, B] : layouts) {
            SCOPED_TRACE(testing::Message() << "ct " << sh.ct << " g " << sh.groups << " P " << sh.P << " Mg " << sh.Mg
                                            << " layout " << int(layout) << " B " << B << " seed " << seed);
            const lut_scan::CodeStore store(codes, sh.ct, sh.groups, sh.P, sh.Mg, B, layout);
            EXPECT_EQ(store.unpack(), codes);
            for (int64_t c = 0; c < sh.ct; c += 7)
                for (int64_t p = 0; p < sh.P; ++p)
                    for (int64_t j = 0; j < sh.Mg; ++j)
                        ASSERT_EQ(store.code(c, p, j), codes[(c * sh.P + p) * sh.Mg + j]) << c << " " << p << " " << j;
            const lut_scan::CodeStore from_bits(CodeView(bitpacked.data(), static_cast<int64_t>(codes.size()), bits),
                                                sh.ct, sh.groups, sh.P, sh.Mg, B, layout);
            EXPECT_EQ(from_bits.unpack(), codes);
            EXPECT_EQ(std::vector<uint8_t>(from_bits.data(), from_bits.data() + from_bits.bytes()),
                      std::vector<uint8_t>(store.data(), store.data() + store.bytes()));
            // What is held: per group, ceil(C_t/g / B) blocks of P x V vectors (V = ceil(Mg/2) nibble
            // pairs of B bytes, ceil(Mg/4) nibble quads of 2B bytes, Mg bytes vectors); Plain: one byte a code.
            const int64_t ctg = sh.ct / sh.groups, nb = (ctg + B - 1) / B;
            int64_t expect = static_cast<int64_t>(codes.size());
            if (layout == CodeLayout::NibblePairs) expect = sh.groups * nb * sh.P * ((sh.Mg + 1) / 2) * B;
            if (layout == CodeLayout::NibbleQuads) expect = sh.groups * nb * sh.P * ((sh.Mg + 3) / 4) * 2 * B;
            if (layout == CodeLayout::Bytes) expect = sh.groups * nb * sh.P * sh.Mg * B;
            EXPECT_EQ(store.bytes(), expect);
        }
    }
}

}  // namespace
}  // namespace qcnn
