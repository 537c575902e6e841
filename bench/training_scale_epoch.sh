#!/usr/bin/env bash
# Issue 16: one CPU epoch (2 threads, batch 128) of 784-1024-1024-10: PyTorch dense, ours dense, ours RigL 90 % ERK,
# back to back in one run (REPEAT rounds, default 2). Writes bench/results/training-scale/epoch-wide.jsonl.
# Run it alone: /work/bin/quiet bash bench/training_scale_epoch.sh (needs a Release build of the CLI, python3-torch
# and libopenblas0-pthread as the system BLAS).
set -euo pipefail
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2
root=$(cd "$(dirname "$0")/.." && pwd); cd "$root"
out=bench/results/training-scale/epoch-wide.jsonl; mkdir -p "$(dirname "$out")"; : > "$out"
cli=${CLI:-src/SparseKernels.Cli/bin/Release/net10.0/SparseKernels.Cli.dll}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for r in $(seq "${REPEAT:-2}"); do
  /usr/bin/python3 bench/torch_mlp_epoch.py --layers 784-1024-1024-10 --threads 2 --epochs 1 \
    | sed "s/^{/{\"run\": \"torch-dense\", \"round\": $r, /" >> "$out"
  rm -rf "$tmp/d"; dotnet "$cli" train --layers 784-1024-1024-10 --epochs 1 --threads 2 -o "$tmp/d" > /dev/null
  sed "s/^{/{\"run\": \"ours-dense\", \"round\": $r, /" "$tmp/d/metrics.jsonl" >> "$out"
  rm -rf "$tmp/s"; dotnet "$cli" train --layers 784-1024-1024-10 --method rigl --sparsity 0.9 --distribution erk --epochs 1 --threads 2 -o "$tmp/s" > /dev/null
  sed "s/^{/{\"run\": \"ours-rigl-90-erk\", \"round\": $r, /" "$tmp/s/metrics.jsonl" >> "$out"
done
cat "$out"
