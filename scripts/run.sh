#!/usr/bin/env bash
# scripts/run.sh ARGS... : setup if needed, then bpninja ARGS... (e.g. scripts/run.sh check)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" --preset release
cd "$root"
exec "$root/build/release/src/bpninja" "$@"
