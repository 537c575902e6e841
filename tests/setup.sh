#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for SparseKernels and builds everything (idempotent):
#   1. system packages: nvcc (Debian's nvidia-cuda-toolkit, CUDA 11.8, in contrib/non-free), clang-14, cmake,
#      Fashion-MNIST (dataset-fashion-mnist), and for the C ABI + Python package: zlib1g-dev, python3-torch, python3-pytest,
#      python3-setuptools, python3-wheel, python3-pip, libopenblas0-pthread;
#      Open MPI (openmpi-bin, libopenmpi-dev: train --distributed, tests/mpi.sh);
#   2. the native build (CMake): kernels/*.cu -> PTX + fatbin (checked by ptxas), and the emulated device;
#   3. the .NET solution, warnings as errors;
#   4. the private C runtime that TorchSharp 0.107 needs on glibc < 2.38 (tests/torch-runtime.sh: trixie's libc6,
#      libstdc++6 and libgcc-s1 unpacked under build/torch-runtime, a patched copy of the dotnet host; installs patchelf).
# Environment: SK_SKIP_APT=1 skips step 1; SK_SKIP_TORCH_RUNTIME=1 skips step 4; SK_CONFIGURATION=Debug|Release (default Release).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
config=${SK_CONFIGURATION:-Release}
log() { printf '[setup] %s\n' "$*" >&2; }

need_pkgs=()
command -v nvcc >/dev/null 2>&1 || need_pkgs+=(nvidia-cuda-toolkit)
command -v clang++-14 >/dev/null 2>&1 || need_pkgs+=(clang-14)
command -v cmake >/dev/null 2>&1 || need_pkgs+=(cmake)
[ -d /usr/share/datasets/fashion-mnist ] || need_pkgs+=(dataset-fashion-mnist)
# the C ABI (tests/cabi.sh: NativeAOT links with clang and needs zlib) and the Python package's tests (Debian's
# python3-torch 1.13 with OpenBLAS, pytest; setuptools + wheel to build the wheel)
dpkg -s zlib1g-dev >/dev/null 2>&1 || need_pkgs+=(zlib1g-dev)
for p in python3-torch python3-pytest python3-setuptools python3-wheel python3-pip libopenblas0-pthread; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
command -v mpirun >/dev/null 2>&1 || need_pkgs+=(openmpi-bin)                     # train --distributed, tests/mpi.sh
dpkg -s libopenmpi-dev >/dev/null 2>&1 || need_pkgs+=(libopenmpi-dev)
if [ "${SK_SKIP_APT:-0}" != 1 ] && [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  # nvidia-cuda-toolkit lives in non-free and needs contrib (nvidia-support).
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && ! grep -q 'non-free' "$src"; then
    log "enabling contrib and non-free in $src"
    $SUDO sed -i -E 's/^Components: main$/Components: main contrib non-free non-free-firmware/' "$src"
  fi
  log "installing ${need_pkgs[*]} (nvidia-cuda-toolkit is ~1.5 GB)"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

cxx=clang++-14
command -v $cxx >/dev/null 2>&1 || cxx=clang++
log "native build (CMake, host compiler $cxx)"
cmake -S . -B build -DCMAKE_CXX_COMPILER=$cxx -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^$' || true
# the pipeline above hides progress lines; fail if the build failed
cmake --build build -j"$(nproc)" >/dev/null

log ".NET build ($config, warnings as errors)"
dotnet build SparseKernels.sln -c "$config" -warnaserror -v q -nologo -clp:ErrorsOnly

if [ "${SK_SKIP_TORCH_RUNTIME:-0}" != 1 ]; then
  # not fatal here: tests/run.sh counts the TorchSharp tests as failed when their runtime is missing
  bash tests/torch-runtime.sh prepare || log "WARNING: the TorchSharp runtime could not be prepared (tests/torch-runtime.sh)"
fi
