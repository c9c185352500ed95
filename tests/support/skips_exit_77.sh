#!/bin/sh
# tests/support/skips_exit_77.sh TEST_BINARY [ARGS...]: runs a GoogleTest binary with its output as it
# is; exits with its status when that is a failure, 77 (ctest's SKIP_RETURN_CODE) when it passed with
# any test skipped, 0 when every test it ran passed. For several suites in one process (one LibTorch load,
# several seconds under ASan), where the skip of one test must not read as a pass.
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
"$@" >"$log" 2>&1
status=$?
cat "$log"
if [ "$status" -ne 0 ]; then exit "$status"; fi
if grep -q '^\[  SKIPPED \]' "$log"; then exit 77; fi
exit 0
