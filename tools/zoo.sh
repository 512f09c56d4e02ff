#!/bin/bash
# The zoo check of issue 13 in one command: export torchvision's classification CNNs to ONNX
# (tools/export_zoo.py, only what is missing), write the seeded synthetic calibration images
# (export_zoo.py --calib-only, when missing), build bench/qcnn_zoo, check every exported file
# against PyTorch's logits, benchmark one file per network (float / OpenCV / quantized speed,
# save + reload of the quantized model file, error correction), and write docs/zoo.md (and
# zoo.json in the build directory).
#
#   tools/zoo.sh                           # every network, opsets 11,13,17, dynamic and static batch
#   tools/zoo.sh --opsets 13 --quick       # import + logits only, opset 13
#   tools/zoo.sh --nets resnet18,vgg16 -- --budget 2   # arguments after -- go to qcnn_zoo
#
# Options: --nets a,b (default all), --opsets 11,13,17, --dynamic both|yes|no, --quick,
#          --no-export (use the manifest as it is), --md FILE (default docs/zoo.md).
# Environment: QCNN_ZOO_DIR (exports, default ~/.cache/qcnn-zoo; 5-550 MB per file, about
#          2.3 GB per opset and batch mode), QCNN_BUILD_DIR (default build/), PYTHON
#          (default /usr/bin/python3, which has Debian's python3-torch / -torchvision / -onnx).
# Needs: python3-torch, python3-torchvision, python3-onnx for the export; the project's build
# dependencies (libopencv-dnn-dev for the OpenCV column) for qcnn_zoo.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${QCNN_BUILD_DIR:-$ROOT/build}
ZOO=${QCNN_ZOO_DIR:-$HOME/.cache/qcnn-zoo}
PYTHON=${PYTHON:-/usr/bin/python3}
NETS=all
OPSETS=11,13,17
DYNAMIC=both
QUICK=()
EXPORT=1
MD=$ROOT/docs/zoo.md
COMMAND="tools/zoo.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case "$1" in
        --nets) NETS=$2; shift 2 ;;
        --opsets) OPSETS=$2; shift 2 ;;
        --dynamic) DYNAMIC=$2; shift 2 ;;
        --quick) QUICK=(--quick); shift ;;
        --no-export) EXPORT=0; shift ;;
        --md) MD=$2; shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "tools/zoo.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$EXPORT" = 1 ]; then
    # A network that fails to export gets a manifest entry with the error and the run goes on.
    "$PYTHON" "$ROOT/tools/export_zoo.py" --out "$ZOO" --nets "$NETS" --opsets "$OPSETS" --dynamic "$DYNAMIC" ||
        echo "tools/zoo.sh: some exports failed (listed above and in $ZOO/manifest.json); checking the rest" >&2
fi
# The EC cell's calibration images (export_zoo.py keeps them when they are up to date).
if [ "$EXPORT" = 1 ] || [ ! -f "$ZOO/calib/info.json" ]; then
    "$PYTHON" "$ROOT/tools/export_zoo.py" --out "$ZOO" --calib-only
fi

if [ ! -f "$BUILD/build.ninja" ] && [ ! -f "$BUILD/Makefile" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQCNN_BUILD_UI=OFF
fi
cmake --build "$BUILD" --target qcnn_zoo

NET_ARGS=()
[ "$NETS" != all ] && NET_ARGS=(--nets "$NETS")
# The bench opset is 13 unless 13 was not exported in this run.
BENCH_OPSET=13
case ",$OPSETS," in *,13,*) ;; *) BENCH_OPSET=${OPSETS%%,*} ;; esac
"$BUILD/bench/qcnn_zoo" --manifest "$ZOO/manifest.json" --opsets "$OPSETS" --dynamic "$DYNAMIC" \
    --bench-opset "$BENCH_OPSET" "${NET_ARGS[@]}" "${QUICK[@]}" --json "$BUILD/zoo.json" --md "$MD" \
    --command "$COMMAND" "$@"
