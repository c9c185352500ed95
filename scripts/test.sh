#!/usr/bin/env bash
# scripts/test.sh [--sanitize] [ctest args...] : setup if needed, then the whole suite with ctest.
#   --sanitize  builds the asan preset (AddressSanitizer + UBSan on the project's code) and runs the suite under it
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
preset=release
if [ "${1:-}" = "--sanitize" ]; then preset=asan; shift; fi
"$root/scripts/setup.sh" --preset "$preset"
cd "$root"
exec ctest --preset "$preset" "$@"
