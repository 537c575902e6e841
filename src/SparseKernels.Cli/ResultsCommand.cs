using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SparseKernels.Runs;
using SparseKernels.Autograd;
using SparseKernels.Sparsity;
using SparseKernels.Training;
using Spectre.Console;

namespace SparseKernels.Cli;

/// <summary>
/// <c>train results</c>: runs the sparse-training grid of issue 7 (models x methods x sparsities x distributions x
/// seeds) on the CPU and writes docs/results.md (mean +- std test accuracy, training time, memory) with a plot per
/// model (docs/results-&lt;model&gt;.png). Each run trains in a child process of this program (its own peak RSS). Every finished run is appended to a JSON-lines file first, so an interrupted grid keeps its
/// runs, a rerun skips them, and --render-only redraws the table from the file.
/// </summary>
internal static class ResultsCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public sealed record RunResult(string Model, string Method, string Distribution, double Sparsity, ulong Seed, int Epochs,
        double TestAccuracy, double TrainSeconds, long StateBytes, long PeakBytes, long Nonzeros, long Weights, string Levels)
    {
        /// <summary>Resident set size of the run's process after loading the data, before the model was built (0 in older runs).</summary>
        public long RssBeforeBytes { get; init; }
        /// <summary>Peak resident set size of the run's process (VmHWM; 0 in older runs, which ran in one shared process).</summary>
        public long PeakRssBytes { get; init; }
        /// <summary>Whether the peak was reset after loading the data, so PeakRssBytes - RssBeforeBytes is the run's own
        /// peak (false in runs measured before that reset, whose peak may be the data loading's).</summary>
        public bool PeakFromRunStart { get; init; }
    }

    public static Command Create()
    {
        var models = new Option<string>("--models") { Description = "Models separated by ';', e.g. 784-300-100-10;784-1024-1024-10.", DefaultValueFactory = _ => "784-300-100-10;784-1024-1024-10" };
        var methods = new Option<string>("--methods") { Description = "Methods separated by ','.", DefaultValueFactory = _ => string.Join(',', SparsityOptions.Methods) };
        var sparsities = new Option<string>("--sparsities") { Description = "Sparsities separated by ','.", DefaultValueFactory = _ => "0.8,0.9,0.95,0.98" };
        var distributions = new Option<string>("--distributions") { Description = "Layer distributions separated by ','.", DefaultValueFactory = _ => "erk,uniform" };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per configuration (1..N).", DefaultValueFactory = _ => 3 };
        var epochs = new Option<int>("--epochs") { Description = "Epochs per run (per level for IMP / KD tickets).", DefaultValueFactory = _ => 20 };
        var impLevels = new Option<int>("--imp-levels") { Description = "IMP / KD ticket levels.", DefaultValueFactory = _ => 5 };
        var trainLimit = new Option<int>("--train-limit") { Description = "Use only the first N training samples (0 = all).", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all cores).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output", "-o") { Description = "The Markdown file; the plot and the runs file go beside it.", DefaultValueFactory = _ => "docs/results.md" };
        var data = new Option<string>("--data") { Description = "Folder of the Fashion-MNIST gzip IDX files.", DefaultValueFactory = _ => FashionMnist.DefaultFolder };
        var renderOnly = new Option<bool>("--render-only") { Description = "Only redraw the table and plot from the runs file." };
        var note = new Option<string?>("--note") { Description = "A paragraph placed under the title (what the grid was, what is missing); default: the file <output>.notes.md when it exists." };
        // Internal: the parent runs every configuration in a child process (its own peak RSS, no state shared between runs).
        var one = new Option<string?>("--one") { Description = "Run one configuration 'model|method|distribution|sparsity|seed|epochs' and print its result (used by the grid).", Hidden = true };
        var command = new Command("results", "Run the sparse-training results grid (issue 7) and write docs/results.md with a plot; options shrink the grid.");
        foreach (var o in new Option[] { models, methods, sparsities, distributions, seeds, epochs, impLevels, trainLimit, threads, output, data, renderOnly, note, one }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            try
            {
                int t = parse.GetValue(threads);
                if (t < 0) throw new ArgumentException($"--threads is {t}; it must be >= 0.");
                var cpu = t > 0 ? new CpuTensorBackend(new Cpu.CpuBackend(t)) : CpuTensorBackend.Instance;
                if (parse.GetValue(one) is { } single)
                {
                    var (train, test) = FashionMnist.Load(parse.GetValue(data)!);
                    var k = single.Split('|');
                    if (k.Length != 6) throw new ArgumentException($"--one '{single}': expected model|method|distribution|sparsity|seed|epochs.");
                    var g1 = new Grid([k[0]], [k[1]], [double.Parse(k[3], Inv)], [k[2]], 1, int.Parse(k[5], Inv), parse.GetValue(impLevels), parse.GetValue(trainLimit));
                    // The peak of loading the data (decompression buffers) must not count as the run's: collect, then reset
                    // the kernel's high-water mark (VmHWM) to the current RSS before the run starts.
                    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                    bool reset = ProcessMemory.ResetPeak();
                    long before = ProcessMemory.Read("VmRSS");
                    var r = RunOne(k[0], k[1], k[2], double.Parse(k[3], Inv), ulong.Parse(k[4], Inv), g1, train, test, cpu)
                        with { RssBeforeBytes = before, PeakRssBytes = ProcessMemory.Read("VmHWM"), PeakFromRunStart = reset };
                    Console.Out.WriteLine(ResultPrefix + JsonSerializer.Serialize(r));
                    return 0;
                }
                string md = parse.GetValue(output)!;
                string runsFile = Path.ChangeExtension(md, ".runs.jsonl");
                var grid = new Grid(
                    parse.GetValue(models)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                    parse.GetValue(methods)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(m => m.ToLowerInvariant()).ToArray(),
                    parse.GetValue(sparsities)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => double.Parse(s, Inv)).ToArray(),
                    parse.GetValue(distributions)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToArray(),
                    parse.GetValue(seeds), parse.GetValue(epochs), parse.GetValue(impLevels), parse.GetValue(trainLimit));
                foreach (var m in grid.Methods)
                    if (!SparsityOptions.Methods.Contains(m)) throw new ArgumentException($"--methods: unknown method '{m}'; use {string.Join(", ", SparsityOptions.Methods)}.");
                foreach (var d in grid.Distributions) LayerDensities.Parse(d);
                if (!parse.GetValue(renderOnly)) RunGrid(grid, parse.GetValue(data)!, runsFile, md, parse.GetValue(note), t);
                Render(ReadRuns(runsFile), md, parse.GetValue(note), grid, parse.GetValue(renderOnly));
                AnsiConsole.MarkupLine($"wrote {Markup.Escape(md)} and its plots");
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException or IOException or FormatException or ChildRunException)
            {
                AnsiConsole.MarkupLine($"[red]train results: {Markup.Escape(e.Message)}[/]");
                return 2;
            }
        });
        return command;
    }

    public sealed record Grid(string[] Models, string[] Methods, double[] Sparsities, string[] Distributions, int Seeds, int Epochs, int ImpLevels, int TrainLimit);

    private const string ResultPrefix = "RESULT ";

    private sealed class ChildRunException(string message) : Exception(message);

    private static void RunGrid(Grid g, string dataFolder, string runsFile, string md, string? note, int threads)
    {
        FashionMnist.Load(dataFolder); // fail early, in this process, on missing or bad data
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(runsFile))!);
        var done = ReadRuns(runsFile).Select(Key).ToHashSet();
        foreach (string model in g.Models)
            foreach (string method in g.Methods)
                foreach (string dist in method == "dense" ? ["-"] : method is "imp" or "kd-ticket" ? ["global"] : g.Distributions)
                    foreach (double s in method == "dense" ? [0.0] : g.Sparsities)
                        for (ulong seed = 1; seed <= (ulong)g.Seeds; seed++)
                        {
                            var key = $"{model}|{method}|{dist}|{s.ToString("R", Inv)}|{seed}|{g.Epochs}";
                            if (done.Contains(key)) continue;
                            var r = RunChild(key, g, dataFolder, threads);
                            File.AppendAllText(runsFile, JsonSerializer.Serialize(r) + "\n");
                            AnsiConsole.MarkupLine(Markup.Escape($"{model} {method} {dist} {s:0.##} seed {seed}: test acc {r.TestAccuracy:P2}, {r.TrainSeconds:F1} s, nnz {r.Nonzeros:N0}"));
                            Render(ReadRuns(runsFile), md, note, g);
                        }
    }

    /// <summary>Runs one configuration in a child process of this program (same executable) and returns its result.</summary>
    private static RunResult RunChild(string key, Grid g, string dataFolder, int threads)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        // Under `dotnet run` / `dotnet X.dll` the process is the dotnet host: pass the program's assembly first.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(ResultsCommand).Assembly.Location);
        foreach (var a in new[] { "train", "results", "--one", key, "--imp-levels", g.ImpLevels.ToString(Inv), "--train-limit", g.TrainLimit.ToString(Inv),
                                  "--threads", threads.ToString(Inv), "--data", dataFolder })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new ChildRunException($"could not start {psi.FileName} for run {key}.");
        var lines = new List<string>();
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null) lines.Add(line);
        p.WaitForExit();
        string? result = lines.LastOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal));
        if (p.ExitCode != 0 || result is null)
            throw new ChildRunException($"run {key} failed (exit code {p.ExitCode}); its output ended with:\n{string.Join('\n', lines.TakeLast(20))}");
        return JsonSerializer.Deserialize<RunResult>(result[ResultPrefix.Length..])!;
    }

    private static string Key(RunResult r) => $"{r.Model}|{r.Method}|{r.Distribution}|{r.Sparsity.ToString("R", Inv)}|{r.Seed}|{r.Epochs}";

    private static RunResult RunOne(string model, string method, string dist, double sparsity, ulong seed, Grid g, ImageDataset train, ImageDataset test, CpuTensorBackend cpu)
    {
        int[] sizes = model.Split('-').Select(x => int.Parse(x, Inv)).ToArray();
        var options = new RunOptions
        {
            Layers = sizes, Epochs = g.Epochs, Seed = seed, TrainLimit = g.TrainLimit,
            Method = new SparsityOptions
            {
                // IMP / KD tickets prune with one global threshold: the distribution does not apply ("global").
                Method = method, Sparsity = sparsity, Distribution = dist is "-" or "global" ? DensityDistribution.Uniform : LayerDensities.Parse(dist), ImpLevels = g.ImpLevels,
                GlobalPruning = true,
            },
        };
        var clock = Stopwatch.StartNew();
        using var run = new TrainingRun(options, cpu, train, test);
        var m = run.Run();
        double seconds = clock.Elapsed.TotalSeconds;
        long weights = run.Model.Layers.Sum(l => (long)l.In * l.Out);
        long nnz = 0, state = 0;
        int slots = run.Optimizer.StateSlots;
        foreach (var l in run.Model.Layers)
        {
            if (l.Sparse is { } sw)
            {
                nnz += sw.Nnz;
                // values, columns, the transpose's values and columns, the permutation, both row-offset arrays, optimizer state
                state += sw.Nnz * (5L + slots) * 4 + (l.Out + 1 + l.In + 1) * 4L;
            }
            else
            {
                var v = l.Weight.Value.ToArray();
                nnz += v.LongCount(x => x != 0);
                state += (long)l.In * l.Out * (1 + slots) * 4;
            }
            state += l.Out * (1 + slots) * 4L;
        }
        string levels = run.Method is LotteryTicket lt ? string.Join(" ", lt.Levels.Select(x => $"{x.Sparsity:P0}:{x.TestAccuracy:P1}")) : "";
        return new RunResult(model, method, dist, sparsity, seed, g.Epochs, m[^1].TestAccuracy, seconds, state,
            Math.Max(m.Max(x => x.PeakDeviceBytes), 0), nnz, weights, levels);
    }

    /// <summary>Linux /proc/self/status memory fields (VmRSS, VmHWM) in bytes; 0 where the file does not exist.</summary>
    private static class ProcessMemory
    {
        public static long Read(string field)
        {
            const string status = "/proc/self/status";
            if (!File.Exists(status)) return 0;
            foreach (var l in File.ReadLines(status))
                if (l.StartsWith(field + ":", StringComparison.Ordinal))
                    return long.Parse(l[(field.Length + 1)..].Trim().Split(' ')[0], Inv) * 1024; // "VmHWM:   123456 kB"
            return 0;
        }

        /// <summary>Resets VmHWM to the current RSS (writing 5 to /proc/self/clear_refs, Linux 4.0+); false where that is not possible.</summary>
        public static bool ResetPeak()
        {
            try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        }
    }

    public static List<RunResult> ReadRuns(string runsFile)
        => File.Exists(runsFile) ? File.ReadAllLines(runsFile).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<RunResult>(l)!).ToList() : [];

    private static (double Mean, double Std) Stats(IEnumerable<double> xs)
    {
        var a = xs.ToArray();
        double mean = a.Average();
        double std = a.Length > 1 ? Math.Sqrt(a.Sum(x => (x - mean) * (x - mean)) / (a.Length - 1)) : 0;
        return (mean, std);
    }

    public static void Render(List<RunResult> runs, string md, string? note, Grid g, bool renderOnly = false)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Sparse-training results (issue 7)");
        sb.AppendLine();
        sb.AppendLine("Fashion-MNIST, CPU backend, SGD (momentum 0.9, weight decay 5e-4, lr 0.05 cosine, batch 128). The whole grid is");
        sb.AppendLine("`bash docs/results.sh` (it runs `train results` once per sub-grid; finished runs are kept in `results.runs.jsonl` beside this");
        sb.AppendLine("file and skipped on a rerun; `--render-only` redraws). This file was last written by");
        sb.AppendLine($"`train results --models \"{string.Join(';', g.Models)}\" --methods {string.Join(',', g.Methods)} --sparsities {string.Join(',', g.Sparsities.Select(s => s.ToString(Inv)))} --distributions {string.Join(',', g.Distributions)} --seeds {g.Seeds} --epochs {g.Epochs} --imp-levels {g.ImpLevels}{(g.TrainLimit > 0 ? $" --train-limit {g.TrainLimit}" : "")}{(renderOnly ? " --render-only" : "")}`.");
        sb.AppendLine();
        // The analysis of the figures is hand-written beside the runs: results.notes.md (or --note) goes under the title.
        string notesFile = Path.ChangeExtension(md, ".notes.md");
        note ??= File.Exists(notesFile) ? File.ReadAllText(notesFile).TrimEnd() : null;
        if (note is not null) { sb.AppendLine(note); sb.AppendLine(); }
        sb.AppendLine("Accuracy: test accuracy after the last epoch, mean +- sample std over seeds (n = seeds). Epochs: per run, or per level for");
        sb.AppendLine("imp / kd-ticket (which train levels + 1 times as long). Time: wall-clock seconds of the whole run (all levels for imp /");
        sb.AppendLine("kd-ticket) on 2 shared cores. State: bytes of the model's weights, indices and optimizer state at the end (CSR layers also");
        sb.AppendLine("hold their transpose and permutation; a masked-dense layer stores every weight). Peak RSS: the peak resident memory (VmHWM)");
        sb.AppendLine("of the run's own process, which loads the data set first (that load's peak included); run's peak: the peak RSS during");
        sb.AppendLine("training (high-water mark reset after loading and a full GC) minus the RSS it started from - model, activations,");
        sb.AppendLine("gradients, optimizer state, topology work and garbage the GC has not collected yet; '-' where not measured that way");
        sb.AppendLine("(runs from before each run had its own process, or before the reset). nnz: nonzero weights at the end.");
        sb.AppendLine();
        foreach (var model in runs.GroupBy(r => r.Model).OrderBy(x => x.First().Weights).Select(x => x.Key))
        {
            sb.AppendLine($"## {model}");
            sb.AppendLine();
            string png = PlotFile(md, model);
            int plotted = PlotEpochs(runs, model);
            Plot(runs.Where(r => r.Model == model && r.Epochs == plotted).ToList(), png, model, plotted);
            sb.AppendLine($"![{model}: test accuracy against sparsity after {plotted} epochs]({Path.GetFileName(png)})");
            sb.AppendLine();
            sb.AppendLine("| epochs | method | distribution | sparsity | test acc (%) | n | time (s) | state (MiB) | peak RSS (MiB) | run's peak (MiB) | nnz | IMP levels (sparsity:acc), seed 1 |");
            sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (var grp in runs.Where(r => r.Model == model).GroupBy(r => (r.Method, r.Distribution, r.Sparsity, r.Epochs))
                         .OrderBy(x => x.Key.Method is "imp" or "kd-ticket").ThenByDescending(x => x.Key.Epochs).ThenBy(x => x.Key.Distribution).ThenBy(x => x.Key.Sparsity).ThenBy(x => Array.IndexOf(SparsityOptions.Methods.ToArray(), x.Key.Method)))
            {
                var (mean, std) = Stats(grp.Select(r => 100 * r.TestAccuracy));
                sb.AppendLine(string.Create(Inv, $"| {grp.Key.Epochs} | {grp.Key.Method} | {grp.Key.Distribution} | {grp.Key.Sparsity:0.##} | {mean:F2} +- {std:F2} | {grp.Count()} | {grp.Average(r => r.TrainSeconds):F1} | {grp.Average(r => r.StateBytes) / (1 << 20):F2} | {Mib(grp, r => r.PeakRssBytes)} | {Mib(grp.Where(r => r.PeakFromRunStart), r => r.PeakRssBytes - r.RssBeforeBytes)} | {grp.Average(r => (double)r.Nonzeros):N0} | {grp.OrderBy(r => r.Seed).First().Levels} |"));
            }
            sb.AppendLine();
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(md))!);
        File.WriteAllText(md, sb.ToString());
    }

    /// <summary>The plot of one model: results-&lt;model&gt;.png beside the Markdown file.</summary>
    private static string PlotFile(string md, string model) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(md))!, $"{Path.GetFileNameWithoutExtension(md)}-{model}.png");

    /// <summary>The epoch count a model's plot shows: the one with the most non-ticket runs (ties: the longer).</summary>
    private static int PlotEpochs(List<RunResult> runs, string model)
        => runs.Where(r => r.Model == model && r.Method is not ("imp" or "kd-ticket")).GroupBy(r => r.Epochs)
               .OrderByDescending(x => x.Count()).ThenByDescending(x => x.Key).Select(x => x.Key).DefaultIfEmpty(runs.First(r => r.Model == model).Epochs).First();

    /// <summary>Mean in MiB over the runs that measured it ('-' when none did).</summary>
    private static string Mib(IEnumerable<RunResult> runs, Func<RunResult, long> f)
    {
        var measured = runs.Where(r => r.PeakRssBytes > 0).ToArray();
        return measured.Length == 0 ? "-" : (measured.Average(r => (double)f(r)) / (1 << 20)).ToString("F1", Inv);
    }

    private static void Plot(List<RunResult> runs, string png, string model, int epochs)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var methods = SparsityOptions.Methods.Where(m => m is not ("dense" or "imp" or "kd-ticket")).ToArray();
        foreach (var dist in runs.Where(r => r.Method != "dense").Select(r => r.Distribution).Distinct().Order())
            for (int mi = 0; mi < methods.Length; mi++)
            {
                var pts = runs.Where(r => r.Method == methods[mi] && r.Distribution == dist).GroupBy(r => r.Sparsity).OrderBy(x => x.Key).ToArray();
                if (pts.Length == 0) continue;
                double[] xs = pts.Select(p => 100 * p.Key).ToArray();
                double[] ys = pts.Select(p => Stats(p.Select(r => 100 * r.TestAccuracy)).Mean).ToArray();
                double[] es = pts.Select(p => Stats(p.Select(r => 100 * r.TestAccuracy)).Std).ToArray();
                var sc = plt.Add.Scatter(xs, ys, palette.GetColor(mi));
                sc.LegendText = $"{methods[mi]} {dist}";
                if (dist == "uniform") sc.LinePattern = ScottPlot.LinePattern.Dashed;
                var eb = plt.Add.ErrorBar(xs, ys, es);
                eb.LineColor = palette.GetColor(mi);
            }
        foreach (var d in runs.Where(r => r.Method == "dense").GroupBy(r => r.Model))
        {
            var line = plt.Add.HorizontalLine(Stats(d.Select(r => 100 * r.TestAccuracy)).Mean);
            line.LegendText = "dense";
            line.LineColor = ScottPlot.Colors.Black;
        }
        plt.Title($"{model} on Fashion-MNIST: test accuracy after {epochs} epochs, mean +- std over seeds (dashed: uniform)");
        plt.XLabel("sparsity (%)");
        plt.YLabel("test accuracy (%)");
        plt.ShowLegend(ScottPlot.Alignment.LowerLeft);
        plt.SavePng(png, 1100, 700);
    }
}
