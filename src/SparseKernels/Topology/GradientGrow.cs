using SparseKernels.Native;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Topology;

/// <summary>
/// RigL regrowth on a device: among the positions absent from a layer's pattern (or from its kept part, when keep
/// flags are given), the k with the largest |G|, G = dY^T.X the dense gradient of the m x n layer for the current
/// batch (dY batch x m, X batch x n). G is computed in chunks of rows (kernels/gradient_grow.cu,
/// <c>gradient_grow_scores_v1</c>, one fp32 FMA chain per entry in batch order, so the CPU reference gives the same
/// bits and the same set) and never materialised whole; exactly k; ties to the lower position.
/// Memory: see <see cref="BytesNeeded"/>: for 4096 x 4096 with the default chunk of 2^20 elements (256 rows) and
/// k = 30 % of a 90 %-sparse layer's nnz (503,316) it is about 19 MiB, against 64 MiB for the dense gradient.
/// </summary>
public static class GradientGrow
{
    private static readonly KernelRef s_gradientGrowScoresV1 = new("gradient_grow_scores_v1");

    internal const string Op = "GradientGrow";

    private const long MaxGridY = 65535;

    /// <summary>Default chunk: 2^20 gradient entries (4 MiB of keys) per pass.</summary>
    public const long DefaultChunkElements = 1 << 20;

    /// <summary>Device bytes a grow of k positions on an m x n layer takes with this chunk size (besides its inputs and output).</summary>
    public static long BytesNeeded(int m, int n, long k, long chunkElements = DefaultChunkElements) => GrowCandidates.BytesNeeded(m, n, k, chunkElements);

    /// <summary>The k grown positions (row * n + col), ascending, in a new buffer, and k.</summary>
    /// <exception cref="ArgumentOutOfRangeException">k negative or more than the absent positions (names the layer and k).</exception>
    /// <exception cref="ArgumentException">Shapes disagree, or the gradient has a NaN anywhere (its first position is named).</exception>
    public static (DeviceBuffer<int> Positions, int Count) Run(IDevice device, CsrMatrix pattern, DeviceBuffer<byte>? keep, DenseTensor dy, DenseTensor x, long k,
        string layer = "layer", long chunkElements = DefaultChunkElements)
    {
        OperandChecks.Device(device, Op);
        OperandChecks.On(device, pattern, Op, nameof(pattern));
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(x);
        DevicePtr pdy = OperandChecks.On(device, dy, Op, nameof(dy));
        DevicePtr px = OperandChecks.On(device, x, Op, nameof(x));
        int m = pattern.Rows, n = pattern.Cols;
        if (dy.Cols != m || x.Cols != n || dy.Rows != x.Rows)
            throw new ArgumentException($"{Op}: layer '{layer}' is {m}x{n}; dY is {dy.Rows}x{dy.Cols} and X is {x.Rows}x{x.Cols}, but they must be batch x {m} and batch x {n} with the same batch.", nameof(dy));
        int batch = dy.Rows;
        // The score kernel puts 16 chunk rows on each grid row, and a grid has at most 65535 rows.
        chunkElements = Math.Min(chunkElements, MaxGridY * 16L * Math.Max(n, 1));
        return GrowCandidates.Run(device, Op, layer, pattern, keep, k, chunkElements, (r0, rows, keys, positions, at, nanFirst) =>
        {
            var args = new KernelArgs();
            args.Add(m);
            args.Add(n);
            args.Add(batch);
            args.Add(r0);
            args.Add(rows);
            args.Add(pdy.Address);
            args.Add(px.Address);
            args.Add(keys.Pointer.Address);
            args.Add(positions.Pointer.Address);
            args.Add(at);
            args.Add(nanFirst.Pointer.Address);
            var config = new LaunchConfig(new Dim3(OperandChecks.Blocks(n, 16, Op), OperandChecks.Blocks(rows, 16, Op)), new Dim3(16, 16), 2 * 16 * 17 * sizeof(float));
            s_gradientGrowScoresV1.Launch(device, config, ref args);
        });
    }
}
