using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace SparseKernels.Bench;

/// <summary>GFLOP/s from the mean time, for the benchmark types it knows (SpMM: 2*nnz*N).</summary>
public sealed class GflopsColumn : IColumn
{
    public string Id => nameof(GflopsColumn);
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Floating-point operations per second (SpMM: 2*nnz*N per invocation), from the mean";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        var stats = report?.ResultStatistics;
        if (stats is null || stats.Mean <= 0) return "-";
        var parameters = benchmarkCase.Parameters.Items.ToDictionary(p => p.Name, p => (object?)p.Value);
        double flops = benchmarkCase.Descriptor.Type == typeof(SpmmCsrBenchmarks) ? SpmmCsrBenchmarks.Flops(parameters) : double.NaN;
        if (double.IsNaN(flops)) return "-";
        return (flops / stats.Mean).ToString("F2", System.Globalization.CultureInfo.InvariantCulture); // flops per ns = GFLOP/s
    }
}
