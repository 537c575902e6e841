#!/usr/bin/env bash
# Builds libsparsekernels.so, the engine as a native library with a C ABI (src/SparseKernels.CAbi/sparsekernels.h), by
# NativeAOT (`dotnet publish -r linux-x64`; the SDK fetches the ILCompiler package from NuGet; clang-14 links), into
# build/cabi/, and copies it with the header into the Python package (src/python/sparsekernels/). The NuGet package
# SparseKernels picks it up from build/cabi/ (runtimes/linux-x64/native/) when it exists.
# Two builds of the same code: libsparsekernels.so for x86-64-v3 (AVX2 + FMA; the baseline every consumer can load) and
# libsparsekernels_avx512.so for x86-64-v4 (AVX-512 F/BW/CD/DQ/VL: NativeAOT fixes the instruction set at compile time
# and does not dispatch to AVX-512 at run time, so the layer kernels' Vector512 panels exist only in this build). The
# Python package loads the AVX-512 build where /proc/cpuinfo lists those flags (_lib.py), else the baseline. The
# baseline is checked to hold no AVX-512 instruction (objdump), so it runs on AVX2-only machines.
# Usage: tests/cabi.sh [--if-stale]   (--if-stale: do nothing when the .so is newer than every engine/ABI source)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$root/build/cabi
so=$out/libsparsekernels.so
pkg=$root/src/python/sparsekernels
log() { printf '[cabi] %s\n' "$*" >&2; }
so512=$out/libsparsekernels_avx512.so
if [ "${1:-}" = --if-stale ] && [ -f "$so" ] && [ -f "$pkg/libsparsekernels.so" ] && [ -f "$so512" ] \
    && [ -f "$pkg/libsparsekernels_avx512.so" ]; then
  newer=$(find src/SparseKernels src/SparseKernels.CAbi src/SparseKernels.TorchSharp/CsrLinear.cs native/SparseKernels.Native \
    Directory.Build.props \
    \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' \) -newer "$so" -not -path '*/obj/*' -not -path '*/bin/*' | head -n 1)
  if [ -z "$newer" ]; then log "up to date: $so"; exit 0; fi
  log "rebuilding ($newer changed)"
fi
start=$(date +%s)
dotnet publish src/SparseKernels.CAbi -c Release -r linux-x64 -o "$out/publish" -nologo -v q -warnaserror -clp:ErrorsOnly
# the AVX-512 build: its own ILC intermediate folder (the compiler's object is not rebuilt when only the instruction set
# changes)
dotnet publish src/SparseKernels.CAbi -c Release -r linux-x64 -o "$out/publish-avx512" -nologo -v q -warnaserror \
  -clp:ErrorsOnly -p:IlcInstructionSet=x86-64-v4 -p:NativeIntermediateOutputPath=obj/Release/net10.0/linux-x64/native-avx512/
cp "$out/publish/libsparsekernels.so" "$so"
cp "$out/publish-avx512/libsparsekernels.so" "$so512"
# AVX-512 instructions use zmm registers, xmm/ymm 16-31 or opmasks {k1-k7}: none may be in the baseline, some must be in
# the AVX-512 build
evex='zmm|[xy]mm(1[6-9]|2[0-9]|3[01])|\{k[1-7]\}'
if command -v objdump >/dev/null; then
  n=$(objdump -d --no-show-raw-insn "$so" | grep -cE "$evex" || true)
  if [ "$n" -ne 0 ]; then log "FAILED: $so (x86-64-v3) holds $n AVX-512 instructions"; exit 1; fi
  n=$(objdump -d --no-show-raw-insn "$so512" | grep -cE "$evex" || true)
  if [ "$n" -eq 0 ]; then log "FAILED: $so512 holds no AVX-512 instruction (built for x86-64-v3?)"; exit 1; fi
  log "instruction sets checked: no AVX-512 instruction in $(basename "$so"), $n in $(basename "$so512")"
else
  log "objdump missing: instruction sets of the two builds not checked"
fi
cp "$so" "$so512" src/SparseKernels.CAbi/sparsekernels.h "$pkg/"
log "built $so ($(( $(stat -c %s "$so") / 1024 )) KiB) and $so512 in $(( $(date +%s) - start )) s; copied into $pkg"
