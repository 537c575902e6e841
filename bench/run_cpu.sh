#!/usr/bin/env bash
# The CPU benchmark set and the PyTorch baseline in one run (the CPU SpMM target), results in bench/results/cpu/.
#   bash bench/run_cpu.sh            # DLMC N=256 target set + CpuBackend vs CpuReference subset, then torch
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/SparseKernels.Bench -c Release -v q -nologo
dotnet bench/SparseKernels.Bench/bin/Release/net10.0/SparseKernels.Bench.dll --inprocess --job short --suite cpu \
  --filter '*SpmmCsrCpuBenchmarks*' '*SpmmCsrCpuVsReferenceBenchmarks*' "$@"
/usr/bin/python3 bench/torch_spmm_cpu.py
