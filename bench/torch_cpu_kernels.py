#!/usr/bin/env python3
"""PyTorch 1.13 CPU peers of issue 16's kernels, on the matrices of CpuKernelsBenchmarks, 2 threads, N = 64 and 256:

  SpMM             torch.sparse_csr_tensor @ dense                 (C = A.B)
  transposed SpMM  A.t() @ dense (a CSC view of the CSR tensor)    (C = A^T.B)
  SDDMM            torch.sparse.sampled_addmm(A, X, Y^T, beta=0)   (values at A's pattern)

Matrices: every .smtx under $SPARSEKERNELS_DATA/dlmc or ../shared/dlmc (same short names as BenchData) and the
stress set written by `SparseKernels.Bench.dll write-stress DIR` (--stress DIR). Each product is run 3 times to
warm up, then timed for at least 0.2 s (at least 5 calls); the MEAN is reported (as BenchmarkDotNet's mean). GFLOP/s
counts 2*nnz*N. Then the BenchmarkDotNet reports of CpuKernelsBenchmarks (one CSV per op, --ours DIR) are set beside:
ours / torch per matrix and the geometric means, for DLMC and the stress set apart.

Usage: /usr/bin/python3 bench/torch_cpu_kernels.py --stress DIR --ours bench/results/cpu-v2 [--out FILE]
"""
import argparse, csv, glob, math, os, sys, time
import numpy as np
import torch

# the DLMC reading and naming shared with the SpMM-only comparison beside this file
from torch_spmm_cpu import dlmc_root, read_smtx, short_name

OPS = ["SpmmCsr", "SpmmCsrTransposed", "SddmmCsr"]


def mean_time(fn):
    for _ in range(3):
        fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        el = time.perf_counter() - t0
        if el >= 0.2 and n >= 5:
            return el / n


def ours(folder):
    """{(op, matrix, N): GFLOP/s} from the BenchmarkDotNet CSV report of CpuKernelsBenchmarks."""
    out = {}
    for path in glob.glob(os.path.join(folder, "*Cpu*Benchmarks-report.csv")):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                try:
                    out[(row["Method"], row["Matrix"], int(row["N"]))] = float(row["GFLOP/s"])
                except (KeyError, ValueError):
                    pass
    return out


def geo(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def main():
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--stress", required=True)
    ap.add_argument("--ours", default=os.path.join(repo, "bench", "results", "cpu-v2"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out_path = args.out or os.path.join(args.ours, "torch_cpu_kernels.md")
    torch.set_num_threads(2)
    root = dlmc_root(repo)
    mats = [(short_name(os.path.relpath(p, root).replace(os.sep, "/")), p, "dlmc")
            for p in sorted(glob.glob(os.path.join(root, "**", "*.smtx"), recursive=True))]
    mats += [(os.path.basename(p)[:-5].replace("_", " "), p, "stress")
             for p in sorted(glob.glob(os.path.join(args.stress, "*.smtx")))]
    if not mats:
        sys.exit(f"no .smtx files under {root} or {args.stress}")
    rng = np.random.default_rng(42)
    mine = ours(args.ours)
    rows_out = []
    for name, path, kind in mats:
        rows, cols, nnz, offsets, columns = read_smtx(path)
        mag = 0.05 + 0.95 * rng.random(nnz, dtype=np.float32)
        vals = np.where(rng.integers(0, 2, nnz) == 0, -mag, mag).astype(np.float32)
        a = torch.sparse_csr_tensor(torch.from_numpy(offsets), torch.from_numpy(columns), torch.from_numpy(vals),
                                    size=(rows, cols), dtype=torch.float32)
        at = a.t()
        for n in (64, 256):
            b = torch.rand(cols, n) * 1.9 - 0.95
            bt = torch.rand(rows, n) * 1.9 - 0.95
            x = torch.rand(rows, n) * 1.9 - 0.95
            yt = (torch.rand(cols, n) * 1.9 - 0.95).t()
            fns = {"SpmmCsr": lambda: a @ b, "SpmmCsrTransposed": lambda: at @ bt,
                   "SddmmCsr": lambda: torch.sparse.sampled_addmm(a, x, yt, beta=0.0)}
            for op in OPS:
                t = mean_time(fns[op])
                g = 2.0 * nnz * n / t / 1e9 if nnz else float("nan")
                rows_out.append((kind, name, rows, cols, nnz, n, op, t, g, mine.get((op, name, n))))
        print(f"{name}: done", flush=True)
    lines = [f"# PyTorch {torch.__version__} CPU (2 threads) vs CpuBackend Into forms, same matrices, mean times", "",
             "torch: mean over >= 0.2 s after 3 warm-ups (this script); ours: BenchmarkDotNet mean "
             "(CpuKernelsBenchmarks-report.csv in this folder). GFLOP/s = 2*nnz*N / mean.", ""]
    for kind in ("dlmc", "stress"):
        for op in OPS:
            for n in (64, 256):
                sel = [r for r in rows_out if r[0] == kind and r[6] == op and r[5] == n and r[4] > 0]
                tg = [r[8] for r in sel]
                og = [r[9] for r in sel if r[9] is not None]
                ratios = [r[9] / r[8] for r in sel if r[9] is not None]
                slower = [r[1] for r in sel if r[9] is not None and r[9] < r[8]]
                lines.append(f"- {kind} {op} N={n}: torch geomean {geo(tg):.2f} GFLOP/s; ours {geo(og):.2f} over {len(og)}; "
                             f"ours/torch geomean {geo(ratios):.2f}x, min {min(ratios) if ratios else float('nan'):.2f}x; "
                             f"slower than torch on {len(slower)}" + (f" ({', '.join(slower)})" if slower else ""))
    lines += ["", "| set | matrix | rows x cols | nnz | N | op | torch ms | torch GFLOP/s | ours GFLOP/s | ours / torch |",
              "|---|---|---|---:|---:|---|---:|---:|---:|---:|"]
    for kind, name, rows, cols, nnz, n, op, t, g, o in rows_out:
        lines.append(f"| {kind} | {name} | {rows} x {cols} | {nnz} | {n} | {op} | {t * 1e3:.3f} | {g:.2f} | "
                     f"{'-' if o is None else f'{o:.2f}'} | {'-' if o is None or not g == g else f'{o / g:.2f}'} |")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        f.write(text)
    print("\n".join(lines[:16]))


if __name__ == "__main__":
    main()
