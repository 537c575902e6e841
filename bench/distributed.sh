#!/usr/bin/env bash
# Figures of data-parallel training (train --distributed; bench/results/distributed/README.md):
#   bash bench/distributed.sh scaling   # time: 1 process x 2 threads vs mpirun -np 1 x 2 threads vs mpirun -np 2 x 1 thread
#   bash bench/distributed.sh bytes     # bytes all-reduced per step, dense vs RigL 90 % ERK, 784-300-100-10 and 784-4096x3-10
#   bash bench/distributed.sh plots     # SVG figures from the CSV files
# Run "scaling" under /work/bin/quiet (or on an otherwise idle machine). Results go to bench/results/distributed/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT_DIR:-bench/results/distributed}
mkdir -p "$out"
cli=src/SparseKernels.Cli/bin/Release/net10.0/SparseKernels.Cli.dll
mpirun_=(mpirun --oversubscribe --allow-run-as-root --bind-to none)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# epoch_s of the last epoch (the first one includes JIT warm-up) from a metrics.jsonl
last_epoch_s() { python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['epoch_s'])" "$1"; }

scaling() {
  local csv=$out/scaling.csv
  echo "model,method,setup,ranks,threads_per_rank,epoch_s,step_ms,gradient_sum_ms_per_step,test_acc" > "$csv"
  local common=(--layers 784-300-100-10 --epochs 2 --batch-size 128 --test-limit 2000 --seed 1)
  for method in dense rigl; do
    local m=(); [ "$method" = rigl ] && m=(--method rigl --sparsity 0.9 --distribution erk)
    for setup in "plain 1 2" "mpi 1 2" "mpi 2 1"; do
      read -r kind ranks threads <<< "$setup"
      local dir=$tmp/$method-$kind-$ranks
      local log=$out/scaling-$method-$kind-${ranks}x$threads.log
      if [ "$kind" = plain ]; then
        NO_COLOR=1 dotnet "$cli" train "${common[@]}" "${m[@]}" --threads "$threads" -o "$dir" > "$log" 2>&1
      else
        NO_COLOR=1 "${mpirun_[@]}" -np "$ranks" dotnet "$cli" train --distributed "${common[@]}" "${m[@]}" --threads "$threads" -o "$dir" > "$log" 2>&1
      fi
      local es; es=$(last_epoch_s "$dir/metrics.jsonl")
      local sm; sm=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['step_ms'])" "$dir/metrics.jsonl")
      local acc; acc=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['test_acc'])" "$dir/metrics.jsonl")
      local gs; gs=$(grep -oE 'gradient sum [0-9.]+ ms/step' "$log" | grep -oE '[0-9.]+' || echo "")
      echo "784-300-100-10,$method,$kind,$ranks,$threads,$es,$sm,$gs,$acc" | tee -a "$csv"
    done
  done
}

bytes() {
  local csv=$out/bytes.csv
  echo "model,method,gradient_values_per_step,gradient_bytes_per_step,growth_score_bytes_per_update,mask_updates" > "$csv"
  for model in 784-300-100-10 784-4096-4096-4096-10; do
    for method in dense rigl; do
      local m=(); [ "$method" = rigl ] && m=(--method rigl --sparsity 0.9 --distribution erk --update-every 1 --end-fraction 1)
      local log=$out/bytes-$method-$model.log
      NO_COLOR=1 "${mpirun_[@]}" -np 2 dotnet "$cli" train --distributed --layers "$model" "${m[@]}" --epochs 1 --train-limit 256 \
        --batch-size 128 --test-limit 100 --threads 1 > "$log" 2>&1
      local vals; vals=$(grep -oE '[0-9,]+ gradient values' "$log" | grep -oE '^[0-9,]+' | tr -d ,)
      local scores; scores=$(grep -oE '[0-9,]+ bytes of growth scores' "$log" | grep -oE '^[0-9,]+' | tr -d ,)
      local updates; updates=$(grep -oE 'mask updates [0-9]+' "$log" | grep -oE '[0-9]+$')
      local per=0; [ "$updates" -gt 0 ] && per=$((scores / updates))
      echo "$model,$method,$vals,$((vals * 4)),$per,$updates" | tee -a "$csv"
    done
  done
}

