#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs plexibackup's
# quickstart: it creates the default local repository once
# (~/.local/share/plexibackup/repo), backs up the given paths (or a sample
# PlexiChat server it generates) and lists the snapshots.
#
# Usage: scripts/run.sh [PATH...]
# The passphrase comes from PLEXIBACKUP_PASSWORD or a prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build -DPXB_TESTS=OFF -DPXB_BENCH=OFF >/dev/null
exec ./build/src/cli/plexibackup quickstart "$@"
