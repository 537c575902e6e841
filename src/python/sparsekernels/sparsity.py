"""RigL and SET for a PyTorch training loop over SparseLinear layers, on the engine's topology steps.

RigL (Evci et al. 2020, "Rigging the Lottery", reference code google-research/rigl) and SET (Mocanu et al. 2018): every
`update_every` steps from step 0 to end_fraction x total_steps, each sparse SparseLinear layer drops the
floor(a_t nnz) weights of smallest |w| (a_t = alpha/2 (1 + cos(pi t / T_end))) and grows as many absent positions: RigL the
largest |dY^T X| of the last batch (computed in chunks by the engine, never a whole dense gradient), SET Philox-random ones
(the engine's seed per layer and step). nnz stays constant; kept weights keep their value, gradient and optimizer state;
grown weights start at 0 with zero gradient and zero optimizer state. Schedule, drop, growth and rebuild are the engine's
own (sk_drop_schedule, sk_magnitude_drop, sk_gradient_grow / sk_random_grow, sk_csr_rebuild), so a step makes exactly the
choices of the C# engine (SparseKernels.TorchSharp.SparseConnectivity, CpuBackend.RiglUpdate) on the same inputs.

Usage:
    rigl = sparsekernels.RigL(model, optimizer, total_steps=epochs * len(loader))
    for step, (x, t) in enumerate(batches):
        loss = F.cross_entropy(model(x), t); optimizer.zero_grad(); loss.backward()
        if not rigl.step(step):      # True on a topology update: RigL skips the weight update then
            optimizer.step()

Optimizer state: every tensor in optimizer.state[layer.values] with the values' shape (SGD momentum_buffer, Adam exp_avg,
exp_avg_sq, max_exp_avg_sq, ...) is carried with the pattern (grown: 0); scalar state (Adam's step) is left alone.
"""
import ctypes

import torch

from . import _lib
from ._lib import Csr, check, lib
from .nn import SparseLinear


def drop_schedule(alpha, update_every, end_fraction, step, total_steps, nnz):
    """(is_update, count) of the engine's schedule at `step`."""
    upd, cnt = ctypes.c_int32(), ctypes.c_int64()
    check(lib.sk_drop_schedule(float(alpha), int(update_every), float(end_fraction), int(step), int(total_steps), int(nnz),
                               ctypes.byref(upd), ctypes.byref(cnt)))
    return bool(upd.value), int(cnt.value)


def grow_seed(seed, layer, step):
    return int(lib.sk_grow_seed(int(seed) & 0xFFFFFFFFFFFFFFFF, int(layer), int(step)))


def _cpu_ctx(threads=None):
    return _lib.context_for(torch.device("cpu"), threads)


def magnitude_keep(values, drop, threads=None):
    """uint8 keep flags: 1 for the nnz - drop largest |values| (ties: lower position kept)."""
    v = values.detach().cpu().float().contiguous()
    keep = torch.empty(v.numel(), dtype=torch.uint8)
    check(lib.sk_magnitude_drop(_cpu_ctx(threads), v.data_ptr(), v.numel(), int(drop), keep.data_ptr()))
    return keep


def _pattern(ro, ci, shape):
    return Csr(shape[0], shape[1], ci.numel(), ro.data_ptr(), ci.data_ptr(), None)


def gradient_grow(row_offsets, column_indices, shape, keep, dy, x, k, chunk_elements=0, threads=None):
    """RigL growth: int32 positions (i * cols + j, ascending) of the k largest |dY^T X| among absent positions."""
    ro, ci = row_offsets.cpu().contiguous(), column_indices.cpu().contiguous()
    dy = dy.detach().cpu().float()
    x = x.detach().cpu().float()
    p = _pattern(ro, ci, shape)
    from .ops import dense_struct
    dyd, xd = dense_struct(dy, "dy"), dense_struct(x, "x")
    grown = torch.empty(int(k), dtype=torch.int32)
    check(lib.sk_gradient_grow(_cpu_ctx(threads), ctypes.byref(p), keep.data_ptr() if keep is not None else None,
                               ctypes.byref(dyd), ctypes.byref(xd), int(k), int(chunk_elements), grown.data_ptr()))
    return grown


def random_grow(row_offsets, column_indices, shape, keep, k, seed, chunk_elements=0, threads=None):
    """SET growth: k Philox-random absent positions (ascending) for `seed`."""
    ro, ci = row_offsets.cpu().contiguous(), column_indices.cpu().contiguous()
    p = _pattern(ro, ci, shape)
    grown = torch.empty(int(k), dtype=torch.int32)
    check(lib.sk_random_grow(_cpu_ctx(threads), ctypes.byref(p), keep.data_ptr() if keep is not None else None, int(k),
                             int(seed) & 0xFFFFFFFFFFFFFFFF, int(chunk_elements), grown.data_ptr()))
    return grown


