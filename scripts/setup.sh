#!/usr/bin/env bash
# Idempotent setup: Debian packages, the data set, configure and build.
#   scripts/setup.sh [--preset release|dev|asan] [--target NAME] [--no-build]
# Each step does nothing when its result is already there. --target builds one target and what it
# needs (scripts/run.sh builds only the bpninja executable; scripts/test.sh builds everything).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

preset=release
build=1
target=""
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset="${2:?--preset needs a name: release, dev or asan}"; shift 2 ;;
    --target) target="${2:?--target needs a name, e.g. bpninja}"; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "setup.sh: unknown argument '$1' (use --preset NAME, --target NAME or --no-build)" >&2; exit 2 ;;
  esac
done

log() { echo "setup: $*" >&2; }

# 1. Debian 12 packages. apt-get update runs only when something is missing.
packages=(
  cmake ninja-build g++ pkg-config
  libtorch-dev            # LibTorch 1.13.1, CPU
  libopenblas0-openmp     # optimized BLAS: without it LibTorch falls back to the reference BLAS (~3x slower)
  libgtest-dev libgmock-dev libbenchmark-dev
  libxsmm-dev             # the JIT kernels of the MLP's and the GPT's products (src/kernel/products.h)
  libblis-dev             # measured beside them (bench: BM_Product*); its libblas.so.3 (priority 80) ranks
                          # below OpenBLAS's 95, so LibTorch keeps OpenBLAS
  nlohmann-json3-dev libcli11-dev
  librapidcheck-dev       # property-based gradient sweeps
  gnuplot-nox             # the loss-curve plot of `bpninja train`
  graphviz                # renders `bpninja graph` (scripts/graphs.sh, docs/graph/)
  clang libclang-rt-14-dev  # libFuzzer targets and sanitizers (scripts/fuzz.sh)
)
missing=()
# One dpkg-query for all of them (one per package took ~0.2 s of every run.sh and test.sh call).
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null || true)
for p in "${packages[@]}"; do
  grep -qxF -- "$p ii " <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing ${missing[*]}"
  $sudo apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# 2. The data set, at data/names.txt (git-ignored), verified by its sha256.
names_sha256=0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$names_sha256" ]; }
if ! sha_ok data/names.txt; then
  mkdir -p data
  tmp=$(mktemp data/names.txt.XXXXXX)
  trap 'rm -f "$tmp"' EXIT
  if [ -f ../shared/data/names.txt ]; then
    log "copying names.txt from ../shared/data/"
    cp ../shared/data/names.txt "$tmp"
  else
    echo "setup.sh: no ../shared/data/names.txt: put the data set there (or at data/names.txt) and rerun" >&2
    exit 2
  fi
  if ! sha_ok "$tmp"; then
    echo "setup.sh: names.txt has the wrong sha256 (expected $names_sha256); not installed" >&2
    exit 2
  fi
  chmod 644 "$tmp"
  mv "$tmp" data/names.txt
  trap - EXIT
fi

# 3. Configure (once) and build (incremental).
if [ "$build" = 1 ]; then
  if [ ! -f "build/$preset/CMakeCache.txt" ]; then
    cmake --preset "$preset" >&2
  fi
  if [ -n "$target" ]; then
    cmake --build --preset "$preset" --target "$target" >&2
  else
    cmake --build --preset "$preset" >&2
  fi
fi
