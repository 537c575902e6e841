#!/usr/bin/env bash
# bench/cnn/speed.sh OUT CLI_DLL: one epoch of LeNet-5 on Fashion-MNIST (60,000 images, batch 128, 2 threads), PyTorch
# dense, ours dense, ours RigL 90 % ERK (first layer dense), ours static 90 %; metrics.jsonl's epoch_s is the training
# time of the epoch (no evaluation), as the PyTorch script's.
set -uo pipefail
out=$1; cli=${2:-src/SparseKernels.Cli/bin/Release/net10.0/SparseKernels.Cli.dll}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
export OMP_WAIT_POLICY=PASSIVE
{ echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load $(cut -d' ' -f1-3 /proc/loadavg)"; date -u; } > "$out/machine.txt"
/usr/bin/python3 "$here/lenet5_torch.py" --epochs 1 --threads 2 > "$out/torch.jsonl" 2> "$out/torch.err"
for run in "dense|" "rigl90|--method rigl --sparsity 0.9" "static90|--method static --sparsity 0.9"; do
  name=${run%%|*}; args=${run#*|}
  rm -rf "$out/$name"
  dotnet "$cli" train --model lenet5 --epochs 1 --threads 2 --test-limit 1000 --output "$out/$name" $args > "$out/$name.log" 2>&1
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
