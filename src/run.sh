#!/usr/bin/env bash
# Sets up (tests/setup.sh) and runs the main job: `train` with no arguments, dense vs RigL 90 % ERK on Fashion-MNIST,
# one table and one plot (runs/main-<time>/main.png). Arguments go to the command-line program instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh
dll=src/SparseKernels.Cli/bin/${SK_CONFIGURATION:-Release}/net10.0/SparseKernels.Cli.dll
if [ $# -eq 0 ]; then set -- train; fi
exec dotnet "$dll" "$@"
