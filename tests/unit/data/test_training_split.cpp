// dataset_splits (core/data/training_split.h): the training split of an evaluation data set the
// workbench opens (issue 18 item 5), only ever naming files and folders that exist.
#include <gtest/gtest.h>

#include <fstream>

#include "core/data/training_split.h"
#include "../temp_dir.h"

namespace qcnn {
namespace {

void touch(const std::string& path) { std::ofstream(path) << "x"; }

TEST(TrainingSplit, FashionMnistAsBefore) {
    EXPECT_EQ(dataset_splits("fashion-mnist:test").calib, "fashion-mnist:train");
    EXPECT_EQ(dataset_splits("fashion-mnist:test").eval, "fashion-mnist:test");
}

TEST(TrainingSplit, IdxPairs) {
    test::TempDir d;
    for (const char* f : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                          "train-labels-idx1-ubyte.gz", "test-images.idx", "other-images-idx3-ubyte"})
        touch(d.file(f));
    const std::string spec = "idx:" + d.file("t10k-images-idx3-ubyte.gz") + "," + d.file("t10k-labels-idx1-ubyte.gz");
    EXPECT_EQ(dataset_splits(spec).calib,
              "idx:" + d.file("train-images-idx3-ubyte.gz") + "," + d.file("train-labels-idx1-ubyte.gz"));
    // Without the labels file: images only.
    EXPECT_EQ(dataset_splits("idx:" + d.file("t10k-images-idx3-ubyte.gz")).calib, "idx:" + d.file("train-images-idx3-ubyte.gz"));
    // A training split calibrates on itself.
    EXPECT_EQ(dataset_splits("idx:" + d.file("train-images-idx3-ubyte.gz")).calib, "idx:" + d.file("train-images-idx3-ubyte.gz"));
    // "test" names whose training twin does not exist, and names of no split: none known.
    EXPECT_FALSE(dataset_splits("idx:" + d.file("test-images.idx")).calib);
    EXPECT_FALSE(dataset_splits("idx:" + d.file("other-images-idx3-ubyte")).calib);
}

TEST(TrainingSplit, CifarBatches) {
    test::TempDir d;
    for (const char* f : {"test_batch.bin", "data_batch_1.bin", "data_batch_2.bin", "test.bin"}) touch(d.file(f));
    EXPECT_EQ(dataset_splits("cifar10:" + d.file("test_batch.bin")).calib,
              "cifar10:" + d.file("data_batch_1.bin") + "," + d.file("data_batch_2.bin"));
    EXPECT_EQ(dataset_splits("cifar10:" + d.file("data_batch_2.bin")).calib, "cifar10:" + d.file("data_batch_2.bin"));
    EXPECT_FALSE(dataset_splits("cifar100:" + d.file("test.bin")).calib);  // no train.bin
    touch(d.file("train.bin"));
    EXPECT_EQ(dataset_splits("cifar100:" + d.file("test.bin")).calib, "cifar100:" + d.file("train.bin"));
}

TEST(TrainingSplit, FoldersWithTrainAndVal) {
    test::TempDir d;
    std::filesystem::create_directories(d.path() / "set" / "train" / "cat");
    std::filesystem::create_directories(d.path() / "set" / "val" / "cat");
    std::filesystem::create_directories(d.path() / "lonely" / "val");
    const std::string set = (d.path() / "set").string();
    // The folder above train/ and val/: evaluate val/, calibrate on train/ (the preprocessing kept).
    DatasetSplits s = dataset_splits("folder:" + set + "/,preprocess=imagenet");
    EXPECT_EQ(s.eval, "folder:" + set + "/val,preprocess=imagenet");
    EXPECT_EQ(s.calib, "folder:" + set + "/train,preprocess=imagenet");
    // val/ itself: its sibling train/, without val's labels file.
    s = dataset_splits("folder:" + set + "/val,labels=" + d.file("val.txt"));
    EXPECT_EQ(s.eval, "folder:" + set + "/val,labels=" + d.file("val.txt"));
    EXPECT_EQ(s.calib, "folder:" + set + "/train");
    EXPECT_FALSE(dataset_splits("folder:" + (d.path() / "lonely" / "val").string()).calib);
    EXPECT_FALSE(dataset_splits("hdf5:" + d.file("x.h5") + ":images:labels").calib);
}

}  // namespace
}  // namespace qcnn
