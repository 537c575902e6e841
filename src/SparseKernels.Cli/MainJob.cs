using System.Globalization;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Training;
using Spectre.Console;

namespace SparseKernels.Cli;

/// <summary>
/// The main job (<c>train</c> with no options, what <c>bash src/run.sh</c> runs): the same MLP trained twice with the
/// same epochs, schedule and seed, dense and RigL at 90 % (ERK layer densities), then one table (accuracy, loss, time
/// per epoch, weights as stored, optimizer state bytes, and the RigL / dense ratios) and one plot overlaying both
/// runs' test accuracy and loss per epoch (<c>runs/main-&lt;time&gt;/main.png</c>). Each run keeps its own folder
/// (metrics.jsonl, metrics.csv, plot.png, checkpoint.bin).
/// </summary>
internal static class MainJob
{
    public const string PlotFile = "main.png";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(RunOptions options, SparseKernels.Sparsity.SparsityOptions rigl, ITensorBackend backend, ImageDataset train, ImageDataset test)
    {
        string stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", Inv);
        string root = Path.Combine("runs", $"main-{stamp}");
        string riglLabel = $"rigl {rigl.Sparsity * 100:0.#} % {DistributionName(rigl.Distribution)}";
        var runs = new List<TrainCommand.RunSummary>();
        foreach (var (label, o) in new[]
                 {
                     ("dense", options with { Sparsity = [0], Method = null }),
                     (riglLabel, options with { Method = rigl }),
                 })
        {
            string folder = Path.Combine(root, label.Replace(" %", "").Replace(' ', '-'));
            runs.Add(TrainCommand.TrainOne(o with { OutputFolder = folder }, backend, train, test, label));
        }
        if (runs.Any(r => r.Metrics.Count == 0))
        {
            AnsiConsole.MarkupLine("[red]train: a main-job run trained no epoch (--epochs 0?); no table or plot.[/]");
            return options.Epochs == 0 ? 0 : 1;
        }

        int trainN = options.TrainLimit > 0 ? Math.Min(options.TrainLimit, train.Count) : train.Count;
        int testN = options.TestLimit > 0 ? Math.Min(options.TestLimit, test.Count) : test.Count;
        string title = $"{TrainCommand.ModelText(options)} on Fashion-MNIST ({trainN:N0} train / {testN:N0} test), {options.Epochs} epochs each, {backend.Name}";
        AnsiConsole.Write(Table(runs, title));
        string png = Path.Combine(root, PlotFile);
        Plotting.Compare(runs.Select(r => (r.Label, r.MetricsJsonLines)).ToList(), png, title);
        AnsiConsole.MarkupLine($"Plot of both runs: {Markup.Escape(png)}");
        AnsiConsole.MarkupLine($"Outputs under {Markup.Escape(Path.GetFullPath(root))}");
        return 0;
    }

    private static string DistributionName(SparseKernels.Sparsity.DensityDistribution d) => d switch
    {
        SparseKernels.Sparsity.DensityDistribution.ErdosRenyiKernel => "erk",
        SparseKernels.Sparsity.DensityDistribution.ErdosRenyi => "er",
        _ => "uniform",
    };

    private static Table Table(List<TrainCommand.RunSummary> runs, string title)
    {
        // Fits 80 columns (the width Spectre assumes when the output is not a terminal) without wrapping a cell.
        var table = new Table().Title(Markup.Escape(title)).Border(TableBorder.Simple).AddColumn(new TableColumn("run").NoWrap().Padding(0, 0, 1, 0));
        foreach (var h in new[] { "nnz", "weights\n(KiB)", "state\n(KiB)", "test\nacc", "test\nloss", "epoch\n(s)", "mask\nupdates" })
            table.AddColumn(new TableColumn(h).RightAligned().NoWrap().Padding(1, 0, 0, 0));
        foreach (var r in runs)
        {
            var last = r.Metrics[^1];
            table.AddRow(Markup.Escape(r.Label), r.Nonzeros.ToString("N0", Inv), Kib(r.StoredWeightBytes), Kib(r.OptimizerStateBytes),
                last.TestAccuracy.ToString("P2", Inv), last.TestLoss.ToString("F4", Inv), MedianEpochSeconds(r).ToString("F2", Inv),
                r.MaskUpdates is int u ? u.ToString(Inv) : "-");
        }
        var (d, s) = (runs[0], runs[^1]);
        string Ratio(double a, double b) => b > 0 ? (a / b).ToString("0.000", Inv) + "x" : "-";
        double pts = (s.Metrics[^1].TestAccuracy - d.Metrics[^1].TestAccuracy) * 100;
        table.AddRow($"[bold]{Markup.Escape(s.Label.Split(' ')[0])} / dense[/]", Ratio(s.Nonzeros, d.Nonzeros), Ratio(s.StoredWeightBytes, d.StoredWeightBytes),
            Ratio(s.OptimizerStateBytes, d.OptimizerStateBytes), $"{pts.ToString("+0.00;-0.00;0.00", Inv)} pt", Ratio(s.Metrics[^1].TestLoss, d.Metrics[^1].TestLoss),
            Ratio(MedianEpochSeconds(s), MedianEpochSeconds(d)), "");
        table.Caption("test acc / loss after the last epoch; epoch: median seconds (training + evaluation); weights: as stored " +
                      "(a sparse layer's CSR values, column indices and row offsets, a dense layer's matrix, the biases); state: the optimizer's " +
                      "(SGD momentum) buffers");
        return table;
    }

    /// <summary>Bytes in KiB with one decimal (the table's unit).</summary>
    public static string Kib(long bytes) => (bytes / 1024.0).ToString("N1", Inv);

    private static double MedianEpochSeconds(TrainCommand.RunSummary r)
    {
        var x = r.Metrics.Select(m => m.EpochSeconds).Order().ToArray();
        return x.Length % 2 == 1 ? x[x.Length / 2] : (x[x.Length / 2 - 1] + x[x.Length / 2]) / 2;
    }

    /// <summary>
    /// Nonzero weights, bytes of the weights as stored (a CSR layer: fp32 values, int32 column indices and row
    /// offsets; a dense layer: its fp32 matrix; plus every bias) and bytes of the optimizer state (every state tensor
    /// of every parameter, e.g. SGD's momentum) of a model. Not counted: the engine's working copies for the backward
    /// pass (the transpose's CSR and the permutation of a sparse layer), gradients and activations.
    /// </summary>
    public static (long Nonzeros, long StoredWeightBytes, long OptimizerStateBytes) Bytes(Sequential model)
    {
        long nnz = 0, stored = 0, state = 0;
        foreach (var l in model.Layers)
        {
            if (l.Sparse is { } sw)
            {
                nnz += sw.Nnz;
                stored += (long)sw.Nnz * (sizeof(float) + sizeof(int)) + (sw.Rows + 1L) * sizeof(int);
            }
            else
            {
                nnz += (long)l.In * l.Out;
                stored += (long)l.In * l.Out * sizeof(float);
            }
            stored += l.Bias.Value.Length * sizeof(float);
            foreach (var p in new[] { l.Weight, l.Bias })
                state += p.State.Sum(t => t.Length) * sizeof(float);
        }
        return (nnz, stored, state);
    }
}
