"""Where the time of sparsekernels.SparseLinear's forward + backward goes (the layer benchmark's sparse side, batch 128):
the kernels alone (sk_linear_forward + sk_linear_backward through ctypes on preallocated buffers) against the whole
layer step (layer(x).backward(gy): autograd.Function, workspaces, ctypes, bias-free), median ms.

Usage: python3 bench/pytorch/layer_profile.py [--threads 2] [--batch 128] [--reps 50] [--shapes 256x512,...]
       [--sparsities 0.8,0.99]
"""
import argparse
import ctypes
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "python"))
import sparsekernels as sk  # noqa: E402
from sparsekernels import _lib, nn as sknn  # noqa: E402


def median_ms(fn, reps, warm_s=0.2):
    t_end = time.perf_counter() + warm_s
    fn()
    while time.perf_counter() < t_end:
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def profile(out_f, in_f, sparsity, batch, reps, threads):
    g = torch.Generator().manual_seed(out_f + in_f)
    layer = sk.SparseLinear(in_f, out_f, density=1 - sparsity, bias=False, generator=g, threads=threads)
    x = torch.randn(batch, in_f, generator=g, requires_grad=True)
    gy = torch.randn(batch, out_f, generator=g)
    plan = sknn._plan_for(layer)
    xd = x.detach()
    v = layer.values.detach()
    y, xt, yt = torch.empty(batch, out_f), torch.empty(in_f, batch), torch.empty(out_f, batch)
    tv, gx, gv = torch.empty(layer.nnz), torch.empty(batch, in_f), torch.empty(layer.nnz)
    dyt, dxt = torch.empty(out_f, batch), torch.empty(in_f, batch)
    f, b = _lib.lib.sk_linear_forward, _lib.lib.sk_linear_backward
    h = plan.handle.value
    p = {k: t.data_ptr() for k, t in dict(x=xd, v=v, y=y, xt=xt, yt=yt, tv=tv, gx=gx, gv=gv, dyt=dyt, dxt=dxt, gy=gy).items()}

    def kfwd():
        f(h, p["x"], batch, p["v"], p["y"], p["xt"], p["yt"], p["tv"])

    def kbwd():
        b(h, p["gy"], out_f, 1, batch, p["xt"], p["tv"], p["gx"], p["gv"], p["dyt"], p["dxt"])

    def step():
        x.grad = None
        layer.values.grad = None
        layer(x).backward(gy)

    def fwd_nograd():
        with torch.no_grad():
            layer(x)

    kf, kb = median_ms(kfwd, reps), median_ms(kbwd, reps)
    st, fw = median_ms(step, reps), median_ms(fwd_nograd, reps)
    return kf, kb, st, fw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--shapes", default="256x512,1024x1024,4096x4096")
    ap.add_argument("--sparsities", default="0.8,0.9,0.95,0.98,0.99")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"{sk.version()} ({os.path.basename(_lib.loaded_path)}), {a.threads} threads, batch {a.batch}; median ms")
    print("| layer | sparsity | kernels fwd | kernels bwd | kernels sum | layer fwd+bwd | overhead | layer fwd (no_grad) |")
    print("|---|---|---|---|---|---|---|---|")
    for s in a.shapes.split(","):
        o, i = (int(v) for v in s.split("x"))
        for sp in (float(v) for v in a.sparsities.split(",")):
            kf, kb, st, fw = profile(o, i, sp, a.batch, a.reps if o * i < 4096 * 4096 else max(5, a.reps // 10), a.threads)
            print(f"| {o}x{i} | {sp:.0%} | {kf:.3f} | {kb:.3f} | {kf + kb:.3f} | {st:.3f} | {st - kf - kb:+.3f} | {fw:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
