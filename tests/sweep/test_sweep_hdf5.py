#!/usr/bin/python3
"""`qcnn sweep --json` on a tiny LeNet-5 spec, then the HDF5 file read back with h5py and with
pandas.read_hdf(file, "/sweeps/<id>/runs"), every value checked against the CLI's JSON output.
Then the same spec in two shards (`--shard I/2`) merged with `qcnn merge` (issue 17): the merged
file reads the same way and holds the same runs and numbers, each with its shard.

usage: test_sweep_hdf5.py QCNN_BINARY LENET5_ONNX
Exit 77 (ctest: skipped) when h5py, pandas or tables (PyTables) is missing.
"""
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import pandas as pd
    import tables  # noqa: F401  (pandas.read_hdf needs PyTables)
except ImportError as e:
    print(f"SKIP: the sweep HDF5 test needs h5py, pandas and tables (PyTables): {e}")
    sys.exit(77)

RUN_FIELDS = ["run_index", "settings", "ec", "seed", "top1", "top5", "top1_float", "top5_float", "compression",
              "theoretical_speedup", "measured_speedup", "dense_ms", "quantized_ms", "memory_bytes_dense",
              "memory_bytes_quantized", "quantize_seconds", "eval_seconds", "dense_ms_spread", "quantized_ms_spread",
              "measured_speedup_lo", "measured_speedup_hi", "speed_noisy", "dense_reused", "speed_rounds",
              "speed_preempted_rounds", "host", "shard", "shards", "finished_utc"]
LAYER_FIELDS = ["run_index", "name", "alias", "op", "subspace_dim", "codewords", "ec", "params", "bytes_dense",
                "bytes_quantized", "flops_dense", "flops_quantized", "theoretical_speedup", "dense_ms",
                "quantized_ms", "response_error", "dense_ms_spread", "quantized_ms_spread"]


def same(a, b):
    """File value a (numpy scalar / bytes / str) equals JSON value b (null = NaN), bit-exact."""
    if isinstance(a, bytes):
        a = a.decode()
    if b is None:
        return isinstance(a, float) and math.isnan(a) or (hasattr(a, "dtype") and np.isnan(a))
    if isinstance(b, str):
        return a == b
    return float(a) == float(b) if isinstance(b, float) else int(a) == b


def check_rows(where, records, expected, fields):
    assert len(records) == len(expected), f"{where}: {len(records)} rows, JSON has {len(expected)}"
    for i, (row, exp) in enumerate(zip(records, expected)):
        for f in fields:
            assert same(row[f], exp[f]), f"{where} row {i} field {f}: file {row[f]!r}, JSON {exp[f]!r}"


