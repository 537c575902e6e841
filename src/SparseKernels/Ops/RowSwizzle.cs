using System.Runtime.CompilerServices;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// The row swizzle of the v2 kernels (Sputnik's load balancing): a permutation of a CSR matrix's rows ordered
/// by length, longest first (ties by row index, so it is deterministic). Computed once per device matrix on the
/// host from its row offsets and cached with the matrix (weakly keyed by the <see cref="CsrMatrix"/> object):
/// the pattern of a device CSR matrix is fixed for its lifetime (training updates values only, and a new
/// pattern is a new matrix), so the permutation never goes stale.
/// </summary>
internal static class RowSwizzle
{
    private static readonly ConditionalWeakTable<CsrMatrix, DeviceBuffer<int>> s_cache = new();

    /// <summary>Rows ordered by length, longest first; ties in row order.</summary>
    public static int[] Order(ReadOnlySpan<int> rowOffsets)
    {
        int rows = Math.Max(0, rowOffsets.Length - 1);
        var order = new int[rows];
        var lengths = new int[rows];
        for (int r = 0; r < rows; r++) { order[r] = r; lengths[r] = rowOffsets[r + 1] - rowOffsets[r]; }
        Array.Sort(order, (x, y) => lengths[x] != lengths[y] ? lengths[y].CompareTo(lengths[x]) : x.CompareTo(y));
        return order;
    }

    /// <summary>The cached device permutation of <paramref name="a"/> (on its device; at least one element).</summary>
    public static DeviceBuffer<int> For(CsrMatrix a)
    {
        if (s_cache.TryGetValue(a, out var cached) && !cached.IsDisposed) return cached;
        lock (s_cache)
        {
            if (s_cache.TryGetValue(a, out cached) && !cached.IsDisposed) return cached;
            int[] order = Order(a.DeviceRowOffsets.ToArray());
            var buffer = a.Device!.Allocate<int>(Math.Max(1, order.Length));
            if (order.Length > 0) buffer.CopyFrom(order);
            s_cache.AddOrUpdate(a, buffer);
            return buffer;
        }
    }
}
