using System.Runtime.InteropServices;
using SparseKernels.Autograd;
using SparseKernels.Embedding;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.CAbi;

/// <summary>The exported functions of sparsekernels.h: SpMM, transposed SpMM and SDDMM on host or device memory.</summary>
internal static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "sk_spmm_csr")]
    public static int SkSpmmCsr(nint context, SkCsr* a, SkDense* b, SkDense* c, nint stream, int flags)
    {
        const string op = "sk_spmm_csr";
        try
        {
            var ctx = Contexts.Get(context, op);
            var (m, k, _) = Operands.CsrShape(a, op, "a");
            var (_, n) = Operands.DenseShape(b, op, "b", k, -1, output: false);
            Operands.DenseShape(c, op, "c", m, n, output: true);
            if (ctx.Device is null)
            {
                NoStream(stream, op);
                var am = Operands.HostCsr(a, op, "a", values: true, "a");
                var bm = Operands.Gather(b, "b");
                var cm = ctx.Cpu.SpmmCsr(am, bm);
                Operands.Scatter(cm.HostData, c);
            }
            else
            {
                using var dev = DeviceOperands.Open(ctx, stream, op);
                var aw = dev.Csr(a, op, "a", flags);
                var bw = dev.Dense(b, op, "b");
                var cw = dev.Dense(c, op, "c");
                if (m > 0 && n > 0) SpmmCsr.Run(ctx.Device, aw, bw, cw, SpmmCsrVersion.V2, dev.Stream);
            }
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_spmm_csr_transposed")]
    public static int SkSpmmCsrTransposed(nint context, SkCsr* a, SkDense* b, SkDense* c, nint stream, int flags)
    {
        const string op = "sk_spmm_csr_transposed";
        try
        {
            var ctx = Contexts.Get(context, op);
            var (m, k, nnz) = Operands.CsrShape(a, op, "a");
            var (_, n) = Operands.DenseShape(b, op, "b", m, -1, output: false);
            Operands.DenseShape(c, op, "c", k, n, output: true);
            if (ctx.Device is null)
            {
                NoStream(stream, op);
                var am = Operands.HostCsr(a, op, "a", values: true, "a");
                var bm = Operands.Gather(b, "b");
                var cm = ctx.Cpu.SpmmCsrTransposed(am, bm);
                Operands.Scatter(cm.HostData, c);
            }
            else
            {
                using var dev = DeviceOperands.Open(ctx, stream, op);
                var aw = dev.Csr(a, op, "a", flags);
                var bw = dev.Dense(b, op, "b");
                var cw = dev.Dense(c, op, "c");
                if (k == 0 || n == 0) return Errors.Ok();
                // The transposed pattern is built on the host from a copy of A's pattern (one stream synchronisation),
                // its values gathered on the device through the permutation; the temporaries live until the stream has run.
                dev.Stream?.Synchronize();
                var ro = new int[m + 1]; var ci = new int[nnz];
                aw.DeviceRowOffsets.CopyTo(ro);
                if (nnz > 0) aw.DeviceColumnIndices.CopyTo(ci);
                var host = new CsrMatrix(m, k, ro, ci, new float[nnz]);
                using var perm = new SparsePermutation(host, ctx.Device);
                using var tRo = ctx.Device.Allocate<int>(k + 1);
                using var tCi = ctx.Device.Allocate<int>(Math.Max(1, nnz));
                using var tV = ctx.Device.Allocate<float>(Math.Max(1, nnz));
                tRo.CopyFrom(perm.TransposedRowOffsets);
                if (nnz > 0)
                {
                    tCi.CopyFrom(perm.TransposedColumnIndices);
                    GatherValues.Run(ctx.Device, aw.DeviceValues, perm.Device!, tV, dev.Stream);
                }
                var at = CsrMatrix.FromDevice(k, m, nnz, tRo, tCi, tV);
                SpmmCsr.RunTransposed(ctx.Device, at, bw, cw, SpmmCsrVersion.V2, dev.Stream);
                if (dev.Stream is { } s) s.Synchronize(); else ctx.Device.Synchronize();
            }
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_sddmm_csr")]
    public static int SkSddmmCsr(nint context, SkCsr* pattern, SkDense* x, SkDense* y, float* output, nint stream, int flags)
    {
        const string op = "sk_sddmm_csr";
        try
        {
            var ctx = Contexts.Get(context, op);
            var (m, n, nnz) = Operands.CsrShape(pattern, op, "pattern");
            var (_, kk) = Operands.DenseShape(x, op, "x", m, -1, output: false);
            Operands.DenseShape(y, op, "y", n, kk, output: false);
            Operands.Array(output, nnz, 4, op, "output");
            if (ctx.Device is null)
            {
                NoStream(stream, op);
                var pm = Operands.HostCsr(pattern, op, "pattern", values: false, "p");
                var xm = Operands.Gather(x, "x");
                var ym = Operands.Gather(y, "y");
                var r = ctx.Cpu.SddmmCsr(pm, xm, ym);
                if (nnz > 0) r.Values.AsSpan().CopyTo(new Span<float>(output, nnz));
            }
            else
            {
                using var dev = DeviceOperands.Open(ctx, stream, op);
                var pw = dev.Csr(pattern, op, "pattern", flags, values: false);
                var xw = dev.Dense(x, op, "x");
                var yw = dev.Dense(y, op, "y");
                var ow = External.WrapBuffer<float>(ctx.Device, (ulong)output, nnz);
                if (nnz > 0) SddmmCsr.Run(ctx.Device, xw, yw, pw, ow, SddmmCsrVersion.V2, dev.Stream);
            }
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    private static void NoStream(nint stream, string op)
    {
        if (stream != 0)
            throw new AbiException(Status.InvalidArgument, $"{op}: a stream (0x{stream:x}) was given to a CPU context; pass NULL.");
    }
}

/// <summary>Device operands of one call: wrapped (not owned) addresses and the caller's stream.</summary>
internal sealed unsafe class DeviceOperands : IDisposable
{
    private readonly Context _ctx;
    public DeviceStream? Stream { get; }

    private DeviceOperands(Context ctx, DeviceStream? stream) { _ctx = ctx; Stream = stream; }

    public static DeviceOperands Open(Context ctx, nint stream, string op)
    {
        DeviceStream? s = null;
        if (ctx.Device is CudaDevice cuda) s = External.WrapStream(cuda, stream);
        else if (stream != 0)
            throw new AbiException(Status.InvalidArgument, $"{op}: the emulated device has no streams; pass NULL (got 0x{stream:x}).");
        return new DeviceOperands(ctx, s);
    }

    public CsrMatrix Csr(SkCsr* a, string op, string name, int flags, bool values = true)
    {
        var (rows, cols, nnz) = Operands.CsrShape(a, op, name);
        if (values) Operands.Array(a->Values, nnz, 4, op, $"{name}.values");
        var dev = _ctx.Device!;
        ulong v = values ? (ulong)a->Values : 0;
        var m = External.WrapCsr(dev, rows, cols, nnz, (ulong)a->RowOffsets, (ulong)a->ColumnIndices,
            v == 0 && nnz > 0 ? (ulong)a->ColumnIndices : v);
        if ((flags & Operands.Validate) != 0)
        {
            Stream?.Synchronize();
            var ro = new int[rows + 1]; var ci = new int[nnz];
            m.DeviceRowOffsets.CopyTo(ro);
            if (nnz > 0) m.DeviceColumnIndices.CopyTo(ci);
            try { CsrMatrix.Validate(rows, cols, ro, ci, nnz); }
            catch (CsrFormatException e) { throw new AbiException(Status.InvalidCsr, $"{op}: {name}: {e.Message}"); }
        }
        return m;
    }

    public DenseTensor Dense(SkDense* d, string op, string name)
    {
        if (!Operands.RowMajor(d))
            throw new AbiException(Status.Unsupported, $"{op}: {name} ({d->Rows}x{d->Cols}, strides {d->RowStride}, {d->ColStride}) is " +
                $"not row-major " +
                "contiguous; device operands must be (row_stride = cols, col_stride = 1).");
        return External.WrapDense(_ctx.Device!, (ulong)d->Data, (int)d->Rows, (int)d->Cols);
    }

    public void Dispose() => Stream?.Dispose();
}
