#!/usr/bin/python3
"""PyTorch int8 (FX graph mode static PTQ, onednn engine) and fp32 against our engine, alternated
in one run (issue 14, section 2). Dev time only: neither the product nor the tests need torch.

Per (network, batch, threads) cell:
  - PyTorch fp32: the torchvision model rebuilt exactly as tools/export_zoo.py exported it
    (same constructor, torch.manual_seed, BatchNorm statistics), checked against the manifest's
    logits (max |diff| / max |y| <= 1e-3);
  - PyTorch int8: the same model through torch.ao.quantization's FX graph mode static
    post-training quantization with the onednn engine (get_default_qconfig_mapping("onednn"):
    per-channel symmetric int8 weights, per-tensor uint8 activations, conv+relu / linear+relu
    fused), calibrated on --calib seeded N(0,1) inputs, then converted: a whole int8 graph with
    quantized activations between layers (no float round trip per layer);
  - ours: `qcnn_bench --part serve` in a subprocess (dense = our float engine, fast = Q-CNN with
    every quantized layer on the lookup-table kernels, auto = `qcnn eval`'s per-layer choice;
    conv=4/16,fc=4/16 with random codebooks, which do not change the speed), which times one
    forward pass per request itself.
The five paths alternate, one pass each per round, after 2 warm-up passes each, for at least
--rounds rounds and --budget seconds; a round in which either process was preempted
(involuntary context switches grew) is counted, and when at least 5 clean rounds exist only the
clean rounds are used (core/eval/speed.h's rule). Between two passes the script sleeps 2 ms
(untimed) so that the other process's OpenMP threads stop spinning. Medians and quartiles are
printed, one JSON object per line, with the ratios int8 / Q-CNN fast and PyTorch fp32 / dense.

    /usr/bin/python3 bench/torch_peer.py --bench build/bench/qcnn_bench \\
        --nets alexnet,vgg11,resnet18,resnet50 --batches 1,8 --threads 1,2 [--budget 4] [--rss] [--json out.jsonl]
--rss adds the peak RSS of PyTorch fp32 and int8 alone (batch 1, 1 thread, a process each).
--base-bench OTHER_QCNN_BENCH adds a second serve process (another build, e.g. main's) whose
dense and Q-CNN fast paths join the same rounds ("base-dense", "base-fast"), so a change is
measured against its base alternated in one driver: printed as base / this build.
--nofuse adds this build's dense and Q-CNN fast with activation fusion off ("dense-nofuse",
"fast-nofuse", same process as "dense" / "fast"): printed as unfused / fused.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import export_zoo  # noqa: E402  (build(), calibrate_bn(), NETS)

SIDES = ["torch-fp32", "torch-int8", "dense", "fast", "auto"]


def quartiles(xs):
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


def own_preemptions():
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


def torch_models(name, zoo, manifest, calib):
    """fp32 and FX-PTQ int8 models of one zoo network, the fp32 one checked against the export."""
    nets = {n[0]: n for n in export_zoo.NETS}
    if name not in nets:
        sys.exit("unknown network %s (expected one of %s)" % (name, ", ".join(nets)))
    entry = next((e for e in manifest["entries"] if e["network"] == name), None)
    if entry is None:
        sys.exit("%s: not in %s/manifest.json" % (name, zoo))
    _, _, size, kwargs = nets[name]
    model = export_zoo.build(name, kwargs, entry["seed"])
    export_zoo.calibrate_bn(model, size, entry["bn_batches"], entry["seed"])
    model.eval()
    x_ref = torch.from_numpy(np.fromfile(os.path.join(zoo, entry["input"]), dtype="<f4").reshape(entry["input_shape"]))
    y_ref = np.fromfile(os.path.join(zoo, entry["logits"]), dtype="<f4").reshape(entry["logits_shape"])
    torch.set_num_threads(1)
    with torch.inference_mode():
        diff = float(np.abs(model(x_ref).numpy() - y_ref).max() / np.abs(y_ref).max())
    if diff > 1e-3:
        sys.exit("%s: rebuilt model differs from the exported logits (max rel diff %.3g)" % (name, diff))

    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    import copy
    torch.backends.quantized.engine = "onednn"
    gen = torch.Generator().manual_seed(1000)
    xs = [torch.randn(1, 3, size, size, generator=gen) for _ in range(calib)]
    prepared = prepare_fx(copy.deepcopy(model), get_default_qconfig_mapping("onednn"), example_inputs=(xs[0],))
    with torch.inference_mode():
        for x in xs:
            prepared(x)
    qmodel = convert_fx(prepared)
    qmodel.eval()
    with torch.inference_mode():
        y32, y8 = model(x_ref).numpy(), qmodel(x_ref).numpy()
    int8_diff = float(np.abs(y8 - y32).max() / np.abs(y32).max())
    return model, qmodel, size, diff, int8_diff


class Ours:
    """qcnn_bench --part serve: one forward pass per request, timed inside the process."""

    def __init__(self, bench, zoo, net, batch, threads):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        self.p = subprocess.Popen([bench, "--part", "serve", "--zoo", zoo, "--peer-nets", net, "--peer-batches",
                                   str(batch), "--threads", str(threads)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env)
        line = self.p.stdout.readline()
        if not line.startswith("ready"):
            self.close()
            sys.exit("%s --part serve %s: %s" % (bench, net, line.strip() or "exited without a reply"))
        w = line.split()
        self.info = {w[i]: w[i + 1] for i in range(1, len(w) - 1) if w[i].endswith("_bytes") or
                     w[i] == "auto_dense_layers"}

    def run(self, path):
        self.p.stdin.write(path + "\n")
        self.p.stdin.flush()
        reply = self.p.stdout.readline().split()
        if len(reply) != 2:
            sys.exit("qcnn_bench --part serve: unexpected reply %r" % reply)
        return float(reply[0]), int(reply[1])

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass
        self.p.wait(timeout=60)


def time_cell(a, name, models, batch, threads):
    model, qmodel, size, diff, int8_diff = models
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(7))
    ours = Ours(a.bench, a.zoo, name, batch, threads)
    base = Ours(a.base_bench, a.zoo, name, batch, threads) if a.base_bench else None
    sides = SIDES + (["base-dense", "base-fast"] if base else []) + (["dense-nofuse", "fast-nofuse"] if a.nofuse else [])
    torch.set_num_threads(threads)

    def torch_pass(m):
        c0 = own_preemptions()
        t0 = time.perf_counter()
        m(x)
        return time.perf_counter() - t0, own_preemptions() - c0

    run = {"torch-fp32": lambda: torch_pass(model), "torch-int8": lambda: torch_pass(qmodel),
           "dense": lambda: ours.run("dense"), "fast": lambda: ours.run("fast"), "auto": lambda: ours.run("auto")}
    if base:
        run["base-dense"] = lambda: base.run("dense")
        run["base-fast"] = lambda: base.run("fast")
    if a.nofuse:
        run["dense-nofuse"] = lambda: ours.run("dense-nofuse")
        run["fast-nofuse"] = lambda: ours.run("fast-nofuse")
    rounds = []  # per round: {side: (seconds, preemptions)}
    with torch.inference_mode():
        for _ in range(2):
            for s in sides:
                run[s]()
                time.sleep(0.002)
        start = time.perf_counter()
        while len(rounds) < a.rounds or time.perf_counter() - start < a.budget:
            r = {}
            for s in sides:
                r[s] = run[s]()
                time.sleep(0.002)
            rounds.append(r)
    ours.close()
    if base:
        base.close()
    clean = [r for r in rounds if all(p == 0 for _, p in r.values())]
    used = clean if len(clean) >= 5 else rounds
    rec = {"net": name, "batch": batch, "threads": threads, "rounds": len(rounds), "clean_rounds": len(clean),
           "used_clean_only": used is clean, "load_average": " ".join(open("/proc/loadavg").read().split()[:3]),
           "torch": torch.__version__, "quantized_engine": torch.backends.quantized.engine,
           "fp32_logits_rel_diff_vs_export": diff, "int8_logits_rel_diff_vs_fp32": int8_diff}
    rec.update(ours.info)
    for s in sides:
        q1, med, q3 = quartiles([r[s][0] for r in used])
        rec[s + "_ms_per_image"] = med * 1e3 / batch
        rec[s + "_q1_ms"], rec[s + "_q3_ms"] = q1 * 1e3 / batch, q3 * 1e3 / batch
    rec["int8_over_fast"] = rec["torch-int8_ms_per_image"] / rec["fast_ms_per_image"]
    rec["int8_over_auto"] = rec["torch-int8_ms_per_image"] / rec["auto_ms_per_image"]
    rec["torch_fp32_over_dense"] = rec["torch-fp32_ms_per_image"] / rec["dense_ms_per_image"]
    if base:
        rec["base_bench"] = a.base_bench
        rec["base_fast_over_fast"] = rec["base-fast_ms_per_image"] / rec["fast_ms_per_image"]
        rec["base_dense_over_dense"] = rec["base-dense_ms_per_image"] / rec["dense_ms_per_image"]
        rec["int8_over_base_fast"] = rec["torch-int8_ms_per_image"] / rec["base-fast_ms_per_image"]
    if a.nofuse:
        rec["nofuse_over_fused_fast"] = rec["fast-nofuse_ms_per_image"] / rec["fast_ms_per_image"]
        rec["nofuse_over_fused_dense"] = rec["dense-nofuse_ms_per_image"] / rec["dense_ms_per_image"]
    return rec


def rss_child(a, name, path):
    """Peak RSS of one PyTorch path alone at batch 1, 1 thread: build it (int8: from the fp32
    model, which is then dropped), reset the peak counter (/proc/self/clear_refs), run 3 passes,
    read VmHWM. Runs in a process of its own (--rss-child), like qcnn_bench's peak-RSS cells."""
    import gc
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):  # torch imported, no model built
            print("rss_start_bytes %d" % (int(line.split()[1]) * 1024), flush=True)
    with open(os.path.join(a.zoo, "manifest.json")) as f:
        manifest = json.load(f)
    model, qmodel, size, _, _ = torch_models(name, a.zoo, manifest, a.calib)
    m = model if path == "fp32" else qmodel
    del model, qmodel
    gc.collect()
    torch.set_num_threads(1)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(7))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    with torch.inference_mode():
        for _ in range(3):
            m(x)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("rss_peak_bytes %d" % (int(line.split()[1]) * 1024), flush=True)


