using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

// The topology operations on the CPU: the same radix selection as kernels/topk_select.cu (histogram passes,
// multithreaded), giving exactly CpuReference's sets.
public sealed partial class CpuBackend
{
    private const int TopologyChunk = 1 << 16;

    /// <summary>The k largest |values| (exactly k; ties: lower position). True = selected.</summary>
    public bool[] TopkSelect(float[] values, long k, string layer = "values") => TopkSelect([values], [layer], k)[0];

    /// <summary>Global selection over several arrays (positions in their concatenation break ties).</summary>
    public bool[][] TopkSelect(IReadOnlyList<float[]> arrays, IReadOnlyList<string>? names, long k)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        long total = 0;
        foreach (var a in arrays) total += a.Length;
        string label = arrays.Count == 1 ? TopologyChecks.Name(names, 0) : $"{arrays.Count} layers together";
        TopologyChecks.Count(TopologyChecks.TopkSelectOp, label, k, total, "values");
        TopologyChecks.SizeFitsInt(TopologyChecks.TopkSelectOp, label, total, "values");
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
            if (nanAt != long.MaxValue) throw TopologyChecks.NaN(TopologyChecks.TopkSelectOp, TopologyChecks.Name(names, a), nanAt, "value");
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

public sealed partial class CpuBackend
{
    /// <summary>Magnitude pruning's keep flags (per layer, or global with one drop count), by radix selection.</summary>
    public bool[][] MagnitudePruneDrop(IReadOnlyList<CsrMatrix> layers, IReadOnlyList<string> names, IReadOnlyList<long> drop, bool global = false)
        => TopologyChecks.MagnitudePruneDrop(layers, names, drop, global, TopkSelect);

    /// <summary>RigL growth, chunked (never the whole dense gradient) and multithreaded; the same set as CpuReference.GradientGrow.</summary>
    public int[] GradientGrow(CsrMatrix pattern, bool[]? keep, DenseTensor dy, DenseTensor x, long k, string layer = "layer", long chunkElements = 1 << 20)
    {
        TopologyChecks.SizeFitsInt("GradientGrow", layer, (long)pattern.Rows * pattern.Cols, "positions");
        return ToInt(GradientGrowPositions(pattern, keep, dy, x, k, layer, chunkElements));
    }

    /// <summary>
    /// <see cref="GradientGrow"/> with 64-bit positions (row * cols + col), for layers of more than 2^31 weights. The
    /// score of a chunk of rows, dY[:, rows]^T . X, is a small dense matmul (register-tiled, rows x cols of the chunk);
    /// candidates are kept in a buffer of k + max(k, chunk) entries filtered by the running k-th largest key, so memory
    /// is O(k + chunk), never rows x cols, and the selection (radix, ties to the lower position) is exact.
    /// </summary>
    internal long[] GradientGrowPositions(CsrMatrix pattern, bool[]? keep, DenseTensor dy, DenseTensor x, long k, string layer = "layer",
        long chunkElements = 1 << 20)
    {
        const string op = "GradientGrow";
        int m = pattern.Rows, n = pattern.Cols;
        if (dy.Cols != m || x.Cols != n || dy.Rows != x.Rows)
            throw new ArgumentException($"{op}: layer '{layer}' is {m}x{n}; dY is {dy.Rows}x{dy.Cols} and X is {x.Rows}x{x.Cols}, but they must be batch x {m} and batch x {n} with the same batch.", nameof(dy));
        int batch = dy.Rows;
        float[] dyd = dy.HostData, xd = x.HostData;
        float[]? a = null;
        return GrowChunked(op, pattern, keep, k, layer, chunkElements, (r0, rows, keys) =>
        {
            // a = dY[:, r0..r0+rows)^T (rows x batch); per panel of GrowPanel columns of X (copied contiguous, so the
            // kernel does not stride n floats between rows of X), c = a . X[:, panel] (rows x panel), stored as keys
            // |c| + 1 (0 is kept for present positions).
            if (a is null || a.Length < rows * batch) a = new float[rows * batch];
            for (int li = 0; li < rows; li++)
                for (int b = 0; b < batch; b++) a[li * batch + b] = dyd[(long)b * m + r0 + li];
            int panels = (n + GrowPanel - 1) / GrowPanel;
            long nanAt = long.MaxValue;
            float[] aa = a;
            Parallel.For(0, panels, Options, () => (new float[batch * GrowPanel], new float[rows * GrowPanel]), (q, _, buf) =>
            {
                var (bp, cp) = buf;
                int j0 = q * GrowPanel, w = Math.Min(GrowPanel, n - j0);
                for (int b = 0; b < batch; b++) Array.Copy(xd, (long)b * n + j0, bp, b * w, w);
                Array.Clear(cp, 0, rows * w);
                int i = 0;
                for (; i + 4 <= rows; i += 4) MatmulRows4(aa, bp, cp, batch, w, i, 0, batch, 0, w);
                for (; i < rows; i++) MatmulRow1(aa, bp, cp, batch, w, i, 0, batch, 0, w);
                for (i = 0; i < rows; i++)
                    for (int j = 0; j < w; j++)
                    {
                        uint bits = TopologyChecks.MagnitudeKey(cp[i * w + j]);
                        if (!TopologyChecks.IsNaNKey(bits)) bits += 1;
                        else { InterlockedMin(ref nanAt, (long)(r0 + i) * n + j0 + j); bits = 0; }
                        keys[i * n + j0 + j] = bits;
                    }
                return buf;
            }, _ => { });
            return nanAt;
        });
    }

