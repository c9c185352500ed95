#!/bin/sh
# tests/support/skips_exit_77.sh TEST_BINARY [ARGS...]: runs a GoogleTest binary, its output streamed as it
# comes; exits with its status when that is a failure, 1 when it ran no test at all (a filter that matches
# nothing passes in GoogleTest), 77 (ctest's SKIP_RETURN_CODE) when it passed with any test skipped, and 0
# when every test it ran passed. For several suites in one process (one LibTorch load, seconds under
# ASan), where the skip of one test must not read as a pass.
log=$(mktemp) || exit 1
status_file=$(mktemp) || exit 1
trap 'rm -f "$log" "$status_file"' EXIT
{
  "$@" 2>&1
  echo $? >"$status_file"
} | tee "$log"
status=$(cat "$status_file")
if [ "$status" -ne 0 ]; then exit "$status"; fi
if ! grep -q '^\[==========\] [1-9][0-9]* tests\{0,1\} from .* ran' "$log"; then
  echo "skips_exit_77.sh: no test ran (does the filter match any?)"
  exit 1
fi
if grep -q '^\[  SKIPPED \]' "$log"; then exit 77; fi
exit 0
