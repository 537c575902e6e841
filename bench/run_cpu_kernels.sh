#!/usr/bin/env bash
# Issue 16's CPU kernel figures in one script: BenchmarkDotNet (CpuKernelsBenchmarks: SpMM, transposed SpMM, SDDMM
# Into forms on DLMC + the stress set, N = 64/256, 2 threads; the dense crossover; the fixed cost), then PyTorch 1.13
# on the same matrices (bench/torch_cpu_kernels.py), results in bench/results/cpu-v2/. Each timing step runs under
# /work/bin/quiet when it exists (the shared machine's gate), one op per step so that each stays a few minutes.
#   bash bench/run_cpu_kernels.sh [step...]     steps: spmm spmmt sddmm crossover fixed torch (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results/cpu-v2
stress=${SK_STRESS_DIR:-/tmp/sk-stress}
quiet=""; [ -x /work/bin/quiet ] && quiet=/work/bin/quiet
dll=bench/SparseKernels.Bench/bin/Release/net10.0/SparseKernels.Bench.dll
dotnet build bench/SparseKernels.Bench -c Release -v q -nologo
dotnet "$dll" write-stress "$stress" > /dev/null
steps=("$@"); [ ${#steps[@]} -eq 0 ] && steps=(spmm spmmt sddmm crossover fixed torch)
bdn() { $quiet dotnet "$dll" --suite cpu-v2 --filter "$@"; }
for s in "${steps[@]}"; do
  case $s in
    spmm) bdn '*CpuSpmmBenchmarks*' ;;
    spmmt) bdn '*CpuSpmmTransposedBenchmarks*' ;;
    sddmm) bdn '*CpuSddmmBenchmarks*' ;;
    crossover) bdn '*CpuDenseCrossoverBenchmarks*' ;;
    fixed) bdn '*CpuFixedCostBenchmarks*' ;;
    torch) $quiet /usr/bin/python3 bench/torch_cpu_kernels.py --stress "$stress" --ours "$out" ;;
    *) echo "unknown step $s"; exit 2 ;;
  esac
done
