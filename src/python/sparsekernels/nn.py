"""SparseLinear: a linear layer whose weight is a CSR matrix run by the engine (forward SpMM, backward transposed SpMM and
SDDMM); its nonzero values are an nn.Parameter of length nnz, so torch.optim works unchanged."""
import ctypes
import math

import torch

from . import _lib, ops

_fwd, _bwd, _check = _lib.lib.sk_linear_forward, _lib.lib.sk_linear_backward, _lib.check


class _Lease:
    """Gives a pooled workspace back to its plan when the autograd node holding it is freed (its ctx goes away): then
    no backward can read it any more, whatever retain_graph was."""
    __slots__ = ("plan", "batch", "item")

    def __init__(self, plan, batch, item):
        self.plan, self.batch, self.item = plan, batch, item

    def __del__(self):
        plan = self.plan
        if plan._batch == self.batch and len(plan._free) < 4:
            plan._free.append(self.item)


class LinearPlan:
    """An sk_linear plan: the CPU layer products for one pattern (a validated copy of it and its CSC transpose), with
    the workspaces of the calls pooled for the batch size in use: x^T and the values snapshot that a forward keeps for
    its backward (taken from a free list, given back when the autograd node is freed: _Lease) and the scratch y^T, dy^T,
    dx^T that live only during a call (one set; calls on a plan are serialized by the library). y, dx and dW are fresh
    tensors (autograd and the caller own them)."""

    def __init__(self, row_offsets, column_indices, shape, threads):
        self.key = None
        self.handle = ctypes.c_void_p()
        self.out_features, self.in_features = shape
        self.nnz = column_indices.numel()
        csr = ops.csr_struct(row_offsets, column_indices, None, shape)
        _lib.check(_lib.lib.sk_linear_create(_lib.context_for(torch.device("cpu"), threads), ctypes.byref(csr),
                                             ctypes.byref(self.handle)))
        self.h = self.handle.value
        self._batch, self._free, self._scratch = -1, [], None

    def _use_batch(self, batch):
        if batch != self._batch:
            self._batch, self._free = batch, []
            o, i = self.out_features, self.in_features
            # y^T / dy^T share one buffer (never live in the same call), dx^T its own
            self._scratch = (torch.empty(o, batch), torch.empty(i, batch))

    def saved_workspace(self, batch):
        """(x^T, values snapshot) for a forward whose backward may run, and the lease that gives them back."""
        self._use_batch(batch)
        item = self._free.pop() if self._free else (torch.empty(self.in_features, batch), torch.empty(self.nnz))
        return item, _Lease(self, batch, item)

    def scratch(self, batch):
        self._use_batch(batch)
        return self._scratch

    def forward(self, x, values, xt, tvals):
        """y = x W^T (fresh tensor); x^T into xt, the values snapshot into tvals (None: not kept)."""
        batch = x.shape[0]
        yt, _ = self.scratch(batch)
        y = torch.empty(batch, self.out_features)
        _check(_fwd(self.h, x.data_ptr(), batch, values.data_ptr(), y.data_ptr(), xt.data_ptr(), yt.data_ptr(),
                    tvals.data_ptr() if tvals is not None else None))
        return y

    def forward_nograd(self, x, values):
        """y = x W^T with pooled x^T (no backward will read it)."""
        batch = x.shape[0]
        self._use_batch(batch)
        xt = self._scratch[1]
        return self.forward(x, values, xt, None)

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
            (xt, tvals), ctx.lease = plan.saved_workspace(xc.shape[0])
            y = plan.forward(xc, values, xt, tvals)
            ctx.save_for_backward(xt, tvals, row_offsets, column_indices)   # the pattern: autograd's in-place check
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
        dyt, dxt = plan.scratch(batch)
        s0, s1 = gy.stride()
        _check(_bwd(plan.h, gy.data_ptr(), s0, s1, batch, xt.data_ptr(), tvals.data_ptr(), gx.data_ptr() if need_x else None,
                    gv.data_ptr() if need_w else None, dyt.data_ptr(), dxt.data_ptr()))
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
        # parameters and buffers read from their dicts once (nn.Module.__getattr__ per access costs ~1 us each)
        values, bias = self._parameters["values"], self._parameters["bias"]
        ro, ci = self._buffers["row_offsets"], self._buffers["column_indices"]
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SparseLinear: input is {type(x).__name__}, not a torch.Tensor")
        if x.dtype != torch.float32:
            raise TypeError(f"SparseLinear {self.out_features}x{self.in_features}: input has dtype {x.dtype}; it computes in "
                            f"float32 (call x.float())")
        cpu = x.is_cpu and values.is_cpu
        if not cpu and x.device != values.device:
            raise ValueError(f"SparseLinear {self.out_features}x{self.in_features}: input is on {x.device} but the layer on "
                             f"{values.device} (move one of them with .to())")
        two_d = x.dim() == 2
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"SparseLinear {self.out_features}x{self.in_features}: input has shape {tuple(x.shape)}; the last "
                             f"dimension must be in_features = {self.in_features}")
        # a 2-D input is used as it is: a reshape would add view nodes to the autograd graph (time in every backward)
        x2 = x if two_d else x.reshape(-1, self.in_features)
        if values.numel() != ci.numel() or ro.numel() != self.out_features + 1:
            raise RuntimeError(f"SparseLinear {self.out_features}x{self.in_features}: the pattern buffers no longer match the values "
                               f"({values.numel()} values, {ci.numel()} column indices)")
        if cpu and not (torch.is_grad_enabled() and (x2.requires_grad or values.requires_grad)):
            # no graph will be recorded: the plan's forward on pooled workspaces, without autograd.Function
            if self.capture:
                self._last_x, self._last_dy = x2.detach(), None
            y = _plan_for(self).forward_nograd(x2 if x2.is_contiguous() else x2.contiguous(), values)
        else:
            y = SparseLinearFunction.apply(x2, values, ro, ci, self.out_features, self)
        if bias is not None:
            y = y + bias
        return y if two_d else y.reshape(*x.shape[:-1], self.out_features)

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
