#!/usr/bin/python3
# Writes the small generated seed files of fuzz/corpus/ (IDX, CIFAR, HDF5 datasets). The ONNX,
# model-file and JSON seeds are copies of real files (see docs/hardening.md).
import gzip, os, struct
import numpy as np, h5py

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
rng = np.random.default_rng(8)

def put(target, name, data):
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data)

def idx(dims, values):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(values)

img = idx([2, 3, 4], rng.integers(0, 256, 24, dtype=np.uint8))
put("fuzz_idx", "images_2x3x4", img)
put("fuzz_idx", "images_2x3x4.gz", gzip.compress(img, mtime=0))
put("fuzz_idx", "labels_1", idx([1], [7]))
put("fuzz_idx", "labels_1.gz", gzip.compress(idx([1], [3]), mtime=0))

rec10 = lambda lab: bytes([lab]) + bytes(rng.integers(0, 256, 3072, dtype=np.uint8))
put("fuzz_cifar", "cifar10_2", rec10(3) + rec10(9))
put("fuzz_cifar", "cifar100_1", bytes([1, 42]) + bytes(rng.integers(0, 256, 3072, dtype=np.uint8)))

def h5(name, images, labels, **kw):
    path = os.path.join(root, "fuzz_hdf5_dataset", name)
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("images", data=images, **kw)
        if labels is not None:
            f.create_dataset("labels", data=labels)

h5("u8_nchw.h5", rng.integers(0, 256, (2, 1, 3, 3), dtype=np.uint8), np.array([0, 1], np.int64))
h5("u8_nhwc.h5", rng.integers(0, 256, (2, 3, 3, 3), dtype=np.uint8), np.array([2, 1], np.int32))
h5("f32_nhw.h5", rng.random((2, 3, 3), dtype=np.float32), np.array([1, 0], np.uint8))
h5("u8_chunked_gzip.h5", rng.integers(0, 256, (2, 1, 4, 4), dtype=np.uint8), np.array([0, 1], np.int16),
   chunks=(1, 1, 4, 4), compression="gzip")
