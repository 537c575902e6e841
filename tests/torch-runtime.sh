#!/usr/bin/env bash
# Prepares (idempotently) a private C runtime for TorchSharp 0.107 on systems older than glibc 2.38 (Debian 12):
# its libLibTorchSharp.so needs GLIBCXX_3.4.32 (GCC 13's libstdc++), which needs glibc >= 2.38. Nothing on the system
# is upgraded: Debian 13's libc6, libstdc++6 and libgcc-s1 are fetched with `apt-get download` (from a trixie source
# pinned at priority 1, so apt never picks it for an install or upgrade) and unpacked with `dpkg-deb -x` into
# build/torch-runtime/root; a copy of the dotnet host whose ELF interpreter (patchelf) is that folder's ld-linux, with
# the machine's host/ and shared/ beside it (symlinks), runs the TorchSharp tests with LD_LIBRARY_PATH set for that
# process only (tests/run.sh; `tests/torch-runtime.sh env` prints the variables).
# On a system with glibc >= 2.38 (Debian 13, Ubuntu 24.04) nothing is needed: the machine's dotnet is used as is.
# Usage: torch-runtime.sh [prepare|dotnet|env]   (dotnet: prints the command to run TorchSharp programs with:
# build/torch-runtime/dotnet.sh, a wrapper that sets the variables and execs the patched host)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rt=$root/build/torch-runtime
log() { printf '[torch-runtime] %s\n' "$*" >&2; }
glibc_ok() { # the machine's glibc is >= 2.38
  local v; v=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
  [ "$(printf '%s\n2.38\n' "$v" | sort -V | head -n1)" = 2.38 ]
}
sysdotnet=$(readlink -f "$(command -v dotnet)")
sysroot=$(dirname "$sysdotnet")

prepare() {
  if glibc_ok; then log "glibc >= 2.38: the machine's dotnet runs TorchSharp as is"; return 0; fi
  if [ -x "$rt/dotnet/dotnet" ] && [ -f "$rt/ok" ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  command -v patchelf >/dev/null 2>&1 || {
    log "installing patchelf"
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends patchelf >/dev/null
  }
  if [ ! -f /etc/apt/sources.list.d/sk-trixie.sources ]; then
    log "adding a trixie source pinned at priority 1 (download only; nothing is installed from it)"
    $SUDO tee /etc/apt/sources.list.d/sk-trixie.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $SUDO tee /etc/apt/preferences.d/sk-trixie >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 1
PIN
    $SUDO apt-get update -q >/dev/null
  fi
  rm -rf "$rt"; mkdir -p "$rt/debs" "$rt/root" "$rt/dotnet"
  ( cd "$rt/debs" && apt-get download -q libc6/trixie libstdc++6/trixie libgcc-s1/trixie >/dev/null 2>&1 ) || {
    $SUDO apt-get update -q >/dev/null
    ( cd "$rt/debs" && apt-get download -q libc6/trixie libstdc++6/trixie libgcc-s1/trixie >/dev/null )
  }
  for d in "$rt"/debs/*.deb; do dpkg-deb -x "$d" "$rt/root"; done
  local ld=$rt/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
  [ -e "$ld" ] || ld=$rt/root/lib64/ld-linux-x86-64.so.2
  [ -e "$ld" ] || { log "no ld-linux-x86-64.so.2 in the unpacked libc6"; exit 1; }
  cp "$sysdotnet" "$rt/dotnet/dotnet"
  patchelf --set-interpreter "$ld" "$rt/dotnet/dotnet"
  ln -s "$sysroot/host" "$rt/dotnet/host"
  ln -s "$sysroot/shared" "$rt/dotnet/shared"
  # check: the patched host starts and its libstdc++ has what TorchSharp needs
  grep -q GLIBCXX_3.4.32 "$rt/root/usr/lib/x86_64-linux-gnu/libstdc++.so.6" || { log "trixie libstdc++ lacks GLIBCXX_3.4.32"; exit 1; }
  ( eval "$(env_lines)"; "$rt/dotnet/dotnet" --list-runtimes >/dev/null ) || { log "the patched dotnet host does not start"; exit 1; }
  { echo '#!/bin/sh'; echo '# runs the patched dotnet host with the private C runtime, for this process only'; env_lines; echo "exec '$rt/dotnet/dotnet' \"\$@\""; } > "$rt/dotnet.sh"
  chmod +x "$rt/dotnet.sh"
  touch "$rt/ok"
  log "ready: $rt/dotnet/dotnet ($(ls "$rt"/debs))"
}

env_lines() {
  if glibc_ok; then return 0; fi
  echo "export DOTNET_ROOT='$rt/dotnet'"
  echo "export LD_LIBRARY_PATH='$rt/root/usr/lib/x86_64-linux-gnu'"
}

case "${1:-prepare}" in
  prepare) prepare ;;
  dotnet) if glibc_ok; then echo "$sysdotnet"; else echo "$rt/dotnet.sh"; fi ;;
  env) env_lines ;;
  *) echo "usage: $0 [prepare|dotnet|env]" >&2; exit 2 ;;
esac
