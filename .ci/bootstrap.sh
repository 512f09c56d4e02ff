#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root, or with sudo available):
#   bash .ci/bootstrap.sh run    install what is missing, build Release, open the workbench on
#                                the bundled network and Fashion-MNIST (headless demo without a display)
#   bash .ci/bootstrap.sh test   install what is missing, build Release, run the whole test suite,
#                                then the sanitizer and fuzzing checks (.ci/hardening.sh, ~30 min
#                                on 2 cores; QCNN_HARDENING=0 skips them)
#   bash .ci/bootstrap.sh build  install and build only
# Environment: BUILD_DIR (default: build), JOBS (default: nproc), QCNN_HARDENING (test: 1 runs
#              .ci/hardening.sh after ctest passes, the default and what CI does; 0 skips it).
set -euo pipefail

mode=${1:-run}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}

# Debian packages: build tools, libraries, the Fashion-MNIST data set, ONNX conformance data,
# benchmark peers (OpenCV DNN, FAISS, oneDNN fp32 / int8; oneDNN is also the dense conv backend)
# and what the test suite uses (slurm-wlm and munge: the single-node Slurm test,
# .ci/slurm-test.sh, which starts its own daemons on their own socket and ports).
packages=(
  build-essential cmake ninja-build pkg-config git
  qt6-base-dev libqcustomplot-dev libqcustomplot2.1-qt6 libgl-dev
  libeigen3-dev libhdf5-dev zlib1g-dev libstb-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev
  libopencv-dnn-dev libfaiss-dev libdnnl-dev
  dataset-fashion-mnist libonnx-testdata
  python3 python3-numpy python3-h5py python3-pandas python3-tables
  slurm-wlm munge
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "== installing ${#missing[@]} missing Debian package(s): ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine has no package lists: update once, then install.
  if ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    "${sudo_cmd[@]}" apt-get update -q
    "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

echo "== configuring and building (Release) in $build_dir"
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" -j "$jobs"

case "$mode" in
  build)
    ;;
  test)
    echo "== running the test suite"
    export QT_QPA_PLATFORM=offscreen
    ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 1500
    case "${QCNN_HARDENING:-1}" in
      0) echo "== QCNN_HARDENING=0: sanitizer and fuzzing checks skipped" ;;
      1)
        echo "== sanitizer and fuzzing checks (.ci/hardening.sh; QCNN_HARDENING=0 skips them)"
        JOBS=$jobs bash "$root/.ci/hardening.sh"
        ;;
      *)
        echo "QCNN_HARDENING must be 0 or 1, not '$QCNN_HARDENING'" >&2
        exit 2
        ;;
    esac
    ;;
  run)
    if [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]]; then
      echo "== opening the workbench on the bundled network and Fashion-MNIST"
      exec "$build_dir/app/qcnn-workbench" --demo
    else
      echo "== no display: running the headless demo"
      exec "$build_dir/app/qcnn" demo
    fi
    ;;
  *)
    echo "usage: $0 run|test|build" >&2
    exit 2
    ;;
esac
