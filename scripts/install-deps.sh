#!/usr/bin/env bash
# Installs every Debian 12 package xray-search needs to build, test and benchmark.
# Idempotent: packages already present are skipped by apt. Runs `apt-get update` itself.
# usage: scripts/install-deps.sh [--no-browser] [--no-peer] [--no-train]
#   --no-browser  skip Chromium (only the browser tests need it)
#   --no-peer     skip python3-torch (only the side-by-side peer benchmark needs it)
#   --no-train    skip libtorch-dev (only xray-search-train and its tests need it; ~700 MB)
set -euo pipefail

browser=1
peer=1
train=1
for arg in "$@"; do
  case "$arg" in
    --no-browser) browser=0 ;;
    --no-peer) peer=0 ;;
    --no-train) train=0 ;;
    *) echo "install-deps.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

packages=(
  # build
  cmake ninja-build g++ pkg-config clang-format
  # engine
  libopenblas-dev libdnnl-dev
  # imaging
  libturbojpeg0-dev libpng-dev zlib1g-dev libgdcm-dev
  # Debian's GDCM CMake config names its command-line tools; without them every configure warns
  libgdcm-tools
  # tokenizer
  libutf8proc-dev
  # glue
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libssl-dev libcurl4-openssl-dev
  # the TLS tests make certificates with the openssl CLI and shake hands with curl
  openssl curl
  # index
  libsqlite3-dev libfaiss-dev
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev python3 python3-pil python3-numpy wrk
  python3-regex  # the tokenizer tests compare with the `regex` module CLIP uses
  # the DICOM tests compare with pydicom (+ GDCM's Python binding, pydicom's only decoder for
  # JPEG Lossless here)
  python3-pydicom python3-gdcm
  # the deploy tests: a one-node Slurm cluster (tests/deploy/slurm_test.sh) and the Kubernetes
  # manifests' check (PyYAML)
  slurm-wlm munge python3-yaml
  # fuzzing and sanitizers
  clang libclang-rt-14-dev
)
if [ "$browser" = 1 ]; then
  packages+=(chromium)
  # Node.js and npm drive the browser tests; a machine that already has them (from any source)
  # keeps its own, since Debian's npm conflicts with NodeSource's nodejs.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
fi
if [ "$peer" = 1 ]; then packages+=(python3-torch python3-numpy libopenblas0-pthread); fi
# xray-search-train (train/): LibTorch's C++ headers; OpenBLAS explicitly, or LibTorch runs on the
# reference BLAS, ~20x slower (../shared/research/libtorch.md).
if [ "$train" = 1 ]; then packages+=(libtorch-dev libopenblas0-pthread); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" = 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
