#!/usr/bin/python3
"""Compares `qcnn`'s `--preprocess imagenet` with torchvision's ImageNet evaluation transform.

    /usr/bin/python3 tools/check_imagenet_preprocess.py build/app/qcnn [--golden FILE]

Writes a few images of awkward sizes (landscape, portrait, smaller than 224, very wide, grey)
as PNG and as JPEG (quality 90), runs both pipelines on them and prints the largest absolute
difference of the normalised values per image:

  torchvision: Image.open(f).convert("RGB"), Resize(256), CenterCrop(224), ToTensor(),
               Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
  qcnn:        `qcnn eval --data folder:DIR,preprocess=imagenet` on an identity (Flatten)
               model, whose --logits CSV is then the preprocessed input itself.

PNG decodes to the same pixels in both, so any difference there is the preprocessing's; JPEG
adds the decoders' (stb_image in qcnn, libjpeg in Pillow). --golden writes torchvision's values
at seeded positions of the PNG images (and each image's sum) for
tests/unit/data/test_preprocess.cpp, which regenerates the same images from pattern() below.
Needs torch, torchvision, Pillow, numpy and onnx (Debian: python3-torchvision, python3-onnx).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper
from PIL import Image
from torchvision import transforms

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# name, width, height, channels, pattern
IMAGES = [
    ("a_landscape", 500, 375, 3, "stripes"),
    ("b_portrait", 333, 500, 3, "smooth"),
    ("c_small", 61, 45, 3, "stripes"),
    ("d_wide", 1200, 90, 3, "stripes"),
    ("e_grey", 257, 259, 1, "smooth"),
    ("f_square", 224, 224, 3, "stripes"),
]
SAMPLES_PER_IMAGE = 48


def pattern(w, h, comp, kind):
    """HWC uint8 pixels from integer formulas (test_preprocess.cpp computes the same)."""
    y, x = np.meshgrid(np.arange(h, dtype=np.int64), np.arange(w, dtype=np.int64), indexing="ij")
    planes = []
    for c in range(comp):
        if kind == "stripes":
            v = (x * x * (c + 1) // 7 + y * (3 + c) + (x * y) // 11 + 40 * c) % 256
        else:
            v = x * 150 // w + y * 100 // h + 3 * c
        planes.append(v.astype(np.uint8))
    return np.stack(planes, axis=2)


def identity_model(path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 224, 224])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3 * 224 * 224])
    graph = helper.make_graph([helper.make_node("Flatten", ["x"], ["y"], axis=1)], "identity", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def qcnn_inputs(qcnn, model, folder, tmp):
    csv = os.path.join(tmp, "logits.csv")
    subprocess.run([qcnn, "eval", "--model", model, "--data", f"folder:{folder}", "--preprocess", "imagenet",
                    "--logits", csv, "--batch", "2", "--threads", "2"], check=True, stdout=subprocess.DEVNULL)
    rows = np.loadtxt(csv, delimiter=",", dtype=np.float32, ndmin=2)
    return rows[:, 1:].reshape(-1, 3, 224, 224)  # column 0 is the label


def torchvision_inputs(paths):
    t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                            transforms.Normalize(MEAN, STD)])
    return np.stack([t(Image.open(p).convert("RGB")).numpy() for p in paths])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("qcnn", help="the qcnn binary")
    ap.add_argument("--golden", help="write torchvision's values at seeded positions of the PNG images here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "identity.onnx")
        identity_model(model)
        results = {}
        for ext in ("png", "jpg"):
            folder = os.path.join(tmp, ext)
            os.makedirs(os.path.join(folder, "k"))
            paths = []
            for name, w, h, comp, kind in IMAGES:
                px = pattern(w, h, comp, kind)
                img = Image.fromarray(px[:, :, 0] if comp == 1 else px, "L" if comp == 1 else "RGB")
                paths.append(os.path.join(folder, "k", f"{name}.{ext}"))
                img.save(paths[-1], **({"quality": 90} if ext == "jpg" else {}))
            ours, theirs = qcnn_inputs(args.qcnn, model, folder, tmp), torchvision_inputs(paths)
            results[ext] = (ours, theirs)
            for (name, w, h, _, _), a, b in zip(IMAGES, ours, theirs):
                d = np.abs(a.astype(np.float64) - b)
                levels = np.abs(np.rint((a * np.array(STD)[:, None, None] + np.array(MEAN)[:, None, None]) * 255)
                                - np.rint((b * np.array(STD)[:, None, None] + np.array(MEAN)[:, None, None]) * 255))
                print(f"{ext} {name:12s} {w}x{h}: max |qcnn - torchvision| = {d.max():.3g} "
                      f"({int(levels.max())} levels of 255; {np.count_nonzero(levels)} of {levels.size} values differ)")
        if args.golden:
            _, theirs = results["png"]
            rng = np.random.RandomState(0)
            with open(args.golden, "w") as f:
                f.write("# torchvision's ImageNet transform of the images of tools/check_imagenet_preprocess.py\n"
                        "# (written as PNG): per image, its sum over 3x224x224 values and the values at\n"
                        "# seeded (channel, row, column) positions. Regenerate with --golden.\n")
                for (name, w, h, comp, kind), t in zip(IMAGES, theirs):
                    f.write(f"image {name} {w} {h} {comp} {kind}\n")
                    f.write(f"sum {t.astype(np.float64).sum():.9g}\n")
                    for _ in range(SAMPLES_PER_IMAGE):
                        c, y, x = rng.randint(3), rng.randint(224), rng.randint(224)
                        f.write(f"v {c} {y} {x} {t[c, y, x]:.9g}\n")
            print(f"wrote {args.golden}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
