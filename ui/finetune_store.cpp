#include "ui/finetune_store.h"

#include <cmath>
#include <sstream>
#include <vector>

#include "core/train/finetune_json.h"
#include "core/util/error.h"
#include "core/util/hdf5_handle.h"
#include "core/util/json.h"

namespace qcnn::ui {

namespace {

constexpr const char* kPrefix = "finetune_";

std::string groupPath(const std::string& root, const std::string& sweepId) { return "/" + root + "/" + sweepId; }

}  // namespace

std::string finetuneToJson(const FinetuneRecord& f) {
    std::ostringstream os;
    json::Writer w(os, 0);
    w.begin_object();
    w.field("planned_epochs", f.plannedEpochs).field("best_epoch", f.bestEpoch);
    w.field("initial_val_top1", f.initialValTop1).field("best_val_top1", f.bestValTop1);
    w.field("diverged", f.diverged).field("status", f.status);
    w.key("epochs");
    write_finetune_epochs(w, f.epochs);
    w.end_object();
    return os.str();
}

FinetuneRecord finetuneFromJson(const std::string& text, const std::string& what) {
    const json::Value v = json::parse(text, what);
    // A loss that was NaN is written as null (JSON has no NaN): it reads back as NaN.
    const auto number = [](const json::Value& x) { return x.is_null() ? std::nan("") : x.as_number(); };
    FinetuneRecord f;
    f.ran = true;
    f.plannedEpochs = static_cast<int>(v["planned_epochs"].as_int());
    f.bestEpoch = static_cast<int>(v["best_epoch"].as_int());
    f.initialValTop1 = number(v["initial_val_top1"]);
    f.bestValTop1 = number(v["best_val_top1"]);
    f.diverged = v["diverged"].as_bool();
    f.status = v["status"].as_string();
    for (const json::Value& e : v["epochs"].as_array()) {
        FinetuneEpoch ep;
        ep.epoch = static_cast<int>(e["epoch"].as_int());
        ep.train_loss = number(e["train_loss"]);
        ep.val_top1 = number(e["val_top1"]);
        ep.seconds = number(e["seconds"]);
        if (e.find("codes_changed")) ep.codes_changed = number(e["codes_changed"]);
        f.epochs.push_back(ep);
    }
    return f;
}

void writeFinetuneAttribute(const std::string& path, const std::string& sweepId, int64_t runIndex, const FinetuneRecord& f,
                            const std::string& root) {
    const std::string name = kPrefix + std::to_string(runIndex);
    const std::string text = finetuneToJson(f);
    Hdf5Session session;
    // Opening a file this process already has open (the session's ResultsFile) shares it.
    Hdf5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) fail(path, ": cannot open the results file to write ", name);
    Hdf5Handle group(H5Gopen2(file.get(), groupPath(root, sweepId).c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.ok()) fail(path, ": no group ", groupPath(root, sweepId), " for ", name);
    if (H5Aexists(group.get(), name.c_str()) > 0) H5Adelete(group.get(), name.c_str());
    Hdf5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), text.size() + 1);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Hdf5Handle attr(H5Acreate2(group.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.ok() || H5Awrite(attr.get(), type.get(), text.c_str()) < 0) fail(path, ": cannot write attribute ", name);
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) fail(path, ": cannot flush after writing ", name);
}

namespace {

std::map<int64_t, FinetuneRecord> readAttributes(const std::string& path, const std::string& sweepId, const std::string& root) {
    std::map<int64_t, FinetuneRecord> out;
    Hdf5Session session;
    Hdf5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) fail(path, ": cannot open the results file");
    Hdf5Handle group(H5Gopen2(file.get(), groupPath(root, sweepId).c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.ok()) fail(path, ": no group ", groupPath(root, sweepId));
    std::vector<std::string> names;
    const auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
    };
    if (H5Aiterate2(group.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names) < 0)
        fail(path, ": cannot list the attributes of ", groupPath(root, sweepId));
    for (const std::string& name : names) {
        if (name.rfind(kPrefix, 0) != 0) continue;
        int64_t run = 0;
        try {
            run = std::stoll(name.substr(std::char_traits<char>::length(kPrefix)));
        } catch (const std::exception&) {
            continue;  // not ours
        }
        Hdf5Handle attr(H5Aopen(group.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
        if (!attr.ok()) fail(path, ": cannot open attribute ", name);
        Hdf5Handle type(H5Aget_type(attr.get()), H5Tclose);
        if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0)
            fail(path, ": attribute ", name, " of ", groupPath(root, sweepId), " is not a fixed-length string");
        std::vector<char> buf(H5Tget_size(type.get()) + 1, '\0');
        if (H5Aread(attr.get(), type.get(), buf.data()) < 0) fail(path, ": cannot read attribute ", name);
        out[run] = finetuneFromJson(std::string(buf.data()), path + ": attribute " + name);
    }
    return out;
}

}  // namespace

std::map<int64_t, FinetuneRecord> readFinetuneAttributes(const std::string& path, const std::string& sweepId,
                                                         const std::string& root) {
    // The same reads in a child process first: a corrupt file crashes libhdf5 there, not here.
    probe_hdf5_file(path, [&] { readAttributes(path, sweepId, root); });
    return readAttributes(path, sweepId, root);
}

}  // namespace qcnn::ui
