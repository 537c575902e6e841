using System.Globalization;
using SparseKernels.Linalg;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Bench.Verify;

/// <summary>
/// SpMM and SDDMM on a fixed reduced set: 8 DLMC matrices spanning 70-98 % and uniform 4096x4096 at 70/90/95/98 %,
/// N (or K) = 256 and 2048. Every version of our kernel (the enums are enumerated, so new versions appear by
/// themselves) against every cuSPARSE algorithm (descriptors and workspace made once per case) and cuBLAS SGEMM
/// fp32 / TF32 on the dense equivalent. Each method's result is checked once per case (sampled rows / nonzeros
/// against a double-accumulating reference) before it is timed: a wrong result fails the stage and gets no time.
/// </summary>
public static class MatmulStages
{
    public static readonly string[] Dlmc = ["tf 0.7 ffn1", "rn50 0.7 b2g3", "tf 0.8 ffn2", "rn50 0.8 fc", "tf 0.9 q", "rn50 0.9 b3g4", "tf 0.95 ffn1", "rn50 0.98 fc"];
    public static readonly string[] DlmcRehearse = ["tf 0.98 q", "rn50 0.98 b2g3"];
    public static readonly double[] Uniform = [0.70, 0.90, 0.95, 0.98];

    private const string Cusparse = "cuSPARSE", Sgemm = "cuBLAS SGEMM", Tf32 = "cuBLAS TF32";
    private const double Fp32Tolerance = 1e-4, Tf32Tolerance = 5e-3;   // max |error| / sum |products|

    private sealed record Problem(string Name, bool IsDlmc, double Sparsity, Func<CsrMatrix> Load);

    private static List<Problem> Problems(VerifyContext ctx, StageResult result)
    {
        var list = new List<Problem>();
        foreach (string name in ctx.Rehearse ? DlmcRehearse : Dlmc)
        {
            if (!BenchData.DlmcFiles.ContainsKey(name)) { result.SummaryLines.Add($"- DLMC matrix '{name}' not found (SPARSEKERNELS_DATA/dlmc): left out"); continue; }
            double sp = double.Parse(name.Split(' ')[1], CultureInfo.InvariantCulture);
            list.Add(new Problem(name, true, sp, () => BenchData.Load(name)));
        }
        foreach (double s in ctx.Rehearse ? [0.9] : Uniform)
        {
            int size = ctx.Rehearse ? 256 : 4096;
            string name = FormattableString.Invariant($"uniform {size} {s}");
            list.Add(new Problem(name, false, s, () => BenchData.RandomCsr(new Random(42), size, size, 1 - s)));
        }
        return list;
    }

    private static int[] Widths(VerifyContext ctx) => ctx.Rehearse ? [8, 32] : [256, 2048];

    /// <summary>Rows sampled for the check: all when few, else 64 spread over the matrix plus the longest row.</summary>
    private static int[] SampleRows(CsrMatrix a)
    {
        if (a.Rows <= 64) return Enumerable.Range(0, a.Rows).ToArray();
        int longest = Enumerable.Range(0, a.Rows).MaxBy(a.RowLength);
        return Enumerable.Range(0, 64).Select(i => (int)((long)i * a.Rows / 64)).Append(longest).Distinct().ToArray();
    }

    private sealed class CaseTimes
    {
        public readonly Dictionary<string, double> Us = new(StringComparer.Ordinal);
        public double BestCusparse => Us.Where(kv => kv.Key.StartsWith(Cusparse, StringComparison.Ordinal)).Select(kv => kv.Value).DefaultIfEmpty(double.NaN).Min();
        public double Get(string m) => Us.TryGetValue(m, out double v) ? v : double.NaN;
    }

    private static readonly string[] Columns = ["problem", "sparsity", "shape", "nnz", "N", "method", "time (us)", "R", "GFLOP/s", "GB/s", "floor (us)", "x floor", "x cuSPARSE", "x SGEMM", "x TF32", "max err"];

    // ---------------------------------------------------------------- SpMM

