#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing plexibackup need,
# and the Node tools of tools/node (s3rver, the AWS SigV4 test suite) with `npm ci`.
# Idempotent and quick when everything is already there.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev
  # libraries
  libssl-dev libsodium-dev libisal-dev libzstd-dev libsqlite3-dev
  libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev libspdlog-dev
  libtomlplusplus-dev libfuse3-dev libacl1-dev libattr1-dev libboost-dev libarchive-dev
  libgtest-dev libgmock-dev libbenchmark-dev libargon2-dev
  # tools the tests compare against
  rsync libarchive-tools acl attr sqlite3 python3
  # the PlexiChat PostgreSQL test runs a throwaway cluster and pg_dump
  postgresql postgresql-client
  # the S3 tests: s3rver runs on Node.js, the aws CLI cross-checks the S3 backend
  nodejs npm awscli
)
# A package whose command is already installed another way counts as present:
# NodeSource's nodejs ships npm (and conflicts with Debian's npm), pip's awscli
# gives `aws`.
declare -A command_of=([nodejs]=node [npm]=npm [awscli]=aws)
if [[ "${PXB_WITH_PEERS:-0}" == 1 ]]; then
  packages+=(restic borgbackup)
fi

missing=()
for p in "${packages[@]}"; do
  if [[ -n "${command_of[$p]:-}" ]] && command -v "${command_of[$p]}" >/dev/null; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node tools, reinstalled when package-lock.json is newer than node_modules.
node_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/node"
if [[ ! -d "$node_dir/node_modules" || "$node_dir/package-lock.json" -nt "$node_dir/node_modules" ]]; then
  echo "installing the Node tools of tools/node" >&2
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$node_dir/node_modules"
fi
