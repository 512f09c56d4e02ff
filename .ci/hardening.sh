#!/usr/bin/env bash
# Hardening checks (issue 8; docs/hardening.md). `.ci/bootstrap.sh test` runs this after the
# normal build and ctest pass (skip it there with QCNN_HARDENING=0); it can also run alone:
#   1. asan: ASan + UBSan build (preset "asan", clang) and every core test suite under it;
#   2. tsan: TSan build (preset "tsan", clang + LLVM libomp checked through libarcher) and the
#      suites with threads: ops, kernels, quant, eval (with concurrent and cancelled runs),
#      sweep, cli, and ui (the workbench's background jobs, offscreen; they hand data between
#      threads only through std::thread and std::mutex, which TSan sees: docs/hardening.md);
#   3. fuzz: libFuzzer build (preset "fuzz", clang) and each fuzz target for FUZZ_SECONDS on its
#      committed corpus (fuzz/corpus/<target>), after a replay of fuzz/regressions/<target>.
# Any sanitizer report, test failure or fuzzer finding in qcnn code fails the script. Per-suite
# logs are kept in $HARDENING_BUILD_ROOT/logs; the step times (wall and CPU) and test counts
# are printed at the end and kept in $HARDENING_BUILD_ROOT/summary.txt.
# Environment: HARDENING_BUILD_ROOT (default: <repo>/build-hardening), JOBS (default: nproc),
#              FUZZ_SECONDS (default: 60), HARDENING_STEPS (default: "asan tsan fuzz").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${HARDENING_BUILD_ROOT:-$root/build-hardening}
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-60}
steps=${HARDENING_STEPS:-asan tsan fuzz}
start=$SECONDS

# Clang and its sanitizer runtimes (all three steps) and LLVM's OpenMP runtime with libarcher
# (TSan) come from Debian.
need=(clang clang-14 libclang-rt-14-dev libomp-14-dev)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet: update once, then install.
  if ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    "${sudo_cmd[@]}" apt-get update -q
    "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

asan_tests=(base ops graph io data kernels quant cost auto eval sweep cli train)
# ui: the workbench's background jobs (loads, float evaluation, runs, teaching), offscreen.
tsan_tests=(ops graph kernels quant eval sweep cli train ui)
# Tests left out under a sanitizer (gtest negative filters), for their cost alone: they
# quantize a bundled network and evaluate all 10,000 Fashion-MNIST test images twice (fast and
# reference tables). Under ASan the two LeNet-5 cases run (about a minute) and the two VGG-7
# cases (several minutes each) do not; under TSan none does, as evaluation's threading is
# covered by test_evaluate (1 and 2 threads) and test_concurrent_runs (docs/hardening.md, "CI").
# The cost suite's two wall-clock checks (`TimeEstimate.WithinTwiceTheMeasuredTime*`: a run's
# time estimated from an earlier run's stage times) are left out under ASan for their meaning:
# ASan's first touch of shadow memory lands on whichever stage runs first, so the calibration
# run's k-means took 2.69 s and the next run's, same settings, 1.26 s (CI, stop 32). Their code
# paths (quantize + evaluate a bundled network) run under ASan in test_evaluate and test_cli.
declare -A asan_skip=(
  [eval]='BundledNetworks/FastVsReference.*/vgg7_*'
  [cost]='TimeEstimate.WithinTwiceTheMeasuredTime*'
)
# The session file's kill -9 test starts a child workbench, and the measured-memory tests start
# `qcnn eval` (QProcess, fork + exec): TSan's runtime aborts in its fork handler ("CHECK failed:
# tsan_rtl.cpp:234", ForkAfter) in this multi-threaded process, before the child runs. These
# tests run in the plain ctest suite.
declare -A tsan_skip=(
  [eval]='BundledNetworks/FastVsReference.*'
  [ui]='Session.KillNineLosesNoFinishedRun:MeasuredMemory.*'
)

