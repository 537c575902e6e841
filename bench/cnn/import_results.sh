#!/usr/bin/env bash
# bench/cnn/import_results.sh [RUNS_DIR] - adds every finished LeNet-5 run of issue 18's protocol (bench/cnn/accuracy.sh)
# to docs/results.runs.jsonl with `train results --import`, then redraws docs/results.md with the grid's own command.
# Each run's key (model|method|distribution|sparsity|seed|epochs) is read from its NAME.cmd; the import checks the
# folder's epochs and its nonzeros per layer against that configuration, and skips runs already in the runs file.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd); cd "$root"
runs=${1:-bench/results/cnn/accuracy-protocol-2026-12-02}
cli=${SK_CLI:-dotnet src/SparseKernels.Cli/bin/Release/net10.0/SparseKernels.Cli.dll}
arg() { { grep -o -- "$1 [^ ]*" "$2" || true; } | head -1 | cut -d' ' -f2; }
imports=()
for cmd in "$runs"/*.cmd; do
  name=$(basename "$cmd" .cmd); dir=$runs/$name
  epochs=$(arg --epochs "$cmd"); [ -f "$dir/metrics.jsonl" ] || continue
  [ "$(wc -l < "$dir/metrics.jsonl")" -eq "$epochs" ] || { echo "skip $name: not finished"; continue; }
  method=$(arg --method "$cmd"); method=${method:-dense}
  sparsity=$(arg --sparsity "$cmd"); seed=$(arg --seed "$cmd")
  if [ "$method" = dense ]; then dist=-; sparsity=0; else dist=$(arg --distribution "$cmd"); dist=${dist:-erk}; fi
  key="lenet5|$method|$dist|$sparsity|$seed|$epochs"
  grep -qF "\"Source\":\"$dir\"" docs/results.runs.jsonl 2>/dev/null && continue
  imports+=(--import "$key=$dir")
done
[ ${#imports[@]} -eq 0 ] || $cli train results -o docs/results.md "${imports[@]}"
# redraw with the grid's own command line in the header
$cli train results --models "784-300-100-10;784-1024-1024-10" --methods dense,static,set,rigl,snip,gmp,imp,kd-ticket \
  --sparsities 0.8,0.9,0.95,0.98 --distributions erk,uniform --seeds 3 --epochs 10 --imp-levels 5 --render-only
