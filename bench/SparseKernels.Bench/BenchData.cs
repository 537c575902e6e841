using SparseKernels.Tensors;

namespace SparseKernels.Bench;

/// <summary>
/// The benchmark problems: every DLMC matrix (by a short name, since BenchmarkDotNet truncates long parameter
/// values) and synthetic uniform-random 4096x4096 matrices at 50 ... 99 % sparsity. Values are random in
/// [-1, -0.05] U [0.05, 1], never zero, from fixed seeds (so every run and every method sees the same data).
/// </summary>
public static class BenchData
{
    /// <summary>Sparsities of the synthetic sweep.</summary>
    public static readonly double[] SyntheticSparsities = [0.50, 0.70, 0.80, 0.90, 0.95, 0.98, 0.99];

    /// <summary>"uniform 4096 0.9" style names of the synthetic problems.</summary>
    public static IEnumerable<string> SyntheticNames => SyntheticSparsities.Select(s => FormattableString.Invariant($"uniform 4096 {s}"));

    private static readonly Dictionary<string, string> s_layers = new()
    {
        ["body_encoder_layer_0_ffn_conv1_fully_connected"] = "ffn1",
        ["body_encoder_layer_0_ffn_conv2_fully_connected"] = "ffn2",
        ["body_encoder_layer_0_self_attention_multihead_attention_q_fully_connected"] = "q",
        ["bottleneck_2_block_group3_1_1"] = "b2g3",
        ["bottleneck_3_block_group4_1_1"] = "b3g4",
        ["final_dense"] = "fc",
    };

    private static Dictionary<string, string>? s_dlmc;

    /// <summary>Short name ("tf 0.9 ffn1", "rn50 0.98 fc") to the file's path relative to the DLMC root, for every .smtx there.</summary>
    public static IReadOnlyDictionary<string, string> DlmcFiles
    {
        get
        {
            if (s_dlmc is not null) return s_dlmc;
            var map = new Dictionary<string, string>();
            string? root = TryDlmcRoot();
            if (root is not null)
                foreach (var path in Directory.EnumerateFiles(root, "*.smtx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    string rel = Path.GetRelativePath(root, path).Replace('\\', '/');
                    string[] parts = rel.Split('/');   // model / method / sparsity / layer.smtx
                    string model = parts[0] == "transformer" ? "tf" : parts[0];
                    string layer = Path.GetFileNameWithoutExtension(rel);
                    string name = $"{model} {parts[^2]} {s_layers.GetValueOrDefault(layer, layer)}";
                    map[name] = rel;
                }
            return s_dlmc = map;
        }
    }

    /// <summary>A DLMC short name or a synthetic name, loaded with random non-zero values (seed 42).</summary>
    public static CsrMatrix Load(string problem)
    {
        var rng = new Random(42);
        if (problem.StartsWith("stress ", StringComparison.Ordinal)) return StressSet.Make(problem);
        if (problem.StartsWith("uniform 4096 ", StringComparison.Ordinal))
        {
            double sparsity = double.Parse(problem["uniform 4096 ".Length..], System.Globalization.CultureInfo.InvariantCulture);
            return RandomCsr(rng, 4096, 4096, 1 - sparsity);
        }
        if (!DlmcFiles.TryGetValue(problem, out var file))
            throw new ArgumentException($"Unknown problem '{problem}': use 'uniform 4096 <sparsity>' or one of {string.Join(", ", DlmcFiles.Keys)}.", nameof(problem));
        return SmtxFile.Read(Path.Combine(DlmcRoot(), file), rng);
    }

    private static readonly Dictionary<string, (int Rows, int Cols, long Nnz)> s_shapes = [];

    /// <summary>Rows, columns and nonzeros of a problem (cached; for the columns' flop and byte counts).</summary>
    public static (int Rows, int Cols, long Nnz) Shape(string problem)
    {
        lock (s_shapes)
        {
            if (!s_shapes.TryGetValue(problem, out var s))
            {
                var a = Load(problem);
                s_shapes[problem] = s = (a.Rows, a.Cols, a.Nnz);
            }
            return s;
        }
    }

    /// <summary>A matrix of the given density with values never zero; deterministic for a given generator.</summary>
    public static CsrMatrix RandomCsr(Random rng, int rows, int cols, double density)
    {
        var offsets = new int[rows + 1];
        var ci = new List<int>((int)(rows * (long)cols * density * 1.1));
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++) if (rng.NextDouble() < density) ci.Add(c);
            offsets[r + 1] = ci.Count;
        }
        return new CsrMatrix(rows, cols, offsets, ci.ToArray(), NonZeroArray(rng, ci.Count));
    }

    public static float[] NonZeroArray(Random rng, long length)
    {
        var a = new float[length];
        for (long i = 0; i < length; i++)
        {
            float m = 0.05f + 0.95f * rng.NextSingle();
            a[i] = rng.Next(2) == 0 ? -m : m;
        }
        return a;
    }

    public static DenseTensor Dense(int rows, int cols, int seed) => DenseTensor.FromArray(rows, cols, NonZeroArray(new Random(seed), (long)rows * cols));

    /// <summary>$SPARSEKERNELS_DATA/dlmc, else ../shared/dlmc beside the repository.</summary>
    public static string DlmcRoot() => TryDlmcRoot()
        ?? throw new DirectoryNotFoundException("DLMC data not found: set SPARSEKERNELS_DATA (with a dlmc folder) or put it in ../shared/dlmc beside the repository.");

    private static string? TryDlmcRoot()
    {
        string? data = Environment.GetEnvironmentVariable("SPARSEKERNELS_DATA");
        if (data is not null && Directory.Exists(Path.Combine(data, "dlmc"))) return Path.Combine(data, "dlmc");
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "..", "shared", "dlmc");
                if (Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "SparseKernels.sln")))
                    return Path.GetFullPath(candidate);
            }
        return null;
    }
}