mkdir -p "$out/logs"
summary=()
# CPU seconds (user + sys) of the child processes finished so far (cutime + cstime of this
# shell: every descendant waited for, also through subshells). Next to the wall time it tells
# what a step costs on an idle machine (the builds use JOBS cores).
hz=$(getconf CLK_TCK)
cpu() { awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%d", ($14 + $15) / hz }' "/proc/$$/stat"; }
stamp() { printf '== [%dm%02ds] %s\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$*"; }
note() { summary+=("$*"); echo "   $*"; }

build_tests() {  # preset dir suites...: configure, then build only the suites' executables
  local preset=$1 dir=$2
  shift 2
  local targets=() all
  cmake --preset "$preset" -B "$dir" >"$out/logs/$preset-configure.log"
  all=$(ninja -C "$dir" -t targets all)
  for t in "$@"; do
    if grep -q "^qcnn_test_$t:" <<<"$all"; then targets+=("qcnn_test_$t"); fi
  done
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}"
}

# Runs each suite with the step's sanitizer options. A report stops the process that hit it
# (halt_on_error; ASan/UBSan exit 1, TSan 66), so the suite fails; a report in a child that a
# test starts and reads (`qcnn sweep` in the sweep suite) fails that test. The log is also
# searched for report banners. Children that are meant to crash do not count: gtest keeps a
# death test child's output (a sanitizer's SEGV report there is the expected death), and the
# forked probes of files that crash libhdf5 (core/util/isolate.h) restore the default fault
# handlers, so they end by their signal without a report.
run_suites() {  # step dir skip-array-name suites...
  local step=$1 dir=$2
  local -n skip=$3
  shift 3
  local t0=$SECONDS tc0 total=0
  tc0=$(cpu)
  for t in "$@"; do
    local exe="$dir/tests/qcnn_test_$t" log="$out/logs/$step-$t.log"
    if [[ ! -x $exe ]]; then
      note "$step: qcnn_test_$t not built (module without tests or without its dependencies)"
      continue
    fi
    local env=()
    case $step in
      asan) env=(ASAN_OPTIONS="$asan_options" UBSAN_OPTIONS="$ubsan_options" LSAN_OPTIONS="$lsan_options") ;;
      tsan) env=(TSAN_OPTIONS="$tsan_options" QT_QPA_PLATFORM=offscreen) ;;
    esac
    local filter=()
    [[ -n ${skip[$t]:-} ]] && filter=("--gtest_filter=-${skip[$t]}")
    stamp "$step: qcnn_test_$t ${filter[*]}"
    local s0=$SECONDS c0 rc=0
    c0=$(cpu)
    env "${env[@]}" "$exe" --gtest_brief=1 "${filter[@]}" >"$log" 2>&1 || rc=$?
    if ((rc != 0)) || grep -qE "$report_banner" "$log"; then
      grep -m1 -B2 -A100 -E "$report_banner" "$log" || tail -80 "$log"
      echo "FAILED under $step: qcnn_test_$t (exit $rc); log $log" >&2
      exit 1
    fi
    local ran
    ran=$(grep -oE '^\[==========\] [0-9]+ tests? from' "$log" | grep -oE '[0-9]+' | head -1)
    total=$((total + ran))
    note "$step: qcnn_test_$t: $ran tests passed, 0 reports, $((SECONDS - s0)) s wall, $(($(cpu) - c0)) s CPU"
  done
  note "$step: $total tests in $# suites, $((SECONDS - t0)) s wall, $(($(cpu) - tc0)) s CPU"
}
report_banner='ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer'