    public static StageResult Spmm(VerifyContext ctx)
    {
        var result = new StageResult();
        var dev = ctx.Device;
        var ceilings = RooflineStage.Load(ctx);
        var report = new Report(ctx, "spmm", "SpMM C = A.B (A CSR, B and C dense row-major)", Columns);
        AddNotes(report, ctx, ceilings, "N", "2*nnz*N", "CSR arrays + B read once + C written once");
        var versions = Enum.GetValues<SpmmCsrVersion>();
        var times = new Dictionary<(string, int), CaseTimes>();
        var problems = Problems(ctx, result);
        var baselineErrors = new Dictionary<string, (int Count, string First)>();
        using var sparse = ctx.IsCuda ? new CusparseContext(dev) : null;
        using var blas = ctx.IsCuda ? new CublasContext(dev) : null;
        foreach (var problem in problems)
        {
            if (ctx.OutOfTime(ctx.Rehearse ? 0 : 8)) { result.StoppedByBudget = true; break; }
            var a = problem.Load();
            int[] rows = SampleRows(a);
            using var dA = a.ToDevice(dev);
            using var dDense = ctx.IsCuda ? a.ToDense().ToDevice(dev) : null;
            foreach (int n in Widths(ctx))
            {
                if (ctx.OutOfTime(ctx.Rehearse ? 0 : 4)) { result.StoppedByBudget = true; break; }
                var b = BenchData.Dense(a.Cols, n, 7);
                var reference = SpmmReference(a, b, rows);
                using var dB = b.ToDevice(dev);
                using var dC = DenseTensor.Allocate(dev, a.Rows, n);
                double flops = 2.0 * a.Nnz * n, bytes = 4.0 * (a.Rows + 1) + 8.0 * a.Nnz + 4.0 * a.Cols * n + 4.0 * a.Rows * n;
                double floorUs = Floor(ceilings, flops, bytes);
                var ct = times[(problem.Name, n)] = new CaseTimes();
                var caseRows = new List<(string Method, Timing? T, double Err, string? Error)>();
                void Try(string method, Action launch, double tolerance)
                {
                    try
                    {
                        dev.Fill32(dC.DeviceData, 0x7FC0DEADu);
                        launch();
                        dev.Synchronize();
                        double err = SpmmError(dev, dC, rows, reference);
                        if (!(err <= tolerance))
                        {
                            caseRows.Add((method, null, err, $"WRONG (max err {VerifyContext.F(err, "E2")} > {tolerance:E0})"));
                            result.Failures.Add($"spmm {method} on {problem.Name} N={n}: wrong result, max err {VerifyContext.F(err, "E2")} (tolerance {tolerance:E0})");
                            return;
                        }
                        var t = ctx.Timer.Measure(launch);
                        ct.Us[method] = t.Us;
                        caseRows.Add((method, t, err, null));
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        caseRows.Add((method, null, double.NaN, $"ERROR {e.GetType().Name}: {e.Message}"));
                        // our kernels failing is a failure; a baseline that cannot run is reported, not failed
                        if (!method.StartsWith("cu", StringComparison.Ordinal)) result.Failures.Add($"spmm {method} on {problem.Name} N={n}: {e.GetType().Name}: {e.Message}");
                        else BaselineFailed(baselineErrors, method, e.Message);
                    }
                }
                foreach (var v in versions)
                    Try($"Spmm{v}", () => SpmmCsr.Run(dev, dA, dB, dC, v), Fp32Tolerance);
                if (sparse is not null)
                    foreach (var alg in new[] { CusparseSpmmAlgorithm.CsrAlg1, CusparseSpmmAlgorithm.CsrAlg2, CusparseSpmmAlgorithm.CsrAlg3 })
                    {
                        CusparseSpmmPlan? plan = null;
                        try { plan = sparse.PrepareSpmm(dA, dB, dC, algorithm: alg); }
                        catch (Exception e) when (e is SparseKernels.Native.CusparseException or EntryPointNotFoundException or ArgumentException)
                        {
                            caseRows.Add(($"{Cusparse} {alg}", null, double.NaN, $"not run: {e.Message}"));
                            BaselineFailed(baselineErrors, $"{Cusparse} {alg}", e.Message);
                            continue;
                        }
                        using (plan) Try($"{Cusparse} {alg}", plan.Run, Fp32Tolerance);
                    }
                if (blas is not null)
                {
                    Try(Sgemm, () => blas.Sgemm(dDense!, dB, dC, false, false), Fp32Tolerance);
                    Try(Tf32, () => blas.Sgemm(dDense!, dB, dC, false, false, tf32: true), Tf32Tolerance);
                }
                foreach (var (method, t, err, error) in caseRows)
                    report.Add(Row(problem.Name, problem.Sparsity, $"{a.Rows}x{a.Cols}", a.Nnz, n, method, t, err, error, flops, bytes, floorUs, ct));
                report.Flush();
            }
            if (result.StoppedByBudget) break;
        }
        Targets(ctx, report, result, problems, times, versions.Select(v => $"Spmm{v}").ToArray(), "N", 2.5, sgemmTargets: true);
        foreach (var (method, (count, first)) in baselineErrors) result.SummaryLines.Add($"- baseline {method} could not run in {count} cases: {first}");
        report.Flush();
        return result;
    }

