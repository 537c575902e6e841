using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using SparseKernels.Cpu;
using SparseKernels.Tensors;

namespace SparseKernels.Bench;

/// <summary>
/// Issue 16's CPU target: SpMM (C = A.B), transposed SpMM (C = A^T.B) and SDDMM (values at A's pattern of X.Y^T)
/// through the Into forms (the caller's buffers: 0 B allocated per call), 2 threads, N = 64 and 256, on every DLMC
/// matrix and on the <see cref="StressSet"/>. GFLOP/s counts 2*nnz*N from the mean time. PyTorch 1.13 on the same
/// matrices: bench/torch_cpu_kernels.py, run by bench/run_cpu_kernels.sh after this class.
/// </summary>
[MemoryDiagnoser(false)]
public class CpuKernelsBenchmarks
{
    private static readonly CpuBackend s_cpu = new(2);

    /// <summary>DLMC (short names) then the stress set.</summary>
    public static IEnumerable<string> Problems => BenchData.DlmcFiles.Keys.Concat(StressSet.Names);

    [ParamsSource(nameof(Problems))]
    public string Matrix { get; set; } = "";

    [Params(64, 256)]
    public int N { get; set; } = 256;

    private CsrMatrix _a = null!;
    private DenseTensor _b = null!, _c = null!, _bt = null!, _ct = null!, _x = null!, _y = null!;
    private float[] _values = [];

    [GlobalSetup]
    public void Setup()
    {
        _a = BenchData.Load(Matrix);
        _b = BenchData.Dense(_a.Cols, N, 7);
        _c = DenseTensor.Zeros(_a.Rows, N);
        _bt = BenchData.Dense(_a.Rows, N, 8);
        _ct = DenseTensor.Zeros(_a.Cols, N);
        _x = BenchData.Dense(_a.Rows, N, 9);
        _y = BenchData.Dense(_a.Cols, N, 10);
        _values = new float[_a.Nnz];
    }

    [Benchmark]
    public void SpmmCsr() => s_cpu.SpmmCsrInto(_a, _b, _c);

    [Benchmark]
    public void SpmmCsrTransposed() => s_cpu.SpmmCsrTransposedInto(_a, _bt, _ct);

    [Benchmark]
    public void SddmmCsr() => s_cpu.SddmmCsrInto(_a, _x, _y, _values);
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
