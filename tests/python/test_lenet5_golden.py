"""PyTorch's LeNet-5 figures (lenet5_golden.py) equal the table the C# test LeNet5TorchTests checks the engine against,
so the engine's CNN matches PyTorch's conv2d/max_pool2d/linear/cross_entropy/SGD on the same weights and data."""
import os
import re

import torch

import lenet5_golden as g

CS = os.path.join(os.path.dirname(__file__), "..", "SparseKernels.Tests", "Training", "LeNet5TorchTests.cs")


def table(name):
    with open(CS) as f:
        text = f.read()
    body = re.search(r"s_" + name + r" =\s*\[(.*?)\];", text, re.S).group(1)
    return [float(v) for v in body.replace("\n", " ").split(",") if v.strip()]


def close(got, want, rtol, atol):
    assert len(got) == len(want)
    worst = max(range(len(got)), key=lambda i: abs(got[i] - want[i]) - rtol * abs(want[i]))
    assert all(abs(a - b) <= atol + rtol * abs(b) for a, b in zip(got, want)), \
        f"figure {worst}: PyTorch {got[worst]!r}, the C# table {want[worst]!r}"


def test_one_step_figures_are_the_tables():
    torch.set_num_threads(1)
    close(g.one_step(), table("one"), 1e-5, 1e-6)


def test_thirty_sgd_steps_are_the_tables():
    torch.set_num_threads(1)
    close(g.train_losses(), table("train"), 1e-5, 0)
