"""RigL and SET from Python: equal to the engine's C# RigL on the same inputs (fixtures/rigl_engine.json, written and
checked by tests/SparseKernels.Tests/CAbi/RiglFixtureTests.cs), equal to a dense torch top-k of |dY^T X|, nnz constant,
grown weights and their optimizer state zero, kept weights carrying theirs."""
import json
import os

import pytest
import torch

import sparsekernels as sk

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "rigl_engine.json")


@pytest.fixture(scope="module")
def fx():
    with open(FIXTURE) as f:
        return json.load(f)


def layer_from(fx):
    rows, cols = fx["rows"], fx["cols"]
    ro = torch.tensor(fx["row_offsets"], dtype=torch.int32)
    ci = torch.tensor(fx["column_indices"], dtype=torch.int32)
    r = torch.repeat_interleave(torch.arange(rows), (ro[1:] - ro[:-1]).long())
    layer = sk.SparseLinear(cols, rows, bias=False, _pattern=(r, ci.long(), torch.tensor(fx["values"]), None))
    assert torch.equal(layer.row_offsets, ro) and torch.equal(layer.column_indices, ci)
    return layer


def f32(v):
    return torch.tensor(v, dtype=torch.float32)


def test_rigl_step_equals_engine(fx):
    layer = layer_from(fx)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    opt.state[layer.values]["momentum_buffer"] = f32(fx["momentum"]).clone()
    rigl = sk.RigL(layer, opt, total_steps=fx["total_steps"], alpha=fx["alpha"], update_every=fx["update_every"],
                   end_fraction=fx["end_fraction"], chunk_elements=fx["chunk_elements"])
    b = fx["batch"]
    layer._last_dy = f32(fx["dy"]).view(b, fx["rows"])
    layer._last_x = f32(fx["x"]).view(b, fx["cols"])
    nnz = layer.nnz
    assert rigl.step(fx["step"]) is True
    assert rigl.last_counts == [fx["count"]]
    assert layer.nnz == nnz
    assert layer.row_offsets.tolist() == fx["rigl_row_offsets"]
    assert layer.column_indices.tolist() == fx["rigl_column_indices"]
    assert torch.equal(layer.values.detach(), f32(fx["rigl_values"]))
    assert torch.equal(opt.state[layer.values]["momentum_buffer"], f32(fx["rigl_momentum"]))


def test_pieces_equal_engine(fx):
    layer = layer_from(fx)
    shape = (fx["rows"], fx["cols"])
    keep = sk.magnitude_keep(layer.values, fx["count"])
    assert keep.tolist() == fx["keep"]
    b = fx["batch"]
    grown = sk.gradient_grow(layer.row_offsets, layer.column_indices, shape, keep, f32(fx["dy"]).view(b, -1),
                             f32(fx["x"]).view(b, -1), fx["count"], fx["chunk_elements"])
    assert grown.tolist() == fx["rigl_grown"]
    seed = sk.grow_seed(fx["set_base_seed"], fx["set_layer"], fx["set_step"])
    assert str(seed) == fx["set_seed"]
    sgrown = sk.random_grow(layer.row_offsets, layer.column_indices, shape, keep, fx["count"], seed, fx["chunk_elements"])
    assert sgrown.tolist() == fx["set_grown"]
    assert sk.drop_schedule(fx["alpha"], fx["update_every"], fx["end_fraction"], fx["step"], fx["total_steps"], layer.nnz) == \
        (True, fx["count"])


