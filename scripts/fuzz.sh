#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each reader's fuzzer on one core.
#
#   scripts/fuzz.sh [TARGET ...]        default: toml extxyz poscar eam checkpoint npy
#   RUNS=1000000 SECONDS_EACH=600 BUILD=build-fuzz scripts/fuzz.sh extxyz
#
# Each target runs until RUNS executions or SECONDS_EACH seconds, whichever comes first,
# starting from the seeds in fuzz/corpus/<reader>/ (a working corpus grows in
# $BUILD/corpus/<reader>/, so the checked-in seeds stay small). Crashes, leaks, timeouts and
# out-of-memory inputs land in $BUILD/artifacts/<reader>/; copy a reproducer to
# tests/data/fuzz/<reader>/ and add the expectation to tests/test_fuzz_regressions.cpp.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build-fuzz}"
RUNS="${RUNS:-1000000}"
SECONDS_EACH="${SECONDS_EACH:-600}"
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(toml extxyz poscar eam checkpoint npy)

CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -DSPINLAT_FUZZ=ON -DSPINLAT_WITH_TORCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "${JOBS:-2}" --target $(printf 'fuzz_%s ' "${TARGETS[@]}")

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$BUILD/corpus/$t" "$BUILD/artifacts/$t"
  echo "== fuzz_$t: up to $RUNS runs or $SECONDS_EACH s"
  # -rss_limit_mb/-malloc_limit_mb: an input that makes a reader allocate > 2 GiB is a finding
  # (unbounded allocation); -timeout: one input taking > 10 s is a hang.
  "$BUILD/fuzz_$t" "$BUILD/corpus/$t" "$ROOT/fuzz/corpus/$t" \
    -runs="$RUNS" -max_total_time="$SECONDS_EACH" -max_len="${MAX_LEN:-4096}" \
    -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -artifact_prefix="$BUILD/artifacts/$t/" -print_final_stats=1 \
    ${FUZZ_DICT:+-dict=$FUZZ_DICT} || status=1
done
exit $status
