#!/usr/bin/python3
"""Export torchvision's classification CNNs to ONNX for the zoo check (issue 13).

Dev-time script (NOT used by the C++ build or the default tests). It needs Debian's
python3-torch, python3-torchvision and python3-onnx; run it with /usr/bin/python3:

    /usr/bin/python3 tools/export_zoo.py                      # every network, opsets 11,13,17,
                                                              # dynamic and static batch
    /usr/bin/python3 tools/export_zoo.py --nets resnet18,convnext_tiny --opsets 13 --dynamic yes

For each network (the NETS table below) it builds the torchvision model with random weights
(weights=None, torch.manual_seed(seed) right before construction), sets the running statistics
of its BatchNorm layers from --bn-batches seeded random batches (with the constructor's mean 0 /
variance 1 the activations of e.g. GoogLeNet vanish and its logits do not depend on the input at
all, so a wrong layer could not change them; this also gives BatchNorm folding non-trivial
statistics to fold), puts it in eval mode, and writes into --out (default ~/.cache/qcnn-zoo; the files are 5-550 MB each, never the repo):

    <net>/input.f32            seeded input, batch 2, 3x224x224 (inception_v3: 3x299x299),
                               raw little-endian float32, NCHW, standard normal values
    <net>/logits.f32           PyTorch's logits for that input, raw float32, {2, 1000}
    <net>/<net>.op<O>.<dyn|static>.onnx
                               torch.onnx.export at opset O; "dyn": dynamic batch axis "N" on
                               input and logits; "static": the batch of the stored input (2)
    manifest.json              one entry per (network, opset, dynamic): files, shapes,
                               versions, seed, sha256 of input and logits, the ONNX op types;
                               an export that fails gets an entry with its "error" instead
    calib/synthetic/NNNN.jpg   --calib N (default 32) seeded synthetic RGB images of varied
    calib/info.json            sizes (smooth random colour fields plus noise; the networks have
                               random weights, so natural images would not mean more): the
                               calibration / held-out images of bench/qcnn_zoo's error-correction
                               cell, read as `folder:DIR/calib,preprocess=imagenet` (one class
                               sub-folder). --calib-only writes just these (no export).

The input and logits do not depend on the opset, so each network has one pair. Files that
exist with the same seed and torch version are kept (--force re-exports). The manifest is
rewritten after every network, so an interrupted run keeps what it finished. Everything is
deterministic for a given seed and torch build (one intra-op thread for the reference logits).
"""

import argparse
import gc
import hashlib
import json
import os
import sys
import time
import warnings

import numpy as np
import onnx
import torch
import torchvision

# name, family, input size, extra constructor arguments. googlenet / inception_v3 default to
# aux_logits=True and warn about init_weights when weights=None (torchvision 0.14): build them
# without the auxiliary classifiers (unused in eval mode) and with the documented init.
NETS = [
    ("alexnet", "AlexNet", 224, {}),
    ("vgg11", "VGG", 224, {}),
    ("vgg16", "VGG", 224, {}),
    ("resnet18", "ResNet", 224, {}),
    ("resnet50", "ResNet", 224, {}),
    ("resnext50_32x4d", "ResNeXt", 224, {}),
    ("wide_resnet50_2", "Wide-ResNet", 224, {}),
    ("densenet121", "DenseNet", 224, {}),
    ("squeezenet1_1", "SqueezeNet", 224, {}),
    ("googlenet", "GoogLeNet", 224, {"aux_logits": False, "init_weights": True}),
    ("inception_v3", "Inception-v3", 299, {"aux_logits": False, "init_weights": True}),
    ("mobilenet_v2", "MobileNet-v2", 224, {}),
    ("mobilenet_v3_small", "MobileNet-v3", 224, {}),
    ("mobilenet_v3_large", "MobileNet-v3", 224, {}),
    ("shufflenet_v2_x1_0", "ShuffleNet-v2", 224, {}),
    ("mnasnet1_0", "MNASNet", 224, {}),
    ("efficientnet_b0", "EfficientNet", 224, {}),
    ("efficientnet_v2_s", "EfficientNet-v2", 224, {}),
    ("regnet_x_400mf", "RegNet", 224, {}),
    ("regnet_y_400mf", "RegNet", 224, {}),
    ("convnext_tiny", "ConvNeXt", 224, {}),
]
BATCH = 2
MANIFEST_VERSION = 1


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_f32(path, array):
    a = np.ascontiguousarray(array, dtype="<f4")
    tmp = path + ".tmp"
    a.tofile(tmp)
    os.replace(tmp, path)


def build(name, kwargs, seed):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = getattr(torchvision.models, name)(weights=None, **kwargs)
    return model.eval()


