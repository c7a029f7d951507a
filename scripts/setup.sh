#!/usr/bin/env bash
# Installs every system package mixc needs to build, test and benchmark.
# Idempotent: packages already present are skipped by apt. Must run as root
# (or with sudo available). Nothing else is installed by hand anywhere.
set -euo pipefail

PKGS=(
  # build
  cmake make gcc pkg-config
  llvm-19-dev clang-19 lld-19 libpolly-19-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev
  libpthreadpool-dev
  libcunit1-dev
  # hardening: the libFuzzer target (tests/fuzz/run.sh)
  libfuzzer-19-dev libclang-rt-19-dev
  zlib1g-dev libzstd-dev libedit-dev libffi-dev libxml2-dev libncurses-dev
  # tests and reference outputs
  python3 python3-onnx python3-torch python3-numpy libopenblas0-pthread
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
