#!/usr/bin/env bash
# Installs the Debian packages imserver needs to build, run and test. Idempotent and quiet
# when everything is already present. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache clang-format
  liburing-dev flatbuffers-compiler libflatbuffers-dev liblmdb-dev lmdb-utils
  libssl-dev libxxhash-dev libjemalloc-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