    /// <summary>Columns of X per panel of the gradient-growth matmul (batch x 256 floats: 128 KB at batch 128, in L2).</summary>
    private const int GrowPanel = 256;

    /// <summary>SET growth, chunked and multithreaded; the same positions as CpuReference.RandomGrow (and the device) for the seed.</summary>
    public int[] RandomGrow(CsrMatrix pattern, bool[]? keep, long k, ulong seed, string layer = "layer", long chunkElements = 1 << 20)
    {
        TopologyChecks.SizeFitsInt("RandomGrow", layer, (long)pattern.Rows * pattern.Cols, "positions");
        return ToInt(RandomGrowPositions(pattern, keep, k, seed, layer, chunkElements));
    }

    /// <summary><see cref="RandomGrow"/> with 64-bit positions (Philox counter word 1 holds the position's high 32 bits).</summary>
    internal long[] RandomGrowPositions(CsrMatrix pattern, bool[]? keep, long k, ulong seed, string layer = "layer",
        long chunkElements = 1 << 20)
    {
        int n = pattern.Cols;
        return GrowChunked("RandomGrow", pattern, keep, k, layer, chunkElements, (r0, rows, keys) =>
        {
            Parallel.For(0, rows, Options, li =>
            {
                long row = (long)(r0 + li) * n;
                for (int j = 0; j < n; j++) keys[li * n + j] = Philox.GrowKey(row + j, seed);
            });
            return long.MaxValue;
        });
    }

    private static int[] ToInt(long[] positions)
    {
        var r = new int[positions.Length];
        for (int i = 0; i < r.Length; i++) r[i] = checked((int)positions[i]);
        return r;
    }

    /// <summary>Fills keys[0 .. rows x n) with the scores (never 0) of rows [r0, r0 + rows); returns the first NaN's position
    /// or long.MaxValue.</summary>
    private delegate long FillChunk(int r0, int rows, uint[] keys);

