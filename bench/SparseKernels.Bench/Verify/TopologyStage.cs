using System.Globalization;
using SparseKernels.Tensors;
using SparseKernels.Topology;

namespace SparseKernels.Bench.Verify;

/// <summary>
/// Top-k select of |x| at 16M and 100M floats (k = 1 / 10 %) against one device copy of the array and a full device
/// sort; one RigL update (drop 30 %, grow by the chunked |dY^T.X| at batch 256, rebuild with two state arrays) of a
/// 4096x4096 layer at 90 %. Select is checked (exactly k flags) before it is timed; the RigL update keeps the nonzero count.
/// </summary>
public static class TopologyStage
{
    public static StageResult Run(VerifyContext ctx)
    {
        var result = new StageResult();
        var dev = ctx.Device;
        var report = new Report(ctx, "topology", "Topology: top-k select and the RigL update", ["operation", "size", "k", "time (us)", "R", "x one copy", "x full sort", "note"]);
        report.Notes.Add($"Timing: {ctx.Timer.Method}. Select and sort allocate their scratch inside the call (as in training), the RigL update its new CSR.  ");
        report.Notes.Add("x one copy = select's time / the device-to-device copy of the array (reads and writes it once); x full sort = select's / the sort's. Target: select <= 2x one copy; RigL update of 4096x4096 at 90 % < 1 ms.");
        long[] sizes = ctx.Rehearse ? [1L << 16] : [1L << 24, 100_000_000L];
        int[] percents = ctx.Rehearse ? [10] : [1, 10];
        var selectLines = new List<string>();
        foreach (long n in sizes)
        {
            if (ctx.OutOfTime(ctx.Rehearse ? 0 : 10)) { result.StoppedByBudget = true; break; }
            using var values = dev.Allocate<float>(n);
            values.CopyFrom(TopologyBenchSupport.Values((int)n, 11));
            using var copy = dev.Allocate<float>(n);
            using var flags = dev.Allocate<byte>(n);
            var tCopy = ctx.Timer.Measure(() => dev.CopyDeviceToDevice(values, 0, copy, 0, n), maxLaunches: 50);
            report.Add("one device copy", Size(n), "-", VerifyContext.F(tCopy.Us, "F1"), tCopy.Launches.ToString(CultureInfo.InvariantCulture), "1.00", "-", $"{VerifyContext.F(8.0 * n / (tCopy.MedianMs * 1e6), "F0")} GB/s");
            Timing? tSort = null;
            try
            {
                tSort = ctx.Timer.Measure(() => { using var s = DeviceSort.SortMagnitudes(dev, values); }, maxLaunches: 5);
                report.Add("full device sort", Size(n), "-", VerifyContext.F(tSort.Value.Us, "F1"), tSort.Value.Launches.ToString(CultureInfo.InvariantCulture),
                    VerifyContext.F(tSort.Value.Us / tCopy.Us), "1.00", "");
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                report.Add("full device sort", Size(n), "-", $"ERROR {e.GetType().Name}: {e.Message}", "-", "-", "-", "");
                result.Failures.Add($"full device sort at {Size(n)}: {e.Message}");
            }
            report.Flush();
            foreach (int pct in percents)
            {
                long k = n * pct / 100;
                try
                {
                    TopkSelect.Run(dev, values, k, flags);
                    dev.Synchronize();
                    long count = flags.ToArray().LongCount(f => f != 0);
                    if (count != k)
                    {
                        report.Add("top-k select", Size(n), $"{pct} %", $"WRONG: {count} flags set, expected {k}", "-", "-", "-", "");
                        result.Failures.Add($"select at {Size(n)}, k = {pct} %: {count} flags set, expected {k}");
                        continue;
                    }
                    var t = ctx.Timer.Measure(() => TopkSelect.Run(dev, values, k, flags), maxLaunches: 20);
                    double xCopy = t.Us / tCopy.Us;
                    report.Add("top-k select", Size(n), $"{pct} %", VerifyContext.F(t.Us, "F1"), t.Launches.ToString(CultureInfo.InvariantCulture),
                        VerifyContext.F(xCopy), tSort is { } ts ? VerifyContext.F(t.Us / ts.Us) : "-", "checked: exactly k flags");
                    selectLines.Add($"{Size(n)} k={pct}%: {VerifyContext.F(xCopy)}x a copy [{(ctx.Rehearse ? "rehearsal" : xCopy <= 2 ? "PASS" : "MISS")} <= 2]");
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    report.Add("top-k select", Size(n), $"{pct} %", $"ERROR {e.GetType().Name}: {e.Message}", "-", "-", "-", "");
                    result.Failures.Add($"select at {Size(n)}, k = {pct} %: {e.GetType().Name}: {e.Message}");
                }
                report.Flush();
            }
        }
        if (selectLines.Count > 0) result.SummaryLines.Add("- select: " + string.Join("; ", selectLines));

        // RigL update
        if (!result.StoppedByBudget)
        {
            int size = ctx.Rehearse ? 256 : RiglUpdateBenchmarks.Size, batch = ctx.Rehearse ? 16 : RiglUpdateBenchmarks.Batch;
            const double sparsity = 0.9;
            try
            {
                var w = TopologyBenchSupport.Layer(size, sparsity, 5);
                using var dW = w.ToDevice(dev);
                using var s0 = dev.Allocate<float>(w.Nnz);
                using var s1 = dev.Allocate<float>(w.Nnz);
                s0.CopyFrom(TopologyBenchSupport.Values((int)w.Nnz, 6));
                s1.CopyFrom(TopologyBenchSupport.Values((int)w.Nnz, 7));
                using var dy = TopologyBenchSupport.Dense(batch, size, 8).ToDevice(dev);
                using var x = TopologyBenchSupport.Dense(batch, size, 9).ToDevice(dev);
                long drop = (long)(w.Nnz * RiglUpdateBenchmarks.DropFraction);
                var (nw, ns) = RiglUpdate.Run(dev, dW, [s0, s1], dy, x, drop, "w");
                long nnzAfter = nw.Nnz;
                nw.Dispose(); foreach (var s in ns) s.Dispose();
                if (nnzAfter != w.Nnz)
                {
                    result.Failures.Add($"RigL update changed the nonzero count: {w.Nnz} -> {nnzAfter}");
                    report.Add("RigL update", $"{size}x{size} at 90 %", $"drop {drop}", $"WRONG: nnz {w.Nnz} -> {nnzAfter}", "-", "-", "-", "");
                }
                else
                {
                    var t = ctx.Timer.Measure(() =>
                    {
                        var (a, b) = RiglUpdate.Run(dev, dW, [s0, s1], dy, x, drop, "w");
                        a.Dispose(); foreach (var s in b) s.Dispose();
                    }, maxLaunches: 10);
                    report.Add("RigL update", $"{size}x{size} at 90 %, batch {batch}", $"drop/grow {drop}", VerifyContext.F(t.Us, "F1"), t.Launches.ToString(CultureInfo.InvariantCulture), "-", "-", "nnz kept");
                    double ms = t.MedianMs;
                    result.SummaryLines.Add($"- RigL update {size}x{size} at 90 %: {VerifyContext.F(ms, "F3")} ms [{(ctx.Rehearse ? "rehearsal" : ms < 1 ? "PASS" : "MISS")} < 1 ms]");
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                report.Add("RigL update", $"{size}x{size} at 90 %", "-", $"ERROR {e.GetType().Name}: {e.Message}", "-", "-", "-", "");
                result.Failures.Add($"RigL update: {e.GetType().Name}: {e.Message}");
            }
            report.Flush();
        }
        report.Flush();
        return result;
    }

    private static string Size(long n) => n >= 1_000_000 && n % 1_000_000 == 0 ? $"{n / 1_000_000}M" : n >= 1 << 20 && n % (1 << 20) == 0 ? $"{n >> 20}Mi" : n >= 1024 ? $"{n >> 10}Ki" : n.ToString(CultureInfo.InvariantCulture);
}