def peak_rss(a, name, path):
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--zoo", a.zoo, "--calib", str(a.calib),
                        "--rss-child", name, path], capture_output=True, text=True)
    v = {w[0]: int(w[1]) for w in (line.split() for line in r.stdout.splitlines()) if len(w) == 2}
    if "rss_peak_bytes" in v and "rss_start_bytes" in v:
        return v["rss_peak_bytes"], v["rss_start_bytes"]
    sys.exit("peak RSS of %s %s failed: %s" % (name, path, r.stderr.strip()[-500:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bench", default=os.path.join(here, "..", "build", "bench", "qcnn_bench"))
    ap.add_argument("--base-bench", help="a second qcnn_bench (another build) alternated in the same rounds")
    ap.add_argument("--nofuse", action="store_true", help="also this build's paths with activation fusion off")
    ap.add_argument("--zoo", default=os.path.expanduser("~/.cache/qcnn-zoo"))
    ap.add_argument("--nets", default="alexnet,vgg11,resnet18,resnet50")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--budget", type=float, default=4.0, help="seconds of timed rounds per cell")
    ap.add_argument("--rounds", type=int, default=7, help="timed rounds per cell at least")
    ap.add_argument("--calib", type=int, default=4, help="seeded N(0,1) inputs calibrating the int8 model")
    ap.add_argument("--json", help="append the records to this file (JSON lines)")
    ap.add_argument("--rss", action="store_true", help="also the peak RSS of PyTorch fp32 and int8 per network "
                    "(batch 1, 1 thread, one process each)")
    ap.add_argument("--rss-child", nargs=2, metavar=("NET", "PATH"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.rss_child:
        rss_child(a, *a.rss_child)
        return
    if not os.path.exists(a.bench):
        sys.exit("%s does not exist (build the qcnn_bench target, or pass --bench)" % a.bench)
    with open(os.path.join(a.zoo, "manifest.json")) as f:
        manifest = json.load(f)
    print("torch %s, quantized engines %s; CPU threads %d; load average %s" % (
        torch.__version__, torch.backends.quantized.supported_engines, os.cpu_count(),
        " ".join(open("/proc/loadavg").read().split()[:3])), flush=True)
    print("%-10s %5s %3s %9s %9s %9s %9s %9s %8s %8s %8s %7s %s" % (
        "net", "batch", "thr", "pt-fp32", "pt-int8", "dense", "Q-fast", "Q-auto", "i8/fast", "i8/auto", "pt/dense",
        "clean", "load"), flush=True)
    out = open(a.json, "a") if a.json else None
    for name in a.nets.split(","):
        if a.rss:
            rss = {p: peak_rss(a, name, p) for p in ("fp32", "int8")}
            print("  peak RSS %-10s batch 1, 1 thread: PyTorch fp32 %.1f MB, PyTorch int8 %.1f MB (torch imported, "
                  "no model: %.1f MB)" % (name, rss["fp32"][0] / 1e6, rss["int8"][0] / 1e6, rss["fp32"][1] / 1e6),
                  flush=True)
            if out:
                out.write(json.dumps({"net": name, "torch-fp32_peak_rss_bytes": rss["fp32"][0],
                                      "torch-int8_peak_rss_bytes": rss["int8"][0],
                                      "torch_imported_rss_bytes": rss["fp32"][1]}) + "\n")
        models = torch_models(name, a.zoo, manifest, a.calib)
        for batch in [int(b) for b in a.batches.split(",")]:
            for threads in [int(t) for t in a.threads.split(",")]:
                r = time_cell(a, name, models, batch, threads)
                print("%-10s %5d %3d %9.2f %9.2f %9.2f %9.2f %9.2f %7.2fx %7.2fx %7.2fx %3d/%-3d %s" % (
                    name, batch, threads, r["torch-fp32_ms_per_image"], r["torch-int8_ms_per_image"],
                    r["dense_ms_per_image"], r["fast_ms_per_image"], r["auto_ms_per_image"], r["int8_over_fast"],
                    r["int8_over_auto"], r["torch_fp32_over_dense"], r["clean_rounds"], r["rounds"],
                    r["load_average"]), flush=True)
                if a.base_bench:
                    print("%-10s %5s %3s base build: dense %.2f, Q-fast %.2f ms; base / this: dense %.3fx, Q-fast "
                          "%.3fx; int8 / base Q-fast %.2fx" % (
                              "", "", "", r["base-dense_ms_per_image"], r["base-fast_ms_per_image"],
                              r["base_dense_over_dense"], r["base_fast_over_fast"], r["int8_over_base_fast"]),
                          flush=True)
                if a.nofuse:
                    print("%-10s %5s %3s fusion off: dense %.2f, Q-fast %.2f ms; unfused / fused: dense %.3fx, Q-fast "
                          "%.3fx" % ("", "", "", r["dense-nofuse_ms_per_image"], r["fast-nofuse_ms_per_image"],
                                     r["nofuse_over_fused_dense"], r["nofuse_over_fused_fast"]), flush=True)
                if out:
                    out.write(json.dumps(r) + "\n")
                    out.flush()


if __name__ == "__main__":
    main()
