// Shared by the libFuzzer targets: the readers take file paths, so each input is written to a
// per-process file in /dev/shm (RAM) and removed afterwards. A target catches qcnn::Error only
// (a refused input is the expected outcome); anything else escapes and libFuzzer reports it.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace qcnn::fuzz {

class TempFile {
public:
    TempFile(const uint8_t* data, size_t size, const std::string& tag)
        : path_("/dev/shm/qcnn-fuzz-" + std::to_string(::getpid()) + "-" + tag) {
        std::ofstream(path_, std::ios::binary | std::ios::trunc)
            .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    ~TempFile() { std::remove(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace qcnn::fuzz
