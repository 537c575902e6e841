"""Functional ops on torch tensors: SpMM, transposed SpMM and SDDMM through the C ABI, in place on the tensors' memory.

A CSR matrix is (row_offsets int32 [rows + 1], column_indices int32 [nnz], values float32 [nnz], shape (rows, cols)), all
contiguous and on one device. Dense operands are float32 2-D tensors: on the CPU any strides (a transposed view costs no
copy here), on CUDA row-major contiguous. CUDA calls are queued on torch.cuda.current_stream().
"""
import ctypes

import torch

from . import _lib
from ._lib import Csr, Dense, check, lib


def _where(name, t):
    return f"{name} ({t.dtype}, shape {tuple(t.shape)}, on {t.device})"


def check_csr(row_offsets, column_indices, values, shape, what="the CSR matrix", need_values=True):
    rows, cols = shape
    for name, t, dt in (("row_offsets", row_offsets, torch.int32), ("column_indices", column_indices, torch.int32)) + (
            (("values", values, torch.float32),) if need_values else ()):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"sparsekernels: {what}: {name} is {type(t).__name__}, not a torch.Tensor")
        if t.dtype != dt:
            raise TypeError(f"sparsekernels: {what}: {_where(name, t)} must be {dt}")
        if t.dim() != 1:
            raise ValueError(f"sparsekernels: {what}: {_where(name, t)} must be 1-D")
        if not t.is_contiguous():
            raise ValueError(f"sparsekernels: {what}: {_where(name, t)} is not contiguous; call .contiguous()")
        if t.device != row_offsets.device:
            raise ValueError(f"sparsekernels: {what}: {name} is on {t.device} but row_offsets on {row_offsets.device}")
    if row_offsets.numel() != rows + 1:
        raise ValueError(f"sparsekernels: {what}: row_offsets has {row_offsets.numel()} entries; a {rows}x{cols} matrix needs {rows + 1}")
    if need_values and values.numel() != column_indices.numel():
        raise ValueError(f"sparsekernels: {what}: {values.numel()} values for {column_indices.numel()} column indices")


def csr_struct(row_offsets, column_indices, values, shape):
    return Csr(shape[0], shape[1], column_indices.numel(), row_offsets.data_ptr(), column_indices.data_ptr(),
               values.data_ptr() if values is not None else None)


def dense_struct(t, name, device_row_major=False):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"sparsekernels: {name} is {type(t).__name__}, not a torch.Tensor")
    if t.dtype != torch.float32:
        raise TypeError(f"sparsekernels: {_where(name, t)} must be float32 (call .float())")
    if t.dim() != 2:
        raise ValueError(f"sparsekernels: {_where(name, t)} must be 2-D")
    rs, cs = t.stride()
    if device_row_major and t.numel() > 0 and not t.is_contiguous():
        raise ValueError(f"sparsekernels: {_where(name, t)} is not contiguous (strides {t.stride()}); CUDA operands must be; "
                         f"call .contiguous()")
    return Dense(t.data_ptr(), t.shape[0], t.shape[1], rs, cs)


def _ctx_stream(device, threads=None):
    ctx = _lib.context_for(device, threads)
    stream = torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else None
    return ctx, stream


def _same_device(device, **tensors):
    for name, t in tensors.items():
        if t is not None and t.device != device:
            raise ValueError(f"sparsekernels: {name} is on {t.device} but the sparse matrix is on {device}")


def spmm(row_offsets, column_indices, values, shape, b, out=None, validate=False, threads=None):
    """C = A . B for A (rows x cols, CSR) and B (cols x n); returns C (rows x n), written into `out` when given."""
    check_csr(row_offsets, column_indices, values, shape, "spmm: a")
    dev = values.device
    if out is None:
        out = torch.empty(shape[0], b.shape[1] if b.dim() == 2 else 0, device=dev)
    _same_device(dev, b=b, out=out)
    cuda = dev.type == "cuda"
    a = csr_struct(row_offsets, column_indices, values, shape)
    bd, cd = dense_struct(b, "b", cuda), dense_struct(out, "out", cuda)
    ctx, stream = _ctx_stream(dev, threads)
    check(lib.sk_spmm_csr(ctx, ctypes.byref(a), ctypes.byref(bd), ctypes.byref(cd), stream, _lib.VALIDATE if validate else 0))
    return out


def spmm_transposed(row_offsets, column_indices, values, shape, b, out=None, validate=False, threads=None):
    """C = A^T . B for A (rows x cols, CSR) and B (rows x n); returns C (cols x n)."""
    check_csr(row_offsets, column_indices, values, shape, "spmm_transposed: a")
    dev = values.device
    if out is None:
        out = torch.empty(shape[1], b.shape[1] if b.dim() == 2 else 0, device=dev)
    _same_device(dev, b=b, out=out)
    cuda = dev.type == "cuda"
    a = csr_struct(row_offsets, column_indices, values, shape)
    bd, cd = dense_struct(b, "b", cuda), dense_struct(out, "out", cuda)
    ctx, stream = _ctx_stream(dev, threads)
    check(lib.sk_spmm_csr_transposed(ctx, ctypes.byref(a), ctypes.byref(bd), ctypes.byref(cd), stream,
                                     _lib.VALIDATE if validate else 0))
    return out


def sddmm(row_offsets, column_indices, shape, x, y, out=None, validate=False, threads=None):
    """out[p] = dot(X[i, :], Y[j, :]) at each nonzero p = (i, j) of the pattern; X is rows x k, Y is cols x k."""
    check_csr(row_offsets, column_indices, None, shape, "sddmm: pattern", need_values=False)
    dev = row_offsets.device
    nnz = column_indices.numel()
    if out is None:
        out = torch.empty(nnz, device=dev)
    if out.dtype != torch.float32 or out.dim() != 1 or out.numel() != nnz or not out.is_contiguous():
        raise ValueError(f"sparsekernels: sddmm: {_where('out', out)} must be a contiguous float32 vector of {nnz}")
    _same_device(dev, x=x, y=y, out=out)
    cuda = dev.type == "cuda"
    p = csr_struct(row_offsets, column_indices, None, shape)
    xd, yd = dense_struct(x, "x", cuda), dense_struct(y, "y", cuda)
    ctx, stream = _ctx_stream(dev, threads)
    check(lib.sk_sddmm_csr(ctx, ctypes.byref(p), ctypes.byref(xd), ctypes.byref(yd), out.data_ptr(), stream,
                           _lib.VALIDATE if validate else 0))
    return out


def layer_counts(sizes, sparsity, distribution="erk"):
    """Nonzeros per layer of an MLP (the engine's LayerDensities): distribution 'uniform', 'er' or 'erk'."""
    dist = {"uniform": 0, "er": 1, "erdos-renyi": 1, "erk": 2}.get(str(distribution).lower())
    if dist is None:
        raise ValueError(f"sparsekernels: distribution {distribution!r} is not one of uniform, er, erk")
    n = len(sizes)
    arr = (ctypes.c_int32 * n)(*[int(s) for s in sizes])
    out = (ctypes.c_int64 * max(n - 1, 1))()
    check(lib.sk_layer_counts(ctypes.cast(arr, ctypes.c_void_p), n, float(sparsity), dist, out))
    return [int(out[i]) for i in range(n - 1)]
