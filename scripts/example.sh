#!/usr/bin/env bash
# scripts/example.sh: installs the harness from the release build into build/install and builds and
# tests the examples against it (examples/custom_layer, examples/attention_function), as a user's
# project would (find_package(bpninja)).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh --preset release
rm -rf build/install build/example
cmake --install build/release --prefix build/install >/dev/null
cmake -S examples -B build/example -G Ninja -DCMAKE_PREFIX_PATH="$root/build/install" >/dev/null
cmake --build build/example
ctest --test-dir build/example --output-on-failure
