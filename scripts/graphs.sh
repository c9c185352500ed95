#!/usr/bin/env bash
# scripts/graphs.sh: regenerates docs/graph/<model>.{dot,svg} for every registered model (the list
# `bpninja --help` prints) with `bpninja graph` and Graphviz. The test Docs/GraphFreshness fails when
# the checked-in files are out of date.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" --preset release
cd "$root"
mkdir -p docs/graph
models=$(build/release/src/bpninja --help | sed -n '/^Models (--arch):/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$models" ] || { echo "scripts/graphs.sh: bpninja --help lists no models" >&2; exit 1; }
for arch in $models; do
  build/release/src/bpninja graph --arch "$arch" --out "docs/graph/$arch.dot"
  dot -Tsvg "docs/graph/$arch.dot" -o "docs/graph/$arch.svg.tmp"
  mv "docs/graph/$arch.svg.tmp" "docs/graph/$arch.svg"
done
