#!/usr/bin/python3
"""Train and export the bundled Fashion-MNIST reference networks.

Dev-time script (NOT used by the C++ build or tests). It needs PyTorch and
onnx, e.g. Debian's python3-torch / python3-onnx, so run it with
/usr/bin/python3:

    /usr/bin/python3 datasets/train_reference.py --net all

Outputs (in --out-dir, default: this script's folder):
    <net>.onnx         opset 13, input "input" (N,1,28,28) float32,
                       output "logits" (N,10), dynamic batch axis
    <net>.golden.json  accuracy of the float32 PyTorch model on the 10,000
                       test images and reference logits for test images 0..15

Preprocessing (reproduced by the C++ engine, do not change):
    float32 pixel = uint8 / 255.0, layout NCHW (N,1,28,28), no mean/std.

Training is deterministic for a given seed, thread count and torch build:
fixed seeds, data order and augmentation drawn from seeded generators,
torch.use_deterministic_algorithms(True), 2 intra-op threads.
"""

import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
NUM_GOLDEN = 16


# ---------------------------------------------------------------- data ----
def read_idx_gz(path):
    """Read an IDX (ubyte) file, gzip-compressed, into a numpy uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if (magic >> 8) != 0x08:  # 0x08 = unsigned byte
        raise ValueError("%s: unsupported IDX type 0x%08x" % (path, magic))
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    arr = np.frombuffer(data, dtype=np.uint8, offset=off)
    if arr.size != int(np.prod(dims)):
        raise ValueError("%s: size mismatch" % path)
    return arr.reshape(dims)


def load_split(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    imgs = read_idx_gz(os.path.join(data_dir, prefix + "-images-idx3-ubyte.gz"))
    labels = read_idx_gz(os.path.join(data_dir, prefix + "-labels-idx1-ubyte.gz"))
    assert imgs.shape[1:] == (28, 28) and imgs.shape[0] == labels.shape[0]
    return imgs, labels


def preprocess(imgs_u8):
    """EXACT engine preprocessing: float32 = uint8/255, NCHW (N,1,28,28)."""
    x = imgs_u8.astype(np.float32) / np.float32(255.0)
    return torch.from_numpy(np.ascontiguousarray(x.reshape(-1, 1, 28, 28)))


def augment(x, gen, shift, flip):
    """Random shift (zero pad `shift`, random 28x28 crop) + horizontal flip.

    x: (B,1,28,28) float tensor. All randomness comes from `gen`.
    """
    b = x.shape[0]
    if shift > 0:
        xp = F.pad(x, (shift, shift, shift, shift))
        dy = torch.randint(0, 2 * shift + 1, (b,), generator=gen)
        dx = torch.randint(0, 2 * shift + 1, (b,), generator=gen)
        ar = torch.arange(28)
        rows = (dy[:, None] + ar)[:, :, None]          # (B,28,1)
        cols = (dx[:, None] + ar)[:, None, :]          # (B,1,28)
        bi = torch.arange(b)[:, None, None]
        x = xp[bi, 0, rows, cols].unsqueeze(1)
    if flip:
        m = torch.rand(b, generator=gen) < 0.5
        x = torch.where(m[:, None, None, None], x.flip(3), x)
    return x.contiguous()


# -------------------------------------------------------------- models ----
def make_lenet5():
    # 2 conv + 2 FC, channel counts chosen to be quantization friendly.
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2),     # 8x28x28
        nn.ReLU(),
        nn.MaxPool2d(2),                   # 8x14x14
        nn.Conv2d(8, 16, 5),               # 16x10x10
        nn.ReLU(),
        nn.MaxPool2d(2),                   # 16x5x5
        nn.Flatten(),                      # 400
        nn.Linear(16 * 5 * 5, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU()]


def make_vgg7():
    return nn.Sequential(
        *conv_bn_relu(1, 32), *conv_bn_relu(32, 32), nn.MaxPool2d(2),     # 14
        *conv_bn_relu(32, 64), *conv_bn_relu(64, 64), nn.MaxPool2d(2),    # 7
        *conv_bn_relu(64, 128), nn.MaxPool2d(2),                          # 3
        nn.Flatten(),                                                     # 1152
        nn.Linear(128 * 3 * 3, 256),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(256, 10),
    )


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv+BN, identity shortcut or a strided 1x1 conv+BN."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


def make_resnet8():
    # Small residual network (issues 15 and 19): residual adds, strided convs with 1x1
    # projection shortcuts, global average pooling. Stem 1->16 at 28x28, one basic block per
    # stage: 16 (28x28), 32 (14x14, stride 2), 64 (7x7, stride 2); GAP; fc 64->10.
    return nn.Sequential(
        *conv_bn_relu(1, 16),
        BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 10),
    )


# Per-network training recipe. Epoch counts can be overridden with --epochs.
NETS = {
    "lenet5": dict(make=make_lenet5, epochs=20, batch=128, opt="adamw",
                   lr=3e-3, wd=1e-4, shift=1, flip=True, label_smoothing=0.0,
                   channels_last=False, eval_every=1),
    "vgg7": dict(make=make_vgg7, epochs=15, batch=128, opt="sgd",
                 lr=0.1, wd=5e-4, shift=2, flip=True, label_smoothing=0.0,
                 channels_last=True, eval_every=5),
    "resnet8": dict(make=make_resnet8, epochs=12, batch=128, opt="sgd",
                    lr=0.1, wd=5e-4, shift=2, flip=True, label_smoothing=0.0,
                    channels_last=True, eval_every=4),
}


# ------------------------------------------------------------ training ----
@torch.no_grad()
def predict(model, x, batch=1000):
    model.eval()
    outs = [model(x[i:i + batch]) for i in range(0, x.shape[0], batch)]
    return torch.cat(outs)


def accuracy_stats(logits, labels):
    y = torch.from_numpy(labels.astype(np.int64))
    top1 = logits.argmax(1) == y
    top5 = (logits.topk(5, dim=1).indices == y[:, None]).any(1)
    # exact fractions (computed from integer counts, not float32 means)
    per_class = [int(top1[y == c].sum()) / int((y == c).sum()) for c in range(10)]
    return int(top1.sum()), int(top5.sum()), per_class


def train(name, cfg, epochs, seed, xtr, ytr, xte, yte, log):
    torch.manual_seed(seed)
    np.random.seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = cfg["make"]()
    # channels_last only speeds up the CPU convolutions (~15% for vgg7);
    # the model is converted back to contiguous before export.
    mf = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
    model = model.to(memory_format=mf)
    n = xtr.shape[0]
    steps_per_epoch = (n + cfg["batch"] - 1) // cfg["batch"]
    if cfg["opt"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.9,
                              nesterov=True, weight_decay=cfg["wd"])
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"],
                                weight_decay=cfg["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg["lr"], epochs=epochs, steps_per_epoch=steps_per_epoch,
        pct_start=0.2)
    ytr_t = torch.from_numpy(ytr.astype(np.int64))
    epoch_times = []
    for ep in range(epochs):
        t0 = time.time()
        model.train()
        perm = torch.randperm(n, generator=gen)
        tot_loss, tot_correct = 0.0, 0
        for i in range(0, n, cfg["batch"]):
            idx = perm[i:i + cfg["batch"]]
            xb = augment(xtr[idx], gen, cfg["shift"], cfg["flip"])
            xb = xb.contiguous(memory_format=mf)
            yb = ytr_t[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=cfg["label_smoothing"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += float(loss) * idx.shape[0]
            tot_correct += int((out.argmax(1) == yb).sum())
        dt = time.time() - t0
        epoch_times.append(dt)
        msg = ("[%s] epoch %2d/%d  %.1fs  loss %.4f  train_acc %.4f"
               % (name, ep + 1, epochs, dt, tot_loss / n, tot_correct / n))
        # Test accuracy is only monitored (fixed schedule, no model selection).
        if (ep + 1) % cfg["eval_every"] == 0 or ep + 1 == epochs:
            c1, _, _ = accuracy_stats(predict(model, xte), yte)
            msg += "  test_acc %.4f" % (c1 / xte.shape[0])
        log(msg)
    model = model.to(memory_format=torch.contiguous_format)
    model.eval()
    return model, epoch_times


# -------------------------------------------------- minimal ONNX check ----
def _np_conv(x, w, b, pads, strides, dil, group):
    assert group == 1 and all(d == 1 for d in dil)
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    oh = (h - kh) // strides[0] + 1
    ow = (wd - kw) // strides[1] + 1
    y = np.zeros((n, m, oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + strides[0] * oh:strides[0],
                      j:j + strides[1] * ow:strides[1]]
            y += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j])
    if b is not None:
        y += b[None, :, None, None]
    return y


def _np_maxpool(x, k, s, pads):
    assert not any(pads)
    n, c, h, w = x.shape
    oh = (h - k[0]) // s[0] + 1
    ow = (w - k[1]) // s[1] + 1
    y = np.full((n, c, oh, ow), -np.inf)
    for i in range(k[0]):
        for j in range(k[1]):
            y = np.maximum(y, x[:, :, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]])
    return y


def run_onnx_numpy(model_proto, x):
    """Tiny float64 numpy interpreter for the ops these nets export to.

    onnx 1.12 has no onnx.reference and onnxruntime is not available, so this
    is an independent sanity check that the exported graph (incl. any folded
    BatchNormalization) computes the same function as PyTorch.
    """
    from onnx import numpy_helper, helper
    g = model_proto.graph
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    env[g.input[0].name] = x.astype(np.float64)
    for node in g.node:
        a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Conv":
            k = ins[1].shape[2:]
            y = _np_conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                         a.get("pads", [0, 0, 0, 0]), a.get("strides", [1, 1]),
                         a.get("dilations", [1, 1]), a.get("group", 1))
            assert list(a.get("kernel_shape", k)) == list(k)
        elif op == "Relu":
            y = np.maximum(ins[0], 0)
        elif op == "MaxPool":
            y = _np_maxpool(ins[0], a["kernel_shape"], a.get("strides", [1, 1]),
                            a.get("pads", [0, 0, 0, 0]))
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif op == "BatchNormalization":
            s, bb, mean, var = ins[1:5]
            eps = a.get("epsilon", 1e-5)
            sh = (1, -1, 1, 1)
            y = (ins[0] - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) \
                * s.reshape(sh) + bb.reshape(sh)
        elif op == "Add":
            y = ins[0] + ins[1]
        elif op == "GlobalAveragePool":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Identity":
            y = ins[0]
        else:
            raise NotImplementedError("numpy check: op %s" % op)
        env[node.output[0]] = y
    return env[g.output[0].name]


# -------------------------------------------------------------- export ----
def export(name, model, cfg, epochs, epoch_times, seed, xte, yte, out_dir, log):
    import onnx
    onnx_path = os.path.join(out_dir, name + ".onnx")
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model, dummy, onnx_path, export_params=True, opset_version=13,
        do_constant_folding=True, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        training=torch.onnx.TrainingMode.EVAL)
    proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto)
    ops = sorted({n.op_type for n in proto.graph.node})
    log("[%s] exported %s (%d bytes), ops: %s"
        % (name, onnx_path, os.path.getsize(onnx_path), ops))

    logits = predict(model, xte)
    c1, c5, per_class = accuracy_stats(logits, yte)
    ntest = xte.shape[0]

    gx = xte[:NUM_GOLDEN]
    glog = logits[:NUM_GOLDEN]
    # Sanity check the exported graph against PyTorch.
    try:
        import onnx.reference  # noqa: F401  (onnx >= 1.13)
        sess = onnx.reference.ReferenceEvaluator(proto)
        ref = sess.run(None, {"input": gx.numpy()})[0]
        checker = "onnx.reference"
    except ImportError:
        ref = run_onnx_numpy(proto, gx.numpy())
        checker = "numpy interpreter (train_reference.py)"
    maxdiff = float(np.abs(ref - glog.numpy().astype(np.float64)).max())
    log("[%s] ONNX vs PyTorch on %d golden images (%s): max |diff| = %.3g"
        % (name, NUM_GOLDEN, checker, maxdiff))
    if maxdiff > 1e-3:
        raise RuntimeError("exported ONNX graph disagrees with PyTorch")

    golden = [{"index": i, "label": int(yte[i]),
               "logits": [float(v) for v in glog[i].tolist()]}
              for i in range(NUM_GOLDEN)]
    meta = {
        "model": name + ".onnx",
        "preprocessing": "uint8/255, NCHW 1x28x28",
        "dataset": "Fashion-MNIST t10k (10000 images)",
        "test_top1": c1 / ntest,
        "test_correct": c1,
        "test_top5": c5 / ntest,
        "test_count": ntest,
        "per_class_top1": per_class,
        "train_epochs": epochs,
        "train_recipe": {k: v for k, v in cfg.items() if k != "make"},
        "seed": seed,
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "opset": 13,
        "onnx_ops": ops,
        "onnx_check": {"checker": checker, "max_abs_diff_golden": maxdiff},
        "epoch_seconds": [round(t, 1) for t in epoch_times],
        "golden": golden,
    }
    json_path = os.path.join(out_dir, name + ".golden.json")
    with open(json_path, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    log("[%s] test top1 %.4f (%d/%d) top5 %.4f -> %s"
        % (name, c1 / ntest, c1, ntest, c5 / ntest, json_path))
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", choices=["lenet5", "vgg7", "resnet8", "all"], default="all")
    ap.add_argument("--epochs", type=int, default=None,
                    help="override the per-net default epoch count")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--out-dir", default=SCRIPT_DIR)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out_dir, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    tr_u8, ytr = load_split(args.data_dir, "train")
    te_u8, yte = load_split(args.data_dir, "test")
    xtr, xte = preprocess(tr_u8), preprocess(te_u8)
    log("train %s test %s, torch %s" % (tuple(xtr.shape), tuple(xte.shape),
                                        torch.__version__))

    names = ["lenet5", "vgg7", "resnet8"] if args.net == "all" else [args.net]
    for name in names:
        cfg = NETS[name]
        epochs = args.epochs if args.epochs is not None else cfg["epochs"]
        model, times = train(name, cfg, epochs, args.seed, xtr, ytr, xte, yte, log)
        export(name, model, cfg, epochs, times, args.seed, xte, yte,
               args.out_dir, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
