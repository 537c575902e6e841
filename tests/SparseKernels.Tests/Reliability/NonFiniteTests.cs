using System.Text.Json;
using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Reliability;

/// <summary>The non-finite guard (issue 17): stop names the step, the batch and the first layer; skip-batch counts.</summary>
public class NonFiniteTests
{
    /// <summary>Sets one gradient element of a parameter to NaN (or the loss is left alone) at the given global steps.</summary>
    private sealed class Poison(string parameter, params long[] steps) : IStepHook
    {
        public void BeforeOptimizerStep(StepContext c)
        {
            if (!steps.Contains(c.GlobalStep)) return;
            var p = c.Model.Parameters.First(q => q.Name == parameter);
            var old = p.Grad!;
            int at = old.Rows * old.Cols / 2;
            if (!old.IsOnDevice)
            {
                old.HostData[at] = float.NaN;
                return;
            }
            var g = old.ToArray();
            g[at] = float.NaN;
            p.Var.Grad = c.Model.Backend.Upload(DenseTensor.FromArray(old.Rows, old.Cols, g));
            old.Dispose();
        }
    }

    private static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "sk-nan-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    private static RunOptions Opts(string? dir, int epochs = 2, NonFiniteAction action = NonFiniteAction.Stop) => new()
    {
        Layers = [24, 16, 12, 4],
        Sparsity = [0.5, 0, 0],
        Epochs = epochs,
        BatchSize = 32,
        Seed = 3,
        OutputFolder = dir,
        NonFinite = action,
    };

    /// <summary>Records non-finite cases caught (for docs/reliability.md).</summary>
    private static void Caught(string what, long n) => Figures.Record("nonfinite", new() { ["case"] = what, ["caught"] = n });

