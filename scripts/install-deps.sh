#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing plexibackup need.
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
)
if [[ "${PXB_WITH_PEERS:-0}" == 1 ]]; then
  packages+=(restic borgbackup)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
