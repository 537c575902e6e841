"""Which build of the C ABI the package loads: libsparsekernels_avx512.so (x86-64-v4) only where the CPU has every AVX-512
flag it was compiled for, else libsparsekernels.so (x86-64-v3); and the baseline build runs the layer correctly (on this
machine it is the only way CI exercises the 256-bit kernels the package uses on AVX2-only CPUs)."""
import os
import subprocess
import sys

import pytest

from sparsekernels import _lib

PKG = os.path.dirname(os.path.abspath(_lib.__file__))
BASE = os.path.join(PKG, "libsparsekernels.so")
WIDE = os.path.join(PKG, "libsparsekernels_avx512.so")


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("SPARSEKERNELS_LIB", raising=False)
    monkeypatch.delenv("SPARSEKERNELS_ISA", raising=False)


def test_avx512_build_needs_every_v4_flag(no_env):
    if not os.path.isfile(WIDE):
        pytest.skip("libsparsekernels_avx512.so not built (tests/cabi.sh)")
    full = set(_lib.AVX512_FLAGS) | {"avx2", "fma"}
    assert _lib.library_path(flags=full) == WIDE
    for missing in _lib.AVX512_FLAGS:
        assert _lib.library_path(flags=full - {missing}) == BASE, missing
    assert _lib.library_path(flags={"avx2", "fma"}) == BASE
    assert _lib.library_path(flags=set()) == BASE                 # /proc/cpuinfo unreadable
    assert _lib.library_path(flags=full, isa="avx2") == BASE      # SPARSEKERNELS_ISA=avx2


def test_environment_overrides(no_env, monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSEKERNELS_LIB", str(tmp_path / "x.so"))
    assert _lib.library_path(flags=set(_lib.AVX512_FLAGS)) == str(tmp_path / "x.so")
    monkeypatch.delenv("SPARSEKERNELS_LIB")
    monkeypatch.setenv("SPARSEKERNELS_ISA", "avx2")
    assert _lib.library_path(flags=set(_lib.AVX512_FLAGS)) == BASE


def test_cpu_flags_parses_cpuinfo(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\nbugs\t\t: none\n")
    assert {"avx2", "avx512f", "avx512bw"} <= _lib.cpu_flags(str(f))
    assert _lib.cpu_flags(str(tmp_path / "missing")) == set()


def test_this_process_loaded_the_build_for_this_cpu():
    if os.environ.get("SPARSEKERNELS_LIB") or os.environ.get("SPARSEKERNELS_ISA"):
        pytest.skip("library chosen by the environment")
    wide = all(f in _lib.cpu_flags() for f in _lib.AVX512_FLAGS) and os.path.isfile(WIDE)
    assert _lib.loaded_path == (WIDE if wide else BASE)


@pytest.mark.parametrize("isa", ["avx2", "auto"])
def test_each_build_runs_the_layer(isa):
    """In a fresh process (a library is loaded once per process): SparseLinear forward and both gradients against
    PyTorch's dense computation with the build SPARSEKERNELS_ISA selects, at widths that run full panels and tails."""
    code = r"""
import torch, sparsekernels as sk
from sparsekernels import _lib
print(_lib.loaded_path)
g = torch.Generator().manual_seed(5)
for (i, o, b, d) in [(300, 130, 128, 0.05), (1100, 70, 200, 0.02), (64, 64, 64, 1.0), (33, 17, 5, 0.3)]:
    l = sk.SparseLinear(i, o, density=d, generator=g, threads=2)
    x = torch.randn(b, i, generator=g, requires_grad=True)
    r = torch.randn(b, o, generator=g)
    (l(x) * r).sum().backward()
    w = l.to_dense().requires_grad_(True)
    xr = x.detach().clone().requires_grad_(True)
    ((xr @ (w * l.mask()).t() + l.bias.detach()) * r).sum().backward()
    rows = l._rows()
    for name, a, e in [("y", l(x).detach(), xr.detach() @ w.detach().t() + l.bias.detach()), ("dx", x.grad, xr.grad),
                       ("dW", l.values.grad, w.grad[rows, l.column_indices.long()])]:
        err = ((a - e).abs() - 1e-3 - 1e-3 * e.abs()).max().item()
        assert err <= 0, (i, o, b, d, name, err)
print("ok")
"""
    env = dict(os.environ)
    env.pop("SPARSEKERNELS_LIB", None)
    env["SPARSEKERNELS_ISA"] = isa
    env["PYTHONPATH"] = os.path.dirname(PKG) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr
    loaded = out.stdout.split()[0]
    if isa == "avx2":
        assert loaded == BASE
    else:
        wide = all(f in _lib.cpu_flags() for f in _lib.AVX512_FLAGS) and os.path.isfile(WIDE)
        assert loaded == (WIDE if wide else BASE)
