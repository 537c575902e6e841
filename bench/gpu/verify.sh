#!/usr/bin/env bash
# The GPU verification run: one prepared command for the lent GPU machine.
#
#   bash bench/gpu/verify.sh pack              here (no GPU): builds the kernels and the .NET programs and bundles them
#                                              (.NET runtime, SparseKernels.Tests with the CLI beside it, SparseKernels.Bench,
#                                              ../shared/dlmc, Fashion-MNIST's test set + the first SK_TRAIN_SUBSET training
#                                              images) into .gpu/bundle.tar.xz; prints its size (must stay < 56 MiB)
#   bash bench/gpu/verify.sh run               on the GPU machine, beside the tree and its .gpu/ (device tool: carry [".gpu"]):
#                                              every stage under its own timeout, all within SK_VERIFY_TOTAL s (default 470)
#   bash bench/gpu/verify.sh run --rehearse    here and in CI: the same script end to end on the emulated device with tiny
#                                              sizes, from the local Release build (bash tests/setup.sh), no bundle needed
#
# Reports: every stage writes $OUT/<nn>-<stage>.log as it ends, the bench stages their <stage>.md / .csv / .summary.md
# (rewritten after every case, so a killed stage still returns what finished), the Gpu tests a TRX; $OUT/summary.md is
# written last and printed last (short: pass/fail per stage, the key figures against the targets, failures' first lines).
# OUT defaults to a new temporary folder. Exit status: 0 when every stage passed (or is not available), else 1; 2 bad usage.
set -uo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "verify.sh: $*" >&2; exit 2; }

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in
  pack|run) ;;
  -h|--help|help) usage; exit 0 ;;
  "") usage >&2; die "say what to do: pack or run [--rehearse]" ;;
  *) usage >&2; die "unknown command '$mode': use pack or run [--rehearse]" ;;
esac

