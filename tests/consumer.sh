#!/usr/bin/env bash
# Packs SparseKernels.Native, SparseKernels and SparseKernels.TorchSharp (one version) into a local folder feed, then
# restores, builds and runs tests/SparseKernels.Consumer from a copy in a clean temporary folder (outside the
# repository, PackageReference only, its own global packages folder so nothing stale is used; the machine's global
# folder is only a read-only fallback for third-party packages such as TorchSharp-cpu).
# Checks the package contents first: a package missing a file fails. Exit 0 when everything passed.
# Usage: tests/consumer.sh [dlmc.smtx]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
config=${SK_CONFIGURATION:-Release}
smtx=${1:-$(cd "$root/.." && pwd)/shared/dlmc/rn50/magnitude_pruning/0.98/final_dense.smtx}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
feed=$work/feed
log() { printf '[consumer] %s\n' "$*" >&2; }

log "packing into $feed"
for p in native/SparseKernels.Native src/SparseKernels src/SparseKernels.TorchSharp; do
  dotnet pack "$p" -c "$config" -o "$feed" -v q -nologo -warnaserror >/dev/null
done
version=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' Directory.Build.props)

# what each package must hold
need() { # package file...
  local pkg=$feed/$1.$version.nupkg; shift
  [ -f "$pkg" ] || { log "missing package $pkg"; exit 1; }
  local list; list=$(unzip -Z1 "$pkg")
  for f in "$@"; do grep -qxF "$f" <<<"$list" || { log "package $(basename "$pkg") lacks $f"; exit 1; }; done
}
need SparseKernels.Native lib/net10.0/SparseKernels.Native.dll README.md
need SparseKernels lib/net10.0/SparseKernels.dll runtimes/linux-x64/native/libsparsekernels_emu.so README.md
# the C ABI library (tests/cabi.sh) when it was built
if [ -f build/cabi/libsparsekernels.so ]; then need SparseKernels runtimes/linux-x64/native/libsparsekernels.so; fi
need SparseKernels.TorchSharp lib/net10.0/SparseKernels.TorchSharp.dll README.md
for p in SparseKernels.Native SparseKernels SparseKernels.TorchSharp; do
  [ -f "$feed/$p.$version.snupkg" ] || { log "missing symbols package $p.$version.snupkg"; exit 1; }
done
log "packages complete (version $version)"

app=$work/app
mkdir -p "$app"
cp tests/SparseKernels.Consumer/SparseKernels.Consumer.csproj tests/SparseKernels.Consumer/Program.cs "$app/"
fallback=${NUGET_PACKAGES:-$HOME/.nuget/packages}
cat > "$app/nuget.config" <<CFG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config><add key="globalPackagesFolder" value="$work/packages" /></config>
  <packageSources><add key="sparsekernels-local" value="$feed" /></packageSources>
  <fallbackPackageFolders><add key="machine" value="$fallback" /></fallbackPackageFolders>
</configuration>
CFG
log "restoring and building the consumer in $app"
( cd "$app" && env -u NUGET_PACKAGES dotnet build -c Release -v q -nologo -p:SparseKernelsVersion="$version" >"$work/build.log" 2>&1 ) || { tail -n 30 "$work/build.log"; exit 1; }
[ -f "$work/packages/sparsekernels/$version/sparsekernels.nuspec" ] || { log "SparseKernels was not restored from the local feed"; exit 1; }
dll=$app/bin/Release/net10.0/SparseKernels.Consumer.dll
"$(bash tests/torch-runtime.sh dotnet)" "$dll" "$smtx"
