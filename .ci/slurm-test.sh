#!/usr/bin/env bash
# A real single-node Slurm on localhost, brought up from Debian's slurm-wlm and munge without
# systemd, running `qcnn sweep --slurm --wait` end to end (issue 17, docs/cluster.md):
#   1. munged with its own key and socket directory (mode 755) under a temp dir; slurmctld and
#      slurmd with a generated slurm.conf (node line from `slurmd -C`, proctrack/linuxproc,
#      task/none, select/cons_tres, accounting_storage/none, jobcomp/filetxt,
#      DependencyParameters=kill_invalid_depend), SLURM_CONF exported; wait for the node idle;
#   2. a 6-run LeNet-5 sweep in 4 shards, one of which is made to fail (its shard file is a text
#      file): --wait must exit non-zero naming that shard and its log, and the merge job must be
#      cancelled; then --slurm --resume --wait resubmits only that shard and completes;
#   3. with OUT.h5 deleted, --resume submits the merge job alone, and then finds nothing to do;
#      the merged file must hold exactly the runs and numbers of a local `qcnn sweep` of the same
#      spec (h5py and pandas.read_hdf), with each run's host, shard and finish time, and the
#      finished shards must not have been recomputed;
#   4. teardown (trap): scancel, wait for an empty queue, stop the daemons by pid.
# usage: slurm-test.sh QCNN_BINARY LENET5_ONNX    (root; exit 77 = skipped when not root or
# slurm-wlm / munge are missing: `apt-get install slurm-wlm munge`, in .ci/bootstrap.sh)
set -euo pipefail

qcnn=$(readlink -f "$1")
model=$(readlink -f "$2")
for tool in munged slurmctld slurmd sbatch squeue scancel sinfo; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (apt-get install slurm-wlm munge)"
    exit 77
  fi
done
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: the single-node Slurm test runs the daemons as root"
  exit 77
fi

