#!/usr/bin/env bash
# scripts/record-ledger.sh [BPNINJA] : records the exactness ledger (tests/golden/exactness.json) for
# every configuration the suite checks against it, under each ATen CPU capability and in both dtypes:
# the MLP (the notebook's configuration), the WaveNet, the GPT, the small GPT the mutation catalog
# checks on (2 blocks, 2 heads, 16 channels, batch 8), the RNN and the GRU. Each `check --record-ledger` prints its
# diff and refuses to drop a recorded-exact tensor; review the diff of the ledger and commit it.
# On Debian 13: scripts/debian13.sh --exec scripts/record-ledger.sh, then copy the ledger back from
# .platforms/debian13/root/work/backprop-ninja/tests/golden/exactness.json (docs/platforms.md, "Platforms").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bpninja="${1:-$root/build/release/src/bpninja}"
if [ ! -x "$bpninja" ]; then
  echo "record-ledger: $bpninja is not an executable; build first (scripts/setup.sh) or pass its path" >&2
  exit 2
fi
data="$root/data/names.txt"
configs=("" "--arch wavenet" "--arch gpt" "--arch gpt --n-layer 2 --n-head 2 --n-embd 16 --batch-size 8" "--arch rnn"
  "--arch gru")
for level in default avx2 avx512; do
  for dtype in float32 float64; do
    for config in "${configs[@]}"; do
      echo "record-ledger: ATEN_CPU_CAPABILITY=$level check $config --dtype $dtype"
      status=0
      # shellcheck disable=SC2086
      out=$(ATEN_CPU_CAPABILITY=$level "$bpninja" check --data "$data" $config --dtype "$dtype" --record-ledger 2>&1) ||
        status=$?
      grep -E '^(ledger diff|[+-] |recorded|PASS|FAIL|ledger:|bpninja:)' <<<"$out" || true
      [ "$status" -eq 0 ] || { echo "record-ledger: that check failed (exit $status); nothing more recorded" >&2; exit 1; }
    done
  done
done
