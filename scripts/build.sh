#!/usr/bin/env bash
# Configures and builds plexibackup into a build folder (default: build/).
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
jobs=${PXB_JOBS:-$(nproc)}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S . -B "$build_dir" -G Ninja "$@" >/dev/null
else
  cmake "$build_dir" "$@" >/dev/null
fi
ninja -C "$build_dir" -j "$jobs"
