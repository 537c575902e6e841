using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;
using SparseKernels.Cpu;
using SparseKernels.Tensors;

namespace SparseKernels.Bench;

/// <summary>
/// The base of issue 16's CPU target classes: SpMM (C = A.B), transposed SpMM (C = A^T.B) and SDDMM (values at A's pattern of X.Y^T)
/// through the Into forms (the caller's buffers: 0 B allocated per call), 2 threads, N = 64 and 256, on every DLMC
/// matrix and on the <see cref="StressSet"/>. GFLOP/s counts 2*nnz*N from the mean time. PyTorch 1.13 on the same
/// matrices: bench/torch_cpu_kernels.py, run by bench/run_cpu_kernels.sh after this class.
/// </summary>
public abstract class CpuKernelsBenchmarks
{
    protected static readonly CpuBackend Cpu = new(2);

    /// <summary>DLMC (short names) then the stress set.</summary>
    public static IEnumerable<string> Problems => BenchData.DlmcFiles.Keys.Concat(StressSet.Names);

    [ParamsSource(nameof(Problems))]
    public string Matrix { get; set; } = "";

    [Params(64, 256)]
    public int N { get; set; } = 256;

    protected CsrMatrix A { get; private set; } = null!;
    protected DenseTensor B { get; private set; } = null!;
    protected DenseTensor C { get; private set; } = null!;
    protected DenseTensor Bt { get; private set; } = null!;
    protected DenseTensor Ct { get; private set; } = null!;
    protected DenseTensor X { get; private set; } = null!;
    protected DenseTensor Y { get; private set; } = null!;
    protected float[] Values { get; private set; } = [];

    [GlobalSetup]
    public void Setup()
    {
        A = BenchData.Load(Matrix);
        B = BenchData.Dense(A.Cols, N, 7);
        C = DenseTensor.Zeros(A.Rows, N);
        Bt = BenchData.Dense(A.Rows, N, 8);
        Ct = DenseTensor.Zeros(A.Cols, N);
        X = BenchData.Dense(A.Rows, N, 9);
        Y = BenchData.Dense(A.Cols, N, 10);
        Values = new float[A.Nnz];
    }
}

/// <summary>SpMM C = A.B (see <see cref="CpuKernelsBenchmarks"/>).</summary>
[MemoryDiagnoser(false)]
[Config(typeof(CpuKernelsConfig))]
public class CpuSpmmBenchmarks : CpuKernelsBenchmarks
{
    [Benchmark]
    public void SpmmCsr() => Cpu.SpmmCsrInto(A, B, C);
}

/// <summary>Transposed SpMM C = A^T.B (see <see cref="CpuKernelsBenchmarks"/>).</summary>
[MemoryDiagnoser(false)]
[Config(typeof(CpuKernelsConfig))]
public class CpuSpmmTransposedBenchmarks : CpuKernelsBenchmarks
{
    [Benchmark]
    public void SpmmCsrTransposed() => Cpu.SpmmCsrTransposedInto(A, Bt, Ct);
}

/// <summary>SDDMM at A's pattern of X.Y^T, K = N (see <see cref="CpuKernelsBenchmarks"/>).</summary>
[MemoryDiagnoser(false)]
[Config(typeof(CpuKernelsConfig))]
public class CpuSddmmBenchmarks : CpuKernelsBenchmarks
{
    [Benchmark]
    public void SddmmCsr() => Cpu.SddmmCsrInto(A, X, Y, Values);
}

/// <summary>
/// The job of the CPU kernel classes: in this process, 3 warm-up and 10 measured iterations of about 40 ms each (so
/// the ~250 cases of a class fit a few minutes of a quiet machine); the mean over the iterations is the figure.
/// </summary>
public sealed class CpuKernelsConfig : ManualConfig
{
    public CpuKernelsConfig()
    {
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithId("InProcess")
            .WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10).WithIterationTime(TimeInterval.FromMilliseconds(40)));
        SummaryStyle = BenchmarkDotNet.Reports.SummaryStyle.Default.WithMaxParameterColumnWidth(48);   // stress names unabridged
    }
}

/// <summary>
/// Dense GEMM against SpMM (N = 256, 2 threads) on uniform 4096 x 4096 matrices at 50 ... 90 % sparsity: where
/// sparse starts to win (the crossover). Dense: CpuBackend.DenseGemm of the same matrix stored dense.
/// </summary>
[MemoryDiagnoser(false)]
[Config(typeof(CpuKernelsConfig))]
public class CpuDenseCrossoverBenchmarks
{
    private static readonly CpuBackend s_cpu = new(2);

    [Params("uniform 4096 0.5", "uniform 4096 0.7", "uniform 4096 0.8", "uniform 4096 0.9")]
    public string Matrix { get; set; } = "uniform 4096 0.7";

    [Params(256)]
    public int N { get; set; } = 256;

    private CsrMatrix _a = null!;
    private DenseTensor _dense = null!, _b = null!, _c = null!;

    [GlobalSetup]
    public void Setup()
    {
        _a = BenchData.Load(Matrix);
        _dense = _a.ToDense();
        _b = BenchData.Dense(_a.Cols, N, 7);
        _c = DenseTensor.Zeros(_a.Rows, N);
    }

    [Benchmark]
    public void SpmmCsr() => s_cpu.SpmmCsrInto(_a, _b, _c);

    [Benchmark]
    public DenseTensor DenseGemm() => s_cpu.DenseGemm(_dense, _b);
}

