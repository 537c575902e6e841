#!/usr/bin/env bash
# The issue-7 results grid behind docs/results.md, in the order it was run (about 2 hours on 2 CPU cores).
# Each line is one `train results` sub-grid; finished runs are kept in docs/results.runs.jsonl and skipped on a rerun,
# so an interrupted grid resumes where it stopped. Needs a Release build of the CLI and the Fashion-MNIST files
# (bash tests/setup.sh does both).
# Issue 13 changed SET and RigL (mask updates also at t = 0 and T_end; SET steps before its mask update): their rows were
# taken out of results.runs.jsonl (kept in results.superseded.runs.jsonl) and re-run with --methods set,rigl over the
# configurations of lines 1, 3 and 5 below (small model) and 2 and 7 (wide model).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd); cd "$root"
cli=src/SparseKernels.Cli/bin/Release/net10.0/SparseKernels.Cli.dll
R() { dotnet "$cli" train results --threads 2 -o docs/results.md "$@"; }
S="784-300-100-10"; W="784-1024-1024-10"
R --models $S --methods dense,static,set,rigl,snip,gmp --sparsities 0.8,0.9,0.95,0.98 --distributions erk --seeds 3 --epochs 10
R --models $W --methods dense,static,set,rigl,snip,gmp --sparsities 0.8,0.9,0.95,0.98 --distributions erk --seeds 3 --epochs 3
R --models $S --methods static,set,rigl,snip,gmp --sparsities 0.8,0.9,0.95,0.98 --distributions uniform --seeds 3 --epochs 10
R --models $S --methods imp,kd-ticket --sparsities 0.8,0.9,0.95,0.98 --seeds 3 --epochs 3 --imp-levels 5
R --models $S --methods dense,static,set,rigl,snip,gmp --sparsities 0.9 --distributions erk --seeds 3 --epochs 20
R --models $W --methods imp,kd-ticket --sparsities 0.9,0.98 --seeds 1 --epochs 3 --imp-levels 5
R --models $W --methods static,set,rigl,snip,gmp --sparsities 0.8,0.9,0.95,0.98 --distributions uniform --seeds 3 --epochs 3
R --models $W --methods imp,kd-ticket --sparsities 0.8,0.95 --seeds 1 --epochs 3 --imp-levels 5
# Issue 18: the LeNet-5 rows are 20-epoch runs of bench/cnn/accuracy.sh (resumed slices, one thread each), imported with
# `train results --import` (checked against their configuration) by:
bash bench/cnn/import_results.sh
