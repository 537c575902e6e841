using System.Runtime.InteropServices;
using SparseKernels.TorchSharp;

namespace SparseKernels.CAbi;

/// <summary>
/// The exported layer plans of sparsekernels.h (sk_linear_*): the three products of a sparse linear layer on batch-major
/// host operands, y = x W^T, dx = dy W and dW = (dy^T x) at the pattern, by the engine's batch-major CPU kernels
/// (CsrLinear, the same file the TorchSharp layer compiles: a plan per pattern with its CSC transpose, register-blocked
/// transposes into caller-owned workspaces, no managed allocation per call).
/// </summary>
internal static unsafe partial class Exports
{
    private static readonly Dictionary<nint, CsrLinear> s_plans = [];
    private static readonly Lock s_plansLock = new();
    private static nint s_nextPlan = 0x7A00;

    private static CsrLinear Plan(nint handle, string op)
    {
        lock (s_plansLock)
            if (s_plans.TryGetValue(handle, out var p)) return p;
        throw new AbiException(Status.BadHandle, handle == 0
            ? $"{op}: the plan is NULL (create one with sk_linear_create)."
            : $"{op}: 0x{handle:x} is not a live plan (destroyed already, or not from sk_linear_create).");
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_linear_create")]
    public static int SkLinearCreate(nint context, SkCsr* pattern, nint* plan)
    {
        const string op = "sk_linear_create";
        try
        {
            Operands.NotNull(plan, op, "plan (the out pointer)");
            *plan = 0;
            var ctx = Contexts.Get(context, op);
            if (ctx.Device is not null)
                throw new AbiException(Status.Unsupported, $"{op}: layer plans run on the CPU; this context is a device (use " +
                    $"sk_spmm_csr etc.).");
            var (rows, cols, nnz) = Operands.CsrShape(pattern, op, "pattern");
            CsrLinear p;
            try
            {
                p = new CsrLinear(rows, cols, new ReadOnlySpan<int>(pattern->RowOffsets, rows + 1),
                    nnz == 0 ? default : new ReadOnlySpan<int>(pattern->ColumnIndices, nnz), ctx.Cpu.MaxDegreeOfParallelism)
                {
                    SerialWork = LinearSerialWork,
                };
            }
            catch (Tensors.CsrFormatException e) { throw new AbiException(Status.InvalidCsr, $"{op}: pattern: {e.Message}"); }
            lock (s_plansLock)
            {
                s_nextPlan += 16;
                s_plans[s_nextPlan] = p;
                *plan = s_nextPlan;
            }
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_linear_destroy")]
    public static int SkLinearDestroy(nint plan)
    {
        const string op = "sk_linear_destroy";
        try
        {
            if (plan == 0) return Errors.Ok();
            lock (s_plansLock)
                if (s_plans.Remove(plan)) return Errors.Ok();
            throw new AbiException(Status.BadHandle, $"{op}: 0x{plan:x} is not a live plan (destroyed already, or not from " +
                $"sk_linear_create).");
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_linear_forward")]
    public static int SkLinearForward(nint plan, float* x, long batch, float* values, float* y, float* xT, float* yT, float* tValues)
    {
        const string op = "sk_linear_forward";
        try
        {
            var p = Plan(plan, op);
            long b = Batch(batch, p, op);
            Operands.Array(x, b * p.In, 4, op, "x");
            Operands.Array(values, p.Nnz, 4, op, "values");
            Operands.Array(y, b * p.Out, 4, op, "y");
            Operands.Array(xT, b * p.In, 4, op, "x_t");
            Operands.Array(yT, b * p.Out, 4, op, "y_t");
            if (tValues is not null) Operands.Array(tValues, p.Nnz, 4, op, "t_values");
            p.Forward(x, (int)b, values, y, xT, yT, tValues);
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_linear_backward")]
    public static int SkLinearBackward(nint plan, float* dy, long dyStride0, long dyStride1, long batch, float* xT, float* tValues,
        float* dx, float* dw, float* dyT, float* dxT)
    {
        const string op = "sk_linear_backward";
        try
        {
            var p = Plan(plan, op);
            long b = Batch(batch, p, op);
            if (dyStride0 < 0 || dyStride1 < 0)
                throw new AbiException(Status.Shape, $"{op}: dy has negative strides ({dyStride0}, {dyStride1}).");
            if (b > 0 && p.Out > 0) Operands.NotNull(dy, op, "dy");
            Operands.Aligned(dy, 4, op, "dy");
            Operands.Array(xT, b * p.In, 4, op, "x_t");
            Operands.Array(dyT, b * p.Out, 4, op, "dy_t");
            if (dx is not null)
            {
                Operands.Array(dx, b * p.In, 4, op, "dx");
                Operands.Array(tValues, p.Nnz, 4, op, "t_values");
                Operands.Array(dxT, b * p.In, 4, op, "dx_t");
            }
            if (dw is not null) Operands.Array(dw, p.Nnz, 4, op, "dw");
            p.Backward(dy, dyStride0, dyStride1, (int)b, xT, tValues, dx, dw, dyT, dxT);
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    /// <summary>
    /// Multiply-adds (nnz x batch) below which a plan's call runs on the calling thread here: 1 M, not the TorchSharp
    /// layer's 4 M. Measured from Python (bench/pytorch/layer_profile.py, AVX-512 build, batch 128, 2 threads, quiet):
    /// 256x512 at 80 % (3.4 M) took 0.43-0.48 ms a step on 2 threads and 0.78 ms on one; 1024x1024 at 98-99 % (1.3-2.7 M)
    /// 0.34-0.44 ms against 0.68-0.81 ms; below 1 M (256x512 from 95 %) one and two threads were within the noise (0.14-0.28 ms).
    /// </summary>
    internal const long LinearSerialWork = 1L << 20;

    private static long Batch(long batch, CsrLinear p, string op)
    {
        if (batch < 0) throw new AbiException(Status.Shape, $"{op}: batch = {batch} is negative.");
        if (batch * Math.Max(p.In, p.Out) > int.MaxValue)
            throw new AbiException(Status.Shape, $"{op}: batch {batch} x {Math.Max(p.In, p.Out)} features exceeds {int.MaxValue} " +
                $"elements.");
        return batch;
    }
}