    private static long[] GrowChunked(string op, CsrMatrix pattern, bool[]? keep, long k, string layer, long chunkElements, FillChunk fill)
    {
        int m = pattern.Rows, n = pattern.Cols;
        long present = keep is null ? pattern.Nnz : keep.Take(pattern.Nnz).LongCount(f => f);
        TopologyChecks.Count(op, layer, k, (long)m * n - present, "absent positions");
        if (k == 0) return [];
        int chunkRows = (int)Math.Clamp(chunkElements / Math.Max(n, 1), 1, Math.Max(m, 1));
        chunkRows = (int)Math.Min(chunkRows, Array.MaxLength / Math.Max(n, 1));
        long chunk = (long)chunkRows * n;
        long capacity = k + Math.Max(k, chunk);
        TopologyChecks.SizeFitsInt(op, layer, capacity, "growth candidates");
        var chunkKeys = new uint[chunk];
        var keys = new uint[capacity];
        var positions = new long[capacity];
        long count = 0;
        uint threshold = 0;   // only keys above it can still enter the top k (ties lose: later positions are higher)
        for (int r0 = 0; r0 < m; r0 += chunkRows)
        {
            int rows = Math.Min(chunkRows, m - r0);
            long nanAt = fill(r0, rows, chunkKeys);
            if (nanAt != long.MaxValue) throw TopologyChecks.NaN(op, layer, nanAt, "score");
            for (int li = 0; li < rows; li++)
            {
                int r = r0 + li;
                for (int p = pattern.RowOffsets[r]; p < pattern.RowOffsets[r + 1]; p++)
                    if (keep is null || keep[p]) chunkKeys[(long)li * n + pattern.ColumnIndices[p]] = 0;
            }
            for (long e = 0; e < (long)rows * n; e++)
            {
                uint key = chunkKeys[e];
                if (key <= threshold) continue;
                if (count == capacity)
                {
                    (count, threshold) = KeepTop(keys, positions, count, k);
                    if (key <= threshold) continue;
                }
                keys[count] = key;
                positions[count++] = (long)r0 * n + e;
            }
        }
        if (count > k) count = KeepTop(keys, positions, count, k).Count;
        return positions.AsSpan(0, (int)k).ToArray();
    }

    /// <summary>Keeps the k largest keys (ties: lower index) of keys[0..count) in place, in order; returns k and the k-th key.</summary>
    private static (long Count, uint Threshold) KeepTop(uint[] keys, long[] positions, long count, long k)
    {
        var (threshold, lastTie) = FindCut(keys, (int)count, k);
        long w = 0;
        for (long i = 0; i < count; i++)
            if (keys[i] > threshold || (keys[i] == threshold && i <= lastTie)) { keys[w] = keys[i]; positions[w] = positions[i]; w++; }
        return (w, threshold);
    }

    /// <summary>The rebuilt layer (see CpuReference.CsrRebuild), rows merged in parallel.</summary>
    public (CsrMatrix Weights, float[][] State) CsrRebuild(CsrMatrix old, IReadOnlyList<float[]> state, bool[] keep, int[] grown, string layer = "layer")
        => CsrRebuild(old, state, keep, Array.ConvertAll(grown, g => (long)g), layer);

    /// <summary><see cref="CsrRebuild(CsrMatrix, IReadOnlyList{float[]}, bool[], int[], string)"/> with 64-bit grown positions
    /// (row * cols + col).</summary>
    internal (CsrMatrix Weights, float[][] State) CsrRebuild(CsrMatrix old, IReadOnlyList<float[]> state, bool[] keep, long[] grown,
        string layer = "layer")
    {
        const string op = "CsrRebuild";
        int m = old.Rows, n = old.Cols;
        for (int g = 0; g < grown.Length; g++)
        {
            if (grown[g] < 0 || grown[g] >= (long)m * n) throw new ArgumentException($"{op}: layer '{layer}': grown position {grown[g]} (entry {g}) is outside the {m}x{n} layer.", nameof(grown));
            if (g > 0 && grown[g] <= grown[g - 1]) throw new ArgumentException($"{op}: layer '{layer}': grown positions must be strictly ascending; entry {g} = {grown[g]} follows {grown[g - 1]}.", nameof(grown));
        }
        var ro = old.RowOffsets; var ci = old.ColumnIndices; var vals = old.Values;
        var keptBefore = new int[old.Nnz + 1];
        for (int p = 0; p < old.Nnz; p++) keptBefore[p + 1] = keptBefore[p] + (keep[p] ? 1 : 0);
        var newRo = new int[m + 1];
        for (int r = 0; r <= m; r++) newRo[r] = checked(keptBefore[ro[r]] + LowerBound(grown, (long)r * n));
        int nnz = newRo[m];
        var newCi = new int[nnz]; var newV = new float[nnz];
        var newSt = state.Select(_ => new float[nnz]).ToArray();
        int conflicts = 0;
        Parallel.For(0, m, Options, r =>
        {
            int a = ro[r], aEnd = ro[r + 1];
            long rowStart = (long)r * n;
            int g = LowerBound(grown, rowStart), gEnd = LowerBound(grown, rowStart + n);
            int o = newRo[r];
            while (true)
            {
                while (a < aEnd && !keep[a]) a++;
                if (a >= aEnd && g >= gEnd) break;
                int kc = a < aEnd ? ci[a] : n, gc = g < gEnd ? (int)(grown[g] - rowStart) : n;
                int src;
                if (kc < gc) { newCi[o] = kc; src = a++; }
                else
                {
                    if (kc == gc) Interlocked.Increment(ref conflicts);
                    newCi[o] = gc; g++;
                    int p = Array.BinarySearch(ci, ro[r], ro[r + 1] - ro[r], gc);
                    src = p >= 0 ? p : -1;
                }
                newV[o] = src >= 0 ? vals[src] : 0f;
                for (int s = 0; s < newSt.Length; s++) newSt[s][o] = src >= 0 ? state[s][src] : 0f;
                o++;
            }
        });
        if (conflicts != 0) throw new ArgumentException($"{op}: layer '{layer}': {conflicts} grown positions are already kept; growth must pick absent positions.", nameof(grown));
        return (new CsrMatrix(m, n, newRo, newCi, newV), newSt);
    }