plots() {
  python3 - "$out" <<'EOF'
import csv, sys, os
out = sys.argv[1]
def bars(path, title, unit, groups, series, values, fmt):
    # groups x series bar chart as a plain SVG (no plotting library on the machine)
    W, H, left, bottom, top = 760, 380, 70, 60, 40
    vmax = max(v for row in values for v in row) * 1.15
    gw = (W - left - 20) / len(groups); bw = gw * 0.7 / len(series)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>', f'<text x="{W/2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
         f'<line x1="{left}" y1="{H-bottom}" x2="{W-20}" y2="{H-bottom}" stroke="black"/>',
         f'<line x1="{left}" y1="{top}" x2="{left}" y2="{H-bottom}" stroke="black"/>',
         f'<text x="16" y="{(H-bottom+top)/2}" transform="rotate(-90 16 {(H-bottom+top)/2})" text-anchor="middle">{unit}</text>']
    for gi, g in enumerate(groups):
        x0 = left + gi * gw + gw * 0.15
        for si, name in enumerate(series):
            v = values[gi][si]; h = (H - bottom - top) * v / vmax; x = x0 + si * bw
            s.append(f'<rect x="{x:.1f}" y="{H-bottom-h:.1f}" width="{bw*0.92:.1f}" height="{h:.1f}" fill="{colors[si % 4]}"/>')
            s.append(f'<text x="{x+bw*0.46:.1f}" y="{H-bottom-h-4:.1f}" text-anchor="middle" font-size="11">{fmt(v)}</text>')
        s.append(f'<text x="{left+gi*gw+gw/2:.1f}" y="{H-bottom+18}" text-anchor="middle">{g}</text>')
    for si, name in enumerate(series):
        s.append(f'<rect x="{left+10+si*230}" y="{H-22}" width="12" height="12" fill="{colors[si % 4]}"/>')
        s.append(f'<text x="{left+27+si*230}" y="{H-12}">{name}</text>')
    s.append('</svg>')
    open(path, "w").write("\n".join(s))
if os.path.exists(f"{out}/scaling.csv"):
    rows = list(csv.DictReader(open(f"{out}/scaling.csv")))
    setups = [("plain", "1"), ("mpi", "1"), ("mpi", "2")]
    names = ["1 process x 2 threads", "mpirun -np 1 x 2 threads", "mpirun -np 2 x 1 thread"]
    groups = ["dense", "RigL 90 % ERK"]
    vals = [[float(next(r for r in rows if r["method"] == m and (r["setup"], r["ranks"]) == st)["step_ms"]) for st in setups] for m in ["dense", "rigl"]]
    bars(f"{out}/scaling.svg", "784-300-100-10, global batch 128: ms per training step (2 cores)", "ms per step", groups, names, vals, lambda v: f"{v:.2f}")
if os.path.exists(f"{out}/bytes.csv"):
    rows = list(csv.DictReader(open(f"{out}/bytes.csv")))
    models = ["784-300-100-10", "784-4096-4096-4096-10"]
    vals = [[int(next(r for r in rows if r["model"] == mo and r["method"] == me)["gradient_bytes_per_step"]) / 2**20 for me in ["dense", "rigl"]] for mo in models]
    bars(f"{out}/bytes.svg", "gradient bytes all-reduced per step and rank (MiB)", "MiB per step", models, ["dense", "RigL 90 % ERK (nnz values only)"], vals, lambda v: f"{v:.2f}")
EOF
}

case "${1:-}" in
  scaling) scaling ;;
  bytes) bytes ;;
  plots) plots ;;
  *) echo "usage: bash bench/distributed.sh scaling|bytes|plots" >&2; exit 2 ;;
esac
