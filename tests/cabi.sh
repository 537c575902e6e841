#!/usr/bin/env bash
# Builds libsparsekernels.so, the engine as a native library with a C ABI (src/SparseKernels.CAbi/sparsekernels.h), by
# NativeAOT (`dotnet publish -r linux-x64`; the SDK fetches the ILCompiler package from NuGet; clang-14 links), into
# build/cabi/, and copies it with the header into the Python package (src/python/sparsekernels/). The NuGet package
# SparseKernels picks it up from build/cabi/ (runtimes/linux-x64/native/) when it exists.
# Usage: tests/cabi.sh [--if-stale]   (--if-stale: do nothing when the .so is newer than every engine/ABI source)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$root/build/cabi
so=$out/libsparsekernels.so
pkg=$root/src/python/sparsekernels
log() { printf '[cabi] %s\n' "$*" >&2; }
if [ "${1:-}" = --if-stale ] && [ -f "$so" ] && [ -f "$pkg/libsparsekernels.so" ]; then
  newer=$(find src/SparseKernels src/SparseKernels.CAbi src/SparseKernels.TorchSharp/CsrLinear.cs native/SparseKernels.Native \
    Directory.Build.props \
    \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' \) -newer "$so" -not -path '*/obj/*' -not -path '*/bin/*' | head -n 1)
  if [ -z "$newer" ]; then log "up to date: $so"; exit 0; fi
  log "rebuilding ($newer changed)"
fi
start=$(date +%s)
dotnet publish src/SparseKernels.CAbi -c Release -r linux-x64 -o "$out/publish" -nologo -v q -warnaserror -clp:ErrorsOnly
cp "$out/publish/libsparsekernels.so" "$so"
cp "$so" src/SparseKernels.CAbi/sparsekernels.h "$pkg/"
log "built $so ($(( $(stat -c %s "$so") / 1024 )) KiB) in $(( $(date +%s) - start )) s; copied into $pkg"