def csr_rebuild(layer, keep, grown, states, threads=None):
    """Rebuilds the layer's pattern and values in place (kept + grown, nnz constant) carrying each per-nonzero state."""
    dev = layer.values.device
    cpu = dev.type == "cpu"
    ro = layer.row_offsets if cpu else layer.row_offsets.cpu()
    ci = layer.column_indices if cpu else layer.column_indices.cpu()
    v = layer.values.data if cpu else layer.values.data.cpu()
    sts = [s if cpu else s.cpu() for s in states]
    for s in sts:
        if s.dtype != torch.float32 or not s.is_contiguous() or s.numel() != v.numel():
            raise ValueError(f"sparsekernels: a state tensor is {s.dtype} {tuple(s.shape)}; expected contiguous float32 [{v.numel()}]")
    shape = (layer.out_features, layer.in_features)
    old = Csr(shape[0], shape[1], ci.numel(), ro.data_ptr(), ci.data_ptr(), v.data_ptr())
    n = len(sts)
    ptrs = (ctypes.c_void_p * max(n, 1))(*[s.data_ptr() for s in sts])
    check(lib.sk_csr_rebuild(_cpu_ctx(threads), ctypes.byref(old), keep.data_ptr(), grown.data_ptr(), grown.numel(), n,
                             ptrs, ctypes.byref(old), ptrs))
    layer._pattern_version += 1   # the arrays were rewritten through their addresses: the layer's plan is stale
    if not cpu:
        with torch.no_grad():
            layer.row_offsets.copy_(ro)
            layer.column_indices.copy_(ci)
            layer.values.data.copy_(v)
            for dst, src in zip(states, sts):
                dst.copy_(src)


def sparse_layers(model):
    """The SparseLinear layers of `model` (itself included), in module order."""
    return [m for m in model.modules() if isinstance(m, SparseLinear)]


class DynamicSparsity:
    """Drop-and-grow over a model's SparseLinear layers on the engine's schedule; see RigL and SET."""

    rule = None

    def __init__(self, model, optimizer=None, total_steps=None, alpha=0.3, update_every=100, end_fraction=0.75, seed=0,
                 chunk_elements=0):
        if total_steps is None or total_steps <= 0:
            raise ValueError(f"{type(self).__name__}: total_steps (the training's step count) must be positive; got {total_steps}")
        if not (0 < alpha <= 1):
            raise ValueError(f"{type(self).__name__}: alpha {alpha} must lie in (0, 1]")
        if update_every <= 0:
            raise ValueError(f"{type(self).__name__}: update_every {update_every} must be positive")
        if not (0 <= end_fraction <= 1):
            raise ValueError(f"{type(self).__name__}: end_fraction {end_fraction} must lie in [0, 1]")
        self.model, self.optimizer = model, optimizer
        self.total_steps, self.alpha, self.update_every, self.end_fraction = int(total_steps), alpha, int(update_every), end_fraction
        self.seed, self.chunk_elements = seed, chunk_elements
        self.layers = sparse_layers(model)
        if not self.layers:
            raise ValueError(f"{type(self).__name__}: the model has no SparseLinear layer")
        self.last_counts = []
        self.updates = 0
        for layer in self.layers:
            layer.capture = self.rule == "gradient"

    def is_update_step(self, step):
        return drop_schedule(self.alpha, self.update_every, self.end_fraction, step, self.total_steps, 1)[0]

    def _states(self, layer):
        out = []
        if layer.values.grad is not None:
            out.append(layer.values.grad)
        if self.optimizer is not None:
            st = self.optimizer.state.get(layer.values, {})
            for key in sorted(st):
                t = st[key]
                if isinstance(t, torch.Tensor) and t.shape == layer.values.shape:
                    out.append(t)
        return out

    @torch.no_grad()
    def step(self, step):
        """Call after backward(). On an update step: drop and grow in every sparse layer, return True (skip the optimizer
        step then, as RigL does); otherwise return False."""
        upd, _ = drop_schedule(self.alpha, self.update_every, self.end_fraction, step, self.total_steps, 1)
        if not upd:
            return False
        counts = []
        for i, layer in enumerate(self.layers):
            if layer.nnz == layer.in_features * layer.out_features:
                counts.append(0)
                continue
            _, count = drop_schedule(self.alpha, self.update_every, self.end_fraction, step, self.total_steps, layer.nnz)
            counts.append(count)
            if count == 0:
                continue
            shape = (layer.out_features, layer.in_features)
            keep = magnitude_keep(layer.values, count, layer.threads)
            if self.rule == "gradient":
                if layer._last_x is None or layer._last_dy is None:
                    raise RuntimeError(f"{type(self).__name__}.step: layer {i} ({layer.out_features}x{layer.in_features}) has no "
                                       f"captured batch (x and dY): call step() after loss.backward()")
                grown = gradient_grow(layer.row_offsets, layer.column_indices, shape, keep, layer._last_dy, layer._last_x, count,
                                      self.chunk_elements, layer.threads)
            else:
                grown = random_grow(layer.row_offsets, layer.column_indices, shape, keep, count, grow_seed(self.seed, i, step),
                                    self.chunk_elements, layer.threads)
            csr_rebuild(layer, keep, grown, self._states(layer), layer.threads)
        self.last_counts = counts
        self.updates += 1
        return True


class RigL(DynamicSparsity):
    """RigL: grow where |dY^T X| of the last batch is largest (see the module docstring)."""
    rule = "gradient"


class SET(DynamicSparsity):
    """SET: grow at Philox-random absent positions (the engine's seed per layer and step)."""
    rule = "random"
