using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Sparsity;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Distributed;

/// <summary>
/// <c>train --distributed</c> under <c>mpirun --oversubscribe -np 2</c> (the CLI in child processes) against one
/// process training the same global batches in this test: weights within a stated fp32 tolerance and identical
/// patterns, for static, SET and RigL; the ranks' topology fingerprints compared after every mask update (the run
/// reports the count); a killed rank ends the job within 30 s; bad launches fail with a message. Category Mpi: run by
/// tests/mpi.sh (SPARSEKERNELS_MPI_TESTS=1); elsewhere ignored, so the main suite stays fast.
/// </summary>
[Category("Mpi")]
[NonParallelizable]
public class DataParallelMpiTests
{
    // The model and data of the equivalence runs: small enough for CI (2 cores), big enough for many mask updates.
    private static readonly string[] s_model = ["--layers", "784-64-32-10", "--sparsity", "0.9", "--epochs", "1", "--train-limit", "1536",
        "--test-limit", "200", "--batch-size", "64", "--update-every", "4", "--threads", "1", "--seed", "3"];

    // fp32 tolerance after 24 steps (48 for the resume): the two halves of a batch are summed in another order than one
    // process sums the whole batch (round-off ~1e-7 relative per step); |x - ref| <= Atol + Rtol |ref|. Seen here: the
    // largest |x - ref| is 3e-8 to 6e-8 (weights of |w| ~ 0.01 - 0.1), so the bound leaves ~20x room.
    private const double Atol = 1e-6, Rtol = 1e-4;

    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        if (Environment.GetEnvironmentVariable("SPARSEKERNELS_MPI_TESTS") != "1")
            Assert.Ignore("MPI tests run under tests/mpi.sh (SPARSEKERNELS_MPI_TESTS=1; needs mpirun).");
        _dir = Path.Combine(Path.GetTempPath(), $"sk-mpi-{Environment.ProcessId}-{TestContext.CurrentContext.Test.ID}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (_dir.Length > 0 && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [TestCase("static")]
    [TestCase("set")]
    [TestCase("rigl")]
    public void TwoRanksEqualOneProcessWithTheWholeBatch(string method)
    {
        string outTwo = Path.Combine(_dir, "two");
        var (exit, output) = Mpirun(2, ["train", "--distributed", "--method", method, .. s_model, "-o", outTwo]);
        TestContext.Out.WriteLine(output);
        Assert.That(exit, Is.EqualTo(0), output);
        int updates = int.Parse(Regex.Match(output, @"mask updates (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        int checks = int.Parse(Regex.Match(output, @"topology (\d+) checks").Groups[1].Value, CultureInfo.InvariantCulture);
        if (method != "static") Assert.That(updates, Is.GreaterThanOrEqualTo(4), "too few mask updates to test anything");
        Assert.That(checks, Is.EqualTo(updates + 2),
            "the ranks' patterns are compared after every mask update, at the epoch start and at the end");

        var options = Options(method) with { OutputFolder = Path.Combine(_dir, "one") };
        using var one = new TrainingRun(options, new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1)), Train, Test);
        one.Run();
        Assert.That((one.Method as SparsityMethod)?.Updates ?? 0, Is.EqualTo(updates));
        using var two = Resume(options with { OutputFolder = outTwo });
        AssertSameModel(one.Model, two.Model);
    }

    [Test]
    public void ResumeWithAnotherRankCount()
    {
        string dir = Path.Combine(_dir, "resumed");
        var (exit, output) = Mpirun(2, ["train", "--distributed", "--method", "rigl", .. s_model, "-o", dir]);
        Assert.That(exit, Is.EqualTo(0), output);
        var args = s_model.Select(a => a == "1" ? "2" : a).ToArray();   // --epochs 2
        Assert.That(args, Does.Contain("2"));
        (exit, output) = Mpirun(1, ["train", "--distributed", "--method", "rigl", .. args, "-o", dir, "--resume"]);
        TestContext.Out.WriteLine(output);
        Assert.That(exit, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("resumed after epoch 1"));

        // The same path in one process: epoch 1 (a 1-epoch schedule), then --resume with --epochs 2.
        var options = Options("rigl") with { OutputFolder = Path.Combine(_dir, "one") };
        using (var first = new TrainingRun(options, new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1)), Train, Test)) first.Run();
        options = options with { Epochs = 2, Resume = true };
        using var one = new TrainingRun(options, new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1)), Train, Test);
        one.Run();
        using var resumed = Resume(options with { OutputFolder = dir });
        Assert.That(resumed.EpochsDone, Is.EqualTo(2));
        AssertSameModel(one.Model, resumed.Model);
    }

    [Test]
    public void AKilledRankEndsTheJobWithAMessageWithin30Seconds()
    {
        var psi = MpirunStart(2, ["train", "--distributed", "--layers", "784-300-100-10", "--method", "rigl", "--sparsity", "0.9",
                                  "--epochs", "50", "--test-limit", "100", "--threads", "1", "-o", Path.Combine(_dir, "killed")]);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        int victim = 0;
        bool started = false;
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null)
        {
            lines.Add(line);
            if (Regex.Match(line, @"rank 1 of 2: pid (\d+)") is { Success: true } m)
                victim = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            started |= line.Contains("train --distributed: 2 ranks", StringComparison.Ordinal);
            if (started && victim != 0) break;
        }
        Assert.That(victim, Is.Not.Zero, string.Join('\n', lines));
        Thread.Sleep(1500);   // inside the first epoch
        var clock = Stopwatch.StartNew();
        using (var v = Process.GetProcessById(victim)) v.Kill();   // SIGKILL: no handler, no message from the rank itself
        string rest = p.StandardOutput.ReadToEnd();
        bool ended = p.WaitForExit(TimeSpan.FromSeconds(30));
        if (!ended) p.Kill(entireProcessTree: true);
        string all = string.Join('\n', lines) + rest + err.Result;
        TestContext.Out.WriteLine($"ended after {clock.Elapsed.TotalSeconds:F1} s, exit {(ended ? p.ExitCode : -1)}:\n{all}");
        Assert.That(ended, Is.True, "the job did not end within 30 s of the kill");
        Assert.That(p.ExitCode, Is.Not.Zero);
        Assert.That(all, Does.Contain("process rank 1").And.Contain("signal 9"), "mpirun names the rank that died and why");
    }

    [Test]
    public void BadLaunchesFailWithAMessage()
    {
        // Not started by mpirun.
        var (exit, output) = CliRunner.Run(null, ["train", "--distributed", .. s_model]);
        Assert.That(exit, Is.Not.Zero, output);
        Assert.That(output, Does.Contain("not started by an MPI launcher").And.Contain("mpirun -np"));
        // No MPI library (SPARSEKERNELS_MPI_LIB names a file that is not there).
        var noMpi = new Dictionary<string, string>
        {
            ["OMPI_COMM_WORLD_SIZE"] = "1",
            ["SPARSEKERNELS_MPI_LIB"] = "/nonexistent/libmpi.so.40",
        };
        (exit, output) = Cli(noMpi, ["train", "--distributed", .. s_model]);
        Assert.That(exit, Is.Not.Zero, output);
        Assert.That(output, Does.Contain("Open MPI's library could not be loaded").And.Contain("/nonexistent/libmpi.so.40"));
        // Too many ranks for the batch.
        (exit, output) = Mpirun(3, ["train", "--distributed", "--layers", "784-16-10", "--epochs", "1", "--train-limit", "64",
                                    "--batch-size", "2", "--threads", "1"]);
        Assert.That(exit, Is.Not.Zero, output);
        Assert.That(output, Does.Contain("over 3 ranks needs at least 3 samples in every batch"));
        // mpirun without --distributed: every rank would train alone and write the same files.
        (exit, output) = Mpirun(2, ["train", "--layers", "784-16-10", "--epochs", "1", "--train-limit", "64", "--threads", "1"]);
        Assert.That(exit, Is.Not.Zero, output);
        Assert.That(output, Does.Contain("without --distributed"));
    }

    private static RunOptions Options(string method) => new()
    {
        Layers = [784, 64, 32, 10],
        Epochs = 1,
        BatchSize = 64,
        TrainLimit = 1536,
        TestLimit = 200,
        Seed = 3,
        Method = new SparsityOptions { Method = method, Sparsity = 0.9, UpdateEvery = 4 },
    };

    private static ImageDataset? s_train, s_test;
    private static ImageDataset Train => (s_train ??= Load().Train);
    private static ImageDataset Test => (s_test ??= Load().Test);
    private static (ImageDataset Train, ImageDataset Test) Load() => FashionMnist.Load(TestData.FashionMnistFolder);

    private static TrainingRun Resume(RunOptions options) => new(options with { Resume = true }, CpuTensorBackend.Instance, Train, Test);

    /// <summary>Same layers, CSR or dense alike, identical patterns, weights and biases within Atol + Rtol |ref| (worst
    /// element reported).</summary>
    private static void AssertSameModel(Sequential expected, Sequential actual)
    {
        Assert.That(actual.Layers, Has.Count.EqualTo(expected.Layers.Count));
        double worst = double.NegativeInfinity, maxDiff = 0; string where = "";
        for (int i = 0; i < expected.Layers.Count; i++)
        {
            var (e, a) = (expected.Layers[i], actual.Layers[i]);
            Assert.That(a.IsSparse, Is.EqualTo(e.IsSparse), $"layer {i}");
            if (e.IsSparse)
            {
                var (ec, ac) = (e.Sparse!.ToHost(), a.Sparse!.ToHost());
                Assert.That(ac.RowOffsets, Is.EqualTo(ec.RowOffsets), $"layer {i}: row offsets differ");
                Assert.That(ac.ColumnIndices, Is.EqualTo(ec.ColumnIndices), $"layer {i}: the patterns differ");
            }
            foreach (var (pe, pa) in new[] { (e.Weight, a.Weight), (e.Bias, a.Bias) })
            {
                float[] x = pa.Value.ToArray(), r = pe.Value.ToArray();
                for (int k = 0; k < r.Length; k++)
                {
                    double excess = Math.Abs(x[k] - r[k]) - (Atol + Rtol * Math.Abs(r[k]));
                    maxDiff = Math.Max(maxDiff, Math.Abs(x[k] - r[k]));
                    if (excess > worst) { worst = excess; where = $"{pe.Name}[{k}]: {x[k]} vs {r[k]}"; }
                }
            }
        }
        TestContext.Out.WriteLine($"worst element against |x - ref| <= {Atol} + {Rtol} |ref|: {where}; largest |x - ref| {maxDiff:G3}");
        Assert.That(worst, Is.LessThanOrEqualTo(0), $"beyond tolerance at {where}");
    }

    private static ProcessStartInfo MpirunStart(int ranks, string[] args)
    {
        var psi = new ProcessStartInfo("mpirun") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string np = ranks.ToString(CultureInfo.InvariantCulture);
        foreach (var a in new[] { "--oversubscribe", "--allow-run-as-root", "-np", np, "dotnet", CliRunner.Cli })
            psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        return psi;
    }

    private static (int Exit, string Output) Mpirun(int ranks, string[] args) => Finish(Process.Start(MpirunStart(ranks, args))!, args);

    private static (int Exit, string Output) Cli(Dictionary<string, string> env, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(CliRunner.Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        return Finish(Process.Start(psi)!, args);
    }

    private static (int Exit, string Output) Finish(Process p, string[] args)
    {
        using (p)
        {
            var err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail($"did not finish in 2 minutes: {string.Join(' ', args)}");
            }
            return (p.ExitCode, output + err.Result);
        }
    }
}
