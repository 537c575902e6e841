#!/usr/bin/env bash
# The MPI tests (tests/SparseKernels.Tests/Distributed, NUnit category Mpi): `train --distributed` under
# `mpirun --oversubscribe --allow-run-as-root -np 2` against one process (static, SET, RigL; resume on another rank
# count), a killed rank, bad launches. Needs Open MPI (openmpi-bin; tests/setup.sh installs it) and a build of the
# tests. Prints, alone on its last line, "N passed, N failed, N skipped"; ~70 s on 2 cores.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
config=${SK_CONFIGURATION:-Release}
if ! command -v mpirun >/dev/null 2>&1; then
  echo "mpi tests: mpirun not found (apt-get install openmpi-bin libopenmpi-dev, or run tests/setup.sh)"
  echo "0 passed, 1 failed, 0 skipped"; exit 1
fi
out=$(mktemp)
SPARSEKERNELS_MPI_TESTS=1 dotnet tests/SparseKernels.Tests/bin/$config/net10.0/SparseKernels.Tests.dll --no-progress --output detailed \
  --filter "TestCategory=Mpi" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
num() { grep -E "^\s*$1:\s*[0-9]+" "$out" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
passed=$(num succeeded); failed=$(num failed); skipped=$(num skipped)
rm -f "$out"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
