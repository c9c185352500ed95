#!/usr/bin/env bash
# scripts/test.sh [--sanitize] [ctest args...] : setup if needed, then the whole suite with ctest.
#   --sanitize  builds the asan preset (AddressSanitizer + UBSan on the project's code) and runs the suite under it
# The release run also installs the harness and builds and tests examples/custom_layer against it
# (scripts/example.sh). JUnit XML of the ctest run goes to build/<preset>/junit.xml.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
preset=release
if [ "${1:-}" = "--sanitize" ]; then preset=asan; shift; fi
"$root/scripts/setup.sh" --preset "$preset"
cd "$root"
ctest --preset "$preset" --output-junit junit.xml "$@"
# A skip is not a pass: say how many, and which (ctest lists them above as "Not Run"/"Skipped")
skipped=$(grep -c '<skipped' "build/$preset/junit.xml" || true)
echo "test.sh: $skipped test(s) skipped in the $preset suite"
if [ "$preset" = release ] && [ $# -eq 0 ]; then
  "$root/scripts/example.sh"
fi