/// <summary>
/// The fixed cost of a call (SpMM Into, N = 256, 2 threads) on almost-empty matrices: 1 x 512 with one nonzero
/// (nothing but the call), 2048 x 512 with 8 nonzeros (plus writing the 2 MB output) and the stress set's
/// hyper-sparse layer.
/// </summary>
[MemoryDiagnoser(false)]
[Config(typeof(CpuKernelsConfig))]
public class CpuFixedCostBenchmarks
{
    private static readonly CpuBackend s_cpu = new(2);

    [Params("1x512 nnz 1", "2048x512 nnz 8", "stress hyper 2048x512 1423")]
    public string Matrix { get; set; } = "1x512 nnz 1";

    private CsrMatrix _a = null!;
    private DenseTensor _b = null!, _c = null!, _bt = null!, _ct = null!;
    private float[] _values = [];

    [GlobalSetup]
    public void Setup()
    {
        _a = Matrix switch
        {
            "1x512 nnz 1" => new CsrMatrix(1, 512, [0, 1], [17], [0.5f]),
            "2048x512 nnz 8" => new CsrMatrix(2048, 512, [.. Enumerable.Range(0, 2049).Select(r => Math.Min(8, r / 256))],
                [.. Enumerable.Range(0, 8).Select(i => i * 60)], [.. Enumerable.Repeat(0.5f, 8)]),
            _ => BenchData.Load(Matrix),
        };
        _b = BenchData.Dense(_a.Cols, 256, 7);
        _c = DenseTensor.Zeros(_a.Rows, 256);
        _bt = BenchData.Dense(_a.Rows, 256, 8);
        _ct = DenseTensor.Zeros(_a.Cols, 256);
        _values = new float[_a.Nnz];
    }

    [Benchmark]
    public void SpmmCsr() => s_cpu.SpmmCsrInto(_a, _b, _c);

    [Benchmark]
    public void SpmmCsrTransposed() => s_cpu.SpmmCsrTransposedInto(_a, _bt, _ct);

    [Benchmark]
    public void SddmmCsr() => s_cpu.SddmmCsrInto(_a, _bt, _b, _values);
}

/// <summary>
/// A quick Stopwatch harness for tuning (not the committed figures, which come from BenchmarkDotNet):
/// <c>dotnet SparseKernels.Bench.dll cpu-quick [N] [filter]</c> prints mean GFLOP/s of V1 and V2 per matrix and op.
/// </summary>
public static class CpuQuick
{
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 256;
        string filter = args.Length > 1 ? args[1] : "";
        var cpu = new CpuBackend(2);
        var v1 = new List<double>[3];
        var v2 = new List<double>[3];
        for (int i = 0; i < 3; i++) { v1[i] = []; v2[i] = []; }
        Console.WriteLine($"{"matrix",-36} {"nnz",8}  spmm V1   V2 | spmmT V1   V2 | sddmm V1   V2   (GFLOP/s, mean, N = {n})");
        foreach (string name in CpuKernelsBenchmarks.Problems.Where(p => p.Contains(filter, StringComparison.Ordinal)))
        {
            var a = BenchData.Load(name);
            var b = BenchData.Dense(a.Cols, n, 7);
            var c = DenseTensor.Zeros(a.Rows, n);
            var bt = BenchData.Dense(a.Rows, n, 8);
            var ct = DenseTensor.Zeros(a.Cols, n);
            var x = BenchData.Dense(a.Rows, n, 9);
            var y = BenchData.Dense(a.Cols, n, 10);
            var values = new float[a.Nnz];
            double flops = 2.0 * a.Nnz * n;
            var r = new double[6];
            for (int op = 0; op < 3; op++)
                for (int ver = 1; ver <= 2; ver++)
                {
                    var k = (CpuKernel)ver;
                    Action call = op switch
                    {
                        0 => () => cpu.SpmmCsrInto(a, b, c, k),
                        1 => () => cpu.SpmmCsrTransposedInto(a, bt, ct, k),
                        _ => () => cpu.SddmmCsrInto(a, x, y, values, k),
                    };
                    r[op * 2 + ver - 1] = flops / Time(call) / 1e9;
                    (ver == 1 ? v1 : v2)[op].Add(r[op * 2 + ver - 1]);
                }
            Console.WriteLine(FormattableString.Invariant(
                $"{name,-36} {a.Nnz,8} {r[0],6:F1} {r[1],6:F1} | {r[2],6:F1} {r[3],6:F1} | {r[4],6:F1} {r[5],6:F1}"));
        }
        static double Geo(List<double> xs) => Math.Exp(xs.Average(Math.Log));
        Console.WriteLine(FormattableString.Invariant(
            $"{"geomean",-36} {"",8} {Geo(v1[0]),6:F1} {Geo(v2[0]),6:F1} | {Geo(v1[1]),6:F1} {Geo(v2[1]),6:F1} | ") +
            FormattableString.Invariant($"{Geo(v1[2]),6:F1} {Geo(v2[2]),6:F1}"));
        return 0;
    }

    /// <summary>Mean seconds per call over about 0.15 s, after a warm-up.</summary>
    private static double Time(Action call)
    {
        for (int i = 0; i < 3; i++) call();
        var sw = Stopwatch.StartNew();
        int reps = 0;
        while (sw.Elapsed.TotalSeconds < 0.15 || reps < 5) { call(); reps++; }
        return sw.Elapsed.TotalSeconds / reps;
    }
}
