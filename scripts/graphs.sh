#!/usr/bin/env bash
# scripts/graphs.sh: regenerates docs/graph/{mlp,wavenet,gpt}.{dot,svg} with `bpninja graph` and
# Graphviz. The test Docs.GraphsAreFresh fails when the checked-in files are out of date.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" --preset release
cd "$root"
mkdir -p docs/graph
for arch in mlp wavenet gpt; do
  build/release/src/bpninja graph --arch "$arch" --out "docs/graph/$arch.dot"
  dot -Tsvg "docs/graph/$arch.dot" -o "docs/graph/$arch.svg.tmp"
  mv "docs/graph/$arch.svg.tmp" "docs/graph/$arch.svg"
done
