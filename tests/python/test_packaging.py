"""`pip wheel` of src/python builds a platform wheel holding libsparsekernels.so, and the installed package imports and
runs from outside the checkout (no PYTHONPATH to src/python)."""
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_wheel_installs_and_runs(tmp_path):
    import importlib.util
    missing = [m for m in ("pip", "setuptools", "wheel") if importlib.util.find_spec(m) is None]
    if missing:   # (found, not imported: setuptools' distutils shim must not load into this process after torch)
        pytest.skip(f"{', '.join(missing)} missing; tests/setup.sh installs them")
    src = os.path.join(ROOT, "src", "python")
    build = tmp_path / "src"
    subprocess.run(["cp", "-r", src, str(build)], check=True)   # build outside the checkout (no build/ or egg-info left there)
    dist, target = tmp_path / "dist", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(build)],
                   check=True)
    wheels = glob.glob(str(dist / "sparsekernels-*.whl"))
    assert len(wheels) == 1 and "linux_x86_64" in wheels[0], wheels
    import zipfile
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    assert "sparsekernels/libsparsekernels.so" in names, names
    if os.path.isfile(os.path.join(src, "sparsekernels", "libsparsekernels_avx512.so")):
        assert "sparsekernels/libsparsekernels_avx512.so" in names, names
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), wheels[0]], check=True)
    code = ("import sparsekernels, torch; assert sparsekernels.__file__.startswith(%r), sparsekernels.__file__; "
            "l = sparsekernels.SparseLinear(10, 5, density=0.5); y = l(torch.randn(2, 10)); y.sum().backward(); print('ok')") % str(target)
    env = dict(os.environ, PYTHONPATH=str(target))
    env.pop("SPARSEKERNELS_LIB", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path), capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