t0=$SECONDS
tmp=$(mktemp -d /tmp/qcnn-slurm.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  local rc=$?
  set +e
  if [[ -n ${SLURM_CONF:-} && -e ${SLURM_CONF} ]]; then
    scancel --user="$(id -un)" 2>/dev/null
    for _ in $(seq 1 60); do
      [[ -z $(squeue --noheader 2>/dev/null) ]] && break
      sleep 0.5
    done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null
    wait "${pids[i]}" 2>/dev/null
  done
  if ((rc != 0)); then
    for log in "$tmp"/*.log; do
      echo "---- $log (last 20 lines)"
      tail -n 20 "$log"
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# munge: its own key, socket directory (mode 755: the daemons and clients connect to it), logs.
mkdir -p "$tmp/munge"
chmod 755 "$tmp/munge"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
socket="$tmp/munge/munge.socket"
munged --foreground --force --socket="$socket" --key-file="$tmp/munge/munge.key" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munged.log" --seed-file="$tmp/munge/munged.seed" \
  2>>"$tmp/munged.log" &
pids+=($!)
for _ in $(seq 1 50); do [[ -S $socket ]] && break; sleep 0.1; done
[[ -S $socket ]] || { echo "munged did not start"; exit 1; }

host=$(hostname -s)
mkdir -p "$tmp/state" "$tmp/spool"
export SLURM_CONF="$tmp/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=qcnnci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$tmp/jobcomp.txt
JobAcctGatherType=jobacct_gather/none
DependencyParameters=kill_invalid_depend
SchedulerParameters=sched_interval=1
MpiDefault=none
ReturnToService=2
$(slurmd -C | grep '^NodeName=') State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -c -f "$SLURM_CONF" 2>>"$tmp/slurmctld.log" &
pids+=($!)
slurmd -D -f "$SLURM_CONF" 2>>"$tmp/slurmd.log" &
pids+=($!)
for _ in $(seq 1 60); do
  [[ $(sinfo --noheader --format=%T 2>/dev/null) == idle ]] && break
  sleep 0.5
done
[[ $(sinfo --noheader --format=%T 2>/dev/null) == idle ]] || { echo "the node did not become idle"; sinfo; exit 1; }
echo "== single-node Slurm up in $((SECONDS - t0)) s"

cd "$tmp"
cat >spec.json <<SPEC
{"qcnn_sweep": 1, "model": "$model", "data": "fashion-mnist:test", "calib_images": 32, "limit": 64, "batch": 32,
 "grid": [{"layers": "fc", "settings": ["4/16", "8/32", "2/16"]}], "ec": ["none", "layer"], "seeds": [5],
 "kmeans_iters": 3, "ec_iters": 1}
SPEC

# Shard 2 cannot write its file: the first --wait must fail naming it, the merge job cancelled.
mkdir -p out.h5.slurm/shards
echo "not an HDF5 file" >out.h5.slurm/shards/shard-2-of-4.h5
set +e
"$qcnn" sweep spec.json -o out.h5 --slurm --shards 4 --cpus-per-task 1 --wait >first.out 2>first.err
rc=$?
set -e
cat first.out first.err
[[ $rc -eq 1 ]] || { echo "FAIL: --wait with a failed task exited $rc, expected 1"; exit 1; }
grep -q "shard 2/4 failed" first.err || { echo "FAIL: the failed shard is not named"; exit 1; }
grep -q "out.h5.slurm/logs/shard-2.out" first.err || { echo "FAIL: the failed shard's log is not named"; exit 1; }
grep -q "not an HDF5 file" out.h5.slurm/logs/shard-2.out || { echo "FAIL: shard 2's log lacks the error"; exit 1; }
[[ ! -e out.h5 ]] || { echo "FAIL: out.h5 written although a task failed"; exit 1; }
if grep -q "shard [013]/4 failed" first.err; then echo "FAIL: a good shard reported failed"; exit 1; fi
stamp() { /usr/bin/python3 -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r"); print([g["runs"]["finished_utc"].tolist() for g in f["sweeps"].values()])' "$1"; }
before=$(stamp out.h5.slurm/shards/shard-0-of-4.h5)

rm out.h5.slurm/shards/shard-2-of-4.h5
"$qcnn" sweep spec.json -o out.h5 --slurm --resume --wait | tee resume.out
grep -q "array job [0-9]* (1 task(s))" resume.out || { echo "FAIL: --resume did not resubmit exactly one task"; exit 1; }
[[ $(stamp out.h5.slurm/shards/shard-0-of-4.h5) == "$before" ]] || { echo "FAIL: shard 0 was recomputed"; exit 1; }

# Every shard finished but OUT.h5 lost: --resume submits the merge job alone; then nothing is left.
rm out.h5
"$qcnn" sweep spec.json -o out.h5 --slurm --resume --wait | tee remerge.out
grep -q "submitted merge job [0-9]* -> out.h5" remerge.out || { echo "FAIL: --resume did not submit the merge alone"; exit 1; }
"$qcnn" sweep spec.json -o out.h5 --slurm --resume | tee nothing.out
grep -q "already completed in out.h5; nothing to resubmit" nothing.out || { echo "FAIL: a completed sweep was resubmitted"; exit 1; }

"$qcnn" sweep spec.json -o local.h5 --threads 1 2>/dev/null >/dev/null
/usr/bin/python3 - out.h5 local.h5 <<'PY'
import sys
import h5py
import pandas as pd

merged, local = sys.argv[1], sys.argv[2]
TIMING = {"quantize_seconds", "eval_seconds", "dense_ms", "quantized_ms", "measured_speedup", "dense_ms_spread",
          "quantized_ms_spread", "measured_speedup_lo", "measured_speedup_hi", "speed_noisy", "dense_reused",
          "speed_rounds", "speed_preempted_rounds"}
PROVENANCE = {"host", "shard", "shards", "finished_utc"}
with h5py.File(merged, "r") as m, h5py.File(local, "r") as l:
    (mid,), (lid,) = list(m["sweeps"]), list(l["sweeps"])
    mg, lg = m["sweeps"][mid], l["sweeps"][lid]
    assert mg.attrs["status"] == b"completed", mg.attrs["status"]
    assert mg.attrs["spec_canonical"] == lg.attrs["spec_canonical"]
    assert mg.attrs["spec_sha256"] == lg.attrs["spec_sha256"]
    assert mg.attrs["shard"] == b"" and mg.attrs["merged_from"].count(b"/shards/shard-") == 4, mg.attrs["merged_from"]
    for table in ("runs", "layers"):
        mt, lt = mg[table][()], lg[table][()]
        assert len(mt) == len(lt), f"{table}: {len(mt)} rows merged, {len(lt)} local"
        assert mt.dtype.names == lt.dtype.names
        for name in mt.dtype.names:
            if name in TIMING or name in PROVENANCE:
                continue
            assert (mt[name] == lt[name]).all(), f"{table}.{name}: merged {mt[name]} local {lt[name]}"
    runs = mg["runs"][()]
    assert list(runs["run_index"]) == list(range(6))
    assert list(runs["shard"]) == [i % 4 for i in range(6)] and set(runs["shards"]) == {4}
    assert all(h for h in runs["host"]) and all(len(t) == 20 for t in runs["finished_utc"])
df = pd.read_hdf(merged, f"/sweeps/{mid}/runs")
assert len(df) == 6 and df.shard.tolist() == [0, 1, 2, 3, 0, 1], df
print(df[["run_index", "settings", "ec", "top1", "host", "shard", "finished_utc"]].to_string())
print("merged file == local sweep: 6 runs, every non-timing value equal")
PY
echo "== slurm test passed in $((SECONDS - t0)) s"