# --------------------------------------------------------------------------------------------------------------- pack
if [ "$mode" = pack ]; then
  [ $# -eq 0 ] || die "pack takes no options (got: $*)"
  command -v dotnet >/dev/null || die "pack needs the .NET SDK (dotnet) on this machine"
  command -v xz >/dev/null || die "pack needs xz"
  dlmc=$(cd "$root/.." && pwd)/shared/dlmc
  [ -d "$dlmc" ] || die "no DLMC matrices at $dlmc (../shared/dlmc beside the repository)"
  fm=${SK_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
  [ -f "$fm/t10k-images-idx3-ubyte.gz" ] || die "no Fashion-MNIST in $fm (apt-get install dataset-fashion-mnist, or set SK_FASHION_MNIST)"
  subset=${SK_TRAIN_SUBSET:-20000}
  case "$subset" in ''|*[!0-9]*) die "SK_TRAIN_SUBSET='$subset' is not a number of training images" ;; esac

  echo "pack: building the kernels (CMake, nvcc) and the emulator" >&2
  cxx=clang++-14; command -v $cxx >/dev/null 2>&1 || cxx=clang++
  cmake -S . -B build -DCMAKE_CXX_COMPILER=$cxx -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake configure failed"
  cmake --build build -j"$(nproc)" >/dev/null || die "the native build failed (cmake --build build)"
  ls build/kernels/*.fatbin >/dev/null 2>&1 || die "no kernel images in build/kernels: is nvcc installed? (the GPU run needs them)"

  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  mkdir -p "$stage/dotnet/shared" "$stage/app" "$stage/data"
  cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$stage/dotnet/"
  cp -a "$dotnet_root/shared/Microsoft.NETCore.App" "$stage/dotnet/shared/"
  # The tests carry the CLI (SparseKernels.Cli.dll with its runtimeconfig and deps, for the CLI tests): the training
  # stage runs it from there, so the CLI is not published twice.
  for dir in tests/SparseKernels.Tests bench/SparseKernels.Bench; do
    name=$(basename "$dir")
    echo "pack: publishing $dir (Release, linux-x64, framework-dependent)" >&2
    dotnet publish "$dir" -c Release -r linux-x64 --self-contained false -p:InvariantGlobalization=true \
      -p:UseAppHost=false -o "$stage/app/$name" -v quiet -nologo >&2 || die "dotnet publish $dir failed"
  done
  # Not needed on a Linux GPU run: BenchmarkDotNet's disassembler (capstone) and its Windows-only diagnostics natives.
  rm -rf "$stage/app/SparseKernels.Bench/libcapstone.so" "$stage/app/SparseKernels.Bench"/{amd64,x86,arm64,arm}
  # Files the two programs share (the engine, the emulator, ...) are stored once: hard links, which tar keeps.
  (cd "$stage/app" && for f in SparseKernels.Bench/*; do
     g=SparseKernels.Tests/${f#SparseKernels.Bench/}
     [ -f "$f" ] && [ -f "$g" ] && cmp -s "$f" "$g" && ln -f "$g" "$f"
   done)
  cp -a "$dlmc" "$stage/data/dlmc"
  # Fashion-MNIST: the whole test set, and the first $subset training images (IDX, gzip, as FashionMnist.Load reads).
  mkdir -p "$stage/data/fashion-mnist"
  cp "$fm"/t10k-images-idx3-ubyte.gz "$fm"/t10k-labels-idx1-ubyte.gz "$stage/data/fashion-mnist/"
  be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
  { printf '\x00\x00\x08\x03'; be32 "$subset"; be32 28; be32 28; zcat "$fm/train-images-idx3-ubyte.gz" | tail -c +17 | head -c $((subset * 784)); } \
    | gzip -9 > "$stage/data/fashion-mnist/train-images-idx3-ubyte.gz"
  { printf '\x00\x00\x08\x01'; be32 "$subset"; zcat "$fm/train-labels-idx1-ubyte.gz" | tail -c +9 | head -c "$subset"; } \
    | gzip -9 > "$stage/data/fashion-mnist/train-labels-idx1-ubyte.gz"
  echo "$subset" > "$stage/data/fashion-mnist/SUBSET"

  rm -rf .gpu && mkdir .gpu
  echo "pack: compressing (xz)" >&2
  tar -C "$stage" -cf - dotnet app data | xz -T0 -9 > .gpu/bundle.tar.xz || die "tar | xz failed"
  cp "$root/../shared/gpu/device.sh" .gpu/device.sh 2>/dev/null || true   # the shared one-program runner, for ad-hoc runs
  { echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')";
    echo "packed $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"; echo "training subset $subset images"; } > .gpu/commit.txt
  bytes=$(stat -c %s .gpu/bundle.tar.xz)
  mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
  echo "pack: .gpu/bundle.tar.xz is ${mib} MiB ($bytes bytes): programs $(ls "$stage/app" | tr '\n' ' ')data: $(ls "$stage/data" | tr '\n' ' ')(Fashion-MNIST: test set + $subset training images)"
  if [ "$bytes" -ge $((56 * 1048576)) ]; then
    echo "pack: the bundle is ${mib} MiB, over the 56 MiB limit (the tree and the bundle travel together, 64 MiB at most): pack less (SK_TRAIN_SUBSET)" >&2
    exit 1
  fi
  echo "pack: next, on the GPU machine (device tool, carry [\".gpu\"]): bash bench/gpu/verify.sh run"
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------- run
rehearse=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rehearse) rehearse=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1' for run (use --rehearse)" ;;
  esac
done
start=$SECONDS
total=${SK_VERIFY_TOTAL:-470}
case "$total" in ''|*[!0-9]*) die "SK_VERIFY_TOTAL='$total' is not a number of seconds" ;; esac
deadline=$((start + total))

if [ -z "${OUT:-}" ]; then OUT=$(mktemp -d "${TMPDIR:-/tmp}/sk-verify.XXXXXX"); fi
mkdir -p "$OUT" 2>/dev/null || die "cannot create the output folder OUT='$OUT'"
( : > "$OUT/.write-test" ) 2>/dev/null && rm -f "$OUT/.write-test" || die "cannot write to the output folder OUT='$OUT' (permissions?)"
OUT=$(cd "$OUT" && pwd)
export OUT

if [ $rehearse = 1 ]; then
  command -v dotnet >/dev/null || die "--rehearse needs dotnet (the local Release build: bash tests/setup.sh)"
  DOTNET=$(command -v dotnet)
  TESTS=$root/tests/SparseKernels.Tests/bin/Release/net10.0
  BENCH=$root/bench/SparseKernels.Bench/bin/Release/net10.0
  CLI=$root/src/SparseKernels.Cli/bin/Release/net10.0
  for f in "$TESTS/SparseKernels.Tests.dll" "$BENCH/SparseKernels.Bench.dll" "$CLI/SparseKernels.Cli.dll"; do
    [ -f "$f" ] || die "--rehearse: $f is missing: build first (bash tests/setup.sh)"
  done
  data=$(mktemp -d "${TMPDIR:-/tmp}/sk-verify-data.XXXXXX")
  trap 'rm -rf "$data"' EXIT
  dlmc=$(cd "$root/.." && pwd)/shared/dlmc
  [ -d "$dlmc" ] && ln -s "$dlmc" "$data/dlmc"
  fm=${SK_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
  [ -d "$fm" ] && ln -s "$fm" "$data/fashion-mnist"
  export SPARSEKERNELS_DATA=$data SPARSEKERNELS_DEVICE=emulated SPARSEKERNELS_REQUIRE_DEVICE=1
  commit="$(git rev-parse HEAD 2>/dev/null || echo unknown) (rehearsal)"
else
  bundle=$root/.gpu/bundle.tar.xz
  [ -f "$bundle" ] || die "no bundle at $bundle: run 'bash bench/gpu/verify.sh pack' on the build machine first and carry .gpu with the tree"
  unpacked=${SK_BUNDLE_DIR:-/tmp/sparsekernels-bundle}
  if [ ! -f "$unpacked/.stamp" ] || [ "$bundle" -nt "$unpacked/.stamp" ]; then
    rm -rf "$unpacked" && mkdir -p "$unpacked" || die "cannot create $unpacked"
    tar -C "$unpacked" -xJf "$bundle" || die "cannot unpack $bundle"
    touch "$unpacked/.stamp"
  fi
  export DOTNET_ROOT="$unpacked/dotnet" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
  export SPARSEKERNELS_DATA="$unpacked/data"
  DOTNET=$unpacked/dotnet/dotnet
  TESTS=$unpacked/app/SparseKernels.Tests
  BENCH=$unpacked/app/SparseKernels.Bench
  CLI=$TESTS; [ -f "$unpacked/app/SparseKernels.Cli/SparseKernels.Cli.dll" ] && CLI=$unpacked/app/SparseKernels.Cli
  commit=$(head -n 1 "$root/.gpu/commit.txt" 2>/dev/null | sed 's/^commit //' || echo unknown)
  # the Gpu tests must run on the GPU: a CUDA device that does not open fails them (never a quiet emulated run)
  export SPARSEKERNELS_DEVICE=cuda SPARSEKERNELS_REQUIRE_DEVICE=1
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "verify.sh: $( [ $rehearse = 1 ] && echo 'REHEARSAL (emulated device, tiny sizes)' || echo 'GPU run'), commit $commit, reports in $OUT, hard stop after ${total} s"

bench() { (cd "$BENCH" && "$DOTNET" exec "$BENCH/SparseKernels.Bench.dll" "$@"); }
cli() { (cd "$OUT" && "$DOTNET" exec "$CLI/SparseKernels.Cli.dll" "$@"); }

status_file=$OUT/stages.tsv
: > "$status_file"
n=0
# stage NAME BUDGET_SECONDS FUNCTION: runs FUNCTION (given its own time limit in $limit) under timeout, output to
# $OUT/<nn>-NAME.log; records "name<TAB>status<TAB>seconds" (passed, FAILED (rc), TIMED OUT, not available, skipped).
stage() {
  local name=$1 budget=$2 fn=$3
  n=$((n + 1))
  local nn; nn=$(printf %02d $n)
  local log=$OUT/$nn-$name.log
  local left=$((deadline - SECONDS - 5))
  limit=$budget; [ $left -lt $limit ] && limit=$left
  if [ $limit -lt 5 ]; then
    printf '%s\tskipped (no time left)\t0\n' "$name" >> "$status_file"
    echo "verify.sh: $name skipped: no time left" > "$log"
    return
  fi
  echo "verify.sh: stage $nn $name (limit ${limit} s)"
  local t0=$SECONDS
  export limit
  timeout -k 5 "$limit" bash -c "$(declare -f); $fn" > "$log" 2>&1
  local rc=$?
  local took=$((SECONDS - t0)) st
  case $rc in
    0) st=passed ;;
    124|137) st="TIMED OUT after ${limit} s" ;;
    3) if grep -q "unknown stage" "$log"; then st="not available"; else st="FAILED (exit 3)"; fi ;;
    *) st="FAILED (exit $rc)" ;;
  esac
  printf '%s\t%s\t%s\n' "$name" "$st" "$took" >> "$status_file"
  echo "verify.sh: stage $nn $name: $st in ${took} s"
}
export DOTNET BENCH TESTS CLI rehearse

# ------------------------------------------------------------------------------------------------------------ stages
env_stage() {
  echo "## nvidia-smi"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 || echo "nvidia-smi: not available"
  echo "## ldconfig -p (CUDA libraries)"
  ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libcublas(Lt)?\.so|libcusparse\.so|libnvJitLink\.so' || echo "(none in the loader cache)"
  echo "## /usr/local/cuda*"
  ls -d /usr/local/cuda* 2>/dev/null || echo "(none)"
  echo "## folders holding cuBLAS / cuSPARSE (CUDA installs, Python site-packages/nvidia/*/lib)"
  for d in /usr/local/cuda*/lib64 /usr/local/cuda*/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu \
           /usr/lib/python3*/site-packages/nvidia/*/lib /usr/lib/python3/dist-packages/nvidia/*/lib \
           /usr/local/lib/python3*/dist-packages/nvidia/*/lib /usr/local/lib/python3*/site-packages/nvidia/*/lib \
           "$HOME"/.local/lib/python3*/site-packages/nvidia/*/lib /opt/conda/lib/python3*/site-packages/nvidia/*/lib; do
    [ -d "$d" ] || continue
    ls "$d" 2>/dev/null | grep -E '^lib(cublas|cublasLt|cusparse|nvJitLink)\.so\.[0-9]+$' | sed "s#^#found $d/#"
  done
  command -v python3 >/dev/null && python3 -c 'import site, sys; print("python", sys.version.split()[0], "site-packages:", *site.getsitepackages())' 2>&1
  echo "## SparseKernels.Bench verify env"
  bench verify env --out "$OUT" $( [ "$rehearse" = 1 ] && echo --rehearse ); local rc=$?
  echo "## SparseKernels.Cli info"
  cli info || echo "info failed: exit $?"
  return $rc
}

tests_stage() {
  local filter="TestCategory=Gpu"
  # rehearsal: a small subset (the device tests, which skip without CUDA, SpMM, SDDMM and the device-vs-CPU training
  # test) so CI stays fast; tests/run.sh runs the whole Gpu category on the emulated device anyway
  [ "$rehearse" = 1 ] && filter="TestCategory=Gpu&(FullyQualifiedName~CudaDeviceTests|FullyQualifiedName~SpmmCsrTests|FullyQualifiedName~SddmmCsrTests|FullyQualifiedName~TrainingOnTheDeviceMatchesTheCpu)"
  (cd "$TESTS" && "$DOTNET" exec "$TESTS/SparseKernels.Tests.dll" --no-progress --no-ansi --output detailed --filter "$filter" \
     --report-trx --report-trx-filename gpu-tests.trx --results-directory "$OUT" --timeout "$((limit - 3))s")
}

bench_stage() { bench verify "$1" --out "$OUT" --budget "$((limit - 3))" $( [ "$rehearse" = 1 ] && echo --rehearse ); }
roofline_stage() { bench_stage roofline; }
spmm_stage() { bench_stage spmm; }
sddmm_stage() { bench_stage sddmm; }
topology_stage() { bench_stage topology; }
training_step_stage() { bench_stage training-step; }

training_stage() {
  # The main job's models (784-300-100-10, batch 128, SGD, cosine, seed 1), dense and RigL 90 % ERK, one epoch of the
  # packed training subset, on the device and on the CPU: the accuracies must agree.
  local devs="cuda cpu" extra=()
  [ "$rehearse" = 1 ] && { devs="emulated cpu"; extra=(--train-limit 256 --test-limit 256); }
  local fm=$SPARSEKERNELS_DATA/fashion-mnist rc=0
  [ -f "$fm/train-images-idx3-ubyte.gz" ] || { echo "no Fashion-MNIST at $fm"; return 1; }
  for model in dense:dense rigl90:rigl; do
    for dev in $devs; do
      echo "## train ${model%%:*} on $dev"
      local method=()
      [ "${model#*:}" = rigl ] && method=(--method rigl --sparsity 0.9 --distribution erk)
      cli train --layers 784-300-100-10 "${method[@]}" --epochs 1 --device "$dev" --data "$fm" \
        --output "$OUT/train/${model%%:*}-$dev" "${extra[@]}" || { echo "train ${model%%:*} on $dev failed: exit $?"; rc=1; }
    done
  done
  rm -f "$OUT"/train/*/checkpoint.bin   # not worth bringing back
  return $rc
}

