#!/usr/bin/env bash
# Sets up (tests/setup.sh) and runs every test: the CPU tests and the Gpu category, which runs on the real GPU
# when there is one, else on the emulated device; then the TorchSharp tests (tests/SparseKernels.TorchSharp.Tests)
# and, without extra arguments, the NuGet packages with their consumer (tests/consumer.sh, one test) and the MPI tests (tests/mpi.sh). Prints, alone on its last line, "N passed, N failed, N skipped"
# and exits non-zero on any failure. Extra arguments go to the test runner (e.g. --filter ...); without them, the GPU
# verification script is rehearsed too (bash bench/gpu/verify.sh run --rehearse), each of its stages counting as one test.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
config=${SK_CONFIGURATION:-Release}
bash tests/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

# When the emulated device was built, the Gpu tests must run on it (or on a real GPU): a device that fails to
# open then fails those tests instead of skipping them.
if ls build/kernels/libsparsekernels_emu.so >/dev/null 2>&1; then export SPARSEKERNELS_REQUIRE_DEVICE=1; fi

out=$(mktemp)
dll=tests/SparseKernels.Tests/bin/$config/net10.0/SparseKernels.Tests.dll
dotnet "$dll" --no-progress --output detailed "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
num() { grep -E "^\s*$1:\s*[0-9]+" "$out" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
passed=$(num succeeded); failed=$(num failed); skipped=$(num skipped)
rm -f "$out"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi   # a crash or a run with no tests counts as a failure

# The TorchSharp tests (SparseLinear against TorchSharp itself): their own NUnit executable, run with the dotnet that
# tests/torch-runtime.sh names (on glibc < 2.38 a patched copy of the host with a private C runtime; see README).
tdll=tests/SparseKernels.TorchSharp.Tests/bin/$config/net10.0/SparseKernels.TorchSharp.Tests.dll
tdotnet=$(bash tests/torch-runtime.sh dotnet)
tout=$(mktemp)
if [ -x "$tdotnet" ] && [ -f "$tdll" ]; then
  "$tdotnet" "$tdll" --no-progress --output detailed "$@" 2>&1 | tee "$tout"
  trc=${PIPESTATUS[0]}
else
  echo "TorchSharp tests: no runtime ($tdotnet) or no test build ($tdll); run tests/setup.sh"
  trc=1
fi
tnum() { grep -E "^\s*$1:\s*[0-9]+" "$tout" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
tp=$(tnum succeeded); tf=$(tnum failed); ts=$(tnum skipped)
rm -f "$tout"
# exit code 8 = no test matched (a filter meant for the engine's tests): not a failure when arguments were given
if [ "$trc" -eq 8 ] && [ $# -gt 0 ]; then trc=0; fi
if [ "$trc" -ne 0 ] && [ "$tf" -eq 0 ]; then tf=1; fi
passed=$((passed + tp)); failed=$((failed + tf)); skipped=$((skipped + ts))
if [ "$trc" -ne 0 ]; then rc=$trc; fi

# The GPU verification script, rehearsed on the emulated device (so the script itself never fails on the GPU machine):
# each stage counts as one test (passed; "not available" = skipped; anything else failed). Skipped when extra runner
# arguments (e.g. a filter) were given.
if [ $# -eq 0 ]; then
  vout=$(mktemp -d)
  OUT=$vout bash bench/gpu/verify.sh run --rehearse > "$vout.log" 2>&1
  vrc=$?
  sed -n '/^# GPU verification/,$p' "$vout.log"
  if [ -s "$vout/stages.tsv" ]; then
    passed=$((passed + $(awk -F'\t' '$2 == "passed"' "$vout/stages.tsv" | wc -l)))
    skipped=$((skipped + $(awk -F'\t' '$2 == "not available"' "$vout/stages.tsv" | wc -l)))
    failed=$((failed + $(awk -F'\t' '$2 != "passed" && $2 != "not available"' "$vout/stages.tsv" | wc -l)))
  else
    tail -n 20 "$vout.log"
    failed=$((failed + 1))   # the script died before its first stage
  fi
  echo "verify.sh run --rehearse: exit $vrc"
  rm -rf "$vout" "$vout.log"
fi
# The C ABI and the Python package (tests/cabi.sh builds libsparsekernels.so by NativeAOT when a source is newer; then
# pytest tests/python with Debian's python3-torch): their passed/failed/skipped join the counts. Skipped when extra
# runner arguments (e.g. a filter) were given.
if [ $# -eq 0 ]; then
  py=/usr/bin/python3
  if bash tests/cabi.sh --if-stale; then
    pyout=$(mktemp)
    OMP_WAIT_POLICY=PASSIVE "$py" -m pytest -q -p no:cacheprovider tests/python 2>&1 | tee "$pyout"
    prc=${PIPESTATUS[0]}
    pcount() { grep -E '^[0-9]+ [a-z]+|(passed|failed|skipped|error)' "$pyout" | tail -n 1 | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' || echo 0; }
    pp=$(pcount passed); pf=$(pcount failed); pe=$(pcount error); ps=$(pcount skipped)
    pf=$((pf + pe))
    if [ "$prc" -ne 0 ] && [ "$pf" -eq 0 ]; then pf=1; fi   # pytest died or collected nothing
    passed=$((passed + pp)); failed=$((failed + pf)); skipped=$((skipped + ps))
    echo "python (pytest tests/python): $pp passed, $pf failed, $ps skipped"
    rm -f "$pyout"
  else
    failed=$((failed + 1)); rc=1; echo "python: tests/cabi.sh (NativeAOT build of libsparsekernels.so) FAILED"
  fi
fi
# The NuGet packages and a consumer built from them in a clean folder (tests/consumer.sh): one test. Skipped when
# extra runner arguments (e.g. a filter) were given.
if [ $# -eq 0 ]; then
  if bash tests/consumer.sh > /tmp/sk-consumer.$$.log 2>&1; then
    passed=$((passed + 1)); echo "consumer (tests/consumer.sh): passed"
  else
    failed=$((failed + 1)); rc=1; echo "consumer (tests/consumer.sh): FAILED"; tail -n 30 /tmp/sk-consumer.$$.log
  fi
  rm -f /tmp/sk-consumer.$$.log
fi
# The MPI tests (tests/mpi.sh: train --distributed under mpirun -np 2; NUnit category Mpi, which the first run above
# counted as skipped, so their number moves from skipped to their outcome). Skipped when extra runner arguments were given.
if [ $# -eq 0 ]; then
  mout=$(mktemp)
  bash tests/mpi.sh > "$mout" 2>&1
  mrc=$?
  grep -E '^(passed|failed|skipped) ' "$mout" || true
  read -r mp mf ms < <(tail -n 1 "$mout" | awk '{print $1, $3, $5}')
  mp=${mp:-0}; mf=${mf:-0}; ms=${ms:-0}
  if [ "$mrc" -ne 0 ] && [ "$mf" -eq 0 ]; then mf=1; fi
  if [ "$mf" -ne 0 ]; then tail -n 60 "$mout"; rc=1; fi
  moved=$((mp + mf + ms)); if [ "$moved" -gt "$skipped" ]; then moved=$skipped; fi
  passed=$((passed + mp)); failed=$((failed + mf)); skipped=$((skipped - moved + ms))
  echo "mpi (tests/mpi.sh): $mp passed, $mf failed, $ms skipped"
  rm -f "$mout"
fi
# Style (tests/style.sh): dotnet format and the long-line ratchet, one test each.
if [ $# -eq 0 ]; then
  sout=$(mktemp)
  bash tests/style.sh | tee "$sout"
  passed=$((passed + $(grep -c ': passed' "$sout")))
  failed=$((failed + $(grep -c ': failed' "$sout")))
  rm -f "$sout"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
