"""The C ABI with bad arguments, called directly through ctypes: every call returns a status and a message naming what
was wrong, never a crash. (Non-NULL pointers to too little memory cannot be detected by any C API and are not tried.)"""
import ctypes
import random
import threading

import pytest
import torch

import sparsekernels as sk
from sparsekernels._lib import Csr, Dense, lib

OK, INVALID, NULL, SHAPE, ALIGN, CSR, DEVICE, UNSUP, OOM, NUMERIC, HANDLE = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10


def message():
    return lib.sk_last_error().decode()


@pytest.fixture(scope="module")
def ctx():
    h = ctypes.c_void_p()
    assert lib.sk_open_cpu(2, ctypes.byref(h)) == OK, message()
    yield h
    assert lib.sk_close(h) == OK


def good_csr(rows=4, cols=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(rows, cols, generator=g) < 0.4
    r, c = mask.nonzero(as_tuple=True)
    ro = torch.zeros(rows + 1, dtype=torch.int32)
    ro[1:] = torch.cumsum(torch.bincount(r, minlength=rows), 0)
    return ro, c.to(torch.int32), torch.randn(c.numel(), generator=g)


def csr(ro, ci, v, rows, cols, nnz=None):
    return Csr(rows, cols, ci.numel() if nnz is None else nnz, ro.data_ptr(), ci.data_ptr(), v.data_ptr() if v is not None else None)


def dense(t, rows=None, cols=None, rs=None, cs=None, ptr=None):
    return Dense(t.data_ptr() if ptr is None else ptr, t.shape[0] if rows is None else rows, t.shape[1] if cols is None else cols,
                 t.stride(0) if rs is None else rs, t.stride(1) if cs is None else cs)


def spmm(ctx, a, b, c, stream=None, flags=0):
    return lib.sk_spmm_csr(ctx, ctypes.byref(a) if a is not None else None, ctypes.byref(b) if b is not None else None,
                           ctypes.byref(c) if c is not None else None, stream, flags)


def test_version_and_good_call(ctx):
    assert lib.sk_abi_version() == 1
    assert b"abi 1" in lib.sk_version_string()
    ro, ci, v = good_csr()
    b, c = torch.randn(6, 3), torch.full((4, 3), float("nan"))
    assert spmm(ctx, csr(ro, ci, v, 4, 6), dense(b), dense(c)) == OK, message()
    w = torch.zeros(4, 6)
    w[torch.repeat_interleave(torch.arange(4), (ro[1:] - ro[:-1]).long()), ci.long()] = v
    assert torch.allclose(c, w @ b, atol=1e-5)


def test_handles():
    ro, ci, v = good_csr()
    b, c = torch.randn(6, 3), torch.empty(4, 3)
    assert spmm(None, csr(ro, ci, v, 4, 6), dense(b), dense(c)) == HANDLE and "NULL" in message()
    assert spmm(ctypes.c_void_p(0xDEADBEEF), csr(ro, ci, v, 4, 6), dense(b), dense(c)) == HANDLE and "not an open context" in message()
    h = ctypes.c_void_p()
    assert lib.sk_open_cpu(1, ctypes.byref(h)) == OK
    assert lib.sk_close(h) == OK
    assert lib.sk_close(h) == HANDLE
    assert spmm(h, csr(ro, ci, v, 4, 6), dense(b), dense(c)) == HANDLE
    assert lib.sk_open_cpu(-1, ctypes.byref(h)) == INVALID and "threads" in message()
    assert lib.sk_open_cpu(1, None) == NULL
    assert lib.sk_close(None) == OK


def test_cuda_unavailable_is_a_status():
    h = ctypes.c_void_p()
    st = lib.sk_open_cuda(0, ctypes.byref(h))
    if st == OK:
        lib.sk_close(h)
        pytest.skip("a CUDA device is present")
    assert st == DEVICE and message()
    assert lib.sk_open_cuda(-3, ctypes.byref(h)) == INVALID and "ordinal" in message()


def test_null_and_negative(ctx):
    ro, ci, v = good_csr()
    b, c = torch.randn(6, 3), torch.empty(4, 3)
    assert spmm(ctx, None, dense(b), dense(c)) == NULL and "a is NULL" in message()
    assert spmm(ctx, csr(ro, ci, v, 4, 6), None, dense(c)) == NULL and "b is NULL" in message()
    assert spmm(ctx, csr(ro, ci, v, 4, 6), dense(b), None) == NULL and "c is NULL" in message()
    a = csr(ro, ci, v, 4, 6)
    a.values = None
    assert spmm(ctx, a, dense(b), dense(c)) == NULL and "a.values" in message()
    assert spmm(ctx, csr(ro, ci, v, -4, 6), dense(b), dense(c)) == SHAPE and "negative" in message()
    assert spmm(ctx, csr(ro, ci, v, 4, 6, nnz=-1), dense(b), dense(c)) == SHAPE
    assert spmm(ctx, csr(ro, ci, v, 4, 6), dense(b, rows=-6), dense(c)) == SHAPE and "b is -6x3" in message()
    assert spmm(ctx, csr(ro, ci, v, 4, 6), dense(b, rs=-3), dense(c)) == SHAPE and "negative strides" in message()
    assert spmm(ctx, csr(ro, ci, v, 4, 6), dense(b), dense(c, rs=0)) == SHAPE and "zero stride" in message()
    assert spmm(ctx, csr(ro, ci, v, 4, 6), dense(b), dense(c, cols=2)) == SHAPE and "c is 4x2; it must be 4x3" in message()
    assert spmm(ctx, csr(ro, ci, v, 4, 6), dense(b, ptr=0), dense(c)) == NULL and "b.data" in message()
    assert spmm(ctx, csr(ro, ci, v, 2**33, 6), dense(b), dense(c)) == SHAPE and "int32" in message()
    assert spmm(ctx, csr(ro, ci, v, 1, 1, nnz=5), dense(b), dense(c)) == SHAPE and "cannot hold" in message()


def test_misaligned(ctx):
    ro, ci, v = good_csr()
    b, c = torch.randn(6, 3), torch.empty(4, 3)
    a = csr(ro, ci, v, 4, 6)
    a.column_indices = ci.data_ptr() + 1
    assert spmm(ctx, a, dense(b), dense(c)) == ALIGN and "a.column_indices" in message() and "aligned" in message()
    assert spmm(ctx, csr(ro, ci, v, 4, 6), dense(b, ptr=b.data_ptr() + 2), dense(c)) == ALIGN and "b.data" in message()
    out = torch.empty(ci.numel() + 1)
    p = csr(ro, ci, None, 4, 6)
    x, y = torch.randn(4, 3), torch.randn(6, 3)
    assert lib.sk_sddmm_csr(ctx, ctypes.byref(p), ctypes.byref(dense(x)), ctypes.byref(dense(y)), out.data_ptr() + 1, None, 0) == ALIGN


def test_invalid_csr_with_validate(ctx):
    b, c = torch.randn(6, 3), torch.empty(4, 3)
    cases = {
        "column index 6 is out of range": lambda ro, ci: ci.__setitem__(-1, 6),
        "negative column": lambda ro, ci: ci.__setitem__(0, -1),
        "not ascending": lambda ro, ci: ci.__setitem__(slice(0, 2), torch.tensor([3, 3], dtype=torch.int32)),
        "offsets decrease": lambda ro, ci: ro.__setitem__(2, ro[1] - 1 if ro[1] > 0 else 5),
    }
    for what, plant in cases.items():
        ro, ci, v = good_csr(seed=1)
        ci = ci.clone()
        plant(ro, ci)
        st = spmm(ctx, csr(ro, ci, v, 4, 6), dense(b), dense(c), flags=1)
        assert st in (CSR, SHAPE), (what, st, message())
        assert "row" in message() or "index" in message() or "offset" in message(), (what, message())
    ro, ci, v = good_csr(seed=1)
    ro2 = ro.clone()
    ro2[-1] = ro2[-1] - 1
    assert spmm(ctx, csr(ro2, ci, v, 4, 6), dense(b), dense(c), flags=1) == CSR and "row_offsets[4]" in message()


def test_stream_on_cpu_and_topology_args(ctx):
    ro, ci, v = good_csr()
    b, c = torch.randn(6, 3), torch.empty(4, 3)
    assert spmm(ctx, csr(ro, ci, v, 4, 6), dense(b), dense(c), stream=ctypes.c_void_p(1234)) == INVALID and "stream" in message()
    keep = torch.empty(v.numel(), dtype=torch.uint8)
    assert lib.sk_magnitude_drop(ctx, v.data_ptr(), v.numel(), v.numel() + 1, keep.data_ptr()) == INVALID and "drop" in message()
    assert lib.sk_magnitude_drop(ctx, None, v.numel(), 1, keep.data_ptr()) == NULL and "values" in message()
    nan = v.clone()
    nan[0] = float("nan")
    assert lib.sk_magnitude_drop(ctx, nan.data_ptr(), v.numel(), 1, keep.data_ptr()) in (INVALID, NUMERIC) and "NaN" in message()
    grown = torch.empty(100, dtype=torch.int32)
    p = csr(ro, ci, None, 4, 6)
    assert lib.sk_random_grow(ctx, ctypes.byref(p), None, 24, 1, 0, grown.data_ptr()) != OK and "absent" in message()
    assert lib.sk_random_grow(ctx, ctypes.byref(p), None, -1, 1, 0, grown.data_ptr()) == INVALID
    dy, x = torch.randn(5, 4), torch.randn(4, 6)
    assert lib.sk_gradient_grow(ctx, ctypes.byref(p), None, ctypes.byref(dense(dy)), ctypes.byref(dense(x)), 1, 0,
                                grown.data_ptr()) == SHAPE and "x is 4x6; it must be 5x6" in message()
    upd, cnt = ctypes.c_int32(), ctypes.c_int64()
    assert lib.sk_drop_schedule(0.0, 100, 0.75, 0, 1000, 10, ctypes.byref(upd), ctypes.byref(cnt)) == INVALID and "alpha" in message()
    assert lib.sk_drop_schedule(0.3, 0, 0.75, 0, 1000, 10, ctypes.byref(upd), ctypes.byref(cnt)) == INVALID
    sizes = (ctypes.c_int32 * 3)(784, -1, 10)
    counts = (ctypes.c_int64 * 2)()
    assert lib.sk_layer_counts(ctypes.cast(sizes, ctypes.c_void_p), 3, 0.9, 2, counts) == SHAPE and "not positive" in message()
    assert lib.sk_layer_counts(ctypes.cast(sizes, ctypes.c_void_p), 3, 0.9, 7, counts) == INVALID


def test_rebuild_count_mismatch(ctx):
    ro, ci, v = good_csr()
    keep = torch.ones(v.numel(), dtype=torch.uint8)
    grown = torch.tensor([0], dtype=torch.int32)
    old = csr(ro, ci, v, 4, 6)
    assert lib.sk_csr_rebuild(ctx, ctypes.byref(old), keep.data_ptr(), grown.data_ptr(), 1, 0, None, ctypes.byref(old), None) in (SHAPE, INVALID)
    assert "nonzeros" in message() or "grown" in message()


def test_last_error_is_thread_local(ctx):
    ro, ci, v = good_csr()
    b, c = torch.randn(6, 3), torch.empty(4, 3)
    assert spmm(ctx, csr(ro, ci, v, -1, 6), dense(b), dense(c)) == SHAPE
    mine = message()
    seen = []
    t = threading.Thread(target=lambda: seen.append((spmm(ctx, None, dense(b), dense(c)), message())))
    t.start()
    t.join()
    assert seen[0][0] == NULL and "a is NULL" in seen[0][1]
    assert message() == mine


def test_random_fuzz(ctx):
    """Random shapes, strides, flags and index contents over real buffers (large enough for what each call claims):
    each call returns OK or an error status with a message; the process survives."""
    rnd = random.Random(1234)
    statuses = {}
    for _ in range(400):
        rows, cols, n = rnd.choice([0, 1, 3, 7, -2]), rnd.choice([0, 1, 5, 9, -1]), rnd.choice([0, 1, 4, -3])
        nnz = rnd.choice([0, 1, 3, 8, -1, 100])
        ro = torch.tensor([rnd.randint(-2, 10) for _ in range(max(rows, 0) + 1)], dtype=torch.int32)
        if rnd.random() < 0.5:
            ro, _ = ro.sort()
        ci = torch.tensor([rnd.randint(-2, 10) for _ in range(max(nnz, 0))] + [0], dtype=torch.int32)
        v = torch.randn(max(nnz, 0) + 1)
        if rnd.random() < 0.35:   # a valid matrix now and then, so that the successful path is fuzzed too
            rows, cols, n = rnd.choice([1, 3, 7]), rnd.choice([1, 5, 9]), rnd.choice([1, 4])
            ro, ci, v = good_csr(rows, cols, seed=rnd.randrange(1000))
            ci = torch.cat([ci, torch.zeros(1, dtype=torch.int32)])
            v = torch.cat([v, torch.zeros(1)])
            nnz = ci.numel() - 1
        a = Csr(rows, cols, nnz if nnz <= ci.numel() else ci.numel(), ro.data_ptr(), ci.data_ptr(), v.data_ptr())
        big = torch.randn(max(cols, 1) * max(n, 1) + max(rows, 1) * max(n, 1) + 16)
        b = Dense(big.data_ptr() if rnd.random() > 0.1 else big.data_ptr() + 1, cols, n, max(n, 0), 1)
        out = torch.empty(max(rows, 1) * max(n, 1) + max(cols, 1) * max(n, 1) + 16)
        c = Dense(out.data_ptr(), rows, n, max(n, 0), 1)
        which = rnd.randrange(3)
        if which == 0:
            st = lib.sk_spmm_csr(ctx, ctypes.byref(a), ctypes.byref(b), ctypes.byref(c), None, rnd.choice([0, 1]))
        elif which == 1:
            b2 = Dense(big.data_ptr(), rows, n, max(n, 0), 1)
            c2 = Dense(out.data_ptr(), cols, n, max(n, 0), 1)
            st = lib.sk_spmm_csr_transposed(ctx, ctypes.byref(a), ctypes.byref(b2), ctypes.byref(c2), None, 1)
        else:
            x = Dense(big.data_ptr(), rows, n, max(n, 0), 1)
            y = Dense(big.data_ptr(), cols, n, max(n, 0), 1)
            st = lib.sk_sddmm_csr(ctx, ctypes.byref(a), ctypes.byref(x), ctypes.byref(y), out.data_ptr(), None, 1)
        statuses[st] = statuses.get(st, 0) + 1
        if st != OK:
            assert st != 99, message()   # never an internal error
            assert message(), st
    assert OK in statuses and len(statuses) >= 3, statuses


def test_linear_plan_arguments(ctx):
    ro, ci, v = good_csr()
    plan = ctypes.c_void_p()
    p = csr(ro, ci, None, 4, 6)
    assert lib.sk_linear_create(ctx, ctypes.byref(p), ctypes.byref(plan)) == OK, message()
    x, y = torch.randn(3, 6), torch.empty(3, 4)
    xt, yt, tv = torch.empty(6 * 3), torch.empty(4 * 3), torch.empty(v.numel())
    assert lib.sk_linear_forward(plan, x.data_ptr(), 3, v.data_ptr(), y.data_ptr(), xt.data_ptr(), yt.data_ptr(), tv.data_ptr()) == OK
    assert lib.sk_linear_forward(plan, None, 3, v.data_ptr(), y.data_ptr(), xt.data_ptr(), yt.data_ptr(), None) == NULL and "x is NULL" in message()
    assert lib.sk_linear_forward(plan, x.data_ptr(), -3, v.data_ptr(), y.data_ptr(), xt.data_ptr(), yt.data_ptr(), None) == SHAPE
    assert lib.sk_linear_forward(plan, x.data_ptr() + 1, 3, v.data_ptr(), y.data_ptr(), xt.data_ptr(), yt.data_ptr(), None) == ALIGN
    dy, dx, dw = torch.randn(3, 4), torch.empty(3, 6), torch.empty(v.numel())
    dyt, dxt = torch.empty(12), torch.empty(18)
    assert lib.sk_linear_backward(plan, dy.data_ptr(), 4, 1, 3, xt.data_ptr(), tv.data_ptr(), dx.data_ptr(), dw.data_ptr(),
                                  dyt.data_ptr(), dxt.data_ptr()) == OK
    assert lib.sk_linear_backward(plan, dy.data_ptr(), -4, 1, 3, xt.data_ptr(), tv.data_ptr(), dx.data_ptr(), dw.data_ptr(),
                                  dyt.data_ptr(), dxt.data_ptr()) == SHAPE and "negative strides" in message()
    assert lib.sk_linear_backward(plan, dy.data_ptr(), 4, 1, 3, xt.data_ptr(), None, dx.data_ptr(), dw.data_ptr(),
                                  dyt.data_ptr(), dxt.data_ptr()) == NULL and "t_values" in message()
    assert lib.sk_linear_destroy(plan) == OK
    assert lib.sk_linear_destroy(plan) == HANDLE
    assert lib.sk_linear_forward(plan, x.data_ptr(), 3, v.data_ptr(), y.data_ptr(), xt.data_ptr(), yt.data_ptr(), None) == HANDLE
    bad = ci.clone()
    bad[0] = 99
    p2 = csr(ro, bad, None, 4, 6)
    assert lib.sk_linear_create(ctx, ctypes.byref(p2), ctypes.byref(plan)) == CSR and "column index" in message().lower()
