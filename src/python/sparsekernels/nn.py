"""SparseLinear: a linear layer whose weight is a CSR matrix run by the engine (forward SpMM, backward transposed SpMM and
SDDMM); its nonzero values are an nn.Parameter of length nnz, so torch.optim works unchanged."""
import ctypes
import math

import torch

from . import _lib, ops


class LinearPlan:
    """An sk_linear plan: the CPU layer products for one pattern (a validated copy of it and its CSC transpose)."""

    def __init__(self, row_offsets, column_indices, shape, threads):
        self.key = None
        self.handle = ctypes.c_void_p()
        self.out_features, self.in_features = shape
        self.nnz = column_indices.numel()
        csr = ops.csr_struct(row_offsets, column_indices, None, shape)
        _lib.check(_lib.lib.sk_linear_create(_lib.context_for(torch.device("cpu"), threads), ctypes.byref(csr),
                                             ctypes.byref(self.handle)))

    def __del__(self):
        h = getattr(self, "handle", None)
        if h is not None and h.value and _lib is not None and _lib.lib is not None:
            _lib.lib.sk_linear_destroy(h)


def _plan_for(layer):
    """The layer's plan, rebuilt when its pattern buffers were replaced or changed (torch's version counters, and the
    layer's own counter that the RigL/SET rebuild bumps)."""
    ro, ci = layer.row_offsets, layer.column_indices
    key = (ro.data_ptr(), ci.data_ptr(), ro._version, ci._version, layer._pattern_version, ci.numel(), layer.threads)
    plan = layer._plan
    if plan is None or plan.key != key:
        plan = LinearPlan(ro, ci, (layer.out_features, layer.in_features), layer.threads)
        plan.key = key
        layer._plan = plan
    return plan


def _ptr(t):
    return t.data_ptr() if t is not None and t.numel() > 0 else None


class SparseLinearFunction(torch.autograd.Function):
    """y = x W^T for a batch-major x (batch x in) and W (out x in, CSR with the given values).

    Layout: the engine's ops are feature-major (sparse operand on the left): y^T = W x^T, dx^T = W^T dy^T and
    dW = (dy^T x) at the pattern = SDDMM(X = dy^T, Y = x^T). On the CPU, x^T, y^T, dy^T and dx^T are passed as transposed
    views (strides), so nothing is transposed here; on CUDA they are made contiguous (device operands must be row-major).
    """

    @staticmethod
    def forward(ctx, x, values, row_offsets, column_indices, out_features, layer):
        shape = (out_features, x.shape[1])
        cuda = x.device.type == "cuda"
        threads = layer.threads if layer is not None else None
        if not cuda and layer is not None:
            plan = _plan_for(layer)
            xc = x if x.is_contiguous() else x.contiguous()
            batch = xc.shape[0]
            xt = torch.empty(layer.in_features, batch)
            yt = torch.empty(out_features, batch)
            tvals = torch.empty(plan.nnz)
            y = torch.empty(batch, out_features)
            _lib.check(_lib.lib.sk_linear_forward(plan.handle, _ptr(xc), batch, _ptr(values), _ptr(y), _ptr(xt), _ptr(yt),
                                                  _ptr(tvals)))
            ctx.save_for_backward(xt, tvals, row_offsets, column_indices)
            ctx.shape, ctx.layer, ctx.plan = shape, layer, plan
            if layer.capture:
                layer._last_x = x.detach()
                layer._last_dy = None
            return y
        ctx.plan = None
        if cuda:
            xt = x.t().contiguous()
            yt = ops.spmm(row_offsets, column_indices, values, shape, xt, threads=threads)
            y = yt.t()
        else:
            xt = x.t()
            y = torch.empty(x.shape[0], out_features)
            ops.spmm(row_offsets, column_indices, values, shape, xt, out=y.t(), threads=threads)
        ctx.save_for_backward(xt, values, row_offsets, column_indices)
        ctx.shape, ctx.layer = shape, layer
        if layer is not None and layer.capture:
            layer._last_x = x.detach()
            layer._last_dy = None
        return y

    @staticmethod
    def backward(ctx, gy):
        if ctx.plan is not None:
            return SparseLinearFunction._backward_plan(ctx, gy)
        xt, values, row_offsets, column_indices = ctx.saved_tensors
        shape, layer = ctx.shape, ctx.layer
        threads = layer.threads if layer is not None else None
        cuda = gy.device.type == "cuda"
        if gy.dtype != torch.float32:
            gy = gy.float()
        if layer is not None and layer.capture:
            layer._last_dy = gy.detach()
        gyt = gy.t().contiguous() if cuda else gy.t()
        gx = gv = None
        if ctx.needs_input_grad[0]:
            if cuda:
                gx = ops.spmm_transposed(row_offsets, column_indices, values, shape, gyt, threads=threads).t()
            else:
                gx = torch.empty(gy.shape[0], shape[1])
                ops.spmm_transposed(row_offsets, column_indices, values, shape, gyt, out=gx.t(), threads=threads)
        if ctx.needs_input_grad[1]:
            gv = ops.sddmm(row_offsets, column_indices, shape, gyt, xt, threads=threads)
        return gx, gv, None, None, None, None

    @staticmethod
    def _backward_plan(ctx, gy):
        xt, tvals, _, _ = ctx.saved_tensors
        layer, plan = ctx.layer, ctx.plan
        if gy.dtype != torch.float32:
            gy = gy.float()
        if layer.capture:
            layer._last_dy = gy.detach()
        batch = gy.shape[0]
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        gx = torch.empty(batch, layer.in_features) if need_x else None
        gv = torch.empty(plan.nnz) if need_w else None
        dyt = torch.empty(layer.out_features, batch)
        dxt = torch.empty(layer.in_features, batch) if need_x else None
        s0, s1 = gy.stride()
        _lib.check(_lib.lib.sk_linear_backward(plan.handle, _ptr(gy), s0, s1, batch, _ptr(xt), _ptr(tvals), _ptr(gx), _ptr(gv),
                                               _ptr(dyt), _ptr(dxt)))
        return gx, gv, None, None, None, None


