"""One sparse linear layer, forward + backward (dx and dW), batch 128, against PyTorch in the same process and run:
sparsekernels.SparseLinear vs torch.nn.Linear (dense), dense-with-mask (F.linear(x, w * mask), the usual way to simulate
sparsity) and torch.sparse CSR matmul (W as a sparse CSR tensor with requires_grad on its values; y = (W @ x^T)^T).

Usage: python3 bench/pytorch/layer_bench.py [--threads 2] [--batch 128] [--reps 15] [--out results.md]
Prints a Markdown table (median ms per fwd+bwd over reps after a warm-up of 2 calls and 0.2 s, speed-ups of SparseLinear
over each peer). --shapes 256x512 and --sparsities 0.95,0.99 run a subset.
"""
import argparse
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "python"))
import sparsekernels as sk  # noqa: E402

SHAPES = [(256, 512), (1024, 1024), (4096, 4096)]   # (out, in)
SPARSITIES = [0.80, 0.90, 0.95, 0.98, 0.99]


def timeit(fn, reps, warm=2, warm_s=0.2, budget_s=5.0):
    # warm-up: at least `warm` calls and warm_s seconds (pooled workspaces, caches, thread pools settle), every peer alike
    t_end = time.perf_counter() + warm_s
    for _ in range(warm):
        fn()
    while time.perf_counter() < t_end:
        fn()
    times = []
    start = time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s and len(times) >= 3:
            break
    return statistics.median(times) * 1e3


def bench_shape(out_f, in_f, sparsity, batch, reps, threads):
    g = torch.Generator().manual_seed(out_f + in_f)
    layer = sk.SparseLinear(in_f, out_f, density=1 - sparsity, bias=False, generator=g, threads=threads)
    w_dense = layer.to_dense()
    mask = layer.mask()
    x = torch.randn(batch, in_f, generator=g, requires_grad=True)
    gy = torch.randn(batch, out_f, generator=g)

    def run_sk():
        x.grad = None
        layer.values.grad = None
        layer(x).backward(gy)

    lin = torch.nn.Linear(in_f, out_f, bias=False)
    with torch.no_grad():
        lin.weight.copy_(w_dense)

    def run_dense():
        x.grad = None
        lin.weight.grad = None
        lin(x).backward(gy)

    w_param = torch.nn.Parameter(w_dense.clone())

    def run_masked():
        x.grad = None
        w_param.grad = None
        F.linear(x, w_param * mask).backward(gy)

    crow, col = layer.row_offsets.long(), layer.column_indices.long()
    vals = torch.nn.Parameter(layer.values.detach().clone())

    def run_torch_sparse():
        x.grad = None
        vals.grad = None
        w = torch.sparse_csr_tensor(crow, col, vals, (out_f, in_f))
        y = (w @ x.t()).t()
        y.backward(gy)

    # agreement check first (so the timings compare equal computations)
    run_sk()
    ref_y = x.detach() @ w_dense.t()
    err = (layer(x).detach() - ref_y).abs().max().item()
    row = {"shape": f"{out_f}x{in_f}", "sparsity": sparsity, "nnz": layer.nnz, "max_err": err,
           "sparsekernels": timeit(run_sk, reps), "dense": timeit(run_dense, reps), "masked": timeit(run_masked, reps)}
    try:
        run_torch_sparse()
        row["torch_sparse"] = timeit(run_torch_sparse, reps)
    except (RuntimeError, NotImplementedError) as e:
        row["torch_sparse"] = float("nan")
        row["torch_sparse_error"] = str(e).splitlines()[0][:120]
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--out", default=None)
    ap.add_argument("--shapes", default=None, help="e.g. 256x512,1024x1024 (out x in)")
    ap.add_argument("--sparsities", default=None, help="e.g. 0.95,0.99")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    shapes = SHAPES if not a.shapes else [tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",")]
    lines = [f"torch {torch.__version__} ({torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, 'cpu') else ''}), "
             f"{sk.version()} ({os.path.basename(sk._lib.loaded_path)}, {a.threads} threads), batch {a.batch}, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores; median ms of forward + backward (dx, dW); speed-up = peer / sparsekernels", "",
             "| layer (out x in) | sparsity | nnz | sparsekernels ms | nn.Linear ms | dense+mask ms | torch.sparse CSR ms | vs nn.Linear | vs dense+mask | vs torch.sparse | max err |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for (o, i) in shapes:
        for s in (SPARSITIES if not a.sparsities else [float(v) for v in a.sparsities.split(",")]):
            r = bench_shape(o, i, s, a.batch, a.reps, a.threads)
            sk_ms = r["sparsekernels"]
            line = (f"| {r['shape']} | {s:.0%} | {r['nnz']} | {sk_ms:.3f} | {r['dense']:.3f} | {r['masked']:.3f} | "
                    f"{r['torch_sparse']:.3f} | {r['dense'] / sk_ms:.2f}x | {r['masked'] / sk_ms:.2f}x | "
                    f"{r['torch_sparse'] / sk_ms:.2f}x | {r['max_err']:.1e} |")
            lines.append(line)
            print(line, flush=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
