using System.Globalization;
using System.Text;
using SparseKernels.Sparsity;

namespace SparseKernels.Cli.Results;

/// <summary>
/// Writes the results page (docs/results.md): how it was made, the hand-written notes (<c>results.notes.md</c> or
/// --note), then per model its plot (<see cref="ResultsPlot"/>) and a table of mean +- std test accuracy, time and memory.
/// </summary>
internal static class ResultsMarkdown
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Render(List<RunResult> runs, string md, string? note, Grid g, bool renderOnly = false)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Sparse-training results");
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
        sb.AppendLine("(runs from before each run had its own process, or before the reset). nnz: nonzero weights at the end. Imported rows");
        sb.AppendLine("(`train results --import`: runs made by `train`, e.g. in resumed slices) have no time and no peak RSS ('-').");
        sb.AppendLine();
        foreach (var model in runs.GroupBy(r => r.Model).OrderBy(x => x.First().Weights).Select(x => x.Key))
        {
            sb.AppendLine($"## {model}");
            sb.AppendLine();
            string png = PlotFile(md, model);
            int plotted = PlotEpochs(runs, model);
            ResultsPlot.Save(runs.Where(r => r.Model == model && r.Epochs == plotted).ToList(), png, model, plotted);
            sb.AppendLine($"![{model}: test accuracy against sparsity after {plotted} epochs]({Path.GetFileName(png)})");
            sb.AppendLine();
            sb.AppendLine("| epochs | method | distribution | sparsity | test acc (%) | n | time (s) | state (MiB) | peak RSS (MiB) | run's peak (MiB) | nnz | IMP levels (sparsity:acc), seed 1 |");
            sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (var grp in runs.Where(r => r.Model == model).GroupBy(r => (r.Method, r.Distribution, r.Sparsity, r.Epochs))
                         .OrderBy(x => x.Key.Method is "imp" or "kd-ticket").ThenByDescending(x => x.Key.Epochs).ThenBy(x => x.Key.Distribution).ThenBy(x => x.Key.Sparsity).ThenBy(x => Array.IndexOf(SparsityOptions.Methods.ToArray(), x.Key.Method)))
            {
                var (mean, std) = Stats(grp.Select(r => 100 * r.TestAccuracy));
                sb.AppendLine(string.Create(Inv, $"| {grp.Key.Epochs} | {grp.Key.Method} | {grp.Key.Distribution} | {grp.Key.Sparsity:0.##} | {mean:F2} +- {std:F2} | {grp.Count()} | {(grp.Any(r => r.Source is not null) ? "-" : grp.Average(r => r.TrainSeconds).ToString("F1", Inv))} | {grp.Average(r => r.StateBytes) / (1 << 20):F2} | {Mib(grp, r => r.PeakRssBytes)} | {Mib(grp.Where(r => r.PeakFromRunStart), r => r.PeakRssBytes - r.RssBeforeBytes)} | {grp.Average(r => (double)r.Nonzeros):N0} | {grp.OrderBy(r => r.Seed).First().Levels} |"));
            }
            sb.AppendLine();
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(md))!);
        File.WriteAllText(md, sb.ToString());
    }

    /// <summary>Mean and sample standard deviation (0 for one value).</summary>
    public static (double Mean, double Std) Stats(IEnumerable<double> xs)
    {
        var a = xs.ToArray();
        double mean = a.Average();
        double std = a.Length > 1 ? Math.Sqrt(a.Sum(x => (x - mean) * (x - mean)) / (a.Length - 1)) : 0;
        return (mean, std);
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
}
