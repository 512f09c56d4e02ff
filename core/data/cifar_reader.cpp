// CIFAR binary format: records of label byte(s) followed by 3072 pixel bytes (3 x 32 x 32,
// CHW row-major), back to back, no header. CIFAR-10: 1 label byte; CIFAR-100: coarse, fine.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>

#include "core/data/input_file.h"
#include "core/data/readers.h"
#include "core/util/error.h"

namespace qcnn::data {

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

// Class names from the text file the CIFAR archives ship beside the batches, if present.
std::vector<std::string> names_beside(const std::string& first_file, const char* name, size_t count) {
    const std::filesystem::path p = std::filesystem::path(first_file).parent_path() / name;
    std::ifstream in(p);
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) names.push_back(line);
    }
    if (names.size() != count) names.clear();
    return names;
}

}  // namespace

SampleData read_cifar(const std::vector<std::string>& files, int label_bytes, int64_t limit) {
    QCNN_ASSERT(label_bytes == 1 || label_bytes == 2, "CIFAR label bytes ", label_bytes);
    const char* kind = label_bytes == 1 ? "CIFAR-10" : "CIFAR-100";
    if (files.empty()) fail(kind, ": no files given");
    const int64_t rec = label_bytes + kPixels;

    std::vector<std::unique_ptr<InputFile>> inputs;
    int64_t known = 0;  // records in plain files, for one exact allocation
    for (const std::string& path : files) {
        inputs.push_back(std::make_unique<InputFile>(path));
        const InputFile& f = *inputs.back();
        if (f.plain_size()) {
            if (*f.plain_size() == 0 || *f.plain_size() % rec != 0)
                fail(path, ": truncated or not a ", kind, " binary file: its size ", *f.plain_size(),
                     " is not a positive multiple of the ", rec, "-byte record (", label_bytes,
                     label_bytes == 1 ? " label byte" : " label bytes", " + 3072 pixels)");
            known += *f.plain_size() / rec;
        }
    }

    SampleData d;
    const int64_t want = limit > 0 ? limit : std::numeric_limits<int64_t>::max();
    d.u8.reserve(static_cast<size_t>(std::min(known, want) * kPixels));
    d.labels.reserve(static_cast<size_t>(std::min(known, want)));
    constexpr int64_t kChunk = 1024;
    std::vector<uint8_t> buf(static_cast<size_t>(kChunk * rec));
    int64_t n = 0;
    for (auto& f : inputs) {
        int64_t in_file = 0;
        while (n < want) {
            const int64_t recs = std::min(kChunk, want - n);
            const int64_t got = f->read_some(buf.data(), recs * rec);
            if (got % rec != 0)
                fail(f->path(), ": truncated ", kind, " file: record ", in_file + got / rec, " ends after ",
                     got % rec, " of its ", rec, " bytes");
            const int64_t nrec = got / rec;
            if ((n + nrec) * rec > kMaxPixelBytes)
                fail(f->path(), ": ", kind, " data exceeds the ", kMaxPixelBytes, "-byte limit");
            for (int64_t r = 0; r < nrec; ++r) {
                const uint8_t* p = buf.data() + r * rec;
                d.labels.push_back(p[label_bytes - 1]);
                d.u8.insert(d.u8.end(), p + label_bytes, p + rec);
            }
            n += nrec;
            in_file += nrec;
            if (got < recs * rec) break;
        }
        if (in_file == 0 && n < want) fail(f->path(), ": empty ", kind, " file (no records)");
    }

    d.pixels = SampleData::Pixels::u8;
    d.shape = {n, 3, 32, 32};
    if (label_bytes == 1) {
        d.num_classes = 10;
        d.class_names = names_beside(files.front(), "batches.meta.txt", 10);
        if (d.class_names.empty())
            d.class_names = {"airplane", "automobile", "bird", "cat", "deer",
                             "dog",      "frog",       "horse", "ship", "truck"};
    } else {
        d.num_classes = 100;
        d.class_names = names_beside(files.front(), "fine_label_names.txt", 100);
    }
    std::string list;
    for (const std::string& f : files) list += (list.empty() ? "" : ", ") + f;
    d.description = cat(kind, " ", list);
    return d;
}

}  // namespace qcnn::data
