using SparseKernels.Native;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Topology;

/// <summary>
/// Merges the kept nonzeros of a layer and its grown positions into a new CSR with sorted columns
/// (kernels/csr_rebuild.cu). Kept weights keep their value and every optimizer-state value; grown ones start at 0,
/// except a position that was in the old pattern (dropped and regrown in the same update), which keeps its old
/// value and state (RigL's rule). nnz = kept + grown.
/// </summary>
public static class CsrRebuild
{
    private static readonly KernelRef s_csrRebuildRowOffsetsV1 = new("csr_rebuild_row_offsets_v1");
    private static readonly KernelRef s_csrRebuildMergeV1 = new("csr_rebuild_merge_v1");

    internal const string Op = "CsrRebuild";

    /// <summary>
    /// The new layer and its state arrays (new buffers; the inputs are left alone). keep: flags per old nonzero
    /// (1 = kept); grown: ascending positions row * n + col, absent from the kept part (from <see cref="GradientGrow"/>
    /// or <see cref="RandomGrow"/>; checked on the host).
    /// </summary>
    public static (CsrMatrix Weights, DeviceBuffer<float>[] State) Run(IDevice device, CsrMatrix old, IReadOnlyList<DeviceBuffer<float>> state,
        DeviceBuffer<byte> keep, DeviceBuffer<int>? grown, int grownCount, string layer = "layer")
    {
        OperandChecks.Device(device, Op);
        OperandChecks.On(device, old, Op, nameof(old));
        ArgumentNullException.ThrowIfNull(state);
        OperandChecks.On(device, keep, Op, nameof(keep));
        if (keep.Length < old.Nnz)
            throw new ArgumentException($"{Op}: layer '{layer}': {keep.Length} keep flags for {old.Nnz} nonzeros.", nameof(keep));
        for (int s = 0; s < state.Count; s++)
        {
            OperandChecks.On(device, state[s], Op, $"state[{s}]");
            if (state[s].Length != old.Nnz)
                throw new ArgumentException($"{Op}: layer '{layer}': state array {s} holds {state[s].Length} values for {old.Nnz} nonzeros.", nameof(state));
        }
        int m = old.Rows, n = old.Cols;
        TopologyChecks.SizeFitsInt(Op, layer, (long)m * n, "positions");
        if (grownCount < 0 || (grownCount > 0 && (grown is null || grown.Length < grownCount)))
            throw new ArgumentException($"{Op}: layer '{layer}': grownCount = {grownCount} but the grown buffer holds {grown?.Length ?? 0}.", nameof(grownCount));

        var (keepIdx, nkeep) = old.Nnz == 0 ? (device.Allocate<int>(1), 0) : TopkSelect.Compact(device, keep, old.Nnz);
        using (keepIdx)
        {
            CheckGrown(grown, grownCount, old, layer);
            using var conflicts = device.Allocate<uint>(1);
            device.Fill32(conflicts, 0u);
            int nnz = nkeep + grownCount;
            var rowOffsets = device.Allocate<int>(m + 1);
            var cols = device.Allocate<int>(Math.Max(nnz, 1));
            var values = device.Allocate<float>(Math.Max(nnz, 1));
            var newState = new DeviceBuffer<float>[state.Count];
            ulong pGrown = grownCount > 0 ? grown!.Pointer.Address : 0UL;
            var args = new KernelArgs();
            args.Add(m);
            args.Add(n);
            args.Add(old.DeviceRowOffsets.Pointer.Address);
            args.Add(keepIdx.Pointer.Address);
            args.Add(nkeep);
            args.Add(pGrown);
            args.Add(grownCount);
            args.Add(rowOffsets.Pointer.Address);
            TopkSelect.Launch(device, s_csrRebuildRowOffsetsV1, m + 1, ref args);
            Merge(device, old, keepIdx, nkeep, pGrown, grownCount, rowOffsets, old.DeviceValues, cols.Pointer.Address, values, conflicts);
            uint clash = conflicts.ToArray()[0];
            if (clash != 0)
            {
                rowOffsets.Dispose(); cols.Dispose(); values.Dispose();
                throw new ArgumentException($"{Op}: layer '{layer}': {clash} grown positions are already kept; growth must pick absent positions.", nameof(grown));
            }
            for (int s = 0; s < state.Count; s++)
            {
                newState[s] = device.Allocate<float>(Math.Max(nnz, 1));
                Merge(device, old, keepIdx, nkeep, pGrown, grownCount, rowOffsets, state[s], 0UL, newState[s], conflicts);
            }
            return (CsrMatrix.FromDevice(m, n, nnz, rowOffsets, cols, values), newState);
        }
    }

    private static void Merge(IDevice device, CsrMatrix old, DeviceBuffer<int> keepIdx, int nkeep, ulong grown, int ngrown, DeviceBuffer<int> rowOffsets,
        DeviceBuffer<float> src, ulong outCols, DeviceBuffer<float> outValues, DeviceBuffer<uint> conflicts)
    {
        if (old.Rows == 0) return;
        var args = new KernelArgs();
        args.Add(old.Rows);
        args.Add(old.Cols);
        args.Add(old.DeviceRowOffsets.Pointer.Address);
        args.Add(old.DeviceColumnIndices.Pointer.Address);
        args.Add(keepIdx.Pointer.Address);
        args.Add(nkeep);
        args.Add(grown);
        args.Add(ngrown);
        args.Add(rowOffsets.Pointer.Address);
        args.Add(src.Pointer.Address);
        args.Add(outCols);
        args.Add(outValues.Pointer.Address);
        args.Add(conflicts.Pointer.Address);
        TopkSelect.Launch(device, s_csrRebuildMergeV1, old.Rows, ref args);
    }

    /// <summary>Grown positions must be ascending and in range (host check of the k positions; "not kept" is checked by the merge kernel).</summary>
    private static void CheckGrown(DeviceBuffer<int>? grown, int count, CsrMatrix old, string layer)
    {
        if (count == 0) return;
        var g = new int[count];
        grown!.CopyTo(g);
        long limit = (long)old.Rows * old.Cols;
        for (int i = 0; i < count; i++)
        {
            if (g[i] < 0 || g[i] >= limit)
                throw new ArgumentException($"{Op}: layer '{layer}': grown position {g[i]} (entry {i}) is outside the {old.Rows}x{old.Cols} layer.", nameof(grown));
            if (i > 0 && g[i] <= g[i - 1])
                throw new ArgumentException($"{Op}: layer '{layer}': grown positions must be strictly ascending; entry {i} = {g[i]} follows {g[i - 1]}.", nameof(grown));
        }
    }
}
