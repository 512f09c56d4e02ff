// SHA-256 (FIPS 180-4) for file provenance and checksums in saved models and result files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qcnn {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t n);
    // Lower-case hex digest; the object must not be updated afterwards.
    std::string hex_digest();

private:
    void block(const uint8_t* p);
    uint32_t h_[8];
    uint8_t buf_[64];
    size_t fill_ = 0;
    uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);
// Digest of a file's contents; throws qcnn::Error naming the file if it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace qcnn
