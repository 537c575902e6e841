"""pytest setup for the sparsekernels Python package: imports it from src/python (as PYTHONPATH would) and finds DLMC."""
import os
import sys

import pytest
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "src", "python"))


def dlmc_root():
    data = os.environ.get("SPARSEKERNELS_DATA")
    if data and os.path.isdir(os.path.join(data, "dlmc")):
        return os.path.join(data, "dlmc")
    d = os.path.join(ROOT, "..", "shared", "dlmc")
    return d if os.path.isdir(d) else None


def load_smtx(path):
    """A DLMC .smtx file: 'rows, cols, nnz', then the row offsets, then the column indices."""
    with open(path) as f:
        rows, cols, nnz = (int(v) for v in f.readline().split(","))
        ro = torch.tensor([int(v) for v in f.readline().split()], dtype=torch.int32)
        ci = torch.tensor([int(v) for v in f.readline().split()], dtype=torch.int32)
    assert ro.numel() == rows + 1 and ci.numel() == nnz
    return rows, cols, ro, ci


@pytest.fixture
def dlmc():
    root = dlmc_root()
    if root is None:
        pytest.skip("no DLMC data (set SPARSEKERNELS_DATA or put shared/dlmc beside the repository)")
    return root


def assert_close(got, ref, atol, rtol, what):
    """|got - ref| <= atol + rtol |ref| everywhere; the failure names the worst element."""
    got, ref = got.detach().double(), ref.detach().double()
    assert got.shape == ref.shape, f"{what}: shape {tuple(got.shape)} vs reference {tuple(ref.shape)}"
    if got.numel() == 0:
        return
    excess = (got - ref).abs() - (atol + rtol * ref.abs())
    worst = int(excess.argmax())
    assert torch.isfinite(got).all(), f"{what}: non-finite values"
    assert excess.view(-1)[worst] <= 0, (f"{what}: worst element {worst}: got {got.view(-1)[worst].item():.7g}, reference "
                                         f"{ref.view(-1)[worst].item():.7g} (atol {atol}, rtol {rtol})")
