// Sequential reading of a dataset file that may be gzip-compressed or plain: zlib's gzread
// reads both transparently. Every failure throws qcnn::Error naming the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qcnn::data {

class InputFile {
public:
    // Opens `path` for reading; throws if it does not exist, is not a regular file or cannot be
    // opened.
    explicit InputFile(std::string path);
    ~InputFile();
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    const std::string& path() const { return path_; }
    // Size on disk when the file is read as is (not gzip-compressed); nullopt for gzip data,
    // whose uncompressed size is only known by reading it.
    std::optional<int64_t> plain_size() const { return plain_size_; }
    // Bytes consumed so far (uncompressed).
    int64_t position() const { return position_; }

    // Reads up to n bytes; returns how many were read (fewer only at the end of the data).
    int64_t read_some(void* dst, int64_t n);
    // Reads exactly n bytes; throws "PATH: truncated ..." naming `what` if the data ends first.
    void read_exact(void* dst, int64_t n, const std::string& what);
    // Reads exactly n bytes into a new vector. For plain files the size is checked against the
    // bytes left in the file before anything is allocated; for gzip data n must not exceed
    // max_bytes and memory grows with the data actually read, so a header that lies about its
    // size cannot make the reader allocate what the file does not hold.
    std::vector<uint8_t> read_vector(int64_t n, int64_t max_bytes, const std::string& what);
    // Throws "PATH: truncated ..." if fewer than n bytes are left in a plain file (no-op for
    // gzip data, where reading finds out).
    void require_plain_bytes(int64_t n, const std::string& what) const;
    // True when no byte is left.
    bool at_end();

private:
    // Called when the data ended: throws if it ended because the gzip stream is cut short.
    void check_clean_end();

    std::string path_;
    void* gz_ = nullptr;  // gzFile
    std::optional<int64_t> plain_size_;
    int64_t position_ = 0;
};

}  // namespace qcnn::data
