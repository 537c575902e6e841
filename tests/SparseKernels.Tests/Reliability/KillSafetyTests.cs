using System.Diagnostics;
using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Reliability;

/// <summary>
/// kill -9 at random times (issue 17): a child `train` process (mid-epoch checkpoints every step, so many kills land
/// inside a checkpoint write) is killed at a time drawn from a fixed seed, then resumed; every resume must succeed and
/// every finished run must equal an uninterrupted run bit for bit (weights, optimizer state, deterministic metrics).
/// CI: 6 kills; SPARSEKERNELS_LONG_TESTS=1: 50 kills.
/// </summary>
public class KillSafetyTests
{
    private static readonly int[] Layers = [784, 100, 10];

    private static string[] Args(string dir) =>
        ["train", "--layers", "784-100-10", "--sparsity", "0.8,0", "--epochs", "2", "--train-limit", "2000", "--test-limit", "200",
         "--batch-size", "100", "--optimizer", "adam", "--lr", "0.002", "--seed", "3", "--threads", "2", "--checkpoint-every", "1",
         "--data", TestData.FashionMnistFolder, "-o", dir];

    private static Process Start(string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(CliRunner.Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static (float[][] Tensors, string[] Metrics, int Epochs) Final(string dir)
    {
        var opt = new AdamOptimizer();
        string path = Path.Combine(dir, TrainingRun.CheckpointFile);
        var (model, state) = Checkpoint.Load(path, CpuTensorBackend.Instance, Layers, null, opt, new TrainRng(0));
        using (model)
        {
            var tensors = model.Parameters.SelectMany(p => new[] { p.Value }.Concat(p.State)).Select(t => t.ToArray().ToArray()).ToArray();
            return (tensors, state.MetricsJsonLines.Select(InterruptTests.Deterministic).ToArray(), state.EpochsDone);
        }
    }

    internal static void NeedFashionMnist()
    {
        if (!File.Exists(Path.Combine(TestData.FashionMnistFolder, "train-images-idx3-ubyte.gz")))
            Assert.Ignore("Fashion-MNIST is not installed.");
    }

    [Test]
    public void KillNineAtRandomTimesThenResumeMatchesAnUninterruptedRun()
    {
        NeedFashionMnist();
        int target = Figures.Long ? 50 : 6;
        string root = Path.Combine(Path.GetTempPath(), "sk-kill-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            var clock = Stopwatch.StartNew();
            var (exit0, out0) = CliRunner.Run(null, Args(Path.Combine(root, "straight")));
            double full = clock.Elapsed.TotalMilliseconds;
            Assert.That(exit0, Is.EqualTo(0), out0);
            var straight = Final(Path.Combine(root, "straight"));
            var rng = new Random(2017);
            int kills = 0, duringWrite = 0, withCheckpoint = 0, resumes = 0, rounds = 0, matched = 0;
            string dir = Path.Combine(root, "round0");
            void Finish(string d)
            {
                var got = Final(d);
                Assert.That(got.Epochs, Is.EqualTo(straight.Epochs));
                Assert.That(got.Metrics, Is.EqualTo(straight.Metrics), $"{d}: metrics after kills");
                for (int i = 0; i < got.Tensors.Length; i++)
                    Assert.That(got.Tensors[i], Is.EqualTo(straight.Tensors[i]), $"{d}: tensor {i} after kills");
                matched++;
            }
            while (kills < target)
            {
                bool resume = File.Exists(Path.Combine(dir, TrainingRun.CheckpointFile));
                var started = DateTime.UtcNow;
                using var p = Start(resume ? [.. Args(dir), "--resume"] : Args(dir));
                if (resume) resumes++;
                int delay = (int)(rng.NextDouble() * full);
                if (p.WaitForExit(delay))
                {
                    Assert.That(p.ExitCode, Is.EqualTo(0), $"an unkilled run (resume: {resume}) failed in {dir}");
                    Finish(dir);
                    dir = Path.Combine(root, $"round{++rounds}");
                    continue;
                }
                p.Kill();
                p.WaitForExit();
                kills++;
                string tmp = Path.Combine(dir, TrainingRun.CheckpointFile + ".tmp");
                if (File.Exists(tmp) && File.GetLastWriteTimeUtc(tmp) >= started) duringWrite++;
                if (File.Exists(Path.Combine(dir, TrainingRun.CheckpointFile)))
                {
                    withCheckpoint++;
                    Assert.DoesNotThrow(() => Final(dir), $"kill {kills} after {delay} ms left an unreadable checkpoint");
                }
            }
            bool last = File.Exists(Path.Combine(dir, TrainingRun.CheckpointFile));
            var (exit, output) = CliRunner.Run(null, last ? [.. Args(dir), "--resume"] : Args(dir));
            Assert.That(exit, Is.EqualTo(0), output);
            Finish(dir);
            string summary = $"{kills} kills (uniform in [0, {full:F0} ms], seed 2017), {duringWrite} left a checkpoint .tmp "
                + $"(killed inside a write), {withCheckpoint} with a checkpoint on disk, {resumes} resumes, {matched} finished runs "
                + "all bit-identical to the uninterrupted one";
            TestContext.Out.WriteLine(summary);
            Figures.Record("kill", new()
            {
                ["kills"] = kills,
                ["survived"] = kills,
                ["during_write"] = duringWrite,
                ["with_checkpoint"] = withCheckpoint,
                ["resumes"] = resumes,
                ["finished_runs_matched"] = matched,
                ["uninterrupted_ms"] = Math.Round(full),
            });
        }
        finally { Directory.Delete(root, true); }
    }
}
