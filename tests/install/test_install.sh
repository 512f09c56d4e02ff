#!/bin/bash
# `cmake --install` into a temporary prefix, then run the installed programs from another working
# directory and from a moved prefix: they find the bundled networks relative to the executable
# (core/util/paths.h), QCNN_DATA_DIR overrides that, and no path of the source tree's datasets/
# is compiled into them.
#   tests/install/test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_install: FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
ui=0
[ -x "$build/app/qcnn-workbench" ] && ui=1
files=(bin/qcnn share/qcnn-workbench/datasets/vgg7.onnx share/qcnn-workbench/datasets/lenet5.onnx
       share/doc/qcnn-workbench/README.md share/doc/qcnn-workbench/architecture.md)
((ui)) && files+=(bin/qcnn-workbench share/applications/qcnn-workbench.desktop
                  share/icons/hicolor/scalable/apps/qcnn-workbench.svg share/icons/hicolor/256x256/apps/qcnn-workbench.png)
for f in "${files[@]}"; do
    [ -f "$tmp/prefix/$f" ] || fail "cmake --install did not install $f"
done

for exe in "$tmp"/prefix/bin/*; do
    if grep -q -a -F "$src/datasets" "$exe"; then fail "$exe has the source path $src/datasets compiled in"; fi
done

# From another working directory, and after moving the whole prefix.
mkdir "$tmp/elsewhere"
mv "$tmp/prefix" "$tmp/moved"
cd "$tmp/elsewhere"
out=$(env -u QCNN_DATA_DIR "$tmp/moved/bin/qcnn" info) || fail "installed qcnn info (default model) failed: $out"
grep -q "model:  $tmp/moved/share/qcnn-workbench/datasets/vgg7.onnx" <<<"$out" ||
    fail "installed qcnn did not open the bundled vgg7 under the moved prefix: $(head -1 <<<"$out")"
grep -q "conv" <<<"$out" || fail "qcnn info printed no layers"

# QCNN_DATA_DIR overrides; a directory without the network is a clear error naming the path.
mkdir "$tmp/empty"
if err=$(QCNN_DATA_DIR="$tmp/empty" "$tmp/moved/bin/qcnn" info 2>&1); then fail "qcnn info with an empty QCNN_DATA_DIR succeeded"; fi
grep -q "$tmp/empty/vgg7.onnx" <<<"$err" || fail "the error does not name $tmp/empty/vgg7.onnx: $err"
cp "$src/datasets/lenet5.onnx" "$tmp/empty/vgg7.onnx"
out=$(QCNN_DATA_DIR="$tmp/empty" "$tmp/moved/bin/qcnn" info) || fail "qcnn info with QCNN_DATA_DIR failed"
grep -q "model:  $tmp/empty/vgg7.onnx" <<<"$out" || fail "QCNN_DATA_DIR was not used: $(head -1 <<<"$out")"

if ((ui)); then
    # (Qt wraps the option text, even inside a word: compare without white space)
    help=$(QT_QPA_PLATFORM=offscreen "$tmp/moved/bin/qcnn-workbench" --help | tr -d "\n ") || fail "qcnn-workbench --help failed"
    grep -q "$tmp/moved/share/qcnn-workbench/datasets/vgg7.onnx" <<<"$help" ||
        fail "qcnn-workbench's demo network is not the installed one: $help"
    ver=$(QT_QPA_PLATFORM=offscreen "$tmp/moved/bin/qcnn-workbench" --version) || fail "qcnn-workbench --version failed"
    grep -q "[0-9]\+\.[0-9]\+\.[0-9]\+" <<<"$ver" || fail "qcnn-workbench --version printed no version: $ver"
    grep -q '^Exec=qcnn-workbench' "$tmp/moved/share/applications/qcnn-workbench.desktop" || fail "desktop entry has no Exec line"
fi
echo "test_install: passed (prefix moved, run from $tmp/elsewhere, ui=$ui)"
