using SparseKernels.Topology;

namespace SparseKernels.Cpu;

// The topology operations on the CPU: the same radix selection as kernels/topk_select.cu (histogram passes,
// multithreaded), giving exactly CpuReference's sets.
public static partial class CpuBackend
{
    private const int TopologyChunk = 1 << 16;

    /// <summary>The k largest |values| (exactly k; ties: lower position). True = selected.</summary>
    public static bool[] TopkSelect(float[] values, long k, string layer = "values") => TopkSelect([values], [layer], k)[0];

    /// <summary>Global selection over several arrays (positions in their concatenation break ties).</summary>
    public static bool[][] TopkSelect(IReadOnlyList<float[]> arrays, IReadOnlyList<string>? names, long k)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        long total = 0;
        foreach (var a in arrays) total += a.Length;
        string label = arrays.Count == 1 ? TopologyChecks.Name(names, 0) : $"{arrays.Count} layers together";
        TopologyChecks.Count(SparseKernels.Topology.TopkSelect.Op, label, k, total, "values");
        TopologyChecks.SizeFitsInt(SparseKernels.Topology.TopkSelect.Op, label, total, "values");
        var keys = new uint[total];
        long at = 0;
        for (int a = 0; a < arrays.Count; a++)
        {
            var src = arrays[a];
            long offset = at;
            long nanAt = long.MaxValue;
            Parallel.For(0, (src.Length + TopologyChunk - 1) / TopologyChunk, c =>
            {
                int end = Math.Min(src.Length, (c + 1) * TopologyChunk);
                for (int i = c * TopologyChunk; i < end; i++)
                {
                    uint key = TopologyChecks.MagnitudeKey(src[i]);
                    if (TopologyChecks.IsNaNKey(key)) { InterlockedMin(ref nanAt, i); key = 0; }
                    keys[offset + i] = key;
                }
            });
            if (nanAt != long.MaxValue) throw TopologyChecks.NaN(SparseKernels.Topology.TopkSelect.Op, TopologyChecks.Name(names, a), nanAt, "value");
            at += src.Length;
        }
        var flags = SelectKeys(keys, keys.Length, k);
        var result = new bool[arrays.Count][];
        at = 0;
        for (int a = 0; a < arrays.Count; a++)
        {
            result[a] = new bool[arrays[a].Length];
            for (int i = 0; i < result[a].Length; i++) result[a][i] = flags[at++];
        }
        return result;
    }

    private static void InterlockedMin(ref long target, long value)
    {
        long seen = Volatile.Read(ref target);
        while (value < seen)
        {
            long was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen) return;
            seen = was;
        }
    }

    /// <summary>The k largest of keys[0..n), ties by lower position: radix selection (4 histogram passes) then one scan of the ties.</summary>
    internal static bool[] SelectKeys(uint[] keys, int n, long k)
    {
        var (threshold, lastTie) = FindCut(keys, n, k);
        var flags = new bool[n];
        Parallel.For(0, (n + TopologyChunk - 1) / TopologyChunk, c =>
        {
            int end = Math.Min(n, (c + 1) * TopologyChunk);
            for (int i = c * TopologyChunk; i < end; i++)
                flags[i] = keys[i] > threshold || (keys[i] == threshold && i <= lastTie);
        });
        return flags;
    }

    internal static (uint Threshold, long LastTie) FindCut(uint[] keys, int n, long k)
    {
        if (k <= 0) return (uint.MaxValue, -1);
        if (k >= n) return (0u, n - 1);
        uint prefix = 0, mask = 0;
        long remaining = k, tieCount = 0;
        int chunks = (n + TopologyChunk - 1) / TopologyChunk;
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            var h = new long[256];
            uint p = prefix, m = mask;
            int s = shift;
            Parallel.For(0, chunks, () => new long[256], (c, _, local) =>
            {
                int end = Math.Min(n, (c + 1) * TopologyChunk);
                for (int i = c * TopologyChunk; i < end; i++)
                {
                    uint key = keys[i];
                    if ((key & m) == p) local[(key >> s) & 255]++;
                }
                return local;
            }, local => { lock (h) for (int b = 0; b < 256; b++) h[b] += local[b]; });
            int d = 255;
            for (; d > 0; d--)
            {
                if (h[d] >= remaining) break;
                remaining -= h[d];
            }
            prefix |= (uint)d << shift;
            mask |= 0xFFu << shift;
            tieCount = h[d];
        }
        if (remaining == tieCount) return (prefix, n - 1);
        long seen = 0;
        for (int i = 0; i < n; i++)
            if (keys[i] == prefix && ++seen == remaining) return (prefix, i);
        throw new InvalidOperationException("TopkSelect: the tie count disagrees with the histogram (a bug).");
    }
}
