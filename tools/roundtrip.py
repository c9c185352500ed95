#!/usr/bin/env python3
"""The safetensors round trip between bpninja and PyTorch (issue 15), both directions.

1. PyTorch reads bpninja's checkpoint: safetensors.torch loads the tensors of `bpninja train --out RUN`,
   and the dev loss recomputed here from those weights (and the calibrated BatchNorm statistics, on
   the notebook's split) equals the dev loss `bpninja train --json` reported.
2. bpninja reads PyTorch's file: weights saved with safetensors.torch.save_file under the notebook's
   names pass `bpninja check --params`.

A test of the file format, not a second implementation: the forward is the notebook's five lines.
Runs in CI in the Debian 13 root (python3-torch, python3-safetensors); see tests/CMakeLists.txt.

usage: tools/roundtrip.py --bpninja BIN --data names.txt --run RUN_DIR --report REPORT.json --scratch DIR
"""
import argparse
import json
import os
import random
import subprocess
import sys

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def notebook_split(path, block_size):
    words = open(path, encoding="utf-8").read().splitlines()
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    random.seed(42)
    random.shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))

    def build(ws):
        X, Y = [], []
        for w in ws:
            context = [0] * block_size
            for ch in w + ".":
                ix = stoi[ch]
                X.append(context)
                Y.append(ix)
                context = context[1:] + [ix]
        return torch.tensor(X), torch.tensor(Y)

    return ["."] + chars, build(words[:n1]), build(words[n1:n2]), build(words[n2:])


def main():
    ap = argparse.ArgumentParser()
    for name in ("--bpninja", "--data", "--run", "--report", "--scratch"):
        ap.add_argument(name, required=True)
    a = ap.parse_args()
    failures = []

    # 1. bpninja -> PyTorch
    path = os.path.join(a.run, "checkpoint.safetensors")
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    p = load_file(path)
    config = json.loads(meta["config"])
    itos, _, (Xdev, Ydev), _ = notebook_split(a.data, config["block_size"])
    vocab = [chr(c) for c in json.loads(meta["vocab"])]
    if meta["arch"] != "mlp" or meta["calibrated"] != "true" or vocab != itos:
        failures.append(f"metadata: arch {meta['arch']}, calibrated {meta['calibrated']}, vocabulary matches: {vocab == itos}")
    emb = p["C"][Xdev]
    hprebn = emb.view(emb.shape[0], -1) @ p["W1"] + p["b1"]
    hpreact = p["bngain"] * (hprebn - p["bnmean"]) * (p["bnvar"] + 1e-5) ** -0.5 + p["bnbias"]
    logits = torch.tanh(hpreact) @ p["W2"] + p["b2"]
    dev = F.cross_entropy(logits, Ydev).item()
    reported = json.load(open(a.report))["dev_loss"]
    diff = abs(dev - reported)
    print(f"PyTorch {torch.__version__} read {path}: {len(p)} tensors, step {meta['step']}; "
          f"dev loss recomputed {dev:.8f}, bpninja reported {reported:.8f}, |diff| {diff:.3g}")
    if diff > 1e-6:  # float32 rounding of a mean over 22,655 rows; the same ops usually agree exactly
        failures.append(f"dev loss {dev} recomputed from the checkpoint, bpninja reported {reported}")

    # 2. PyTorch -> bpninja: the notebook's initialisation, from torch's own generator
    g = torch.Generator().manual_seed(2147483647)
    E, H, V, T = 10, 64, len(itos), config["block_size"]
    weights = {
        "C": torch.randn((V, E), generator=g),
        "W1": torch.randn((T * E, H), generator=g) * (5 / 3) / (T * E) ** 0.5,
        "b1": torch.randn(H, generator=g) * 0.1,
        "W2": torch.randn((H, V), generator=g) * 0.1,
        "b2": torch.randn(V, generator=g) * 0.1,
        "bngain": torch.randn((1, H), generator=g) * 0.1 + 1.0,
        "bnbias": torch.randn((1, H), generator=g) * 0.1,
    }
    os.makedirs(a.scratch, exist_ok=True)
    out = os.path.join(a.scratch, "from_pytorch.safetensors")
    save_file(weights, out)
    r = subprocess.run([a.bpninja, "check", "--data", a.data, "--params", out], capture_output=True, text=True)
    last = (r.stdout.strip().splitlines() or [""])[-1]
    print(f"bpninja check --params {out}: exit {r.returncode}: {last}")
    if r.returncode != 0:
        failures.append(f"bpninja check --params exited {r.returncode}: {r.stderr.strip() or last}")

    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
