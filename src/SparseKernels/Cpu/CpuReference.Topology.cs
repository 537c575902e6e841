using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

// The topology operations (kernels/topk_select.cu, gradient_grow.cu, random_grow.cu, csr_rebuild.cu): plain,
// obviously correct versions that sort instead of radix-selecting. The device and the CPU backend must give
// exactly the same sets (not merely close ones).
internal static partial class CpuReference
{
    /// <summary>The k largest |values| (exactly k; ties: lower position), by a full sort. True = selected.</summary>
    public static bool[] TopkSelect(float[] values, long k, string layer = "values") => TopkSelect([values], [layer], k)[0];

    /// <summary>Global selection over several arrays (positions in their concatenation break ties).</summary>
    public static bool[][] TopkSelect(IReadOnlyList<float[]> arrays, IReadOnlyList<string>? names, long k)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        long total = 0;
        foreach (var a in arrays) total += a.Length;
        string label = arrays.Count == 1 ? TopologyChecks.Name(names, 0) : $"{arrays.Count} layers together";
        TopologyChecks.Count(TopologyChecks.TopkSelectOp, label, k, total, "values");
        var keys = new uint[total];
        long at = 0;
        for (int a = 0; a < arrays.Count; a++)
            for (int i = 0; i < arrays[a].Length; i++)
            {
                uint key = TopologyChecks.MagnitudeKey(arrays[a][i]);
                if (TopologyChecks.IsNaNKey(key)) throw TopologyChecks.NaN(TopologyChecks.TopkSelectOp, TopologyChecks.Name(names, a), i, "value");
                keys[at++] = key;
            }
        var selected = SelectKeysBySort(keys, k);
        var result = new bool[arrays.Count][];
        at = 0;
        for (int a = 0; a < arrays.Count; a++)
        {
            result[a] = new bool[arrays[a].Length];
            for (int i = 0; i < result[a].Length; i++) result[a][i] = selected[at++];
        }
        return result;
    }

    /// <summary>The k largest keys, ties by lower position, by sorting all positions.</summary>
    internal static bool[] SelectKeysBySort(uint[] keys, long k)
    {
        var order = new int[keys.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) => keys[a] != keys[b] ? keys[b].CompareTo(keys[a]) : a.CompareTo(b));
        var selected = new bool[keys.Length];
        for (long j = 0; j < k; j++) selected[order[j]] = true;
        return selected;
    }
}

internal static partial class CpuReference
{
    /// <summary>Magnitude pruning's keep flags: per layer (one drop count each) or global (one count over all layers).</summary>
    public static bool[][] MagnitudePruneDrop(IReadOnlyList<CsrMatrix> layers, IReadOnlyList<string> names, IReadOnlyList<long> drop, bool global = false)
        => TopologyChecks.MagnitudePruneDrop(layers, names, drop, global, TopkSelect);

    /// <summary>The fp32 RigL score of (i, j): one fused multiply-add chain over the batch in order (what the kernel computes).</summary>
    public static float GradientScore(DenseTensor dy, DenseTensor x, int i, int j)
    {
        float acc = 0f;
        for (int b = 0; b < dy.Rows; b++) acc = MathF.FusedMultiplyAdd(dy[b, i], x[b, j], acc);
        return acc;
    }

    /// <summary>RigL growth: the k absent positions with the largest |dY^T.X| (whole dense gradient, full sort), ascending.</summary>
    public static int[] GradientGrow(CsrMatrix pattern, bool[]? keep, DenseTensor dy, DenseTensor x, long k, string layer = "layer")
    {
        const string op = "GradientGrow";
        int m = pattern.Rows, n = pattern.Cols;
        if (dy.Cols != m || x.Cols != n || dy.Rows != x.Rows)
            throw new ArgumentException($"{op}: layer '{layer}' is {m}x{n}; dY is {dy.Rows}x{dy.Cols} and X is {x.Rows}x{x.Cols}, but they must be batch x {m} and batch x {n} with the same batch.", nameof(dy));
        return GrowBySort(op, pattern, keep, k, layer, (i, j) =>
        {
            uint bits = TopologyChecks.MagnitudeKey(GradientScore(dy, x, i, j));
            return TopologyChecks.IsNaNKey(bits) ? null : bits + 1;
        });
    }

    /// <summary>SET growth: the k absent positions with the largest Philox keys for this seed, ascending.</summary>
    public static int[] RandomGrow(CsrMatrix pattern, bool[]? keep, long k, ulong seed, string layer = "layer")
        => GrowBySort("RandomGrow", pattern, keep, k, layer, (i, j) => Philox.GrowKey(i * pattern.Cols + j, seed));

