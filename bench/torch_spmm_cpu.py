#!/usr/bin/env python3
"""PyTorch's CPU CSR matmul on the DLMC set, N = 256, 2 threads: the baseline of the CPU SpMM target.

Same matrices as SpmmCsrCpuBenchmarks (every .smtx under $SPARSEKERNELS_DATA/dlmc or ../shared/dlmc, same
short names), random values in [-1, -0.05] U [0.05, 1] (never zero), B dense K x 256 fp32. Each product
(torch.sparse_csr_tensor @ dense) is run 3 times to warm up, then timed REPEATS times; the median is reported.
GFLOP/s counts 2*nnz*N. If our BenchmarkDotNet report (bench/results/cpu/SparseKernels.Bench.SpmmCsrCpuBenchmarks-
report.csv) exists, it is set beside (ours / torch per matrix and the geometric means).

Usage: /usr/bin/python3 bench/torch_spmm_cpu.py [--out bench/results/cpu/torch_spmm_cpu.md]
(Debian's python3-torch.)
"""
import argparse, csv, math, os, statistics, sys, time
import numpy as np
import torch

LAYERS = {
    "body_encoder_layer_0_ffn_conv1_fully_connected": "ffn1",
    "body_encoder_layer_0_ffn_conv2_fully_connected": "ffn2",
    "body_encoder_layer_0_self_attention_multihead_attention_q_fully_connected": "q",
    "bottleneck_2_block_group3_1_1": "b2g3",
    "bottleneck_3_block_group4_1_1": "b3g4",
    "final_dense": "fc",
}
REPEATS = 20
N = 256


def dlmc_root(repo):
    data = os.environ.get("SPARSEKERNELS_DATA")
    if data and os.path.isdir(os.path.join(data, "dlmc")):
        return os.path.join(data, "dlmc")
    return os.path.abspath(os.path.join(repo, "..", "shared", "dlmc"))


def short_name(rel):
    parts = rel.split("/")
    model = "tf" if parts[0] == "transformer" else parts[0]
    layer = os.path.splitext(parts[-1])[0]
    return f"{model} {parts[-2]} {LAYERS.get(layer, layer)}"


def read_smtx(path):
    with open(path) as f:
        rows, cols, nnz = (int(x) for x in f.readline().replace(",", " ").split())
        offsets = np.array(f.readline().split(), dtype=np.int64)
        columns = np.array(f.readline().split(), dtype=np.int64) if nnz else np.zeros(0, np.int64)
    return rows, cols, nnz, offsets, columns


def ours(repo):
    path = os.path.join(repo, "bench", "results", "cpu", "SparseKernels.Bench.SpmmCsrCpuBenchmarks-report.csv")
    if not os.path.exists(path):
        return {}
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                out[row["Matrix"]] = float(row["GFLOP/s"])
            except (KeyError, ValueError):
                pass
    return out


def main():
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(repo, "bench", "results", "cpu", "torch_spmm_cpu.md"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    root = dlmc_root(repo)
    files = sorted(os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
                   for d, _, fs in os.walk(root) for f in fs if f.endswith(".smtx"))
    if not files:
        sys.exit(f"no .smtx files under {root}")
    rng = np.random.default_rng(42)
    mine = ours(repo)
    lines = [f"# PyTorch CPU CSR matmul vs CpuBackend SpMM, DLMC, N = {N}, 2 threads",
             "", f"torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}, "
             f"median of {REPEATS} after 3 warm-ups; ours from SpmmCsrCpuBenchmarks-report.csv (BenchmarkDotNet mean)", "",
             "| matrix | rows x cols | nnz | torch ms | torch GFLOP/s | ours GFLOP/s | ours / torch |",
             "|---|---|---|---:|---:|---:|---:|"]
    tg, og, ratios = [], [], []
    for rel in files:
        rows, cols, nnz, offsets, columns = read_smtx(os.path.join(root, rel))
        mag = 0.05 + 0.95 * rng.random(nnz, dtype=np.float32)
        vals = np.where(rng.integers(0, 2, nnz) == 0, -mag, mag).astype(np.float32)
        a = torch.sparse_csr_tensor(torch.from_numpy(offsets), torch.from_numpy(columns), torch.from_numpy(vals),
                                    size=(rows, cols), dtype=torch.float32)
        b = torch.from_numpy((rng.random((cols, N), dtype=np.float32) * 1.9 - 0.95))
        for _ in range(3):
            c = a @ b
        times = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            c = a @ b
            times.append(time.perf_counter() - t0)
        t = statistics.median(times)
        gflops = 2.0 * nnz * N / t / 1e9
        name = short_name(rel)
        tg.append(gflops)
        o = mine.get(name)
        if o is not None:
            og.append(o)
            ratios.append(o / gflops)
        lines.append(f"| {name} | {rows} x {cols} | {nnz} | {t * 1e3:.3f} | {gflops:.2f} | "
                     f"{'-' if o is None else f'{o:.2f}'} | {'-' if o is None else f'{o / gflops:.2f}'} |")
    geo = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")
    lines += ["", f"Geometric mean over {len(tg)} matrices: torch {geo(tg):.2f} GFLOP/s"
              + (f"; ours {geo(og):.2f} GFLOP/s over {len(og)}; ours / torch {geo(ratios):.2f}x" if og else "; ours: no report found")]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
