// A run's fine-tuning outcome in a results file (the session file and the HDF5 export): one string
// attribute per fine-tuned run on its sweep group, "finetune_<run_index>", holding JSON
//     {"planned_epochs": 3, "best_epoch": 2, "initial_val_top1": 0.81, "best_val_top1": 0.87,
//      "diverged": false, "status": "",
//      "epochs": [{"epoch": 1, "train_loss": 0.52, "val_top1": 0.85, "seconds": 1.9}, ...]}
// (fractions in [0, 1]). Readers that do not know it (older workbenches, `qcnn merge`) ignore
// unknown attributes, and a file without it reads back as runs that did not fine-tune: the
// layout stays backwards compatible both ways.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ui/run_job.h"

namespace qcnn::ui {

std::string finetuneToJson(const FinetuneRecord& f);
// Throws qcnn::Error naming `what` for text that is not such an object.
FinetuneRecord finetuneFromJson(const std::string& text, const std::string& what);

// Writes run `runIndex`'s attribute on group `/<root>/<sweepId>` of the results file `path`
// (which may be open in this process through a ResultsFile). Throws qcnn::Error naming the path.
void writeFinetuneAttribute(const std::string& path, const std::string& sweepId, int64_t runIndex, const FinetuneRecord& f,
                            const std::string& root = "sweeps");
// Every "finetune_<run_index>" attribute of the group, by run_index (empty when there is none).
// Throws qcnn::Error naming the path and the attribute when one cannot be read. Reads in a child
// process first (probe_hdf5_file, core/util/hdf5_handle.h), as every results file read does.
std::map<int64_t, FinetuneRecord> readFinetuneAttributes(const std::string& path, const std::string& sweepId,
                                                         const std::string& root = "sweeps");

}  // namespace qcnn::ui