for step in $steps; do
  case $step in
    asan)
      stamp "ASan + UBSan build"
      b0=$SECONDS c0=$(cpu)
      build_tests asan "$out/asan" "${asan_tests[@]}"
      note "asan: build $((SECONDS - b0)) s wall, $(($(cpu) - c0)) s CPU"
      # halt_on_error + -fno-sanitize-recover=all: the first report fails the run.
      # allocator_may_return_null: a corrupt HDF5 file may make libhdf5 ask for petabytes;
      # like a normal build, malloc then returns null and the reader reports the error.
      # LSan: only libhdf5's own leaks on corrupt files are suppressed (fuzz/lsan.supp).
      asan_options=halt_on_error=1:detect_leaks=1:allocator_may_return_null=1:strict_string_checks=1
      ubsan_options=halt_on_error=1:print_stacktrace=1
      lsan_options=suppressions=$root/fuzz/lsan.supp
      run_suites asan "$out/asan" asan_skip "${asan_tests[@]}"
      ;;
    tsan)
      stamp "TSan build"
      b0=$SECONDS c0=$(cpu)
      build_tests tsan "$out/tsan" "${tsan_tests[@]}"
      note "tsan: build $((SECONDS - b0)) s wall, $(($(cpu) - c0)) s CPU"
      # libarcher makes LLVM's OpenMP runtime report its synchronisation to TSan (without it,
      # every parallel region is a false race); libomp is not instrumented and
      # ignore_noninstrumented_modules keeps TSan out of its memory accesses.
      export OMP_TOOL_LIBRARIES=/usr/lib/llvm-14/lib/libarcher.so
      tsan_options="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1"
      export OMP_NUM_THREADS=4
      run_suites tsan "$out/tsan" tsan_skip "${tsan_tests[@]}"
      unset OMP_TOOL_LIBRARIES OMP_NUM_THREADS
      ;;
    fuzz)
      stamp "fuzz build"
      b0=$SECONDS c0=$(cpu)
      cmake --preset fuzz -B "$out/fuzz" >"$out/logs/fuzz-configure.log"
      cmake --build "$out/fuzz" -j "$jobs" --target qcnn_fuzz_all
      note "fuzz: build $((SECONDS - b0)) s wall, $(($(cpu) - c0)) s CPU"
      f0=$SECONDS
      fuzzed=0
      export LSAN_OPTIONS=suppressions=$root/fuzz/lsan.supp
      export ASAN_OPTIONS=allocator_may_return_null=1
      for exe in "$out"/fuzz/fuzz/fuzz_*; do
        t=$(basename "$exe")
        [[ -x $exe && -d $root/fuzz/corpus/$t ]] || continue
        work=$(mktemp -d)
        replayed=0
        if [[ -d $root/fuzz/regressions/$t ]]; then
          stamp "$t: replay fuzz/regressions/$t"
          "$exe" "$root"/fuzz/regressions/"$t"/* >"$work/replay" 2>&1 || {
            tail -60 "$work/replay"
            echo "REGRESSION in $t" >&2
            exit 1
          }
          replayed=$(grep -c '^Executed' "$work/replay")
        fi
        stamp "$t: ${fuzz_seconds} s on fuzz/corpus/$t"
        # libhdf5 1.10.8 itself crashes on some corrupt files (docs/hardening.md): a finding
        # whose innermost frame in libhdf5 or in our sources (core/, fuzz/; not the sanitizer's
        # interceptors, which sit in the fuzz binary) is in libhdf5 is counted as known and the
        # fuzzer restarts for the rest of the target's time, keeping the inputs it added to
        # $work; anything reached through qcnn code first fails the run.
        flags=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -artifact_prefix="$work/" -print_final_stats=1)
        rm -f "$out/logs/fuzz-$t-known-libhdf5-"*.log
        deadline=$((SECONDS + fuzz_seconds)) execs=0 known=0 known_first=""
        while ((SECONDS < deadline)); do
          rc=0
          "$exe" "${flags[@]}" -max_total_time=$((deadline - SECONDS)) "$work" "$root/fuzz/corpus/$t" >"$work/log" 2>&1 || rc=$?
          n=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$work/log" | grep -oE '[0-9]+$' || echo 0)
          execs=$((execs + n))
          ((rc == 0)) && continue
          first=$(grep -E '^ +#[0-9]+ ' "$work/log" | grep -E "libhdf5|$root/(core|fuzz)/" | head -1 || true)
          if [[ $first != *libhdf5* ]]; then
            tail -60 "$work/log"
            echo "FUZZ FINDING in $t: input kept in $work" >&2
            exit 1
          fi
          known=$((known + 1))
          cp "$work/log" "$out/logs/fuzz-$t-known-libhdf5-$known.log"  # for triage: stacks, not inputs
          [[ -n $known_first ]] || known_first=$(grep -m1 -oE 'ERROR: [A-Za-z]+Sanitizer: [a-z-]+|ERROR: libFuzzer: [a-z-]+' "$work/log" || echo "crash")
          rm -f "$work"/crash-* "$work"/leak-* "$work"/oom-* "$work"/timeout-*
        done
        extra=""
        ((known == 0)) || extra=", $known known libhdf5 crash(es) (first: $known_first; logs/fuzz-$t-known-libhdf5-*.log), fuzzer restarted after each"
        note "fuzz: $t: $replayed regression input(s) refused cleanly, $execs executions$extra"
        rm -rf "$work"
        fuzzed=$((fuzzed + 1))
      done
      note "fuzz: $fuzzed targets replayed and fuzzed in $((SECONDS - f0)) s"
      unset LSAN_OPTIONS ASAN_OPTIONS
      ;;
    *)
      echo "unknown step '$step' (asan, tsan, fuzz)" >&2
      exit 2
      ;;
  esac
done
stamp "hardening checks passed ($steps) in $((SECONDS - start)) s"
printf '%s\n' "${summary[@]}" "total $((SECONDS - start)) s wall, $(cpu) s CPU" | tee "$out/summary.txt" | sed 's/^/   /'