    private static int LowerBound(long[] a, long value)
    {
        int lo = 0, hi = a.Length;
        while (lo < hi) { int mid = (lo + hi) >>> 1; if (a[mid] < value) lo = mid + 1; else hi = mid; }
        return lo;
    }
}

public sealed partial class CpuBackend
{
    /// <summary>The CSR of a row-major m x n mask (nonzero = present), values from dense when given, else 1; rows in parallel.</summary>
    public CsrMatrix MaskToCsr(byte[] mask, int rows, int cols, DenseTensor? dense = null, string layer = "layer")
    {
        if (mask.Length < (long)rows * cols) throw new ArgumentException($"MaskCsr: layer '{layer}': the mask holds {mask.Length} bytes, a {rows}x{cols} layer needs {(long)rows * cols}.", nameof(mask));
        if (dense is not null && (dense.Rows != rows || dense.Cols != cols)) throw new ArgumentException($"MaskCsr: layer '{layer}': the mask is {rows}x{cols} but the dense values are {dense.Rows}x{dense.Cols}.", nameof(dense));
        var counts = new int[rows];
        Parallel.For(0, rows, r =>
        {
            int c = 0;
            var row = mask.AsSpan((int)((long)r * cols), cols);
            foreach (byte b in row) if (b != 0) c++;
            counts[r] = c;
        });
        var ro = new int[rows + 1];
        for (int r = 0; r < rows; r++) ro[r + 1] = ro[r] + counts[r];
        var ci = new int[ro[rows]];
        var v = new float[ro[rows]];
        float[]? d = dense?.HostData;
        Parallel.For(0, rows, r =>
        {
            int o = ro[r];
            long b0 = (long)r * cols;
            for (int c = 0; c < cols; c++)
                if (mask[b0 + c] != 0) { ci[o] = c; v[o] = d is null ? 1f : d[b0 + c]; o++; }
        });
        return new CsrMatrix(rows, cols, ro, ci, v);
    }

    /// <summary>The row-major byte mask (1 = present) of a CSR pattern.</summary>
    public byte[] CsrToMask(CsrMatrix pattern)
    {
        var mask = new byte[(long)pattern.Rows * pattern.Cols];
        var ro = pattern.RowOffsets; var ci = pattern.ColumnIndices;
        Parallel.For(0, pattern.Rows, r =>
        {
            for (int p = ro[r]; p < ro[r + 1]; p++) mask[(long)r * pattern.Cols + ci[p]] = 1;
        });
        return mask;
    }
}

public sealed partial class CpuBackend
{
    /// <summary>One RigL drop-and-grow update (drop count by magnitude, grow count by |dY^T.X|, rebuild with state); nnz unchanged.</summary>
    public (CsrMatrix Weights, float[][] State) RiglUpdate(CsrMatrix weights, IReadOnlyList<float[]> state, DenseTensor dy, DenseTensor x, long count,
        string layer = "layer", long chunkElements = 1 << 20)
    {
        var keep = MagnitudePruneDrop([weights], [layer], [count])[0];
        var grown = GradientGrow(weights, keep, dy, x, count, layer, chunkElements);
        return CsrRebuild(weights, state, keep, grown, layer);
    }
}
