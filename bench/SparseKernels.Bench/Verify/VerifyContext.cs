using System.Diagnostics;
using System.Globalization;
using System.Text;
using SparseKernels.Runtime;

namespace SparseKernels.Bench.Verify;

/// <summary>What every stage shares: the one device, the output folder, the rehearsal flag and the time budget.</summary>
public sealed class VerifyContext(IDevice device, string outDir, bool rehearse, double budgetSeconds, Stopwatch clock) : IDisposable
{
    public IDevice Device { get; } = device;
    public string OutDir { get; } = outDir;
    /// <summary>Emulated device and tiny sizes: the same code path end to end, fast enough for CI.</summary>
    public bool Rehearse { get; } = rehearse;
    public bool IsCuda => Device.Kind == DeviceKind.Cuda;

    /// <summary>Whether fewer than <paramref name="reserveSeconds"/> of the stage's budget are left.</summary>
    public bool OutOfTime(double reserveSeconds) => clock.Elapsed.TotalSeconds + reserveSeconds > budgetSeconds;

    private GpuTimer? _timer;
    /// <summary>The timer (CUDA events, L2 flush between repetitions), made on first use.</summary>
    public GpuTimer Timer => _timer ??= new GpuTimer(Device, Rehearse ? 1L << 20 : 256L << 20, Rehearse ? 2 : 5, Rehearse ? 0.0 : 2.0);

    public string PathOf(string file) => Path.Combine(OutDir, file);

    public void Dispose() { _timer?.Dispose(); Device.Dispose(); }

    public static string F(double v, string format = "F2") => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
}

/// <summary>One timing: the median of the repetitions' per-launch times (ms), with R launches per repetition.</summary>
public readonly record struct Timing(double MedianMs, double MinMs, int Launches, int Repetitions)
{
    public double Us => MedianMs * 1000;
}

/// <summary>
/// Times device work with CUDA events around R back-to-back launches (no synchronisation inside the measured
/// region). Before each repetition a memset of <c>flushBytes</c> (256 MB on a GPU, more than any L2) evicts the
/// operands from L2, so the first launch of each repetition starts cold; the R - 1 others may find operands that
/// fit in L2 there. R is chosen from one timed launch so that a repetition lasts about <c>targetMs</c>.
/// Result: the median over the repetitions of (elapsed / R).
/// </summary>
public sealed class GpuTimer : IDisposable
{
    private readonly IDevice _device;
    private readonly DeviceBuffer<uint> _flush;
    private readonly DeviceEvent _start, _stop;
    private readonly int _repetitions;
    private readonly double _targetMs;
    private uint _flushValue;

    public GpuTimer(IDevice device, long flushBytes, int repetitions, double targetMs)
    {
        _device = device; _repetitions = repetitions; _targetMs = targetMs;
        _flush = device.Allocate<uint>(flushBytes / 4);
        _start = device.CreateEvent();
        _stop = device.CreateEvent();
        FlushBytes = flushBytes;
    }

    public long FlushBytes { get; }
    public int Repetitions => _repetitions;
    public string Method => $"CUDA events around R launches, median of {_repetitions} repetitions, L2 flushed ({FlushBytes >> 20} MiB memset) before each repetition";

    public void FlushL2() => _device.Fill32(_flush, ++_flushValue);

    public Timing Measure(Action launch, int maxLaunches = 200)
    {
        launch();                      // warm-up: module load, JIT, first-touch
        _device.Synchronize();
        FlushL2();
        _start.Record();
        launch();
        _stop.Record();
        _stop.Synchronize();
        double one = Math.Max(_stop.ElapsedMillisecondsSince(_start), 1e-4);
        int r = Math.Clamp((int)Math.Ceiling(_targetMs / one), 1, maxLaunches);
        var times = new double[_repetitions];
        for (int rep = 0; rep < _repetitions; rep++)
        {
            FlushL2();
            _start.Record();
            for (int i = 0; i < r; i++) launch();
            _stop.Record();
            _stop.Synchronize();
            times[rep] = _stop.ElapsedMillisecondsSince(_start) / r;
        }
        Array.Sort(times);
        double median = _repetitions % 2 == 1 ? times[_repetitions / 2] : 0.5 * (times[_repetitions / 2 - 1] + times[_repetitions / 2]);
        return new Timing(median, times[0], r, _repetitions);
    }

    public void Dispose() { _stop.Dispose(); _start.Dispose(); _flush.Dispose(); }
}

/// <summary>A stage's table, written as Markdown (with notes above it) and CSV; rewritten on every <see cref="Flush"/>.</summary>
public sealed class Report(VerifyContext ctx, string stage, string title, IReadOnlyList<string> columns)
{
    private readonly List<string[]> _rows = [];
    public IReadOnlyList<string[]> Rows => _rows;
    public List<string> Notes { get; } = [];
    /// <summary>Markdown placed after the table (key figures against the targets).</summary>
    public List<string> After { get; } = [];

    public void Add(params string[] cells)
    {
        if (cells.Length != columns.Count) throw new ArgumentException($"{stage} report: {cells.Length} cells for {columns.Count} columns.");
        _rows.Add(cells);
    }

    public void Flush()
    {
        var md = new StringBuilder();
        md.AppendLine($"# {title}").AppendLine();
        md.AppendLine($"Device: {ctx.Device.Kind} '{ctx.Device.Info.Name}' (compute {ctx.Device.Info.ComputeCapability}, driver {ctx.Device.Info.DriverVersionText}){(ctx.Rehearse ? "; REHEARSAL (emulated device, tiny sizes: the figures mean nothing)" : "")}.  ");
        md.AppendLine($"Written {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC by `SparseKernels.Bench verify {stage}`.").AppendLine();
        foreach (var n in Notes) md.AppendLine(n);
        if (Notes.Count > 0) md.AppendLine();
        md.AppendLine("| " + string.Join(" | ", columns) + " |");
        md.AppendLine("|" + string.Concat(columns.Select(_ => " --- |")));
        foreach (var r in _rows) md.AppendLine("| " + string.Join(" | ", r) + " |");
        if (After.Count > 0) { md.AppendLine(); foreach (var a in After) md.AppendLine(a); }
        WriteAtomically(ctx.PathOf($"{stage}.md"), md.ToString());
        var csv = new StringBuilder();
        csv.AppendLine(string.Join(",", columns.Select(Csv)));
        foreach (var r in _rows) csv.AppendLine(string.Join(",", r.Select(Csv)));
        WriteAtomically(ctx.PathOf($"{stage}.csv"), csv.ToString());
    }

    private static string Csv(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    private static void WriteAtomically(string path, string text)
    {
        File.WriteAllText(path + ".tmp", text);
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
