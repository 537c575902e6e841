using BenchmarkDotNet.Attributes;
using SparseKernels.Cpu;
using SparseKernels.Tensors;

namespace SparseKernels.Bench;

/// <summary>
/// SpMM C = A.B (A sparse MxK, B dense KxN) on the CPU: the double-accumulating reference against the fast
/// multithreaded backend, on two DLMC matrices and a synthetic 4096x4096 at 90 % sparsity, N = 256.
/// Values are random in [-1, -0.05] U [0.05, 1] (never zero). GFLOP/s counts 2*nnz*N.
/// </summary>
[MemoryDiagnoser(false)]
public class SpmmCsrBenchmarks
{
    public const string Synthetic = "synth 4096 0.9";

    /// <summary>Short names (BenchmarkDotNet truncates long parameter values) for the DLMC files, relative to the DLMC root.</summary>
    public static readonly IReadOnlyDictionary<string, string> DlmcFiles = new Dictionary<string, string>
    {
        ["tf 0.9 ffn_conv1"] = "transformer/magnitude_pruning/0.9/body_encoder_layer_0_ffn_conv1_fully_connected.smtx",
        ["rn50 0.8 b3_g4_1x1"] = "rn50/magnitude_pruning/0.8/bottleneck_3_block_group4_1_1.smtx",
    };

    /// <summary>Matrix: a key of <see cref="DlmcFiles"/>, or <see cref="Synthetic"/> (4096x4096, 90 % sparse).</summary>
    [Params("tf 0.9 ffn_conv1", "rn50 0.8 b3_g4_1x1", Synthetic)]
    public string Matrix { get; set; } = Synthetic;

    [Params(256)]
    public int N { get; set; } = 256;

    private CsrMatrix _a = null!;
    private DenseTensor _b = null!;

    [GlobalSetup]
    public void Setup()
    {
        _a = Load(Matrix);
        _b = DenseTensor.FromArray(_a.Cols, N, NonZeroArray(new Random(7), (long)_a.Cols * N));
    }

    [Benchmark(Baseline = true)]
    public DenseTensor Reference() => CpuReference.SpmmCsr(_a, _b);

    [Benchmark]
    public DenseTensor Backend() => CpuBackend.SpmmCsr(_a, _b);

    private static readonly Dictionary<string, long> s_nnz = [];

    public static double Flops(IReadOnlyDictionary<string, object?> parameters)
    {
        if (parameters.GetValueOrDefault(nameof(Matrix)) is not string m || parameters.GetValueOrDefault(nameof(N)) is not int n) return double.NaN;
        long nnz;
        lock (s_nnz)
            if (!s_nnz.TryGetValue(m, out nnz)) s_nnz[m] = nnz = Load(m).Nnz;
        return 2.0 * nnz * n;
    }

    private static CsrMatrix Load(string matrix)
    {
        var rng = new Random(42);
        if (matrix == Synthetic) return RandomCsr(rng, 4096, 4096, 0.1);
        if (!DlmcFiles.TryGetValue(matrix, out var file))
            throw new ArgumentException($"Unknown matrix '{matrix}': use {Synthetic} or one of {string.Join(", ", DlmcFiles.Keys)}.", nameof(matrix));
        return SmtxFile.Read(Path.Combine(DlmcRoot(), file), rng);
    }

    /// <summary>A matrix of the given density with values never zero; deterministic for a given generator.</summary>
    internal static CsrMatrix RandomCsr(Random rng, int rows, int cols, double density)
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

    internal static float[] NonZeroArray(Random rng, long length)
    {
        var a = new float[length];
        for (long i = 0; i < length; i++)
        {
            float m = 0.05f + 0.95f * rng.NextSingle();
            a[i] = rng.Next(2) == 0 ? -m : m;
        }
        return a;
    }

    /// <summary>$SPARSEKERNELS_DATA/dlmc, else ../shared/dlmc beside the repository.</summary>
    internal static string DlmcRoot()
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
        throw new DirectoryNotFoundException("DLMC data not found: set SPARSEKERNELS_DATA (with a dlmc folder) or put it in ../shared/dlmc beside the repository.");
    }
}
