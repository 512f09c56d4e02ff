#!/usr/bin/python3
"""PyTorch fp32 latency of the zoo networks (issue 14, section 2): the dev-time peer of
qcnn_bench --part peers. Not needed by the product or the tests.

The models are rebuilt exactly as tools/export_zoo.py built the exported ONNX files (same
constructor, torch.manual_seed, BatchNorm statistics), checked against the manifest's logits,
then timed in eval mode under torch.inference_mode(): per (network, batch, threads)
torch.set_num_threads(threads), 2 warm-up passes, then passes until --budget seconds and at
least 5; the median and the quartiles are printed, one JSON object per line.

    /usr/bin/python3 bench/torch_fp32.py --zoo ~/.cache/qcnn-zoo --nets resnet18,resnet50 \
        --batches 1,8 --threads 1,2 [--budget 3] [--json out.jsonl]
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import export_zoo  # noqa: E402  (build(), calibrate_bn(), NETS)


def quartiles(xs):
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zoo", default=os.path.expanduser("~/.cache/qcnn-zoo"))
    ap.add_argument("--nets", default="alexnet,vgg11,vgg16,resnet18,resnet50,mobilenet_v2")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timed passes per cell (at least 5 passes)")
    ap.add_argument("--json", help="append the records to this file (JSON lines)")
    a = ap.parse_args()
    with open(os.path.join(a.zoo, "manifest.json")) as f:
        manifest = json.load(f)
    nets = {n[0]: n for n in export_zoo.NETS}
    print("torch %s, mkldnn %s, load average %s" % (torch.__version__, torch.backends.mkldnn.is_available(),
                                                    " ".join(open("/proc/loadavg").read().split()[:3])))
    out = open(a.json, "a") if a.json else None
    for name in a.nets.split(","):
        if name not in nets:
            sys.exit("unknown network %s (expected one of %s)" % (name, ", ".join(nets)))
        entry = next((e for e in manifest["entries"] if e["network"] == name), None)
        if entry is None:
            sys.exit("%s: not in %s/manifest.json" % (name, a.zoo))
        _, _, size, kwargs = nets[name]
        model = export_zoo.build(name, kwargs, entry["seed"])
        export_zoo.calibrate_bn(model, size, entry["bn_batches"], entry["seed"])
        x_ref = torch.from_numpy(np.fromfile(os.path.join(a.zoo, entry["input"]), dtype="<f4").reshape(
            entry["input_shape"]))
        y_ref = np.fromfile(os.path.join(a.zoo, entry["logits"]), dtype="<f4").reshape(entry["logits_shape"])
        torch.set_num_threads(1)
        with torch.inference_mode():
            diff = float(np.abs(model(x_ref).numpy() - y_ref).max() / np.abs(y_ref).max())
        if diff > 1e-3:
            sys.exit("%s: rebuilt model differs from the exported logits (max rel diff %.3g)" % (name, diff))
        for batch in [int(b) for b in a.batches.split(",")]:
            x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(7))
            for threads in [int(t) for t in a.threads.split(",")]:
                torch.set_num_threads(threads)
                times = []
                with torch.inference_mode():
                    for _ in range(2):
                        model(x)
                    start = time.perf_counter()
                    while len(times) < 5 or time.perf_counter() - start < a.budget:
                        t0 = time.perf_counter()
                        model(x)
                        times.append(time.perf_counter() - t0)
                q1, med, q3 = quartiles(times)
                rec = {"net": name, "batch": batch, "threads": threads, "median_ms": med * 1e3,
                       "q1_ms": q1 * 1e3, "q3_ms": q3 * 1e3, "passes": len(times), "logits_rel_diff": diff,
                       "torch": torch.__version__}
                print(json.dumps(rec), flush=True)
                if out:
                    out.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
