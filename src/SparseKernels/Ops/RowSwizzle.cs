using System.Runtime.CompilerServices;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// The row swizzle of the v2/v3 kernels (Sputnik's load balancing): a permutation of a CSR matrix's rows ordered
/// by length, longest first (ties by row index, so it is deterministic). Computed on the host from the device
/// matrix's row offsets and cached with the matrix (weakly keyed by the <see cref="CsrMatrix"/> object), tagged with
/// the matrix's <see cref="CsrMatrix.PatternVersion"/>. The engine never changes a device matrix's pattern in place
/// (training updates values; a new pattern is a new matrix), but a matrix wrapped with
/// <see cref="SparseKernels.Embedding.External.WrapCsr"/> may have its arrays rewritten by the framework that owns them: the owner then
/// calls <see cref="CsrMatrix.NotifyPatternChanged"/>, and the next launch sees a different version and recomputes
/// the order (into the same device buffer: the row count of a matrix never changes). Until then a stale order is
/// used, which is still a permutation of the rows: results stay correct, only the balance is the old pattern's.
/// The order is recomputed only on a version change, never per launch (reading the offsets back synchronises).
/// </summary>
internal static class RowSwizzle
{
    /// <summary>The cached order of one matrix and the pattern version it was computed for.</summary>
    private sealed class Entry(DeviceBuffer<int> buffer, int version)
    {
        public readonly DeviceBuffer<int> Buffer = buffer;
        public int Version = version;
    }

    private static readonly ConditionalWeakTable<CsrMatrix, Entry> s_cache = new();

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

    /// <summary>
    /// The device permutation of <paramref name="a"/>'s current pattern (on its device; at least one element):
    /// cached, and recomputed when <see cref="CsrMatrix.PatternVersion"/> has changed since.
    /// </summary>
    public static DeviceBuffer<int> For(CsrMatrix a)
    {
        int version = a.PatternVersion;
        if (s_cache.TryGetValue(a, out var cached) && !cached.Buffer.IsDisposed && Volatile.Read(ref cached.Version) == version)
            return cached.Buffer;
        lock (s_cache)
        {
            version = a.PatternVersion;
            if (s_cache.TryGetValue(a, out cached) && !cached.Buffer.IsDisposed)
            {
                if (cached.Version == version) return cached.Buffer;
                // The pattern changed in place (same row count): refill the buffer the kernels already use.
                int[] fresh = Order(a.DeviceRowOffsets.ToArray());
                if (fresh.Length > 0) cached.Buffer.CopyFrom(fresh);
                Volatile.Write(ref cached.Version, version);
                return cached.Buffer;
            }
            int[] order = Order(a.DeviceRowOffsets.ToArray());
            var buffer = a.Device!.Allocate<int>(Math.Max(1, order.Length));
            if (order.Length > 0) buffer.CopyFrom(order);
            s_cache.AddOrUpdate(a, new Entry(buffer, version));
            return buffer;
        }
    }
}
