#!/usr/bin/env bash
# tools/cli_outputs.sh BPNINJA OUTDIR: runs a fixed list of bpninja commands (every command, every
# model, good and bad input) and writes each one's stdout, stderr and exit status to OUTDIR/NN.txt,
# with wall-clock figures (seconds, steps/s) masked. Run it before and after a refactor and
# `diff -r` the two folders: the outputs users and CI logs read must stay byte-identical.
set -uo pipefail
bin="$1"
out="$2"
data="${DATA:-data/names.txt}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
n=0
run() {
  n=$((n + 1))
  local file
  file="$(printf '%s/%02d.txt' "$out" "$n")"
  {
    echo "\$ bpninja $*"
    "$bin" "$@" >"$work/stdout" 2>"$work/stderr"
    echo "exit $?"
    echo "--- stdout"
    sed -E 's/[0-9.]+ s \(/T s (/; s/[0-9]+ steps\/s/N steps\/s/; s/ in [0-9.]+ s/ in T s/g; s/[0-9.]+ s\b/T s/g' "$work/stdout" |
      sed "s#$work#WORK#g"
    echo "--- stderr"
    sed "s#$work#WORK#g" "$work/stderr"
  } >"$file"
  sed -i "s#$work#WORK#g" "$file"
}
run check --data "$data"
run check --data "$data" --dtype float64
run check --data "$data" --exercise 2 --gradcheck
run check --data "$data" --arch wavenet
run check --data "$data" --arch wavenet --dtype float64
run check --data "$data" --arch gpt
run check --data "$data" --arch gpt --dtype float64 --n-layer 1 --n-embd 16 --n-head 2
run gradcheck --data "$data"
run gradcheck --data "$data" --arch wavenet --n-embd 4 --n-hidden 8 --batch-size 4
run gradcheck --data "$data" --arch gpt --n-layer 1 --n-embd 8 --n-head 2 --batch-size 2
run train --data "$data" --steps 400 --verify-every 200 --out "$work/mlp"
run train --data "$data" --steps 600 --resume "$work/mlp"
run train --data "$data" --steps 200 --path ops --dtype float64 --n-hidden 20
run train --data "$data" --arch wavenet --steps 300 --verify-every 150 --out "$work/wavenet" --checkpoint-every 100
run train --data "$data" --steps 400 --resume "$work/wavenet"
run train --data "$data" --arch gpt --steps 40 --verify-every 20 --n-layer 1 --n-embd 16 --n-head 2 --out "$work/gpt"
run train --data "$data" --steps 60 --resume "$work/gpt"
run train --data "$data" --arch gpt --steps 20 --n-layer 1 --n-embd 16 --n-head 2 --twin
run train --data "$data" --arch wavenet --steps 20 --verify-every 10 --mutant "tanh_backward: 1 - y instead of 1 - y^2"
run sample --model "$work/mlp" -n 5
run sample --model "$work/wavenet" -n 5
run sample --model "$work/gpt" -n 5
for arch in mlp wavenet gpt; do run graph --data "$data" --arch "$arch" --out "$work/$arch.dot"; done
run mutants --data "$data"
# bad input
run check --data "$data" --arch rnn
run check --data "$data" --arch wavenet --exercise 2
run check --data "$data" --arch gpt --device cuda
run check --data "$data" --n-layer 2
run gradcheck --data "$data" --n-embd 3
run gradcheck --data "$data" --arch nope
run train --data "$data" --arch nope
run train --data "$data" --twin
run train --data "$data" --arch wavenet --dtype float64
run train --data "$data" --arch gpt --n-hidden 3
run train --data "$data" --mutant x
run train --data "$data" --arch gpt --mutant x --steps 1
run graph --data "$data" --arch rnn --out "$work/x.dot"
run graph --data "$data" --n-layer 2 --out "$work/x.dot"
run train --data "$data" --steps 10 --resume "$work/gpt" --lr 0.1
run train --data "$data" --steps 10 --resume "$work/mlp" --n-hidden 3
