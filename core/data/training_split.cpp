#include "core/data/training_split.h"

#include <filesystem>
#include <vector>


namespace qcnn {

namespace {

namespace fs = std::filesystem;

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i)
        if (i == s.size() || s[i] == ',') {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    return out;
}

// `file` with its test-split name part replaced by the training split's, when that file exists.
std::optional<std::string> train_file(const std::string& file) {
    const fs::path p(file);
    std::string name = p.filename().string();
    if (starts_with(name, "train")) return file;
    for (const char* test : {"t10k", "test"})
        if (starts_with(name, test)) {
            name = "train" + name.substr(std::string(test).size());
            const fs::path t = p.parent_path() / name;
            if (fs::exists(t)) return t.string();
        }
    return std::nullopt;
}

std::optional<std::string> idx_train(const std::string& files) {
    std::string out;
    for (const std::string& f : split_commas(files)) {
        const auto t = train_file(f);
        if (!t) return std::nullopt;
        out += (out.empty() ? "" : ",") + *t;
    }
    return "idx:" + out;
}

std::optional<std::string> cifar_train(const std::string& scheme, const std::string& files) {
    const std::vector<std::string> list = split_commas(files);
    const fs::path first(list.front());
    const std::string name = first.filename().string();
    if (starts_with(name, "data_batch") || starts_with(name, "train")) return scheme + files;
    const fs::path dir = first.parent_path();
    if (scheme == "cifar100:") {
        const fs::path t = dir / "train.bin";
        return fs::exists(t) ? std::optional<std::string>(scheme + t.string()) : std::nullopt;
    }
    std::string out;
    for (int i = 1; i <= 5; ++i) {
        const fs::path t = dir / ("data_batch_" + std::to_string(i) + ".bin");
        if (fs::exists(t)) out += (out.empty() ? "" : ",") + t.string();
    }
    return out.empty() ? std::nullopt : std::optional<std::string>(scheme + out);
}

}  // namespace

DatasetSplits dataset_splits(const std::string& spec) {
    DatasetSplits s{spec, std::nullopt};
    if (spec == "fashion-mnist:test" || spec == "fashion-mnist:train") {
        s.calib = "fashion-mnist:train";
    } else if (starts_with(spec, "idx:")) {
        s.calib = idx_train(spec.substr(4));
    } else if (starts_with(spec, "cifar10:") || starts_with(spec, "cifar100:")) {
        const size_t colon = spec.find(':') + 1;
        s.calib = cifar_train(spec.substr(0, colon), spec.substr(colon));
    } else if (starts_with(spec, "folder:")) {
        const std::string rest = spec.substr(7);
        const size_t comma = rest.find(',');
        std::string dir = rest.substr(0, comma);
        const std::string options = comma == std::string::npos ? "" : rest.substr(comma);
        // The training split keeps the preprocessing, not a labels file (that one lists the eval images).
        std::string train_options;
        for (const std::string& o : split_commas(options))
            if (starts_with(o, "preprocess=")) train_options += "," + o;
        while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
        const fs::path p(dir);
        if (fs::is_directory(p / "train") && (fs::is_directory(p / "val") || fs::is_directory(p / "test"))) {
            s.eval = "folder:" + (p / (fs::is_directory(p / "val") ? "val" : "test")).string() + options;
            s.calib = "folder:" + (p / "train").string() + train_options;
        } else {
            const std::string name = p.filename().string();
            if (name == "train") s.calib = spec;
            else if ((name == "val" || name == "test") && fs::is_directory(p.parent_path() / "train"))
                s.calib = "folder:" + (p.parent_path() / "train").string() + train_options;
        }
    }
    return s;
}

}  // namespace qcnn
