using SparseKernels.Native;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Topology;

/// <summary>
/// The bounded-memory top-k over the absent positions of a layer that <see cref="GradientGrow"/> and
/// <see cref="RandomGrow"/> share: scores are produced one chunk of rows at a time behind the k best candidates so
/// far (keys, positions), present positions are cleared to key 0, and a radix select + compaction keeps the k best
/// (ties: lower position; the buffer stays in position order, so buffer order is position order).
/// Device memory: 9 bytes (key, position, flag) per element of (k + chunk) plus 8 bytes per k of scratch and a
/// few small arrays; never the m x n dense gradient.
/// </summary>
internal static class GrowCandidates
{
    private static readonly KernelRef s_growGatherV1 = new("grow_gather_v1");
    private static readonly KernelRef s_growExcludePresentV1 = new("grow_exclude_present_v1");

    /// <summary>Writes the scores of rows [r0, r0 + rows) at offset `at` of (keys, positions); NaN lowers nanFirst.</summary>
    public delegate void FillChunk(int r0, int rows, DeviceBuffer<uint> keys, DeviceBuffer<int> positions, long at, DeviceBuffer<ulong> nanFirst);

    public static int ChunkRows(int m, int n, long chunkElements)
        => (int)Math.Clamp(chunkElements / Math.Max(n, 1), 1, Math.Max(m, 1));

    /// <summary>Device bytes the candidate buffers of one grow take.</summary>
    public static long BytesNeeded(int m, int n, long k, long chunkElements)
    {
        long capacity = k + (long)ChunkRows(m, n, chunkElements) * n;
        return capacity * (4 + 4 + 1) + 8 * Math.Max(k, 1) + 8L * ((capacity + TopkSelect.Tile - 1) / TopkSelect.Tile) * 2 + 4 * Math.Max(k, 1);
    }

    public static (DeviceBuffer<int> Positions, int Count) Run(IDevice device, string op, string layer, CsrMatrix pattern, DeviceBuffer<byte>? keep, long k, long chunkElements, FillChunk fill)
    {
        int m = pattern.Rows, n = pattern.Cols;
        TopologyChecks.SizeFitsInt(op, layer, (long)m * n, "positions");
        if (chunkElements < 1) throw new ArgumentOutOfRangeException(nameof(chunkElements), chunkElements, $"{op}: layer '{layer}': the chunk must hold at least one element.");
        long present = pattern.Nnz;
        if (keep is not null)
        {
            OperandChecks.On(device, keep, op, nameof(keep));
            if (keep.Length < pattern.Nnz)
                throw new ArgumentException($"{op}: layer '{layer}': {keep.Length} keep flags for {pattern.Nnz} nonzeros.", nameof(keep));
            present = 0;
            if (pattern.Nnz > 0)
            {
                var flags = new byte[pattern.Nnz];
                keep.CopyTo(flags);
                foreach (byte f in flags) if (f != 0) present++;
            }
        }
        long absent = (long)m * n - present;
        TopologyChecks.Count(op, layer, k, absent, "absent positions");
        if (k == 0) return (device.Allocate<int>(1), 0);

        int chunkRows = ChunkRows(m, n, chunkElements);
        long capacity = k + (long)chunkRows * n;
        using var keys = device.Allocate<uint>(capacity);
        using var positions = device.Allocate<int>(capacity);
        using var flagsBuf = device.Allocate<byte>(capacity);
        using var tmpKeys = device.Allocate<uint>(k);
        using var nanFirst = device.Allocate<ulong>(1);
        device.Fill32(nanFirst, 0xFFFFFFFFu);
        var tmpPositions = device.Allocate<int>(k);
        long count = 0;
        try
        {
            for (int r0 = 0; r0 < m; r0 += chunkRows)
            {
                int rows = Math.Min(chunkRows, m - r0);
                fill(r0, rows, keys, positions, count, nanFirst);
                ExcludePresent(device, pattern, keep, r0, rows, keys, count);
                long total = count + (long)rows * n;
                if (total <= k) { count = total; continue; }
                TopkSelect.SelectKeys(device, keys, total, k, flagsBuf);
                var (idx, c) = TopkSelect.Compact(device, flagsBuf, total);
                using (idx)
                {
                    if (c != k) throw new InvalidOperationException($"{op}: layer '{layer}': the selection kept {c} candidates, not {k} (a bug).");
                    var args = new KernelArgs();
                    args.Add(c);
                    args.Add(idx.Pointer.Address);
                    args.Add(keys.Pointer.Address);
                    args.Add(positions.Pointer.Address);
                    args.Add(tmpKeys.Pointer.Address);
                    args.Add(tmpPositions.Pointer.Address);
                    TopkSelect.Launch(device, s_growGatherV1, c, ref args);
                }
                device.CopyDeviceToDevice(tmpKeys, 0, keys, 0, k);
                device.CopyDeviceToDevice(tmpPositions, 0, positions, 0, k);
                count = k;
            }
            ulong nan = nanFirst.ToArray()[0];
            if (nan != ulong.MaxValue)
                throw TopologyChecks.NaN(op, layer, (long)nan, "score");
            device.CopyDeviceToDevice(positions, 0, tmpPositions, 0, k);
            var result = tmpPositions;
            tmpPositions = null!;
            return (result, (int)k);
        }
        finally
        {
            tmpPositions?.Dispose();
        }
    }

    private static void ExcludePresent(IDevice device, CsrMatrix pattern, DeviceBuffer<byte>? keep, int r0, int rows, DeviceBuffer<uint> keys, long at)
    {
        if (pattern.Nnz == 0) return;
        var args = new KernelArgs();
        args.Add(pattern.Cols);
        args.Add(r0);
        args.Add(rows);
        args.Add(pattern.DeviceRowOffsets.Pointer.Address);
        args.Add(pattern.DeviceColumnIndices.Pointer.Address);
        args.Add(keep is null ? 0UL : keep.Pointer.Address);
        args.Add(keys.Pointer.Address);
        args.Add(at);
        TopkSelect.Launch(device, s_growExcludePresentV1, rows, ref args);
    }
}