def test_gradient_grow_equals_dense_torch_topk():
    g = torch.Generator().manual_seed(4)
    layer = sk.SparseLinear(70, 33, density=0.2, generator=g)
    dy, x = torch.randn(9, 33, generator=g), torch.randn(9, 70, generator=g)
    k = 40
    keep = sk.magnitude_keep(layer.values, k)
    ref_keep = torch.zeros(layer.nnz, dtype=torch.uint8)
    ref_keep[layer.values.detach().abs().topk(layer.nnz - k).indices] = 1
    assert torch.equal(keep, ref_keep)
    grown = sk.gradient_grow(layer.row_offsets, layer.column_indices, (33, 70), keep, dy, x, k, chunk_elements=150)
    score = (dy.t() @ x).abs().view(-1)
    present = torch.zeros(33 * 70, dtype=torch.bool)
    rows = layer._rows()
    pos = rows * 70 + layer.column_indices.long()
    present[pos[keep.bool()]] = True
    score[present] = -1
    ref = score.topk(k).indices.sort().values
    assert grown.long().tolist() == ref.tolist()


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_training_loop_keeps_nnz_and_zeroes_grown_state(opt_name):
    g = torch.Generator().manual_seed(8)
    torch.manual_seed(8)
    l1 = sk.SparseLinear(30, 20, density=0.3, generator=g)
    l2 = sk.SparseLinear(20, 5, density=1.0, generator=g)   # dense: left alone
    model = torch.nn.Sequential(l1, torch.nn.ReLU(), l2)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9) if opt_name == "sgd" else \
        torch.optim.Adam(model.parameters(), lr=0.01)
    rigl = sk.RigL(model, opt, total_steps=40, update_every=5, end_fraction=0.75)
    x, t = torch.randn(32, 30, generator=g), torch.randint(0, 5, (32,), generator=g)
    nnz1, l2_pattern = l1.nnz, l2.column_indices.clone()
    updates = 0
    for step in range(40):
        loss = torch.nn.functional.cross_entropy(model(x), t)
        opt.zero_grad()
        loss.backward()
        before = {int(p): (float(v), {k: float(s[i]) for k, s in opt.state[l1.values].items() if torch.is_tensor(s) and s.shape == l1.values.shape})
                  for i, (p, v) in enumerate(zip(l1._rows() * 30 + l1.column_indices.long(), l1.values.detach()))}
        if rigl.step(step):
            updates += 1
            after_pos = (l1._rows() * 30 + l1.column_indices.long()).tolist()
            assert l1.nnz == nnz1
            assert len(set(after_pos)) == nnz1 and after_pos == sorted(after_pos)
            n_new = 0
            for i, p in enumerate(after_pos):
                state = {k: float(s[i]) for k, s in opt.state[l1.values].items() if torch.is_tensor(s) and s.shape == l1.values.shape}
                if p in before and (before[p][0] != 0 or l1.values[i] != 0):
                    assert float(l1.values[i]) == before[p][0]          # kept: its value and state moved with it
                    assert state == before[p][1]
                elif p not in before:
                    n_new += 1
                    assert float(l1.values[i]) == 0 and all(v == 0 for v in state.values())
                    assert float(l1.values.grad[i]) == 0
            assert n_new == rigl.last_counts[0] or n_new <= rigl.last_counts[0]
            assert rigl.last_counts[1] == 0
        else:
            opt.step()
    assert updates == len(range(0, 31, 5))
    assert torch.equal(l2.column_indices, l2_pattern)


def test_set_is_reproducible():
    def run():
        g = torch.Generator().manual_seed(2)
        layer = sk.SparseLinear(50, 40, density=0.1, generator=g)
        s = sk.SET(layer, total_steps=100, update_every=10, seed=5)
        layer(torch.randn(3, 50, generator=g)).sum().backward()
        assert s.step(0) and not s.step(1)
        return layer.column_indices.clone()
    a, b = run(), run()
    assert torch.equal(a, b)


def test_rigl_without_backward_says_so():
    layer = sk.SparseLinear(10, 10, density=0.3)
    rigl = sk.RigL(layer, total_steps=10)
    with pytest.raises(RuntimeError, match="after loss.backward"):
        rigl.step(0)
    with pytest.raises(ValueError, match="total_steps"):
        sk.RigL(layer)