    [Test]
    public void StopNamesTheStepBatchAndLayerAndKeepsTheLastGoodCheckpoint()
    {
        var (train, test) = WorkedValuesTests.Synthetic();
        string dir = TempDir();
        try
        {
            using (var run = new TrainingRun(Opts(dir, 1), CpuTensorBackend.Instance, train, test)) run.Run();
            string ckpt = Path.Combine(dir, TrainingRun.CheckpointFile);
            byte[] good = File.ReadAllBytes(ckpt);
            using var resumed = new TrainingRun(Opts(dir) with { Resume = true }, CpuTensorBackend.Instance, train, test);
            int steps = resumed.Trainer.StepsPerEpoch;
            resumed.Trainer.Hooks.Insert(0, new Poison("layer1.weight", steps + 4));   // epoch 2, batch 5
            var e = Assert.Throws<NonFiniteException>(() => resumed.Run())!;
            Caught("planted NaN gradient, stop (CPU)", 1);
            TestContext.Out.WriteLine(e.Message);
            Assert.That((e.Epoch, e.Batch, e.Step), Is.EqualTo((1, 4, steps + 4L)));
            Assert.That(e.What, Is.EqualTo("layer1.weight gradient"), "layer 0's gradient is finite; layer 1's is the first that is not");
            Assert.That(e.Gradient, Is.EqualTo("layer1.weight gradient"));
            Assert.That(e.Message, Does.Contain("epoch 2, batch 5 of").And.Contain($"step {steps + 5}").And.Contain("layer1.weight"));
            Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(good), "the last good checkpoint is untouched");
            Assert.That(File.ReadAllLines(Path.Combine(dir, TrainingRun.JsonFile)), Has.Length.EqualTo(1), "metrics of the finished epoch");
            using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, TrainingRun.NonFiniteFile)));
            Assert.That(report.RootElement.GetProperty("what").GetString(), Is.EqualTo("layer1.weight gradient"));
            Assert.That(report.RootElement.GetProperty("step").GetInt64(), Is.EqualTo(steps + 5L));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Test]
    public void SkipBatchCountsTheSkippedBatchesAndTrainsOn()
    {
        var (train, test) = WorkedValuesTests.Synthetic();
        string dir = TempDir();
        try
        {
            using var run = new TrainingRun(Opts(dir, 2, NonFiniteAction.SkipBatch), CpuTensorBackend.Instance, train, test);
            int steps = run.Trainer.StepsPerEpoch;
            run.Trainer.Hooks.Insert(0, new Poison("layer0.bias", 2, 3, steps + 1));
            var m = run.Run();
            Caught("planted NaN gradients, skip-batch (CPU)", 3);
            Assert.That(run.Guard.SkippedTotal, Is.EqualTo(3));
            var lines = File.ReadAllLines(Path.Combine(dir, TrainingRun.JsonFile));
            var skipped = lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("skipped_batches").GetInt32());
            Assert.That(skipped, Is.EqualTo(new[] { 2, 1 }));
            Assert.That(m.All(x => double.IsFinite(x.TrainLoss) && double.IsFinite(x.TestLoss)));
            Assert.That(run.Model.Parameters.All(p => NonFiniteGuard.AllFinite(p.Value)), "skipped batches never reach the weights");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Test]
    public void AHugeLearningRateStopsWithMetricsWrittenOrSkipsWithValidJson([Values] NonFiniteAction action)
    {
        var (train, test) = WorkedValuesTests.Synthetic();
        string dir = TempDir();
        try
        {
            var opts = Opts(dir, 2, action) with { LearningRate = 1e6f, Momentum = 0.9f };
            using var run = new TrainingRun(opts, CpuTensorBackend.Instance, train, test);
            if (action == NonFiniteAction.Stop)
            {
                var e = Assert.Throws<NonFiniteException>(() => run.Run())!;
                TestContext.Out.WriteLine(e.Message);
                Assert.That(File.Exists(Path.Combine(dir, TrainingRun.JsonFile)), "metrics.jsonl written (no System.Text.Json failure)");
                Assert.That(File.Exists(Path.Combine(dir, TrainingRun.CsvFile)));
                Assert.That(File.Exists(Path.Combine(dir, TrainingRun.CheckpointFile)), Is.False, "no good epoch, so no checkpoint");
                Caught("lr 1e6, stop (CPU)", 1);
            }
            else
            {
                run.Run();
                var lines = File.ReadAllLines(Path.Combine(dir, TrainingRun.JsonFile));
                Assert.That(lines, Has.Length.EqualTo(2));
                foreach (var l in lines) Assert.DoesNotThrow(() => JsonDocument.Parse(l), l);
                Assert.That(run.Guard.SkippedTotal, Is.GreaterThan(0));
                Caught("lr 1e6, skip-batch (CPU)", run.Guard.SkippedTotal);
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Test]
    public void AllFiniteFindsNaNAndInfinityAnywhere()
    {
        foreach (int n in new[] { 1, 7, 16, 33, 1000 })
            foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                for (int at = 0; at < n; at += Math.Max(1, n / 5))
                {
                    var x = Enumerable.Range(0, n).Select(i => (float)(i - n / 2) * 1e30f).ToArray();
                    Assert.That(NonFiniteGuard.AllFinite(x), Is.True);
                    x[at] = bad;
                    Assert.That(NonFiniteGuard.AllFinite(x), Is.False, $"{bad} at {at} of {n}");
                }
    }

    [Test, Category("Gpu")]
    public void TheGuardWorksOnTheDevice([Values] NonFiniteAction action)
    {
        using var dev = new DeviceTensorBackend(TestDevice.Get());
        var (train, test) = WorkedValuesTests.Synthetic(count: 128);
        using var run = new TrainingRun(Opts(null, 1, action), dev, train, test);
        run.Trainer.Hooks.Insert(0, new Poison("layer2.weight", 1));
        if (action == NonFiniteAction.Stop)
        {
            var e = Assert.Throws<NonFiniteException>(() => run.Run())!;
            Assert.That((e.Batch, e.What), Is.EqualTo((1, "layer2.weight gradient")));
        }
        else
        {
            run.Run();
            Assert.That(run.Guard.SkippedTotal, Is.EqualTo(1));
            Assert.That(run.Model.Parameters.All(p => NonFiniteGuard.AllFinite(p.Value)));
        }
        Caught($"planted NaN gradient, {action} (device: {dev.Device!.Kind})", 1);
    }

    [Test]
    public void TheCliStopsWithExitCode3AndWritesMetrics()
    {
        KillSafetyTests.NeedFashionMnist();
        string dir = TempDir();
        try
        {
            string[] common = ["train", "--layers", "784-300-100-10", "--epochs", "1", "--train-limit", "1024", "--test-limit", "100",
                               "--lr", "1e6",
                               "--data", TestData.FashionMnistFolder, "--threads", "2"];
            var (exit, output) = CliRunner.Run(null, [.. common, "-o", Path.Combine(dir, "stop")]);
            TestContext.Out.WriteLine(output);
            Assert.That(exit, Is.EqualTo(3), output);
            Assert.That(output, Does.Contain("Non-finite").And.Contain("batch"));
            Assert.That(output, Does.Not.Contain("System.Text.Json"));
            Assert.That(File.Exists(Path.Combine(dir, "stop", TrainingRun.JsonFile)));
            var (exit2, output2) = CliRunner.Run(null, [.. common, "-o", Path.Combine(dir, "skip"), "--on-nonfinite", "skip-batch"]);
            TestContext.Out.WriteLine(output2);
            Assert.That(exit2, Is.EqualTo(0), output2);
            var line = File.ReadAllLines(Path.Combine(dir, "skip", TrainingRun.JsonFile)).Single();
            Assert.That(JsonDocument.Parse(line).RootElement.GetProperty("skipped_batches").GetInt32(), Is.GreaterThan(0));
            Caught("CLI train --lr 1e6, stop and skip-batch", 2);
        }
        finally { Directory.Delete(dir, true); }
    }
}
