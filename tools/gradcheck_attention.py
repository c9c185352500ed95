#!/usr/bin/env python3
"""Times torch.autograd.gradcheck on the attention function, the baseline of bpn::gradcheck's time.

What it measures: one call of torch.autograd.gradcheck, slow mode (fast_mode=False), on
    a = tanh(q k^T),  o = a v            q, k, v: [32, 16] float64, requiring grad
written as a torch.autograd.Function with the same hand-derived backward as the C++ one:
    g_x = (g_a + g_o v^T) * (1 - a^2),  g_q = g_x k,  g_k = g_x^T q,  g_v = a^T g_o
with the checks that bpn::gradcheck also runs turned on (check_undefined_grad, check_grad_dtypes,
nondet_tol 0) and those it cannot run in C++ turned off (check_batched_grad, check_forward_ad), at
bpn::gradcheck's tolerances (eps 1e-6, atol 1e-8, rtol 1e-5). Slow mode is the full Jacobian: two
forwards per input element (3 x 512) and two backwards per output element (1024 + 512, the second
for the reentrancy check), so the time does not depend on the input values.
It prints the minimum over --repeat calls, in seconds, on --threads intra-op threads (default 1).

Compared with: BM_GradcheckAttentionSlow in bench/ (bpn::gradcheck on the same function and shapes,
FastMode::kOff; auto mode would pick fast mode here, as 1536 x 1536 Jacobian entries > 65536).

usage: python3 tools/gradcheck_attention.py [--repeat 3] [--threads 1]
       (needs python3-torch: the Debian 13 root has 2.6)
"""
import argparse
import time

import torch


class Attention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v):
        Attention.forwards += 1
        a = torch.tanh(q @ k.t())
        o = a @ v
        ctx.save_for_backward(q, k, v, a)
        return o, a

    @staticmethod
    def backward(ctx, g_o, g_a):  # undefined output gradients arrive as zeros (materialize_grads)
        Attention.backwards += 1
        q, k, v, a = ctx.saved_tensors
        g_x = (g_a + g_o @ v.t()) * (1 - a * a)
        return g_x @ k, g_x.t() @ q, a.t() @ g_o


Attention.forwards = 0
Attention.backwards = 0


def attention(q, k, v):
    return Attention.apply(q, k, v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--repeat", type=int, default=3, help="gradcheck calls; the minimum is printed")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = ap.parse_args()
    if args.repeat < 1 or args.threads < 1:
        ap.error("--repeat and --threads must be at least 1")
    torch.set_num_threads(args.threads)

    shape = (32, 16)
    g = torch.Generator().manual_seed(0)
    # 0.5 randn, as examples/attention_function (tanh not saturated); the time does not depend on it
    q, k, v = ((0.5 * torch.randn(shape, generator=g, dtype=torch.float64)).requires_grad_()
               for _ in range(3))

    options = dict(
        eps=1e-6,
        atol=1e-8,
        rtol=1e-5,
        raise_exception=True,
        nondet_tol=0.0,
        check_undefined_grad=True,
        check_grad_dtypes=True,
        check_batched_grad=False,
        check_batched_forward_grad=False,
        check_forward_ad=False,
        check_backward_ad=True,
        fast_mode=False,
    )

    times = []
    for _ in range(args.repeat):
        Attention.forwards = Attention.backwards = 0
        t0 = time.perf_counter()
        ok = torch.autograd.gradcheck(attention, (q, k, v), **options)
        times.append(time.perf_counter() - t0)
        if not ok:  # raise_exception=True: a mismatch raises before this
            raise SystemExit("gradcheck returned False")

    print(f"torch.autograd.gradcheck attention [{shape[0]}, {shape[1]}] float64 slow: "
          f"{min(times):.3f} s (min of {args.repeat}); torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''}")
    print(f"per call: {Attention.forwards} forwards, {Attention.backwards} backwards of Attention; "
          f"all runs (s): {' '.join(f'{t:.3f}' for t in times)}")


if __name__ == "__main__":
    main()