stage env 15 env_stage
# The engine finds CUDA's libraries on its own (NativeLibraries.SearchFolders); should it miss cuBLAS or cuSPARSE that
# the shell found, the later stages get those folders through SPARSEKERNELS_CUDA_LIB_DIR (and the summary says so).
libfallback=""
if [ $rehearse = 0 ] && grep -qE '^(cuBLAS|cuSPARSE)=missing' "$OUT/env.libs" 2>/dev/null; then
  dirs=$(grep -h '^found /' "$OUT"/*-env.log 2>/dev/null | sed 's#^found \(.*\)/[^/]*$#\1#' | awk '!seen[$0]++' | paste -sd: -)
  if [ -n "$dirs" ]; then
    export SPARSEKERNELS_CUDA_LIB_DIR=$dirs
    libfallback="the engine's own search missed cuBLAS/cuSPARSE; later stages ran with SPARSEKERNELS_CUDA_LIB_DIR=$dirs"
    echo "verify.sh: $libfallback"
  fi
fi
stage gpu-tests 150 tests_stage
stage roofline 10 roofline_stage
stage spmm 60 spmm_stage
stage sddmm 50 sddmm_stage
stage topology 45 topology_stage
stage training-step 60 training_step_stage   # the 784-4096-4096-4096-10 step profile (dense vs RigL 90 % ERK)
stage training 60 training_stage

# ----------------------------------------------------------------------------------------------------------- summary
json_num() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$1" | tail -n 1; }
{
  echo "# GPU verification $( [ $rehearse = 1 ] && echo '(REHEARSAL: emulated device, tiny sizes; the figures mean nothing)')"
  echo
  gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
  echo "commit $commit; GPU ${gpu:-none (nvidia-smi)}; $(date -u +%Y-%m-%dT%H:%M:%SZ); total $((SECONDS - start)) s of ${total} s; reports in $OUT"
  echo
  [ -n "$libfallback" ] && { echo "NOTE: $libfallback"; echo; }
  echo "| stage | status | s |"
  echo "| --- | --- | --- |"
  while IFS=$'\t' read -r name st took; do echo "| $name | $st | $took |"; done < "$status_file"
  echo
  for f in env roofline spmm sddmm topology training-step; do
    [ -f "$OUT/$f.summary.md" ] && cat "$OUT/$f.summary.md"
  done
  tl=$(ls "$OUT"/*-gpu-tests.log 2>/dev/null | head -n 1)
  if [ -n "$tl" ]; then
    num() { grep -E "^\s*$1:\s*[0-9]+" "$tl" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
    echo "- **gpu-tests**: $(num succeeded) passed, $(num failed) failed, $(num skipped) skipped"
    grep -E '^\s*failed ' "$tl" | head -n 8 | sed 's/^\s*/  - /'
  fi
  if [ -d "$OUT/train" ]; then
    echo "- **training** (784-300-100-10, 1 epoch, batch 128; test accuracy, train loss, epoch s):"
    for model in dense rigl90; do
      line="  - $model:"
      accs=()
      for d in "$OUT"/train/$model-*; do
        [ -f "$d/metrics.jsonl" ] || { line="$line ${d##*-} no metrics;"; continue; }
        acc=$(json_num "$d/metrics.jsonl" test_acc); loss=$(json_num "$d/metrics.jsonl" train_loss); es=$(json_num "$d/metrics.jsonl" epoch_s)
        accs+=("$acc")
        line="$line ${d##*-} $(awk -v a="$acc" 'BEGIN { printf "%.2f %%", 100 * a }') / $(awk -v l="$loss" 'BEGIN { printf "%.4f", l }') / ${es} s;"
      done
      if [ ${#accs[@]} -eq 2 ]; then
        line="$line $(awk -v a="${accs[0]}" -v b="${accs[1]}" 'BEGIN { d = 100 * (a - b); if (d < 0) d = -d; printf "device vs CPU: %.2f points [%s <= 1]", d, d <= 1 ? "AGREE" : "DIFFER" }')"
      fi
      echo "$line"
    done
  fi
  failed_stages=$(awk -F'\t' '$2 !~ /^(passed|not available)$/ { print $1 }' "$status_file")
  for s in $failed_stages; do
    # a bench stage that ended on its own has said why in its summary lines above
    grep -qP "^\Q$s\E\tFAILED" "$status_file" && [ -f "$OUT/$s.summary.md" ] && continue
    log=$(ls "$OUT"/*-"$s".log 2>/dev/null | head -n 1)
    [ -n "$log" ] || continue
    echo "- $s failed; first error lines of $(basename "$log"):"
    grep -m 5 -iE 'error|fail|exception|wrong' "$log" | cut -c1-240 | sed 's/^/    /'
  done
} > "$OUT/summary.md"
head -c 9500 "$OUT/summary.md"
echo
bad=$(awk -F'\t' '$2 !~ /^(passed|not available)$/' "$status_file" | wc -l)
[ "$bad" -eq 0 ]
