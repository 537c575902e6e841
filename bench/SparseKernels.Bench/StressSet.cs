using SparseKernels.Tensors;

namespace SparseKernels.Bench;

/// <summary>
/// Irregular patterns for the CPU kernels, generated deterministically (fixed seeds), beside the DLMC set so that
/// tuning does not fit one collection: power-law row lengths (Pareto), more than 99.5 % sparse, many empty rows,
/// a few very long rows, power-law column popularity (long rows of A^T for the transposed SpMM), odd shapes and a
/// hyper-sparse layer (the issue's 2048 x 512 with 1,423 nonzeros). Values random in [-1, -0.05] U [0.05, 1].
/// <c>dotnet SparseKernels.Bench.dll write-stress DIR</c> writes them as .smtx (for bench/torch_cpu_kernels.py).
/// </summary>
public static class StressSet
{
    /// <summary>name, rows, cols, target density, Pareto alpha of row lengths, share of empty rows, long rows, column skew, seed.</summary>
    private static readonly (string Name, int Rows, int Cols, double Density, double Alpha, double Empty, int LongRows, bool ColumnSkew,
        int Seed)[] s_specs =
    [
        ("stress pl 4096x4096 0.995", 4096, 4096, 0.005, 1.2, 0.3, 4, false, 1),
        ("stress pl 8192x1024 0.997", 8192, 1024, 0.003, 1.1, 0.5, 8, false, 2),
        ("stress pl 1000x3001 0.996", 1000, 3001, 0.004, 1.5, 0.2, 2, false, 3),
        ("stress pl 3001x777 0.995", 3001, 777, 0.005, 1.3, 0.4, 3, false, 4),
        ("stress colskew 2048x2048 0.995", 2048, 2048, 0.005, 2.0, 0.1, 0, true, 5),
        ("stress colskew 1024x4096 0.997", 1024, 4096, 0.003, 1.2, 0.3, 2, true, 6),
        ("stress emptyrows 4096x1024 0.998", 4096, 1024, 0.002, 1.05, 0.9, 6, false, 7),
        ("stress hyper 2048x512 1423", 2048, 512, 1423.0 / (2048 * 512), 1.5, 0.5, 0, false, 8),
        ("stress pl 2500x2500 0.999", 2500, 2500, 0.001, 1.3, 0.3, 1, true, 9),
    ];

    /// <summary>The names ("stress ...") of the set.</summary>
    public static IEnumerable<string> Names => s_specs.Select(s => s.Name);

