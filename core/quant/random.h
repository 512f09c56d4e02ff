// Seeded randomness for quantization: a fixed, portable generator (splitmix64 seeding a
// xoshiro256** stream) so that the same seed gives the same bits on every platform and
// standard library (std::uniform_*_distribution is implementation-defined).
#pragma once

#include <cstdint>

namespace qcnn {

// splitmix64 finalizer: a bijective 64-bit mixer.
inline uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Child seed for stream `index` of `seed` (per layer, per subspace, ...).
inline uint64_t derive_seed(uint64_t seed, uint64_t index) { return mix64(mix64(seed) ^ mix64(~index)); }

// xoshiro256** generator.
class Rng {
public:
    explicit Rng(uint64_t seed) {
        uint64_t z = seed;
        for (auto& v : s_) v = mix64(z++);
    }

    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

    // Uniform integer in [0, n), n >= 1 (Lemire's multiply-shift with rejection: unbiased).
    uint64_t below(uint64_t n) {
        for (;;) {
            const unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
            const uint64_t low = static_cast<uint64_t>(m);
            if (low >= n || low >= (0 - n) % n) return static_cast<uint64_t>(m >> 64);
        }
    }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t s_[4];
};

}  // namespace qcnn
