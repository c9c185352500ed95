#!/usr/bin/env bash
# scripts/fuzz.sh SECONDS : build the libFuzzer targets (clang, ASan + UBSan) and run each for SECONDS.
# The checked-in seed corpus (fuzz/corpus/<target>) is copied to build/fuzz/corpus/<target>, where the
# run adds what it finds. Crashes are written to build/fuzz/artifacts/ and make the script exit 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh SECONDS (a positive whole number: how long to run each target)" >&2
  exit 2
fi
"$root/scripts/setup.sh" --no-build
cd "$root"
[ -f build/fuzz/CMakeCache.txt ] || cmake --preset fuzz >&2
cmake --build --preset fuzz >&2
mkdir -p build/fuzz/artifacts
status=0
for target in fuzz_data fuzz_checkpoint fuzz_safetensors; do
  corpus="build/fuzz/corpus/${target#fuzz_}"
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"${target#fuzz_}"/* "$corpus"/ 2>/dev/null || true
  echo "== $target for ${seconds}s"
  # ASan's leak checker is off: LibTorch's static registries are reported as leaks at exit.
  if ! ASAN_OPTIONS=detect_leaks=0 "build/fuzz/fuzz/$target" "$corpus" -max_total_time="$seconds" \
      -artifact_prefix=build/fuzz/artifacts/"$target"- -print_final_stats=1 2>&1 | tail -n 25; then
    status=1
  fi
done
exit $status