    /// <summary>The matrix of one name (deterministic).</summary>
    public static CsrMatrix Make(string name)
    {
        var spec = s_specs.FirstOrDefault(s => s.Name == name);
        if (spec.Name is null)
            throw new ArgumentException($"Unknown stress matrix '{name}': use one of {string.Join(", ", Names)}.", nameof(name));
        var rng = new Random(spec.Seed);
        int rows = spec.Rows, cols = spec.Cols;
        if (spec.Name.StartsWith("stress hyper", StringComparison.Ordinal)) return Exact(rng, rows, cols, (int)Math.Round(spec.Density * rows * cols));
        double mean = spec.Density * cols;
        // Column popularity: uniform, or Zipf-like (weight 1 / (rank + 10)) for the column-skewed ones.
        double[]? cdf = null;
        if (spec.ColumnSkew)
        {
            var perm = Enumerable.Range(0, cols).OrderBy(_ => rng.Next()).ToArray();
            var w = new double[cols];
            for (int r = 0; r < cols; r++) w[perm[r]] = 1.0 / (r + 10);
            cdf = new double[cols];
            double acc = 0;
            for (int c = 0; c < cols; c++) { acc += w[c]; cdf[c] = acc; }
            for (int c = 0; c < cols; c++) cdf[c] /= acc;
        }
        var lengths = new int[rows];
        // Pareto row lengths, x_m chosen so the non-empty rows average the target (mean of Pareto = alpha x_m / (alpha - 1)).
        double nonEmptyMean = mean / Math.Max(1e-9, 1 - spec.Empty);
        double xm = nonEmptyMean * (spec.Alpha - 1) / spec.Alpha;
        for (int r = 0; r < rows; r++)
        {
            double pareto = xm / Math.Pow(1 - rng.NextDouble(), 1 / spec.Alpha);
            lengths[r] = rng.NextDouble() < spec.Empty ? 0 : (int)Math.Min(cols, Math.Max(1, Math.Round(pareto)));
        }
        for (int t = 0; t < spec.LongRows; t++) lengths[rng.Next(rows)] = cols / (t + 1);   // a few very long rows (one full)
        // Scale to the target count (the tail of a Pareto is heavy), keeping the long rows.
        long target = (long)Math.Round(spec.Density * rows * cols), total = lengths.Sum(l => (long)l);
        if (total > target)
        {
            double f = (double)target / total;
            for (int r = 0; r < rows; r++) lengths[r] = lengths[r] == cols ? cols : (int)Math.Floor(lengths[r] * f);
        }
        var offsets = new int[rows + 1];
        var ci = new List<int>();
        var picked = new HashSet<int>();
        for (int r = 0; r < rows; r++)
        {
            picked.Clear();
            int len = lengths[r];
            if (len * 2 > cols)
            {
                for (int c = 0; c < cols; c++) if (rng.Next(cols) < len) picked.Add(c);
            }
            else
                while (picked.Count < len)
                    picked.Add(cdf is null ? rng.Next(cols) : Lookup(cdf, rng.NextDouble()));
            ci.AddRange(picked.Order());
            offsets[r + 1] = ci.Count;
        }
        return new CsrMatrix(rows, cols, offsets, [.. ci], BenchData.NonZeroArray(rng, ci.Count));
    }

    /// <summary>Exactly <paramref name="nnz"/> nonzeros at uniformly random positions.</summary>
    private static CsrMatrix Exact(Random rng, int rows, int cols, int nnz)
    {
        var picked = new HashSet<long>();
        while (picked.Count < nnz) picked.Add((long)rng.Next(rows) * cols + rng.Next(cols));
        var sorted = picked.Order().ToArray();
        var offsets = new int[rows + 1];
        var ci = new int[nnz];
        for (int i = 0; i < nnz; i++) { ci[i] = (int)(sorted[i] % cols); offsets[sorted[i] / cols + 1]++; }
        for (int r = 0; r < rows; r++) offsets[r + 1] += offsets[r];
        return new CsrMatrix(rows, cols, offsets, ci, BenchData.NonZeroArray(rng, nnz));
    }

    private static int Lookup(double[] cdf, double u)
    {
        int i = Array.BinarySearch(cdf, u);
        return Math.Min(cdf.Length - 1, i >= 0 ? i : ~i);
    }

    /// <summary>Writes every stress matrix to <paramref name="dir"/> as .smtx (rows, cols, nnz / offsets / column indices).</summary>
    public static void Write(string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (string name in Names)
        {
            var a = Make(name);
            string file = Path.Combine(dir, name.Replace(' ', '_') + ".smtx");
            using var w = new StreamWriter(file);
            w.WriteLine($"{a.Rows}, {a.Cols}, {a.Nnz}");
            w.WriteLine(string.Join(' ', a.RowOffsets));
            w.WriteLine(string.Join(' ', a.ColumnIndices));
            Console.WriteLine($"{file}: {a.Rows}x{a.Cols}, nnz {a.Nnz} ({100 * a.Sparsity:F2} % sparse), " +
                $"empty rows {Enumerable.Range(0, a.Rows).Count(r => a.RowLength(r) == 0)}, " +
                $"longest row {Enumerable.Range(0, a.Rows).Max(a.RowLength)}");
        }
    }
}
