#!/usr/bin/env bash
# Sets up (tests/setup.sh) and runs the main job. Arguments go to the command-line program.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh
dll=src/SparseKernels.Cli/bin/${SK_CONFIGURATION:-Release}/net10.0/SparseKernels.Cli.dll
if [ $# -eq 0 ]; then set -- train; fi
exec dotnet "$dll" "$@"
