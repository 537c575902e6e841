"""SparseLinear forward and both gradients against PyTorch's dense masked computation (fp32), odd shapes, empty rows,
batch 1, DLMC patterns; finite differences in fp32 (the ABI has no float64 ops); input checks."""
import glob
import os

import pytest
import torch

import sparsekernels as sk
from conftest import assert_close, load_smtx

ATOL, RTOL = 1e-4, 1e-4


def dense_reference(layer, x):
    """y, dx, dW-at-pattern of y = x (W * mask)^T + b with torch's own dense ops; loss = sum(y * r)."""
    w = layer.to_dense().clone().requires_grad_(True)
    mask = layer.mask()
    xr = x.detach().clone().requires_grad_(True)
    y = xr @ (w * mask).t()
    if layer.bias is not None:
        y = y + layer.bias.detach()
    return w, mask, xr, y


def check_layer(layer, batch, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, layer.in_features, generator=g).requires_grad_(True)
    r = torch.randn(batch, layer.out_features, generator=g)
    layer.values.grad = None
    y = layer(x)
    (y * r).sum().backward()
    w, mask, xr, yr = dense_reference(layer, x)
    (yr * r).sum().backward()
    k = layer.in_features
    assert_close(y, yr, ATOL * k ** 0.5, RTOL, "forward y")
    assert_close(x.grad, xr.grad, ATOL * layer.out_features ** 0.5, RTOL, "grad x")
    rows = layer._rows()
    assert_close(layer.values.grad, w.grad[rows, layer.column_indices.long()], ATOL * batch ** 0.5, RTOL, "grad values")


@pytest.mark.parametrize("inf,outf,batch,density", [
    (1, 1, 1, 1.0), (17, 5, 3, 0.3), (33, 65, 1, 0.1), (129, 70, 7, 0.05), (300, 100, 128, 0.1), (784, 300, 64, 0.02),
    (8, 200, 5, 0.5), (1000, 3, 2, 0.01)])
def test_random_patterns(inf, outf, batch, density):
    g = torch.Generator().manual_seed(inf * 7 + outf)
    check_layer(sk.SparseLinear(inf, outf, density=density, generator=g), batch)


def test_empty_rows_and_long_rows():
    g = torch.Generator().manual_seed(3)
    mask = torch.rand(40, 90, generator=g) < 0.1
    mask[::3] = False          # empty rows (every third)
    mask[7] = True             # one full row
    w = torch.randn(40, 90, generator=g)
    layer = sk.SparseLinear.from_mask(mask, w, torch.randn(40, generator=g))
    assert layer.nnz == int(mask.sum())
    for batch in (1, 2, 33):
        check_layer(layer, batch, seed=batch)


def test_all_empty_layer_and_empty_batch():
    layer = sk.SparseLinear.from_mask(torch.zeros(6, 9))
    assert layer.nnz == 0
    x = torch.randn(4, 9, requires_grad=True)
    y = layer(x)
    assert torch.equal(y, torch.zeros(4, 6))
    y.sum().backward()
    assert torch.equal(x.grad, torch.zeros(4, 9))
    layer2 = sk.SparseLinear(9, 6, density=0.5)
    y0 = layer2(torch.randn(0, 9))
    assert y0.shape == (0, 6)


def test_from_dense_and_leading_dims():
    g = torch.Generator().manual_seed(5)
    w = torch.randn(12, 20, generator=g) * (torch.rand(12, 20, generator=g) < 0.3)
    layer = sk.SparseLinear.from_dense(w, bias=None)
    assert torch.equal(layer.to_dense(), w)
    x = torch.randn(2, 3, 20, generator=g)
    assert_close(layer(x), x @ w.t(), 1e-5, 1e-5, "3-D input")


def test_strided_input_no_copy_needed():
    g = torch.Generator().manual_seed(6)
    layer = sk.SparseLinear(30, 10, density=0.2, generator=g)
    big = torch.randn(30, 16, generator=g)
    x = big.t()                      # non-contiguous (16 x 30, strides 1, 16)
    assert not x.is_contiguous()
    assert_close(layer(x), layer(x.contiguous()), 0, 0, "strided vs contiguous input")


