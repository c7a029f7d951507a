#!/bin/bash
# Installs the benchmark peers that are not build dependencies of mixc:
#  - ONNX Runtime CPU through the npm package onnxruntime-node (its post-install
#    script downloads from an unreachable host, hence --ignore-scripts; the
#    package ships bin/napi-v*/linux/x64/libonnxruntime.so itself),
#  - matplotlib (Debian) for the ratio chart.
# Idempotent: does nothing when everything is already there.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
ORT_VERSION=1.23.2
have=$(node -p 'require("./node_modules/onnxruntime-node/package.json").version' 2>/dev/null)
if [ "$have" != "$ORT_VERSION" ]; then
    [ -f package.json ] || echo '{"name":"mixc-bench","private":true}' > package.json
    npm install --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" >&2 \
        || echo "setup: npm install onnxruntime-node@$ORT_VERSION failed" >&2
fi
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    (apt-get install -y -q python3-matplotlib >&2 || { apt-get update -q >&2 && apt-get install -y -q python3-matplotlib >&2; }) \
        || echo "setup: python3-matplotlib not installed; no chart" >&2
fi
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
    apt-get install -y -q python3-torch python3-onnx python3-numpy libopenblas0-pthread >&2 || true
fi
exit 0
