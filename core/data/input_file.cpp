#include "core/data/input_file.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/util/error.h"

namespace qcnn::data {

namespace fs = std::filesystem;

namespace {
gzFile gz(void* p) { return static_cast<gzFile>(p); }
}  // namespace

InputFile::InputFile(std::string path) : path_(std::move(path)) {
    std::error_code ec;
    const fs::file_status st = fs::status(path_, ec);
    if (!fs::exists(st)) fail("dataset file not found: ", path_);
    if (!fs::is_regular_file(st)) fail("dataset file ", path_, " is not a regular file");
    errno = 0;
    gz_ = gzopen(path_.c_str(), "rb");
    if (!gz_) fail("cannot open dataset file ", path_, ": ", errno ? std::strerror(errno) : "out of memory");
    gzbuffer(gz(gz_), 1 << 20);  // must precede gzdirect, which starts reading
    if (gzdirect(gz(gz_))) {
        const auto size = fs::file_size(path_, ec);
        if (ec) fail("cannot read the size of dataset file ", path_, ": ", ec.message());
        plain_size_ = static_cast<int64_t>(size);
    }
}

InputFile::~InputFile() {
    if (gz_) gzclose_r(gz(gz_));
}

int64_t InputFile::read_some(void* dst, int64_t n) {
    QCNN_ASSERT(n >= 0, "negative read size");
    auto* out = static_cast<unsigned char*>(dst);
    int64_t done = 0;
    while (done < n) {
        const auto chunk = static_cast<unsigned>(std::min<int64_t>(n - done, 1 << 30));
        const int got = gzread(gz(gz_), out + done, chunk);
        if (got < 0) {
            int err = 0;
            const char* msg = gzerror(gz(gz_), &err);
            fail("cannot read dataset file ", path_, ": ",
                 err == Z_ERRNO ? std::strerror(errno) : msg, " (corrupt or truncated gzip data?)");
        }
        if (got == 0) break;
        done += got;
    }
    position_ += done;
    if (done < n) check_clean_end();
    return done;
}

void InputFile::check_clean_end() {
    int err = 0;
    const char* msg = gzerror(gz(gz_), &err);
    if (err == Z_BUF_ERROR)
        fail(path_, ": truncated gzip data (", msg, " after ", position_, " uncompressed bytes)");
    if (err != Z_OK) fail("cannot read dataset file ", path_, ": ", msg);
}

void InputFile::require_plain_bytes(int64_t n, const std::string& what) const {
    if (plain_size_ && n > *plain_size_ - position_)
        fail(path_, ": truncated or wrong header: ", what, " needs ", n, " bytes after byte ", position_,
             " but the file has only ", *plain_size_ - position_, " more (file size ", *plain_size_, ")");
}

void InputFile::read_exact(void* dst, int64_t n, const std::string& what) {
    require_plain_bytes(n, what);
    const int64_t start = position_;
    const int64_t got = read_some(dst, n);
    if (got != n)
        fail(path_, ": truncated: ", what, " needs ", n, " bytes after byte ", start, " but the data ends after ",
             got, " of them");
}

std::vector<uint8_t> InputFile::read_vector(int64_t n, int64_t max_bytes, const std::string& what) {
    std::vector<uint8_t> v;
    if (plain_size_) {
        require_plain_bytes(n, what);
        v.resize(static_cast<size_t>(n));
        read_exact(v.data(), n, what);
        return v;
    }
    if (n > max_bytes)
        fail(path_, ": ", what, " would be ", n, " bytes, more than the ", max_bytes,
             "-byte limit for compressed dataset files (corrupt header?)");
    constexpr int64_t kStep = int64_t(64) << 20;
    const int64_t start = position_;
    while (static_cast<int64_t>(v.size()) < n) {
        const int64_t have = static_cast<int64_t>(v.size());
        const int64_t cap = std::min(n, std::max(2 * have, kStep));
        v.reserve(static_cast<size_t>(cap));
        v.resize(static_cast<size_t>(cap));
        const int64_t got = read_some(v.data() + have, cap - have);
        if (got != cap - have)
            fail(path_, ": truncated: ", what, " needs ", n, " bytes after byte ", start,
                 " but the data ends after ", have + got, " of them");
    }
    return v;
}

bool InputFile::at_end() {
    const int c = gzgetc(gz(gz_));
    if (c < 0) {
        check_clean_end();
        return true;
    }
    gzungetc(c, gz(gz_));
    return false;
}

}  // namespace qcnn::data