def test_dlmc_patterns(dlmc):
    files = sorted(glob.glob(os.path.join(dlmc, "rn50", "*", "0.98", "*.smtx")))[:2] + \
        sorted(glob.glob(os.path.join(dlmc, "transformer", "*", "0.9", "*.smtx")))[:1]
    if not files:
        pytest.skip("no DLMC .smtx files found")
    for i, f in enumerate(files):
        rows, cols, ro, ci = load_smtx(f)
        counts = (ro[1:] - ro[:-1]).long()
        mask = torch.zeros(rows, cols)
        mask[torch.repeat_interleave(torch.arange(rows), counts), ci.long()] = 1
        g = torch.Generator().manual_seed(i)
        layer = sk.SparseLinear.from_mask(mask, torch.randn(rows, cols, generator=g), torch.randn(rows, generator=g))
        assert torch.equal(layer.row_offsets, ro) and torch.equal(layer.column_indices, ci), f
        check_layer(layer, 8, seed=i)


def test_finite_differences_fp32():
    """Central differences in fp32 (the ABI computes in float32 only, so no float64 gradcheck): the loss is bilinear in
    (x, values), so the difference quotient is exact up to rounding; tolerance 2e-2 absolute + 2e-2 relative with eps 1e-2."""
    g = torch.Generator().manual_seed(11)
    layer = sk.SparseLinear(13, 7, density=0.4, generator=g)
    x = torch.randn(5, 13, generator=g, requires_grad=True)
    r = torch.randn(5, 7, generator=g)

    def loss():
        return (layer(x) * r).sum()

    loss().backward()
    eps = 1e-2
    for t in (x, layer.values):
        analytic = t.grad.clone()
        flat = t.data.view(-1)
        for i in range(0, flat.numel(), max(1, flat.numel() // 20)):
            old = flat[i].item()
            with torch.no_grad():
                flat[i] = old + eps
                up = loss().item()
                flat[i] = old - eps
                down = loss().item()
                flat[i] = old
            fd = (up - down) / (2 * eps)
            assert abs(fd - analytic.view(-1)[i].item()) <= 2e-2 + 2e-2 * abs(fd), (t.shape, i, fd, analytic.view(-1)[i].item())


def test_gradcheck_fp32_loose():
    """torch.autograd.gradcheck on float32 inputs with eps 1e-2 and tolerances 1e-2 (float64 is not in ABI 1)."""
    g = torch.Generator().manual_seed(12)
    layer = sk.SparseLinear(6, 4, density=0.5, bias=False, generator=g)
    x = torch.randn(3, 6, generator=g, requires_grad=True)
    f = lambda xx, vv: sk.SparseLinearFunction.apply(xx, vv, layer.row_offsets, layer.column_indices, 4, None)  # noqa: E731
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.autograd.gradcheck(f, (x, layer.values), eps=1e-2, atol=1e-2, rtol=1e-2)


def test_optimizer_works_unchanged():
    g = torch.Generator().manual_seed(13)
    layer = sk.SparseLinear(20, 5, density=0.3, generator=g)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    x, t = torch.randn(64, 20, generator=g), torch.randint(0, 5, (64,), generator=g)
    first = None
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(layer(x), t)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first * 0.8
    sd = layer.state_dict()
    assert set(sd) == {"values", "bias", "row_offsets", "column_indices"}
    clone = sk.SparseLinear(20, 5, density=0.3)
    clone.load_state_dict(sd)
    assert torch.equal(clone(x), layer(x))


def test_input_errors_are_clear():
    layer = sk.SparseLinear(10, 4, density=0.5)
    with pytest.raises(TypeError, match="float32"):
        layer(torch.randn(3, 10, dtype=torch.float64))
    with pytest.raises(ValueError, match="in_features = 10"):
        layer(torch.randn(3, 11))
    with pytest.raises(TypeError, match="not a torch.Tensor"):
        layer([1.0] * 10)
    ro, ci = layer.row_offsets, layer.column_indices
    v2 = torch.randn(layer.nnz * 2)[::2]
    with pytest.raises(ValueError, match="not contiguous"):
        sk.spmm(ro, ci, v2, (4, 10), torch.randn(10, 3))
    with pytest.raises(TypeError, match="int32"):
        sk.spmm(ro.long(), ci, layer.values.detach(), (4, 10), torch.randn(10, 3))
    with pytest.raises(sk.SparseKernelsError, match="b is 9x3; it must be 10xany"):
        sk.spmm(ro, ci, layer.values.detach(), (4, 10), torch.randn(9, 3))
    bad = ci.clone()
    if bad.numel():
        bad[-1] = 10
        with pytest.raises(sk.SparseKernelsError, match="SK_ERR_INVALID_CSR"):
            sk.spmm(ro, bad, layer.values.detach(), (4, 10), torch.randn(10, 3))
    if not torch.cuda.is_available():
        with pytest.raises((sk.SparseKernelsError, RuntimeError, AssertionError)):
            sk.SparseLinear(10, 4, density=0.5, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (the CUDA path is built and reviewed, not run here)")
def test_cuda_matches_dense():
    g = torch.Generator().manual_seed(21)
    layer = sk.SparseLinear(300, 100, density=0.1, generator=g).cuda()
    x = torch.randn(64, 300, device="cuda", requires_grad=True)
    y = layer(x)
    y.sum().backward()
    w = layer.to_dense()
    assert_close(y, x.detach() @ w.t() + layer.bias.detach(), 1e-3, 1e-3, "cuda forward")


def test_plan_follows_pattern_changes():
    """The CPU layer plan (sk_linear_*) is rebuilt when the pattern buffers change (load_state_dict copies into them)."""
    g = torch.Generator().manual_seed(31)
    a = sk.SparseLinear(20, 8, density=0.3, generator=g)
    b = sk.SparseLinear(20, 8, density=0.3, generator=g)
    x = torch.randn(4, 20, generator=g)
    a(x)                                   # plan of a's first pattern
    a.load_state_dict(b.state_dict())      # same nnz, other pattern, in place
    assert_close(a(x), x @ b.to_dense().t() + b.bias.detach(), 1e-5, 1e-5, "after load_state_dict")


def test_pooled_workspaces_are_not_shared_between_live_graphs():
    """The CPU layer pools x^T and the values snapshot that a forward keeps for its backward; a pooled buffer is reused only
    after the graph that holds it is freed: two graphs alive at once, a retained graph run twice with other forwards (with
    and without grad, another batch size) in between, all equal PyTorch's dense gradients."""
    g = torch.Generator().manual_seed(41)
    layer = sk.SparseLinear(70, 30, density=0.2, generator=g)
    w = layer.to_dense()
    xs = [torch.randn(b, 70, generator=g).requires_grad_(True) for b in (16, 16, 9)]
    rs = [torch.randn(x.shape[0], 30, generator=g) for x in xs]
    ys = [layer(x) for x in xs[:2]]                       # two graphs alive: two pooled workspaces in use
    y3 = layer(xs[2])
    y3.backward(rs[2], retain_graph=True)                 # retained: its workspace must stay untouched
    xo = torch.randn(9, 70, generator=g).requires_grad_(True)
    (layer(xo) * 3).sum().backward()                      # another graph of batch 9, run and freed meanwhile
    with torch.no_grad():
        layer(torch.randn(9, 70, generator=g))            # no-grad forwards of the same and another batch size
        layer(torch.randn(16, 70, generator=g))
    y3.backward(rs[2])                                    # the retained graph again: dx accumulates twice
    for y, r in zip(ys, rs):
        y.backward(r)
    for k, (x, r) in enumerate(zip(xs, rs)):
        times = 2 if k == 2 else 1
        assert_close(x.grad, times * (r @ w), 1e-4, 1e-4, f"grad x of graph {k}")
    dw = sum(times * (r.t() @ x.detach()) for times, x, r in zip((1, 1, 2), xs, rs)) + torch.full((30, 9), 3.0) @ xo.detach()
    assert_close(layer.values.grad, dw[layer._rows(), layer.column_indices.long()], 1e-3, 1e-4, "grad values")


def test_no_grad_forward_matches_and_records_nothing():
    g = torch.Generator().manual_seed(43)
    layer = sk.SparseLinear(50, 20, density=0.3, generator=g)
    x = torch.randn(7, 50, generator=g)
    with torch.no_grad():
        y = layer(x)
    assert y.grad_fn is None and not y.requires_grad
    assert_close(y, x @ layer.to_dense().t() + layer.bias.detach(), 1e-4, 1e-4, "no-grad forward")
    y2 = layer(x)                                  # values require grad: a graph is recorded
    assert y2.grad_fn is not None
    x3 = torch.randn(2, 3, 50, generator=g)        # leading dimensions still go through a reshape
    assert layer(x3).shape == (2, 3, 20)
