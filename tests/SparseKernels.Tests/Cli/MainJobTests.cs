using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using NUnit.Framework;
using SparseKernels.Runs;
using SparseKernels.Sparsity;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Cli;

/// <summary>
/// The main job (`train` with no layer, sparsity, method or output option, what `bash src/run.sh` runs) end to end,
/// as a user runs it: the CLI in its own process, in an empty working folder, on a data limit (1,024 training and 512
/// test samples, 2 epochs, a RigL update every 4 steps). It must train dense and RigL 90 % ERK, print one table
/// naming both runs with the exact weights-as-stored and optimizer-state sizes (computed here from the layer
/// densities, independently of the CLI), show that RigL updated its mask, and write one overlay plot plus each
/// run's own outputs.
/// </summary>
public class MainJobTests
{
    private static string Cli => CliRunner.Cli;
    private static readonly int[] Layers = [784, 300, 100, 10];

    private static (int Exit, string Output) RunCli(string workingDirectory, params string[] args) => CliRunner.Run(workingDirectory, args);

    private static string Kib(long bytes) => (bytes / 1024.0).ToString("N1", CultureInfo.InvariantCulture);

    [Test]
    public void MainJobComparesDenseWithRiglErkInOneTableAndOnePlot()
    {
        if (!File.Exists(Path.Combine(FashionMnist.DefaultFolder, "train-images-idx3-ubyte.gz")))
            Assert.Ignore($"Fashion-MNIST is not installed in {FashionMnist.DefaultFolder} (apt-get install dataset-fashion-mnist).");
        Assert.That(File.Exists(Cli), $"{Cli} was not copied beside the tests");
        string dir = Path.Combine(Path.GetTempPath(), $"sk-mainjob-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var (exit, output) = RunCli(dir, "train", "--train-limit", "1024", "--test-limit", "512", "--epochs", "2", "--update-every", "4", "--threads", "1", "--device", "cpu");
            Assert.That(exit, Is.EqualTo(0), output);

            // Expected sizes, from the layer densities RigL 90 % ERK gives (a layer below full density is CSR).
            long[] counts = new SparsityOptions { Method = "rigl", Sparsity = 0.9, Distribution = DensityDistribution.ErdosRenyiKernel }.Counts(Layers);
            long biases = Layers.Skip(1).Sum(), denseWeights = 0, riglStored = 0;
            for (int i = 0; i < counts.Length; i++)
            {
                long full = (long)Layers[i] * Layers[i + 1];
                denseWeights += full;
                riglStored += counts[i] < full ? counts[i] * 8 + (Layers[i + 1] + 1L) * 4 : full * 4;
            }
            Assert.That(counts.Take(2), Has.All.LessThan(30_000L), "ERK at 90 % makes the two wide layers sparse");
            long denseBytes = (denseWeights + biases) * 4, riglState = (counts.Sum() + biases) * 4;
            riglStored += biases * 4;

            var inv = CultureInfo.InvariantCulture;
            var denseRow = Regex.Match(output, $@"^\s*dense\s+{Regex.Escape(denseWeights.ToString("N0", inv))}\s+{Regex.Escape(Kib(denseBytes))}\s+{Regex.Escape(Kib(denseBytes))}\s+[\d.]+ %\s+[\d.]+\s+[\d.]+\s+-\s*$", RegexOptions.Multiline);
            Assert.That(denseRow.Success, $"the table's dense row: {denseWeights:N0} weights, {Kib(denseBytes)} KiB stored and of momentum, no mask update\n{output}");
            var riglRow = Regex.Match(output, $@"^\s*rigl 90 % erk\s+{Regex.Escape(counts.Sum().ToString("N0", inv))}\s+{Regex.Escape(Kib(riglStored))}\s+{Regex.Escape(Kib(riglState))}\s+[\d.]+ %\s+[\d.]+\s+[\d.]+\s+(\d+)\s*$", RegexOptions.Multiline);
            Assert.That(riglRow.Success, $"the table's RigL row: {counts.Sum():N0} nonzeros, {Kib(riglStored)} KiB stored (CSR), {Kib(riglState)} KiB of momentum\n{output}");
            // 8 steps per epoch, 16 in all, updates every 4 steps until 75 %: at least two.
            Assert.That(int.Parse(riglRow.Groups[1].Value, inv), Is.GreaterThanOrEqualTo(2), "RigL updated its mask during the run");
            string Ratio(double a, double b) => (a / b).ToString("0.000", inv) + "x";
            Assert.That(output, Does.Match($@"(?m)^\s*rigl / dense\s+{Regex.Escape(Ratio(counts.Sum(), denseWeights))}\s+{Regex.Escape(Ratio(riglStored, denseBytes))}\s+{Regex.Escape(Ratio(riglState, denseBytes))}\s+[-+]?[\d.]+ pt\s"),
                "the ratio row (RigL / dense) of nonzeros, stored weights and optimizer state");

            var mains = Directory.GetDirectories(Path.Combine(dir, "runs"), "main-*");
            Assert.That(mains, Has.Length.EqualTo(1), "one folder for the main job");
            string png = Path.Combine(mains[0], "main.png");
            Assert.That(File.Exists(png), "the main job's one plot (both runs overlaid)");
            byte[] head = File.ReadAllBytes(png)[..8];
            Assert.That(head, Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }), "main.png is a PNG");
            Assert.That(output, Does.Contain("main.png"), "the job says where its plot is");
            foreach (var run in new[] { "dense", "rigl-90-erk" })
            {
                string folder = Path.Combine(mains[0], run);
                foreach (var f in new[] { TrainingRun.JsonFile, TrainingRun.CsvFile, TrainingRun.CheckpointFile, "plot.png" })
                    Assert.That(File.Exists(Path.Combine(folder, f)), $"{run}/{f}");
                Assert.That(File.ReadAllLines(Path.Combine(folder, TrainingRun.JsonFile)), Has.Length.EqualTo(2), $"{run}: one metrics line per epoch (same epochs for both runs)");
            }
            Assert.That(File.ReadAllLines(Path.Combine(mains[0], "rigl-90-erk", TrainingRun.JsonFile))[^1],
                Does.Contain($"\"nnz_per_layer\":[{string.Join(',', counts)}]"), "the RigL run kept the ERK counts");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
