#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan), writes a seed
# corpus of valid objects, then runs every target for a bounded time.
# Exits non-zero if any target finds a crash, a leak, undefined behaviour or
# a broken property; the input that did it is left in <build>/fuzz/artifacts.
#
#   fuzz/run_fuzzers.sh [seconds per target, default 30] [target ...]
#
# Environment: PXB_FUZZ_BUILD (default <repo>/build-fuzz), PXB_FUZZ_JOBS
# (parallel builds, default: all cores).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PXB_FUZZ_BUILD:-$repo/build-fuzz}"
seconds="${1:-30}"
shift || true
all_targets=(fuzz_tree fuzz_index fuzz_pack_header fuzz_envelope fuzz_snapshot fuzz_keyslot
  fuzz_config fuzz_coding fuzz_shard fuzz_target_list fuzz_lifecycle)
if [[ $# -gt 0 ]]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -G Ninja -DPXB_FUZZ=ON -DPXB_TESTS=OFF \
    -DPXB_BENCH=OFF
fi
ninja -C "$build" ${PXB_FUZZ_JOBS:+-j "$PXB_FUZZ_JOBS"} write_seeds "${targets[@]}"

corpus="$build/fuzz/corpus"
artifacts="$build/fuzz/artifacts"
logs="$build/fuzz/logs"
mkdir -p "$corpus" "$artifacts" "$logs"
"$build/fuzz/write_seeds" "$corpus"

# Undefined behaviour counts as a finding, not a warning.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

failed=()
for target in "${targets[@]}"; do
  mkdir -p "$corpus/$target"
  echo "== $target: ${seconds}s"
  if "$build/fuzz/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
      "$corpus/$target" >"$logs/$target.log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+[[:space:]]+DONE' "$logs/$target.log" | tail -2 || true
  else
    echo "!! $target failed; see $logs/$target.log"
    tail -30 "$logs/$target.log"
    failed+=("$target")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzzers that failed: ${failed[*]}"
  exit 1
fi
echo "all ${#targets[@]} fuzzers ran ${seconds}s each without findings"
