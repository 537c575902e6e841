using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace SparseKernels.Bench;

/// <summary>The work of one invocation: floating-point operations and the bytes that must move (compulsory traffic).</summary>
public static class Work
{
    /// <summary>(flops, bytes) for a benchmark case, or NaNs when its type is not known.</summary>
    public static (double Flops, double Bytes) Of(BenchmarkCase c)
    {
        var p = c.Parameters.Items.ToDictionary(i => i.Name, i => i.Value);
        Type t = c.Descriptor.Type;
        if (t == typeof(RooflineBenchmarks))
            return c.Descriptor.WorkloadMethod.Name == nameof(RooflineBenchmarks.CopyBandwidth)
                ? (double.NaN, 2.0 * 4 * RooflineBenchmarks.CopyFloats)
                : (2.0 * Math.Pow(RooflineBenchmarks.GemmSize, 3), 3.0 * 4 * RooflineBenchmarks.GemmSize * RooflineBenchmarks.GemmSize);
        if (p.GetValueOrDefault("Matrix") is not string problem || t == typeof(CpuFixedCostBenchmarks)) return (double.NaN, double.NaN);
        var (m, k, nnz) = BenchData.Shape(problem);
        if (t == typeof(SpmmCsrCpuBenchmarks) || t == typeof(SpmmCsrCpuVsReferenceBenchmarks) || t == typeof(SpmmCsrBenchmarks))
        {
            int n = (int)p["N"]!;
            // CSR (offsets, indices, values), B read once, C written once.
            double bytes = 4.0 * (m + 1) + 8.0 * nnz + 4.0 * k * n + 4.0 * m * n;
            return (2.0 * nnz * n, bytes);
        }
        if (t.IsSubclassOf(typeof(CpuKernelsBenchmarks)) || t == typeof(CpuDenseCrossoverBenchmarks))
        {
            int n = (int)p["N"]!;
            return (2.0 * nnz * n, double.NaN);
        }
        if (t == typeof(SddmmCsrBenchmarks))
        {
            int kk = (int)p["K"]!;
            // pattern (offsets, indices), X (m x K) and Y (k x K) read once, one output per nonzero.
            double bytes = 4.0 * (m + 1) + 8.0 * nnz + 4.0 * m * kk + 4.0 * k * kk;
            return (2.0 * nnz * kk, bytes);
        }
        return (double.NaN, double.NaN);
    }
}

/// <summary>Base of the custom columns: numeric, always shown, computed from the mean time.</summary>
public abstract class WorkColumn(string id, string name, string legend) : IColumn
{
    public string Id => id;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => legend;
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double v = Value(summary, benchmarkCase);
        return double.IsFinite(v) ? v.ToString("F2", CultureInfo.InvariantCulture) : "-";
    }

    protected abstract double Value(Summary summary, BenchmarkCase benchmarkCase);

    protected static double MeanNs(Summary summary, BenchmarkCase c)
    {
        var stats = summary[c]?.ResultStatistics;
        return stats is null || stats.Mean <= 0 ? double.NaN : stats.Mean;
    }
}

/// <summary>GFLOP/s from the mean (SpMM and SDDMM: 2*nnz*N).</summary>
public sealed class GflopsColumn() : WorkColumn("Gflops", "GFLOP/s", "Floating-point operations per second, 2*nnz*N per invocation, from the mean")
{
    protected override double Value(Summary summary, BenchmarkCase c) => Work.Of(c).Flops / MeanNs(summary, c);
}

/// <summary>Achieved GB/s against the bytes that must move (each operand read or written once).</summary>
public sealed class GbpsColumn() : WorkColumn("Gbps", "GB/s", "Compulsory bytes (CSR arrays, dense inputs read once, output written once) per second, from the mean")
{
    protected override double Value(Summary summary, BenchmarkCase c) => Work.Of(c).Bytes / MeanNs(summary, c);
}

/// <summary>Speed-up of this case over the fastest of the named baseline methods with the same parameters.</summary>
public sealed class SpeedupColumn(string name, params string[] baselines)
    : WorkColumn("Speedup" + name, "x " + name, $"Mean time of the fastest of {string.Join(", ", baselines)} (same parameters) over this case's")
{
    protected override double Value(Summary summary, BenchmarkCase c)
    {
        double best = double.NaN;
        foreach (var other in summary.BenchmarksCases)
        {
            if (other.Descriptor.Type != c.Descriptor.Type || !baselines.Contains(other.Descriptor.WorkloadMethod.Name)) continue;
            if (other.Parameters.DisplayInfo != c.Parameters.DisplayInfo) continue;
            double t = MeanNs(summary, other);
            if (double.IsFinite(t) && !(t >= best)) best = t;
        }
        return best / MeanNs(summary, c);
    }
}

/// <summary>The GPU benchmarks' shared settings.</summary>
public static class GpuBench
{
    /// <summary>Launches queued per invocation before the one synchronization (OperationsPerInvoke): times are per launch.</summary>
    public const int Launches = 10;

    private static readonly Lazy<(SparseKernels.Runtime.IDevice Device, SparseKernels.Linalg.CusparseContext Cusparse, SparseKernels.Linalg.CublasContext Cublas)> s_shared = new(() =>
    {
        var device = TopologyBenchSupport.Cuda ?? SparseKernels.Runtime.Devices.Open(SparseKernels.Runtime.DevicePreference.Cuda);
        return (device, new SparseKernels.Linalg.CusparseContext(device), new SparseKernels.Linalg.CublasContext(device));
    });

    /// <summary>The one CUDA device of the whole benchmark run (opened on first use, never disposed: the process ends).</summary>
    public static SparseKernels.Runtime.IDevice Device => s_shared.Value.Device;
    /// <summary>The run's one cuSPARSE handle on <see cref="Device"/>.</summary>
    public static SparseKernels.Linalg.CusparseContext Cusparse => s_shared.Value.Cusparse;
    /// <summary>The run's one cuBLAS handle on <see cref="Device"/>.</summary>
    public static SparseKernels.Linalg.CublasContext Cublas => s_shared.Value.Cublas;

    /// <summary>A GPU class: in the Gpu category, or a *Gpu* twin of a CPU class.</summary>
    public static bool IsGpu(Type t)
        => t.GetCustomAttributes(typeof(BenchmarkDotNet.Attributes.BenchmarkCategoryAttribute), true)
               .OfType<BenchmarkDotNet.Attributes.BenchmarkCategoryAttribute>().Any(a => a.Categories.Contains(Program.GpuCategory))
           || t.Name.Contains("Gpu", StringComparison.Ordinal);
}

/// <summary>
/// "warm" on GPU methods: the R launches of an invocation run back to back, so operands that fit in L2 stay there
/// (BenchmarkDotNet cannot flush L2 cheaply per launch; the lean harness, <c>verify</c>, flushes between repetitions).
/// </summary>
public sealed class L2Column : IColumn
{
    public string Id => "L2";
    public string ColumnName => "L2";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => -1;
    public bool IsNumeric => false;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"warm: GPU times are the mean over {GpuBench.Launches} back-to-back launches per invocation, operands left in L2 between them";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        => GpuBench.IsGpu(benchmarkCase.Descriptor.Type) && benchmarkCase.Descriptor.WorkloadMethod.Name != "CpuBackend" ? "warm" : "-";
}
