#!/usr/bin/env bash
# bench/cnn/accuracy.sh OUT NAME [train options...] - one LeNet-5 accuracy run of issue 18's protocol, in slices:
# each slice is `train ... -o OUT/NAME` under /work/bin/cpu (when present), stopped by SIGINT after $SLICE_S seconds
# (default 540: the run checkpoints the step it is at and exits 130; timeout says 124), then resumed (--resume) until it finishes;
# on the CPU the result is bit-identical to one uninterrupted run. CLI: $SK_CLI (default: the Release build).
# Example: bash bench/cnn/accuracy.sh runs dense-s1 --epochs 20 --seed 1 --threads 1
set -u
out=$1; name=$2; shift 2
cli=${SK_CLI:-dotnet src/SparseKernels.Cli/bin/Release/net10.0/SparseKernels.Cli.dll}
gate=""; [ -x /work/bin/cpu ] && gate=/work/bin/cpu
dir=$out/$name; mkdir -p "$out"
echo "$cli train --model lenet5 $* -o $dir" > "$out/$name.cmd"
while :; do
  resume=""; [ -f "$dir/checkpoint.bin" ] && resume="--resume"
  $gate timeout -s INT "${SLICE_S:-540}" nice -n 10 $cli train --model lenet5 "$@" -o "$dir" $resume >> "$out/$name.log" 2>&1
  rc=$?
  echo "slice rc=$rc $(date -u +%FT%TZ)" >> "$out/$name.log"
  [ $rc -eq 130 ] || [ $rc -eq 124 ] && continue
  exit $rc
done