    private static int[] GrowBySort(string op, CsrMatrix pattern, bool[]? keep, long k, string layer, Func<int, int, uint?> key)
    {
        int m = pattern.Rows, n = pattern.Cols;
        TopologyChecks.SizeFitsInt(op, layer, (long)m * n, "positions");
        var present = new bool[(long)m * n];
        long presentCount = 0;
        for (int r = 0; r < m; r++)
            for (int p = pattern.RowOffsets[r]; p < pattern.RowOffsets[r + 1]; p++)
                if (keep is null || keep[p]) { present[(long)r * n + pattern.ColumnIndices[p]] = true; presentCount++; }
        TopologyChecks.Count(op, layer, k, (long)m * n - presentCount, "absent positions");
        var keys = new uint[(long)m * n];
        long nanAt = -1;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                int pos = i * n + j;
                uint? kk = key(i, j); // a NaN score anywhere (present or absent) is an error
                if (kk is null) { if (nanAt < 0) nanAt = pos; continue; }
                if (!present[pos]) keys[pos] = kk.Value;
            }
        if (nanAt >= 0) throw TopologyChecks.NaN(op, layer, nanAt, "score");
        var selected = SelectKeysBySort(keys, k);
        var result = new List<int>();
        for (int pos = 0; pos < selected.Length; pos++) if (selected[pos]) result.Add(pos);
        return result.ToArray();
    }

    /// <summary>
    /// The rebuilt layer: kept nonzeros (value and state) merged with the grown positions (value and state 0, or the
    /// old ones when the position was in the old pattern), sorted columns.
    /// </summary>
    public static (CsrMatrix Weights, float[][] State) CsrRebuild(CsrMatrix old, IReadOnlyList<float[]> state, bool[] keep, int[] grown, string layer = "layer")
    {
        const string op = "CsrRebuild";
        int m = old.Rows, n = old.Cols;
        var entries = new SortedDictionary<long, (float Value, float[] State)>();
        var oldAt = new Dictionary<long, int>();
        for (int r = 0; r < m; r++)
            for (int p = old.RowOffsets[r]; p < old.RowOffsets[r + 1]; p++)
            {
                long pos = (long)r * n + old.ColumnIndices[p];
                oldAt[pos] = p;
                if (keep[p]) entries[pos] = (old.Values[p], state.Select(s => s[p]).ToArray());
            }
        for (int g = 0; g < grown.Length; g++)
        {
            long pos = grown[g];
            if (pos < 0 || pos >= (long)m * n) throw new ArgumentException($"{op}: layer '{layer}': grown position {pos} (entry {g}) is outside the {m}x{n} layer.", nameof(grown));
            if (g > 0 && grown[g] <= grown[g - 1]) throw new ArgumentException($"{op}: layer '{layer}': grown positions must be strictly ascending; entry {g} = {grown[g]} follows {grown[g - 1]}.", nameof(grown));
            if (entries.ContainsKey(pos)) throw new ArgumentException($"{op}: layer '{layer}': 1 grown positions are already kept; growth must pick absent positions.", nameof(grown));
            entries[pos] = oldAt.TryGetValue(pos, out int p) ? (old.Values[p], state.Select(s => s[p]).ToArray()) : (0f, new float[state.Count]);
        }
        var ro = new int[m + 1];
        var ci = new int[entries.Count];
        var v = new float[entries.Count];
        var st = state.Select(_ => new float[entries.Count]).ToArray();
        int at = 0;
        foreach (var (pos, e) in entries)
        {
            int r = (int)(pos / n);
            ro[r + 1]++;
            ci[at] = (int)(pos % n);
            v[at] = e.Value;
            for (int s = 0; s < st.Length; s++) st[s][at] = e.State[s];
            at++;
        }
        for (int r = 0; r < m; r++) ro[r + 1] += ro[r];
        return (new CsrMatrix(m, n, ro, ci, v), st);
    }
}

internal static partial class CpuReference
{
    /// <summary>The CSR of a row-major m x n mask (nonzero = present), values from dense (m x n) when given, else 1.</summary>
    public static CsrMatrix MaskToCsr(byte[] mask, int rows, int cols, DenseTensor? dense = null, string layer = "layer")
    {
        if (mask.Length < (long)rows * cols) throw new ArgumentException($"MaskCsr: layer '{layer}': the mask holds {mask.Length} bytes, a {rows}x{cols} layer needs {(long)rows * cols}.", nameof(mask));
        if (dense is not null && (dense.Rows != rows || dense.Cols != cols)) throw new ArgumentException($"MaskCsr: layer '{layer}': the mask is {rows}x{cols} but the dense values are {dense.Rows}x{dense.Cols}.", nameof(dense));
        var ro = new int[rows + 1];
        var ci = new List<int>();
        var v = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
                if (mask[(long)r * cols + c] != 0) { ci.Add(c); v.Add(dense is null ? 1f : dense[r, c]); }
            ro[r + 1] = ci.Count;
        }
        return new CsrMatrix(rows, cols, ro, ci.ToArray(), v.ToArray());
    }

    /// <summary>The row-major byte mask (1 = present) of a CSR pattern.</summary>
    public static byte[] CsrToMask(CsrMatrix pattern)
    {
        var mask = new byte[(long)pattern.Rows * pattern.Cols];
        for (int r = 0; r < pattern.Rows; r++)
            for (int p = pattern.RowOffsets[r]; p < pattern.RowOffsets[r + 1]; p++) mask[(long)r * pattern.Cols + pattern.ColumnIndices[p]] = 1;
        return mask;
    }
}