class SparseLinear(torch.nn.Module):
    """y = x W^T + b with W (out x in) sparse in CSR form.

    Parameters: `values` (float32, nnz: W's nonzeros in CSR order) and `bias`; buffers: `row_offsets` (int32, out + 1)
    and `column_indices` (int32, nnz), saved in the state dict. Inputs: float32 (..., in) on the layer's device.

    Build it from a density (a uniformly random pattern with exactly round(density * in * out) nonzeros), or use
    `from_mask` / `from_dense`, or `sparse_mlp` (ERK, ER or uniform densities over an MLP's layers).
    """

    def __init__(self, in_features, out_features, density=0.1, bias=True, device=None, generator=None,
                 threads=None, _pattern=None):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"SparseLinear: sizes must be positive; got in = {in_features}, out = {out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.threads = threads
        self.capture = False
        self._last_x = self._last_dy = None
        self._plan, self._pattern_version = None, 0
        if _pattern is None:
            if not (0 < density <= 1):
                raise ValueError(f"SparseLinear: density {density} must lie in (0, 1]")
            total = self.in_features * self.out_features
            nnz = max(1, int(round(density * total)))
            pos = torch.randperm(total, generator=generator)[:nnz].sort().values
            rows, cols = pos // self.in_features, pos % self.in_features
            bound = 1.0 / math.sqrt(max(1.0, density * self.in_features))
            vals = (torch.rand(nnz, generator=generator) * 2 - 1) * bound
            b = (torch.rand(self.out_features, generator=generator) * 2 - 1) * bound if bias else None
        else:
            rows, cols, vals, b = _pattern
        counts = torch.bincount(rows.long(), minlength=self.out_features)
        ro = torch.zeros(self.out_features + 1, dtype=torch.int32)
        ro[1:] = torch.cumsum(counts, 0).to(torch.int32)
        self.register_buffer("row_offsets", ro.to(device))
        self.register_buffer("column_indices", cols.to(torch.int32).contiguous().to(device))
        self.values = torch.nn.Parameter(vals.to(torch.float32).contiguous().to(device))
        if b is not None:
            self.bias = torch.nn.Parameter(b.to(torch.float32).to(device))
        else:
            self.register_parameter("bias", None)

    @classmethod
    def from_mask(cls, mask, weight=None, bias=None, threads=None):
        """A layer with the pattern of `mask` (out x in; nonzero/True = kept) and the values of `weight` there (else 0)."""
        if mask.dim() != 2:
            raise ValueError(f"SparseLinear.from_mask: mask has shape {tuple(mask.shape)}; it must be 2-D (out x in)")
        out_f, in_f = mask.shape
        if weight is not None and tuple(weight.shape) != (out_f, in_f):
            raise ValueError(f"SparseLinear.from_mask: weight has shape {tuple(weight.shape)}; the mask is {out_f}x{in_f}")
        if bias is not None and tuple(bias.shape) != (out_f,):
            raise ValueError(f"SparseLinear.from_mask: bias has shape {tuple(bias.shape)}; it must have {out_f} elements")
        m = mask.detach().cpu() != 0
        rows, cols = m.nonzero(as_tuple=True)
        vals = weight.detach().cpu().float()[rows, cols] if weight is not None else torch.zeros(rows.numel())
        b = bias.detach().cpu().float() if bias is not None else None
        return cls(in_f, out_f, bias=b is not None, device=mask.device, threads=threads, _pattern=(rows, cols, vals, b))

    @classmethod
    def from_dense(cls, weight, bias=None, threads=None):
        """A layer whose pattern is the nonzeros of `weight` (out x in) and whose values are them."""
        return cls.from_mask(weight.detach() != 0, weight, bias, threads)

    @property
    def nnz(self):
        return self.values.numel()

    @property
    def density(self):
        return self.nnz / (self.in_features * self.out_features)

    def forward(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SparseLinear: input is {type(x).__name__}, not a torch.Tensor")
        if x.dtype != torch.float32:
            raise TypeError(f"SparseLinear {self.out_features}x{self.in_features}: input has dtype {x.dtype}; it computes in "
                            f"float32 (call x.float())")
        if x.device != self.values.device:
            raise ValueError(f"SparseLinear {self.out_features}x{self.in_features}: input is on {x.device} but the layer on "
                             f"{self.values.device} (move one of them with .to())")
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"SparseLinear {self.out_features}x{self.in_features}: input has shape {tuple(x.shape)}; the last "
                             f"dimension must be in_features = {self.in_features}")
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)
        if self.values.numel() != self.column_indices.numel() or self.row_offsets.numel() != self.out_features + 1:
            raise RuntimeError(f"SparseLinear {self.out_features}x{self.in_features}: the pattern buffers no longer match the values "
                               f"({self.values.numel()} values, {self.column_indices.numel()} column indices)")
        y = SparseLinearFunction.apply(x2, self.values, self.row_offsets, self.column_indices, self.out_features, self)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*lead, self.out_features)

    def to_dense(self):
        """W as a dense out x in tensor (zeros off the pattern), detached."""
        d = torch.zeros(self.out_features, self.in_features, device=self.values.device)
        d[self._rows(), self.column_indices.long()] = self.values.detach()
        return d

    def mask(self):
        """The 0/1 float mask (out x in) of the pattern."""
        m = torch.zeros(self.out_features, self.in_features, device=self.values.device)
        m[self._rows(), self.column_indices.long()] = 1
        return m

    def _rows(self):
        counts = (self.row_offsets[1:] - self.row_offsets[:-1]).long()
        return torch.repeat_interleave(torch.arange(self.out_features, device=counts.device), counts)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, nnz={self.nnz}, density={self.density:.4f}"


def sparse_mlp_layers(sizes, sparsity, distribution="erk", bias=True, generator=None, device=None, threads=None):
    """The layers of an MLP with layer sizes `sizes` (e.g. [784, 300, 100, 10]) at an overall `sparsity`, spread by the
    engine's LayerDensities (uniform, er or erk), each with exactly its count of nonzeros."""
    counts = ops.layer_counts(sizes, sparsity, distribution)
    return [SparseLinear(sizes[i], sizes[i + 1], density=counts[i] / (sizes[i] * sizes[i + 1]), bias=bias, device=device,
                         generator=generator, threads=threads) for i in range(len(counts))]
