#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. formatting check (clang-format),
#   2. the unit, integration and end-to-end tests and the benchmark smoke run,
#   3. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer,
#   4. every fuzz target for a bounded time (PXB_FUZZ_SECONDS, default 20).
# Set PXB_QUICK=1 to run only step 2.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=${PXB_JOBS:-$(nproc)}
failed=()

step() { printf '\n=== %s\n' "$*"; }

if [[ "${PXB_QUICK:-0}" != 1 ]]; then
  step "format check"
  mapfile -t sources < <(git ls-files '*.cc' '*.h' 2>/dev/null || find src include tests bench fuzz -name '*.cc' -o -name '*.h')
  if ! clang-format --dry-run -Werror "${sources[@]}"; then failed+=("format"); fi
fi

step "build and test (RelWithDebInfo)"
./scripts/build.sh build
if ! (cd build && ctest -j "$jobs" --output-on-failure --timeout 900); then failed+=("tests"); fi

if [[ "${PXB_QUICK:-0}" != 1 ]]; then
  step "build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
  ./scripts/build.sh build-asan -DPXB_SANITIZE=ON -DPXB_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
  if ! (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest -j "$jobs" --output-on-failure --timeout 1800); then
    failed+=("sanitizer tests")
  fi

  step "fuzz every decoder for ${PXB_FUZZ_SECONDS:-20} s each"
  if ! ./fuzz/run_fuzzers.sh "${PXB_FUZZ_SECONDS:-20}"; then failed+=("fuzzing"); fi
fi

if ((${#failed[@]})); then
  printf '\nFAILED: %s\n' "${failed[*]}"
  exit 1
fi
printf '\nall checks passed\n'
