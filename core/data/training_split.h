// Which training split goes with an evaluation data set (issue 18 item 5): the workbench fills
// in the calibration data when a data set is opened, and calibration_split() (dataset.h), the
// default calibration data of every run (CLI, sweeps, workbench), follows the same rule.
// Recognised:
//   fashion-mnist:test|train                     -> fashion-mnist:train
//   idx:D/t10k-images-idx3-ubyte[.gz][,LABELS]   -> idx:D/train-images-idx3-ubyte[.gz][,train labels]
//                                                  ("test" in the names works like "t10k")
//   cifar10:D/test_batch.bin                     -> cifar10:D/data_batch_1.bin,...,data_batch_5.bin
//   cifar100:D/test.bin                          -> cifar100:D/train.bin
//   folder:D/val or folder:D/test (options kept) -> folder:D/train
//   folder:D with sub-folders train/ and val/    -> evaluate folder:D/val, calibrate on folder:D/train
// Only files and folders that exist are named. A split that is itself a training split
// (train-images..., data_batch_N, train/) calibrates on itself.
#pragma once

#include <optional>
#include <string>

namespace qcnn {

struct DatasetSplits {
    std::string eval;                  // the evaluation spec (a folder with train/ and val/: its val/)
    std::optional<std::string> calib;  // the training split, when one is known
};

DatasetSplits dataset_splits(const std::string& spec);

}  // namespace qcnn