    private static double[][] SpmmReference(CsrMatrix a, DenseTensor b, int[] rows)
    {
        int n = b.Cols;
        var hb = b.HostData;
        var refs = new double[rows.Length][];
        for (int i = 0; i < rows.Length; i++)
        {
            int r = rows[i];
            var sum = new double[n];
            var abs = new double[n];
            for (int p = a.RowOffsets[r]; p < a.RowOffsets[r + 1]; p++)
            {
                double v = a.Values[p];
                long off = (long)a.ColumnIndices[p] * n;
                for (int j = 0; j < n; j++) { double prod = v * hb[off + j]; sum[j] += prod; abs[j] += Math.Abs(prod); }
            }
            refs[i] = new double[2 * n];
            sum.CopyTo(refs[i], 0);
            abs.CopyTo(refs[i], n);
        }
        return refs;
    }

    /// <summary>Max over the sampled rows of |c - ref| / (sum |products| + tiny); NaN (never passes) when c holds NaN.</summary>
    private static double SpmmError(IDevice dev, DenseTensor dC, int[] rows, double[][] reference)
    {
        int n = dC.Cols;
        var row = new float[n];
        double worst = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            dev.CopyToHost(dC.DeviceData, (long)rows[i] * n, row.AsSpan());
            for (int j = 0; j < n; j++)
            {
                double e = Math.Abs(row[j] - reference[i][j]) / (reference[i][n + j] + 1e-6);
                if (!(e <= worst)) worst = e;   // NaN propagates
                if (double.IsNaN(worst)) return worst;
            }
        }
        return worst;
    }

    // ---------------------------------------------------------------- SDDMM

    public static StageResult Sddmm(VerifyContext ctx)
    {
        var result = new StageResult();
        var dev = ctx.Device;
        var ceilings = RooflineStage.Load(ctx);
        var report = new Report(ctx, "sddmm", "SDDMM out[p] = X[i,:] . Y[j,:] for each nonzero (i, j) of the pattern", Columns);
        AddNotes(report, ctx, ceilings, "K", "2*nnz*K", "pattern (offsets, indices) + X and Y read once + one output per nonzero; cuBLAS computes the whole dense X.Y^T");
        var versions = Enum.GetValues<SddmmCsrVersion>();
        var times = new Dictionary<(string, int), CaseTimes>();
        var problems = Problems(ctx, result);
        var baselineErrors = new Dictionary<string, (int Count, string First)>();
        using var sparse = ctx.IsCuda ? new CusparseContext(dev) : null;
        using var blas = ctx.IsCuda ? new CublasContext(dev) : null;
        foreach (var problem in problems)
        {
            if (ctx.OutOfTime(ctx.Rehearse ? 0 : 8)) { result.StoppedByBudget = true; break; }
            var p = problem.Load();
            var rng = new Random(3);
            int[] samples = p.Nnz <= 2048 ? Enumerable.Range(0, (int)p.Nnz).ToArray() : Enumerable.Range(0, 2048).Select(_ => (int)rng.NextInt64(p.Nnz)).ToArray();
            int[] rowOf = RowOf(p);
            using var dP = p.ToDevice(dev);
            using var dP2 = ctx.IsCuda ? p.ToDevice(dev) : null;   // cuSPARSE writes the pattern's own values
            using var output = dev.Allocate<float>(Math.Max(1, p.Nnz));
            using var dDense = ctx.IsCuda ? DenseTensor.Allocate(dev, p.Rows, p.Cols) : null;
            foreach (int k in Widths(ctx))
            {
                if (ctx.OutOfTime(ctx.Rehearse ? 0 : 4)) { result.StoppedByBudget = true; break; }
                var x = BenchData.Dense(p.Rows, k, 11);
                var y = BenchData.Dense(p.Cols, k, 13);
                var reference = samples.Select(s => Dot(x, y, rowOf[s], p.ColumnIndices[s])).ToArray();
                using var dX = x.ToDevice(dev);
                using var dY = y.ToDevice(dev);
                double flops = 2.0 * p.Nnz * k, bytes = 4.0 * (p.Rows + 1) + 8.0 * p.Nnz + 4.0 * p.Rows * k + 4.0 * p.Cols * k;
                double floorUs = Floor(ceilings, flops, bytes);
                var ct = times[(problem.Name, k)] = new CaseTimes();
                var caseRows = new List<(string Method, Timing? T, double Err, string? Error)>();
                void Try(string method, Action launch, Func<double> check, Action poison, double tolerance)
                {
                    try
                    {
                        poison();
                        launch();
                        dev.Synchronize();
                        double err = check();
                        if (!(err <= tolerance))
                        {
                            caseRows.Add((method, null, err, $"WRONG (max err {VerifyContext.F(err, "E2")} > {tolerance:E0})"));
                            result.Failures.Add($"sddmm {method} on {problem.Name} K={k}: wrong result, max err {VerifyContext.F(err, "E2")} (tolerance {tolerance:E0})");
                            return;
                        }
                        var t = ctx.Timer.Measure(launch);
                        ct.Us[method] = t.Us;
                        caseRows.Add((method, t, err, null));
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        caseRows.Add((method, null, double.NaN, $"ERROR {e.GetType().Name}: {e.Message}"));
                        if (!method.StartsWith("cu", StringComparison.Ordinal)) result.Failures.Add($"sddmm {method} on {problem.Name} K={k}: {e.GetType().Name}: {e.Message}");
                        else BaselineFailed(baselineErrors, method, e.Message);
                    }
                }
                double ValuesError(DeviceBuffer<float> values)
                {
                    var host = values.ToArray();
                    double worst = 0;
                    for (int i = 0; i < samples.Length; i++)
                    {
                        double e = Math.Abs(host[samples[i]] - reference[i].Value) / (reference[i].Abs + 1e-6);
                        if (!(e <= worst)) worst = e;
                        if (double.IsNaN(worst)) break;
                    }
                    return worst;
                }
                double DenseError()
                {
                    double worst = 0;
                    var one = new float[1];
                    for (int i = 0; i < Math.Min(samples.Length, 256); i++)
                    {
                        dev.CopyToHost(dDense!.DeviceData, (long)rowOf[samples[i]] * p.Cols + p.ColumnIndices[samples[i]], one.AsSpan());
                        double e = Math.Abs(one[0] - reference[i].Value) / (reference[i].Abs + 1e-6);
                        if (!(e <= worst)) worst = e;
                        if (double.IsNaN(worst)) break;
                    }
                    return worst;
                }
                foreach (var v in versions)
                    Try($"Sddmm{v}", () => SddmmCsr.Run(dev, dX, dY, dP, output, v), () => ValuesError(output), () => dev.Fill32(output, 0x7FC0DEADu), Fp32Tolerance);
                if (sparse is not null)
                {
                    CusparseSddmmPlan? plan = null;
                    try { plan = sparse.PrepareSddmm(dX, dY, dP2!); }
                    catch (Exception e) when (e is SparseKernels.Native.CusparseException or EntryPointNotFoundException or ArgumentException)
                    {
                        caseRows.Add(($"{Cusparse} SDDMM", null, double.NaN, $"not run: {e.Message}"));
                        BaselineFailed(baselineErrors, $"{Cusparse} SDDMM", e.Message);
                    }
                    if (plan is not null)
                        using (plan) Try($"{Cusparse} SDDMM", plan.Run, () => ValuesError(dP2!.DeviceValues), () => dev.Fill32(dP2!.DeviceValues, 0x7FC0DEADu), Fp32Tolerance);
                }
                if (blas is not null)
                {
                    Try(Sgemm, () => blas.Sgemm(dX, dY, dDense!, false, true), DenseError, () => dev.Fill32(dDense!.DeviceData, 0x7FC0DEADu), Fp32Tolerance);
                    Try(Tf32, () => blas.Sgemm(dX, dY, dDense!, false, true, tf32: true), DenseError, () => dev.Fill32(dDense!.DeviceData, 0x7FC0DEADu), Tf32Tolerance);
                }
                foreach (var (method, t, err, error) in caseRows)
                    report.Add(Row(problem.Name, problem.Sparsity, $"{p.Rows}x{p.Cols}", p.Nnz, k, method, t, err, error, flops, bytes, floorUs, ct));
                report.Flush();
            }
            if (result.StoppedByBudget) break;
        }
        Targets(ctx, report, result, problems, times, versions.Select(v => $"Sddmm{v}").ToArray(), "K", 2.0, sgemmTargets: false);
        foreach (var (method, (count, first)) in baselineErrors) result.SummaryLines.Add($"- baseline {method} could not run in {count} cases: {first}");
        report.Flush();
        return result;
    }

    /// <summary>A baseline (cuSPARSE, cuBLAS) that cannot run is reported once per method with a count, not failed.</summary>
    private static void BaselineFailed(Dictionary<string, (int Count, string First)> errors, string method, string message)
        => errors[method] = errors.TryGetValue(method, out var e) ? (e.Count + 1, e.First) : (1, message.Length > 200 ? message[..200] + "..." : message);

    private static int[] RowOf(CsrMatrix p)
    {
        var rowOf = new int[p.Nnz];
        for (int r = 0; r < p.Rows; r++)
            for (int q = p.RowOffsets[r]; q < p.RowOffsets[r + 1]; q++) rowOf[q] = r;
        return rowOf;
    }

    private static (double Value, double Abs) Dot(DenseTensor x, DenseTensor y, int i, int j)
    {
        int k = x.Cols;
        double s = 0, a = 0;
        for (int q = 0; q < k; q++)
        {
            double prod = (double)x.HostData[(long)i * k + q] * y.HostData[(long)j * k + q];
            s += prod; a += Math.Abs(prod);
        }
        return (s, a);
    }

    // ---------------------------------------------------------------- shared

    private static double Floor(RooflineStage.Ceilings c, double flops, double bytes)
    {
        double memUs = bytes / (c.CopyGBps * 1e3);
        double computeUs = double.IsFinite(c.Fp32Gflops) ? flops / (c.Fp32Gflops * 1e3) : 0;
        return Math.Max(memUs, computeUs);
    }

    private static void AddNotes(Report report, VerifyContext ctx, RooflineStage.Ceilings c, string width, string flops, string bytes)
    {
        report.Notes.Add($"Timing: {ctx.Timer.Method}; times are per launch. Each method's result is checked once per case before it is timed "
            + $"(sampled rows / nonzeros against a double-accumulating reference; max err = |error| / sum |products|; tolerance {Fp32Tolerance:E0}, TF32 {Tf32Tolerance:E0}).  ");
        report.Notes.Add($"GFLOP/s counts {flops}; GB/s counts the compulsory bytes ({bytes}). Roofline floor = max(bytes / {VerifyContext.F(c.CopyGBps, "F0")} GB/s (device copy), "
            + $"flops / {VerifyContext.F(c.Fp32Gflops, "F0")} GFLOP/s (SGEMM fp32)); x floor = time / floor (1 = at the roofline).  ");
        report.Notes.Add($"x cuSPARSE = fastest cuSPARSE algorithm's time / this time; x SGEMM / x TF32 = cuBLAS's time on the dense equivalent / this time (> 1: this is faster). {width} as in the table.");
    }

    private static string[] Row(string problem, double sparsity, string shape, long nnz, int n, string method, Timing? t, double err, string? error,
        double flops, double bytes, double floorUs, CaseTimes ct)
    {
        string F(double v, string f = "F2") => VerifyContext.F(v, f);
        if (t is not { } tm)
            return [problem, F(sparsity), shape, nnz.ToString(CultureInfo.InvariantCulture), n.ToString(CultureInfo.InvariantCulture), method, error ?? "-", "-", "-", "-", F(floorUs, "F1"), "-", "-", "-", "-", F(err, "E1")];
        double us = tm.Us;
        return [problem, F(sparsity), shape, nnz.ToString(CultureInfo.InvariantCulture), n.ToString(CultureInfo.InvariantCulture), method, F(us, "F1"), tm.Launches.ToString(CultureInfo.InvariantCulture),
            F(flops / (us * 1e3), "F0"), F(bytes / (us * 1e3), "F0"), F(floorUs, "F1"), F(us / floorUs), F(ct.BestCusparse / us), F(ct.Get(Sgemm) / us), F(ct.Get(Tf32) / us), F(err, "E1")];
    }

    private static double Geomean(IEnumerable<double> values)
    {
        var v = values.Where(x => double.IsFinite(x) && x > 0).ToArray();
        return v.Length == 0 ? double.NaN : Math.Exp(v.Average(Math.Log));
    }

    private static bool s_rehearse;

    private static string Verdict(double value, double target, bool atLeast)
        => s_rehearse ? "rehearsal" : !double.IsFinite(value) ? "n/a" : (atLeast ? value >= target : value <= target) ? "PASS" : "MISS";

    /// <summary>The figures the targets are judged on, per version of our kernel, after the table and in the summary.</summary>
    private static void Targets(VerifyContext ctx, Report report, StageResult result, List<Problem> problems, Dictionary<(string, int), CaseTimes> times,
        string[] ours, string width, double cusparseTarget, bool sgemmTargets)
    {
        string op = sgemmTargets ? "SpMM" : "SDDMM";
        s_rehearse = ctx.Rehearse;
        int[] widths = Widths(ctx);
        int wide = widths[^1];
        var lines = new List<string>();
        var floors = FloorOf(report);
        foreach (string v in ours)
        {
            var parts = new List<string>();
            foreach (int w in widths)
            {
                double g = Geomean(problems.Where(p => p.IsDlmc).Select(p => times.TryGetValue((p.Name, w), out var ct) ? ct.BestCusparse / ct.Get(v) : double.NaN));
                parts.Add($"x cuSPARSE (DLMC geomean, {width}={w}) {VerifyContext.F(g)} [{Verdict(g, cusparseTarget, true)} >= {cusparseTarget}]");
            }
            if (sgemmTargets)
                foreach (var (s, target, text) in new[] { (0.90, 1.0, "> 1"), (0.98, 4.0, ">= 4") })
                {
                    var name = problems.FirstOrDefault(p => !p.IsDlmc && Math.Abs(p.Sparsity - s) < 1e-9)?.Name;
                    var xs = widths.Select(w => name is not null && times.TryGetValue((name, w), out var ct) ? ct.Get(Sgemm) / ct.Get(v) : double.NaN).ToArray();
                    double worst = xs.All(double.IsFinite) ? xs.Min() : double.NaN;
                    parts.Add($"x SGEMM at {s:P0} ({string.Join(" / ", xs.Select(x => VerifyContext.F(x)))} for {width}={string.Join("/", widths)}) [{Verdict(worst, target == 1.0 ? 1.0000001 : target, true)} {text}]");
                }
            var ratios = problems.Select(p => floors.TryGetValue((p.Name, wide, v), out double r) ? r : double.NaN).Where(double.IsFinite).ToArray();
            double gf = Geomean(ratios), worstF = ratios.Length == 0 ? double.NaN : ratios.Max();
            parts.Add($"x roofline floor at {width}={wide}: geomean {VerifyContext.F(gf)}, worst {VerifyContext.F(worstF)} [{Verdict(worstF, 2.0, false)} <= 2]");
            lines.Add($"- {op} {v}: " + string.Join("; ", parts));
        }
        report.After.Clear();
        report.After.Add("## Against the targets");
        report.After.Add("");
        report.After.AddRange(lines);
        result.SummaryLines.AddRange(lines);
    }

    /// <summary>(problem, width, method) -> time / floor, read back from the rows written.</summary>
    private static Dictionary<(string, int, string), double> FloorOf(Report report) => report.Rows
        .Where(r => double.TryParse(r[11], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        .ToDictionary(r => (r[0], int.Parse(r[4], CultureInfo.InvariantCulture), r[5]), r => double.Parse(r[11], CultureInfo.InvariantCulture));
}
