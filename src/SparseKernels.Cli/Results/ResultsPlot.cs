using SparseKernels.Sparsity;

namespace SparseKernels.Cli.Results;

/// <summary>One model's plot: test accuracy against sparsity per method and distribution (mean +- std over seeds), dense as a line.</summary>
internal static class ResultsPlot
{
    public static void Save(List<RunResult> runs, string png, string model, int epochs)
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
                double[] ys = pts.Select(p => ResultsMarkdown.Stats(p.Select(r => 100 * r.TestAccuracy)).Mean).ToArray();
                double[] es = pts.Select(p => ResultsMarkdown.Stats(p.Select(r => 100 * r.TestAccuracy)).Std).ToArray();
                var sc = plt.Add.Scatter(xs, ys, palette.GetColor(mi));
                sc.LegendText = $"{methods[mi]} {dist}";
                if (dist == "uniform") sc.LinePattern = ScottPlot.LinePattern.Dashed;
                var eb = plt.Add.ErrorBar(xs, ys, es);
                eb.LineColor = palette.GetColor(mi);
            }
        foreach (var d in runs.Where(r => r.Method == "dense").GroupBy(r => r.Model))
        {
            var line = plt.Add.HorizontalLine(ResultsMarkdown.Stats(d.Select(r => 100 * r.TestAccuracy)).Mean);
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