def calibrate_bn(model, size, batches, seed):
    """Sets every BatchNorm's running mean / variance to the statistics of `batches` seeded
    standard-normal batches of 8 (cumulative average; everything else stays in eval mode).
    Returns the number of BatchNorm modules."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns or batches <= 0:
        return len(bns)
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(8, 3, size, size, generator=gen, dtype=torch.float32))
    model.eval()
    return len(bns)


def input_dependence(y):
    """max |y_n - mean_n y| / max |y|: the part of the logits that depends on the input. When it
    is tiny (vanishing activations), a broken layer below the classifier cannot show."""
    m = float(y.abs().max())
    return float((y - y.mean(dim=0, keepdim=True)).abs().max()) / m if m > 0 else 0.0


def onnx_name(net, opset, dynamic):
    return "%s.op%d.%s.onnx" % (net, opset, "dyn" if dynamic else "static")


def op_types(path):
    m = onnx.load(path, load_external_data=False)
    seen = []
    for n in m.graph.node:
        t = n.op_type if n.domain in ("", "ai.onnx") else n.domain + ":" + n.op_type
        if t not in seen:
            seen.append(t)
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
    del m
    return seen, (opset[0] if opset else 0)


def export_one(model, x, path, opset, dynamic):
    tmp = path + ".tmp"
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "N"}, "logits": {0: "N"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, tmp, opset_version=opset, input_names=["input"], output_names=["logits"],
                          do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL, **kwargs)
    onnx.checker.check_model(tmp)
    os.replace(tmp, path)


def write_calibration(out, count, seed):
    """--calib: `count` seeded synthetic JPEGs in out/calib/synthetic (kept when info.json matches)."""
    from PIL import Image
    d = os.path.join(out, "calib")
    sub = os.path.join(d, "synthetic")
    info_path = os.path.join(d, "info.json")
    want = {"generator": "tools/export_zoo.py --calib", "count": count, "seed": seed, "format": "jpeg q90",
            "version": 1}
    if os.path.exists(info_path):
        with open(info_path) as f:
            have = json.load(f)
        if {k: have.get(k) for k in want} == want and len(os.listdir(sub)) == count:
            print("calib: %s up to date (%d images)" % (sub, count))
            return
    os.makedirs(sub, exist_ok=True)
    for name in os.listdir(sub):
        os.remove(os.path.join(sub, name))
    rng = np.random.default_rng(seed)
    sizes = []
    for i in range(count):
        h, w = int(rng.integers(224, 400)), int(rng.integers(224, 480))
        # A smooth colour field (random 4..12 px grid, bicubic up) plus pixel noise.
        gh, gw = int(rng.integers(4, 13)), int(rng.integers(4, 13))
        coarse = rng.integers(0, 256, size=(gh, gw, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse, "RGB").resize((w, h), Image.BICUBIC), dtype=np.float32)
        field += rng.normal(0.0, float(rng.uniform(2, 24)), size=field.shape)
        img = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8), "RGB")
        img.save(os.path.join(sub, "%04d.jpg" % i), quality=90)
        sizes.append([w, h])
    with open(info_path, "w") as f:
        json.dump(dict(want, sizes=sizes), f, indent=1)
        f.write("\n")
    print("calib: %d images in %s" % (count, sub))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", default="all", help="comma-separated names from the table, or 'all' (default)")
    ap.add_argument("--opsets", default="11,13,17", help="comma-separated ONNX opsets (default 11,13,17)")
    ap.add_argument("--out", default=os.path.join(os.path.expanduser("~"), ".cache", "qcnn-zoo"),
                    help="output directory (default ~/.cache/qcnn-zoo)")
    ap.add_argument("--seed", type=int, default=0, help="torch.manual_seed before construction (default 0)")
    ap.add_argument("--dynamic", choices=["both", "yes", "no"], default="both",
                    help="dynamic batch axis: both (default), yes or no")
    ap.add_argument("--bn-batches", type=int, default=2,
                    help="calibrate BatchNorm running statistics on this many seeded random batches of 8 "
                         "(default 2; 0 keeps the constructor's mean 0 / variance 1: then e.g. GoogLeNet's "
                         "logits do not depend on the input and the logit check cannot fail)")
    ap.add_argument("--force", action="store_true", help="re-export files that already exist")
    ap.add_argument("--list", action="store_true", help="print the table of networks and exit")
    ap.add_argument("--calib", type=int, default=32,
                    help="synthetic calibration images written to OUT/calib (default 32; 0: none)")
    ap.add_argument("--calib-only", action="store_true", help="write only the calibration images")
    args = ap.parse_args()

    if args.calib < 0:
        ap.error("--calib: expected a count >= 0, got %d" % args.calib)
    if args.calib_only:
        write_calibration(os.path.abspath(args.out), args.calib, args.seed)
        return 0

    if args.list:
        for name, family, size, kwargs in NETS:
            print("%-20s %-16s 3x%dx%d %s" % (name, family, size, size, kwargs or ""))
        return 0
    known = [n[0] for n in NETS]
    nets = known if args.nets == "all" else [s.strip() for s in args.nets.split(",") if s.strip()]
    for n in nets:
        if n not in known:
            ap.error("unknown network '%s'; known: %s" % (n, ", ".join(known)))
    try:
        opsets = [int(s) for s in args.opsets.split(",") if s.strip()]
    except ValueError:
        ap.error("--opsets: expected comma-separated integers, got '%s'" % args.opsets)
    dyns = {"both": [True, False], "yes": [True], "no": [False]}[args.dynamic]

    torch.set_num_threads(1)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    manifest_path = os.path.join(out, "manifest.json")
    entries = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = json.load(f)
        if old.get("version") == MANIFEST_VERSION:
            for e in old.get("entries", []):
                entries[(e["network"], e["opset"], e["dynamic"])] = e
    versions = {"torch": torch.__version__, "torchvision": torchvision.__version__, "onnx": onnx.__version__}

    def write_manifest():
        order = {n: i for i, n in enumerate(known)}
        rows = sorted(entries.values(), key=lambda e: (order.get(e["network"], 1 << 30), e["network"], e["opset"],
                                                       not e["dynamic"]))
        doc = {"version": MANIFEST_VERSION, "generator": "tools/export_zoo.py", "versions": versions,
               "entries": rows}
        tmp = manifest_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, manifest_path)

    table = {n[0]: n for n in NETS}
    failures = 0
    for net in nets:
        _, family, size, kwargs = table[net]
        d = os.path.join(out, net)
        os.makedirs(d, exist_ok=True)
        input_path, logits_path = os.path.join(d, "input.f32"), os.path.join(d, "logits.f32")
        input_shape = [BATCH, 3, size, size]

        def current(e):
            return (e is not None and e.get("seed") == args.seed and e.get("bn_batches") == args.bn_batches
                    and e.get("torch") == torch.__version__
                    and e.get("torchvision") == torchvision.__version__ and "error" not in e
                    and os.path.exists(os.path.join(out, e["onnx"])) and os.path.exists(os.path.join(out, e["input"]))
                    and sha256_file(os.path.join(out, e["input"])) == e["input_sha256"])

        todo = [(o, dyn) for o in opsets for dyn in dyns if args.force or not current(entries.get((net, o, dyn)))]
        if not todo:
            print("%-20s up to date" % net, flush=True)
            continue
        t0 = time.time()
        model = build(net, kwargs, args.seed)
        n_bn = calibrate_bn(model, size, args.bn_batches, args.seed)
        gen = torch.Generator().manual_seed(args.seed)
        x = torch.randn(*input_shape, generator=gen, dtype=torch.float32)
        with torch.no_grad():
            y = model(x)
        if isinstance(y, tuple):  # defensive: eval-mode models return the logits tensor
            y = y[0]
        write_f32(input_path, x.numpy())
        write_f32(logits_path, y.numpy())
        params = sum(p.numel() for p in model.parameters())
        common = {
            "network": net, "family": family, "seed": args.seed, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "onnx_version": onnx.__version__,
            "input": os.path.relpath(input_path, out), "input_shape": input_shape,
            "input_sha256": sha256_file(input_path), "logits": os.path.relpath(logits_path, out),
            "logits_shape": list(y.shape), "logits_sha256": sha256_file(logits_path),
            "params": params, "batchnorm_modules": n_bn, "bn_batches": args.bn_batches,
            "input_dependence": input_dependence(y), "constructor": "torchvision.models.%s(weights=None%s)" % (
                net, "".join(", %s=%r" % kv for kv in kwargs.items())),
        }
        print("%-20s %5.1f M params, logits %s, max |logit| %.4g, input dependence %.3g (%.1f s)" %
              (net, params / 1e6, list(y.shape), float(y.abs().max()), common["input_dependence"],
               time.time() - t0), flush=True)
        for opset, dyn in todo:
            path = os.path.join(d, onnx_name(net, opset, dyn))
            e = dict(common, opset=opset, dynamic=dyn, onnx=os.path.relpath(path, out))
            t1 = time.time()
            try:
                export_one(model, x, path, opset, dyn)
                e["onnx_bytes"] = os.path.getsize(path)
                e["op_types"], e["onnx_opset"] = op_types(path)
                e["export_seconds"] = round(time.time() - t1, 2)
                print("  opset %2d %-7s %7.1f MB  %5.1f s  %s" % (opset, "dyn" if dyn else "static",
                                                                  e["onnx_bytes"] / 1e6, e["export_seconds"],
                                                                  ",".join(e["op_types"])), flush=True)
            except Exception as ex:  # record and go on: the checker shows the row with the error
                failures += 1
                e["error"] = "%s: %s" % (type(ex).__name__, str(ex).strip().splitlines()[0] if str(ex).strip() else "")
                for p in (path, path + ".tmp"):
                    if os.path.exists(p):
                        os.remove(p)
                print("  opset %2d %-7s EXPORT FAILED: %s" % (opset, "dyn" if dyn else "static", e["error"]),
                      flush=True)
            entries[(net, opset, dyn)] = e
            write_manifest()
        del model, x, y
        gc.collect()
    write_manifest()
    if args.calib:
        write_calibration(out, args.calib, args.seed)
    print("manifest: %s (%d entries, %d export failures this run)" % (manifest_path, len(entries), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
