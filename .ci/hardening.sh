#!/usr/bin/env bash
# Hardening checks (issue 8; docs/hardening.md), run after the normal build and tests:
#   1. ASan + UBSan build (preset "asan", GCC) and every core test suite under it;
#   2. TSan build (preset "tsan", clang + LLVM libomp checked through libarcher) and the
#      threaded suites (kernels, quant, eval, engine in base);
#   3. libFuzzer build (preset "fuzz", clang) and each fuzz target for FUZZ_SECONDS on its
#      committed corpus (fuzz/corpus/<target>), plus a replay of fuzz/regressions/.
# Any sanitizer report, test failure or fuzzer finding fails the script.
# Environment: HARDENING_BUILD_ROOT (default: <repo>/build-hardening), JOBS (default: nproc),
#              FUZZ_SECONDS (default: 60), HARDENING_STEPS (default: "asan tsan fuzz").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${HARDENING_BUILD_ROOT:-$root/build-hardening}
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-60}
steps=${HARDENING_STEPS:-asan tsan fuzz}
start=$SECONDS

# Clang (fuzzing, TSan) and LLVM's OpenMP runtime with libarcher (TSan) come from Debian.
need=(clang clang-14 libclang-rt-14-dev libomp-14-dev)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

core_tests=(base ops io data kernels quant cost eval sweep cli)
threaded_tests=(base kernels quant eval)

stamp() { printf '== [%dm%02ds] %s\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$*"; }

build_tests() {  # preset dir suites...
  local preset=$1 dir=$2
  shift 2
  local targets=() all
  cmake --preset "$preset" -B "$dir" >/dev/null
  all=$(ninja -C "$dir" -t targets all)
  for t in "$@"; do
    if grep -q "^qcnn_test_$t:" <<<"$all"; then targets+=("qcnn_test_$t"); fi
  done
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}"
}

run_suites() {  # dir suites...
  local dir=$1
  shift
  for t in "$@"; do
    local exe="$dir/tests/qcnn_test_$t"
    [[ -x $exe ]] || continue
    stamp "qcnn_test_$t"
    "$exe" --gtest_brief=1
  done
}

for step in $steps; do
  case $step in
    asan)
      stamp "ASan + UBSan build"
      build_tests asan "$out/asan" "${core_tests[@]}"
      # halt_on_error + -fno-sanitize-recover=all: the first report fails the run.
      # allocator_may_return_null: a corrupt HDF5 file may make libhdf5 ask for petabytes;
      # like a normal build, malloc then returns null and the reader reports the error.
      export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:allocator_may_return_null=1:strict_string_checks=1
      export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
      export LSAN_OPTIONS=suppressions=$root/fuzz/lsan.supp
      run_suites "$out/asan" "${core_tests[@]}"
      unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
      ;;
    tsan)
      stamp "TSan build"
      build_tests tsan "$out/tsan" "${threaded_tests[@]}"
      # libarcher makes LLVM's OpenMP runtime report its synchronisation to TSan (without it,
      # every parallel region is a false race). No suppressions.
      export OMP_TOOL_LIBRARIES=/usr/lib/llvm-14/lib/libarcher.so
      export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1"
      export OMP_NUM_THREADS=4
      run_suites "$out/tsan" "${threaded_tests[@]}"
      unset OMP_TOOL_LIBRARIES TSAN_OPTIONS OMP_NUM_THREADS
      ;;
    fuzz)
      stamp "fuzz build"
      cmake --preset fuzz -B "$out/fuzz" >/dev/null
      cmake --build "$out/fuzz" -j "$jobs" --target qcnn_fuzz_all
      export LSAN_OPTIONS=suppressions=$root/fuzz/lsan.supp
      export ASAN_OPTIONS=allocator_may_return_null=1
      for exe in "$out"/fuzz/fuzz/fuzz_*; do
        t=$(basename "$exe")
        [[ -x $exe && -d $root/fuzz/corpus/$t ]] || continue
        work=$(mktemp -d)
        if [[ -d $root/fuzz/regressions/$t ]]; then
          stamp "$t: replay fuzz/regressions/$t"
          "$exe" "$root"/fuzz/regressions/"$t"/* >"$work/replay" 2>&1 || {
            tail -60 "$work/replay"
            echo "REGRESSION in $t" >&2
            exit 1
          }
          echo "   $(grep -c '^Executed' "$work/replay") input(s) refused cleanly"
        fi
        stamp "$t: ${fuzz_seconds} s on fuzz/corpus/$t"
        # libhdf5 1.10.8 itself crashes on some corrupt files (docs/hardening.md): a finding
        # whose innermost project-or-library frame is inside libhdf5 is reported as known and
        # does not fail the run; anything reached through qcnn code first does.
        flags=(-max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10
               -artifact_prefix="$work/" -print_final_stats=1)
        if ! "$exe" "${flags[@]}" "$work" "$root/fuzz/corpus/$t" >"$work/log" 2>&1; then
          first=$(grep -E '^ +#[0-9]+ ' "$work/log" | grep -E 'libhdf5|/core/|/fuzz/' | head -1 || true)
          if [[ $first == *libhdf5* ]]; then
            echo "   known libhdf5 crash inside the library: $(grep -m1 'ERROR:' "$work/log")"
          else
            tail -60 "$work/log"
            echo "FUZZ FINDING in $t: input kept in $work" >&2
            exit 1
          fi
        fi
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/log" | sed 's/^/   /'
        rm -rf "$work"
      done
      unset LSAN_OPTIONS ASAN_OPTIONS
      ;;
    *)
      echo "unknown step '$step' (asan, tsan, fuzz)" >&2
      exit 2
      ;;
  esac
done
stamp "hardening checks passed"
