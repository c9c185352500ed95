#!/usr/bin/env python3
"""Times the lecture's Exercise 4 training step in Python (the baseline of issue 14's "1/25 of the
notebook's loop"): the forward with F.cross_entropy and BatchNorm in one expression, the hand-derived
backward of Exercises 2 and 3, the embedding's scatter as the lecture writes it (a Python double loop),
and p.data += -lr * grad, under torch.no_grad(), one intra-op thread. Random data of the notebook's
shapes (batch 32, block 3, n_embd 10, n_hidden 200, 27 characters): the time does not depend on it.

usage: tools/notebook_step.py [--steps 2000]   (needs python3-torch: the Debian 13 root has it)
"""
import argparse
import time

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(2147483647)
    V, T, E, H, n, rows = 27, 3, 10, 200, 32, 182625
    Xtr = torch.randint(0, V, (rows, T), generator=g)
    Ytr = torch.randint(0, V, (rows,), generator=g)
    C = torch.randn((V, E), generator=g)
    W1 = torch.randn((T * E, H), generator=g) * (5 / 3) / (T * E) ** 0.5
    b1 = torch.randn(H, generator=g) * 0.1
    W2 = torch.randn((H, V), generator=g) * 0.1
    b2 = torch.randn(V, generator=g) * 0.1
    bngain = torch.randn((1, H), generator=g) * 0.1 + 1.0
    bnbias = torch.randn((1, H), generator=g) * 0.1
    parameters = [C, W1, b1, W2, b2, bngain, bnbias]

    def step(lr=0.1):
        ix = torch.randint(0, Xtr.shape[0], (n,), generator=g)
        Xb, Yb = Xtr[ix], Ytr[ix]
        emb = C[Xb]
        embcat = emb.view(emb.shape[0], -1)
        hprebn = embcat @ W1 + b1
        bnmean = hprebn.mean(0, keepdim=True)
        bnvar = hprebn.var(0, keepdim=True, unbiased=True)
        bnvar_inv = (bnvar + 1e-5) ** -0.5
        bnraw = (hprebn - bnmean) * bnvar_inv
        hpreact = bngain * bnraw + bnbias
        h = torch.tanh(hpreact)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Yb)
        dlogits = F.softmax(logits, 1)
        dlogits[range(n), Yb] -= 1
        dlogits /= n
        dh = dlogits @ W2.T
        dW2 = h.T @ dlogits
        db2 = dlogits.sum(0)
        dhpreact = (1.0 - h**2) * dh
        dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
        dbnbias = dhpreact.sum(0, keepdim=True)
        dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))
        dembcat = dhprebn @ W1.T
        dW1 = embcat.T @ dhprebn
        db1 = dhprebn.sum(0)
        demb = dembcat.view(emb.shape)
        dC = torch.zeros_like(C)
        for k in range(Xb.shape[0]):
            for j in range(Xb.shape[1]):
                dC[Xb[k, j]] += demb[k, j]
        for p, grad in zip(parameters, [dC, dW1, db1, dW2, db2, dbngain, dbnbias]):
            p.data += -lr * grad
        return loss

    with torch.no_grad():
        for _ in range(100):  # warm-up
            step()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        dt = time.perf_counter() - t0
    print(f"notebook step (PyTorch {torch.__version__}, 1 thread): {1e6 * dt / a.steps:.0f} us/step over {a.steps} steps")


if __name__ == "__main__":
    main()