def main():
    qcnn, model = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="qcnn-sweep-py-") as tmp:
        spec_text = json.dumps({
            "qcnn_sweep": 1, "model": model, "data": "fashion-mnist:test", "calib_images": 32, "limit": 64,
            "batch": 32, "grid": [{"layers": "fc", "settings": ["4/16", "8/32"]}], "ec": ["none", "layer"],
            "seeds": [3], "threads": 2, "kmeans_iters": 3, "ec_iters": 1, "measure_speed": True}, indent=1)
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            f.write(spec_text)
        results = os.path.join(tmp, "results.h5")
        proc = subprocess.run([qcnn, "sweep", spec_path, "-o", results, "--json"], capture_output=True, text=True)
        assert proc.returncode == 0, f"qcnn sweep failed ({proc.returncode}):\n{proc.stderr}"
        out = json.loads(proc.stdout)
        sweep_id = out["sweep_id"]
        assert out["status"] == "completed" and out["runs_total"] == 4 and out["runs_done"] == 4, out
        assert [r["settings"] for r in out["runs"]] == ["fc=4/16", "fc=8/32"] * 2
        assert [r["ec"] for r in out["runs"]] == ["none", "none", "layer", "layer"]
        assert len(out["layers"]) == 4 * 4  # LeNet-5: conv1, conv2, fc1, fc2
        assert all(r["measured_speedup"] is not None and r["measured_speedup"] > 0 for r in out["runs"])

        # h5py: the layout, the attributes and every value.
        with h5py.File(results, "r") as h5:
            assert list(h5["sweeps"].keys()) == [sweep_id]
            g = h5["sweeps"][sweep_id]
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
            for k in ["spec", "spec_canonical", "schema_version", "app_version", "git_commit", "seeds", "host",
                      "cpu_model", "threads", "qt_version", "eigen_version", "hdf5_version", "start_utc", "end_utc",
                      "status", "model_path", "model_sha256", "data_spec", "samples", "spec_sha256", "shard",
                      "merged_from"]:
                assert k in attrs, f"attribute {k} missing"
            assert attrs["spec"] == spec_text
            assert attrs["schema_version"] == 3
            assert attrs["spec_sha256"] == hashlib.sha256(attrs["spec_canonical"].encode()).hexdigest()
            assert attrs["shard"] == "" and attrs["merged_from"] == ""
            assert attrs["status"] == "completed"
            assert attrs["seeds"] == "3"
            assert attrs["threads"] == 2
            assert attrs["samples"] == 64
            assert attrs["data_spec"] == "fashion-mnist:test"
            assert attrs["model_path"] == model
            with open(model, "rb") as f:
                assert attrs["model_sha256"] == hashlib.sha256(f.read()).hexdigest()
            assert attrs["hdf5_version"].startswith("1.") and attrs["eigen_version"].startswith("3.")
            assert attrs["qt_version"] == ""
            assert attrs["start_utc"] <= attrs["end_utc"] and attrs["end_utc"].endswith("Z")
            for name, fields in [("runs", RUN_FIELDS), ("layers", LAYER_FIELDS)]:
                ds = g[name]
                assert ds.chunks is not None and ds.maxshape == (None,), f"{name}: not chunked and extendable"
                assert list(ds.dtype.names) == fields, f"{name} fields: {ds.dtype.names}"
                for f in fields:
                    kind = ds.dtype[f].kind
                    assert kind in "iufS", f"{name}.{f}: dtype {ds.dtype[f]} (strings must be fixed-length)"
            check_rows("h5py runs", g["runs"][()], out["runs"], RUN_FIELDS)
            check_rows("h5py layers", g["layers"][()], out["layers"], LAYER_FIELDS)

        # pandas.read_hdf with the table's key.
        runs = pd.read_hdf(results, f"/sweeps/{sweep_id}/runs")
        layers = pd.read_hdf(results, f"/sweeps/{sweep_id}/layers")
        assert list(runs.columns) == RUN_FIELDS and list(layers.columns) == LAYER_FIELDS
        check_rows("pandas runs", runs.to_dict("records"), out["runs"], RUN_FIELDS)
        check_rows("pandas layers", layers.to_dict("records"), out["layers"], LAYER_FIELDS)
        assert runs["settings"].tolist() == ["fc=4/16", "fc=8/32"] * 2  # decoded to str
        print(runs[["settings", "ec", "top1", "compression", "theoretical_speedup", "measured_speedup"]])
        print(f"OK: {len(runs)} runs and {len(layers)} layer rows match the JSON output (h5py and pandas)")

        # Two shards and qcnn merge: the same runs and numbers (timings aside), readable the same way.
        shards = []
        for i in range(2):
            shards.append(os.path.join(tmp, f"shard-{i}.h5"))
            proc = subprocess.run([qcnn, "sweep", spec_path, "-o", shards[-1], "--shard", f"{i}/2", "--sweep-id",
                                   "two-shards"], capture_output=True, text=True)
            assert proc.returncode == 0, f"qcnn sweep --shard {i}/2 failed ({proc.returncode}):\n{proc.stderr}"
        merged = os.path.join(tmp, "merged.h5")
        proc = subprocess.run([qcnn, "merge", *shards, "-o", merged], capture_output=True, text=True)
        assert proc.returncode == 0, f"qcnn merge failed ({proc.returncode}):\n{proc.stderr}"
        with h5py.File(merged, "r") as h5:
            assert list(h5["sweeps"].keys()) == ["two-shards"]
            g = h5["sweeps"]["two-shards"]
            assert g.attrs["status"] == b"completed" and g.attrs["shard"] == b""
            assert g.attrs["merged_from"].decode() == ",".join(shards)
        mruns = pd.read_hdf(merged, "/sweeps/two-shards/runs")
        mlayers = pd.read_hdf(merged, "/sweeps/two-shards/layers")
        assert list(mruns.columns) == RUN_FIELDS and list(mlayers.columns) == LAYER_FIELDS
        assert mruns["shard"].tolist() == [0, 1, 0, 1] and mruns["shards"].tolist() == [2] * 4
        timing = {"measured_speedup", "dense_ms", "quantized_ms", "quantize_seconds", "eval_seconds", "dense_ms_spread",
                  "quantized_ms_spread", "measured_speedup_lo", "measured_speedup_hi", "speed_noisy", "dense_reused",
                  "speed_rounds", "speed_preempted_rounds", "host", "shard", "shards", "finished_utc"}
        check_rows("merged runs", mruns.to_dict("records"), out["runs"], [f for f in RUN_FIELDS if f not in timing])
        check_rows("merged layers", mlayers.to_dict("records"), out["layers"],
                   [f for f in LAYER_FIELDS if f not in timing])
        print(f"OK: 2 shards merged: {len(mruns)} runs equal to the unsharded sweep's")


if __name__ == "__main__":
    main()
