#!/usr/bin/env bash
# scripts/run.sh ARGS... : setup if needed, then bpninja ARGS... (e.g. scripts/run.sh check)
# Builds only the bpninja executable; scripts/test.sh builds the tests and benchmarks.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" --preset release --target bpninja
cd "$root"
exec "$root/build/release/src/bpninja" "$@"
