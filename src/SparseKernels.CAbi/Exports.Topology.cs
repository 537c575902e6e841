using System.Runtime.InteropServices;
using SparseKernels.Sparsity;
using SparseKernels.Tensors;

namespace SparseKernels.CAbi;

/// <summary>
/// The exported topology steps of sparsekernels.h (host memory; any context, run by its CPU backend): magnitude drop,
/// RigL gradient growth over chunks, SET random growth, the CSR rebuild carrying per-nonzero state, and the schedule,
/// seed and layer-density helpers, so that a Python RigL/SET loop makes exactly the engine's choices.
/// </summary>
internal static unsafe partial class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "sk_magnitude_drop")]
    public static int SkMagnitudeDrop(nint context, float* values, long nnz, long drop, byte* keep)
    {
        const string op = "sk_magnitude_drop";
        try
        {
            var ctx = Contexts.Get(context, op);
            Operands.Array(values, nnz, 4, op, "values");
            Operands.Array(keep, nnz, 1, op, "keep");
            if (drop < 0 || drop > nnz) throw new AbiException(Status.InvalidArgument, $"{op}: drop = {drop}; it must lie in [0, nnz = " +
                $"{nnz}].");
            var v = Operands.Scratch<float>("drop.v", nnz);
            if (nnz > 0) new ReadOnlySpan<float>(values, (int)nnz).CopyTo(v);
            var flags = ctx.Cpu.TopkSelect(v, nnz - drop, "values");
            for (int i = 0; i < flags.Length; i++) keep[i] = flags[i] ? (byte)1 : (byte)0;
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_gradient_grow")]
    public static int SkGradientGrow(nint context, SkCsr* pattern, byte* keep, SkDense* dy, SkDense* x, long k, long chunkElements,
        int* grown)
    {
        const string op = "sk_gradient_grow";
        try
        {
            var ctx = Contexts.Get(context, op);
            var (m, n, _) = Operands.CsrShape(pattern, op, "pattern");
            var (batch, _) = Operands.DenseShape(dy, op, "dy", -1, m, output: false);
            Operands.DenseShape(x, op, "x", batch, n, output: false);
            var p = Operands.HostCsr(pattern, op, "pattern", values: false, "p");
            var keepFlags = KeepFlags(keep, p.Nnz, op);
            CheckK(k, grown, op);
            var g = ctx.Cpu.GradientGrow(p, keepFlags, Operands.Gather(dy, "dy"), Operands.Gather(x, "x"), k, "pattern",
                Chunk(chunkElements));
            g.AsSpan().CopyTo(new Span<int>(grown, g.Length));
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_random_grow")]
    public static int SkRandomGrow(nint context, SkCsr* pattern, byte* keep, long k, ulong seed, long chunkElements, int* grown)
    {
        const string op = "sk_random_grow";
        try
        {
            var ctx = Contexts.Get(context, op);
            var p = Operands.HostCsr(pattern, op, "pattern", values: false, "p");
            var keepFlags = KeepFlags(keep, p.Nnz, op);
            CheckK(k, grown, op);
            var g = ctx.Cpu.RandomGrow(p, keepFlags, k, seed, "pattern", Chunk(chunkElements));
            g.AsSpan().CopyTo(new Span<int>(grown, g.Length));
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_csr_rebuild")]
    public static int SkCsrRebuild(nint context, SkCsr* old, byte* keep, int* grown, long grownCount,
        int stateCount, float** stateIn, SkCsr* result, float** stateOut)
    {
        const string op = "sk_csr_rebuild";
        try
        {
            var ctx = Contexts.Get(context, op);
            var w = Operands.HostCsr(old, op, "old", values: true, "old");
            Operands.NotNull(keep, op, "keep");
            var keepFlags = KeepFlags(keep, w.Nnz, op)!;
            Operands.Array(grown, grownCount, 4, op, "grown");
            if (stateCount < 0) throw new AbiException(Status.InvalidArgument, $"{op}: state_count = {stateCount} is negative.");
            if (stateCount > 0) { Operands.NotNull(stateIn, op, "state_in"); Operands.NotNull(stateOut, op, "state_out"); }
            var (rows, cols, nnz) = Operands.CsrShape(result, op, "result");
            if (rows != w.Rows || cols != w.Cols)
                throw new AbiException(Status.Shape, $"{op}: result is {rows}x{cols}; the old matrix is {w.Rows}x{w.Cols}.");
            long kept = 0;
            foreach (bool f in keepFlags) if (f) kept++;
            if (kept + grownCount != nnz)
                throw new AbiException(Status.Shape, $"{op}: {kept} kept + {grownCount} grown = {kept + grownCount} nonzeros, but " +
                    $"result.nnz = {nnz}.");
            Operands.Array(result->Values, nnz, 4, op, "result.values");
            var state = new float[stateCount][];
            for (int s = 0; s < stateCount; s++)
            {
                Operands.Array(stateIn[s], w.Nnz, 4, op, $"state_in[{s}]");
                Operands.Array(stateOut[s], nnz, 4, op, $"state_out[{s}]");
                state[s] = new ReadOnlySpan<float>(stateIn[s], w.Nnz).ToArray();
            }
            var g = new ReadOnlySpan<int>(grown, (int)grownCount).ToArray();
            var (rebuilt, newState) = ctx.Cpu.CsrRebuild(w, state, keepFlags, g, "old");
            // Inputs were copied above, so the result may alias them (an in-place update).
            rebuilt.RowOffsets.AsSpan().CopyTo(new Span<int>(result->RowOffsets, rows + 1));
            rebuilt.ColumnIndices.AsSpan().CopyTo(new Span<int>(result->ColumnIndices, nnz));
            rebuilt.Values.AsSpan().CopyTo(new Span<float>(result->Values, nnz));
            for (int s = 0; s < stateCount; s++) newState[s].AsSpan().CopyTo(new Span<float>(stateOut[s], nnz));
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_drop_schedule")]
    public static int SkDropSchedule(double alpha, long updateEvery, double endFraction, long step, long totalSteps, long nnz,
        int* isUpdate, long* count)
    {
        const string op = "sk_drop_schedule";
        try
        {
            Operands.NotNull(isUpdate, op, "is_update");
            Operands.NotNull(count, op, "count");
            if (!(alpha > 0 && alpha <= 1)) throw new AbiException(Status.InvalidArgument, $"{op}: alpha = {alpha}; it must lie in (0, " +
                $"1].");
            if (updateEvery <= 0 || updateEvery > int.MaxValue) throw new AbiException(Status.InvalidArgument, $"{op}: update_every = " +
                $"{updateEvery}; it must be positive.");
            if (!(endFraction >= 0 && endFraction <= 1)) throw new AbiException(Status.InvalidArgument, $"{op}: end_fraction = " +
                $"{endFraction}; it must lie in [0, 1].");
            if (totalSteps < 0 || nnz < 0) throw new AbiException(Status.InvalidArgument, $"{op}: total_steps = {totalSteps}, nnz = " +
                $"{nnz}; neither may be negative.");
            long tEnd = DropSchedule.EndStep(endFraction, totalSteps);
            bool update = DropSchedule.IsUpdateStep(step, (int)updateEvery, tEnd);
            *isUpdate = update ? 1 : 0;
            *count = update ? DropSchedule.Count(alpha, step, tEnd, nnz) : 0;
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_grow_seed")]
    public static ulong SkGrowSeed(ulong seed, int layer, long step) => LayerSurgery.GrowSeed(seed, layer, step);

    [UnmanagedCallersOnly(EntryPoint = "sk_layer_counts")]
    public static int SkLayerCounts(int* sizes, int sizeCount, double sparsity, int distribution, long* counts)
    {
        const string op = "sk_layer_counts";
        try
        {
            if (sizeCount < 2) throw new AbiException(Status.InvalidArgument, $"{op}: size_count = {sizeCount}; an MLP needs at least " +
                $"2 layer sizes.");
            Operands.NotNull(sizes, op, "sizes");
            Operands.NotNull(counts, op, "counts");
            if (distribution is < 0 or > 2)
                throw new AbiException(Status.InvalidArgument, $"{op}: distribution = {distribution}; use 0 (uniform), 1 (Erdos-Renyi) " +
                    $"or 2 (ERK).");
            var s = new ReadOnlySpan<int>(sizes, sizeCount).ToArray();
            foreach (int v in s) if (v <= 0) throw new AbiException(Status.Shape, $"{op}: layer size {v} is not positive.");
            if (!(sparsity >= 0 && sparsity < 1)) throw new AbiException(Status.InvalidArgument, $"{op}: sparsity = {sparsity}; it " +
                $"must lie in [0, 1).");
            var dist = distribution switch
            {
                0 => DensityDistribution.Uniform,
                1 => DensityDistribution.ErdosRenyi,
                _ => DensityDistribution.ErdosRenyiKernel
            };
            var c = LayerDensities.Counts(s, sparsity, dist);
            c.AsSpan().CopyTo(new Span<long>(counts, c.Length));
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    private static bool[]? KeepFlags(byte* keep, int nnz, string op)
    {
        if (keep is null) return null;
        var f = new bool[nnz];
        for (int i = 0; i < nnz; i++) f[i] = keep[i] != 0;
        return f;
    }

    private static void CheckK(long k, int* grown, string op)
    {
        if (k < 0) throw new AbiException(Status.InvalidArgument, $"{op}: k = {k} is negative.");
        Operands.Array(grown, k, 4, op, "grown");
    }

    private static long Chunk(long chunkElements) => chunkElements <= 0 ? 1 << 20 : chunkElements;
}
