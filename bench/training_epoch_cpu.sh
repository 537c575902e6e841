#!/usr/bin/env bash
# One CPU epoch (2 threads, batch 128) of the 784-300-100-10 MLP: PyTorch dense, ours dense, ours 90 % sparse,
# back to back in one run (REPEAT rounds, default 3). Writes bench/results/training/epoch-cpu.jsonl.
# Needs: a Release build of the CLI (dotnet build src/SparseKernels.Cli -c Release), python3-torch and OpenBLAS as
# the system BLAS (apt-get install libopenblas0-pthread; without it Debian's torch uses the reference BLAS, ~20x slower).
set -euo pipefail
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2
root=$(cd "$(dirname "$0")/.." && pwd); cd "$root"
out=bench/results/training/epoch-cpu.jsonl; : > "$out"
cli=src/SparseKernels.Cli/bin/Release/net10.0/SparseKernels.Cli.dll
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for r in $(seq "${REPEAT:-3}"); do
  /usr/bin/python3 bench/torch_mlp_epoch.py --threads 2 --epochs 1 | sed "s/^{/{\"run\": \"torch-dense\", \"round\": $r, /" >> "$out"
  for sp in 0 0.9; do
    rm -rf "$tmp/r"
    dotnet "$cli" train --layers 784-300-100-10 --sparsity $sp --epochs 1 --threads 2 -o "$tmp/r" > /dev/null
    sed "s/^{/{\"run\": \"ours-sparsity-$sp\", \"round\": $r, /" "$tmp/r/metrics.jsonl" >> "$out"
  done
done
cat "$out"
