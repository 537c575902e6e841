using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Cli;

/// <summary>
/// `train results` end to end, as a user runs it: the CLI (SparseKernels.Cli.dll, copied beside the tests) in its own
/// process on a tiny grid (784-32-10, 512 training samples, 1 epoch). Each configuration must run in a child process
/// that reports its own peak RSS, the table and the plot must be written, a rerun must skip finished runs, and bad
/// options must give exit code 2 with a message naming the option.
/// </summary>
public class ResultsCommandTests
{
    private static string Cli => CliRunner.Cli;

    private static (int Exit, string Output) RunCli(params string[] args) => CliRunner.Run(null, args);

    /// <summary>The CLI's output with Spectre.Console's line wrapping (80 columns off a terminal) undone.</summary>
    private static string Flat(string output) => System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " ");

    private static void RequireData()
    {
        if (!File.Exists(Path.Combine(FashionMnist.DefaultFolder, "train-images-idx3-ubyte.gz")))
            Assert.Ignore($"Fashion-MNIST is not installed in {FashionMnist.DefaultFolder} (apt-get install dataset-fashion-mnist).");
        Assert.That(File.Exists(Cli), $"{Cli} was not copied beside the tests");
    }

    [Test]
    public void TinyGridRunsEachConfigurationInItsOwnProcessAndSkipsFinishedRuns()
    {
        RequireData();
        string dir = Path.Combine(Path.GetTempPath(), $"sk-results-{Guid.NewGuid():N}");
        try
        {
            string md = Path.Combine(dir, "results.md");
            string[] args = ["train", "results", "--models", "784-32-10", "--methods", "dense,rigl", "--sparsities", "0.9", "--distributions", "erk",
                             "--seeds", "1", "--epochs", "1", "--train-limit", "512", "--threads", "1", "-o", md];
            var (exit, output) = RunCli(args);
            Assert.That(exit, Is.EqualTo(0), output);
            var runs = File.ReadAllLines(Path.ChangeExtension(md, ".runs.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
            Assert.That(runs.Select(r => r.GetProperty("Method").GetString()), Is.EqualTo(new[] { "dense", "rigl" }));
            foreach (var r in runs)
            {
                long before = r.GetProperty("RssBeforeBytes").GetInt64(), peak = r.GetProperty("PeakRssBytes").GetInt64();
                Assert.That(before, Is.GreaterThan(0), "RSS after loading the data");
                Assert.That(peak, Is.GreaterThan(before), "the run's peak RSS is above the RSS it started from");
                Assert.That(r.GetProperty("PeakFromRunStart").GetBoolean(), Is.True, "the peak was reset after loading the data (Linux /proc/self/clear_refs)");
                Assert.That(r.GetProperty("TestAccuracy").GetDouble(), Is.InRange(0.2, 1.0), "one epoch on 512 samples learns something");
            }
            Assert.That(runs[1].GetProperty("Nonzeros").GetInt64(), Is.LessThan(runs[0].GetProperty("Nonzeros").GetInt64() / 5), "RigL at 90 % keeps about a tenth of the weights");
            string table = File.ReadAllText(md);
            Assert.That(table, Does.Contain("| 1 | dense | - | 0 |").And.Contain("| 1 | rigl | erk | 0.9 |"));
            Assert.That(File.Exists(Path.Combine(dir, "results-784-32-10.png")), "the model's plot");

            (exit, output) = RunCli(args);
            Assert.That(exit, Is.EqualTo(0), output);
            Assert.That(File.ReadAllLines(Path.ChangeExtension(md, ".runs.jsonl")), Has.Length.EqualTo(2), "a rerun skips the finished runs");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void ImportAddsAFinishedTrainRunAndRefusesAnotherConfigurationOrAnUnfinishedRun()
    {
        RequireData();
        string dir = Path.Combine(Path.GetTempPath(), $"sk-results-{Guid.NewGuid():N}");
        try
        {
            string run = Path.Combine(dir, "rigl90"), md = Path.Combine(dir, "results.md");
            var (exit, output) = RunCli("train", "--layers", "784-32-10", "--method", "rigl", "--sparsity", "0.9", "--epochs", "1",
                "--train-limit", "512", "--test-limit", "200", "--threads", "1", "-o", run);
            Assert.That(exit, Is.EqualTo(0), output);

            (exit, output) = RunCli("train", "results", "-o", md, "--import", $"784-32-10|rigl|erk|0.8|1|1={run}");
            Assert.That(exit, Is.EqualTo(2), output);
            Assert.That(Flat(output), Does.Contain("another configuration"), "a key whose sparsity differs from the run's is refused");
            (exit, output) = RunCli("train", "results", "-o", md, "--import", $"784-32-10|rigl|erk|0.9|1|2={run}");
            Assert.That(exit, Is.EqualTo(2), output);
            Assert.That(Flat(output), Does.Contain("1..2"), "a 1-epoch run is not a finished 2-epoch run");
            Assert.That(File.Exists(Path.ChangeExtension(md, ".runs.jsonl")), Is.False, "refused imports write nothing");

            (exit, output) = RunCli("train", "results", "-o", md, "--import", $"784-32-10|rigl|erk|0.9|1|1={run}");
            Assert.That(exit, Is.EqualTo(0), output);
            var row = JsonDocument.Parse(File.ReadAllLines(Path.ChangeExtension(md, ".runs.jsonl")).Single()).RootElement;
            Assert.That(row.GetProperty("Source").GetString(), Is.EqualTo(run));
            var last = JsonDocument.Parse(File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Last()).RootElement;
            Assert.That(row.GetProperty("TestAccuracy").GetDouble(), Is.EqualTo(last.GetProperty("test_acc").GetDouble()));
            long recorded = last.GetProperty("nnz_per_layer").EnumerateArray().Sum(x => x.GetInt64());
            Assert.That(row.GetProperty("Nonzeros").GetInt64(), Is.EqualTo(recorded));
            Assert.That(File.ReadAllText(md), Does.Contain("| 1 | rigl | erk | 0.9 |").And.Contain("| 1 | - |"),
                "an imported row has no time");

            (exit, output) = RunCli("train", "results", "-o", md, "--import", $"784-32-10|rigl|erk|0.9|1|1={run}");
            Assert.That(exit, Is.EqualTo(2), output);
            Assert.That(Flat(output), Does.Contain("already holds"));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    [TestCase("--methods", "dense,lottery", "unknown method 'lottery'")]
    [TestCase("--distributions", "gaussian", "gaussian")]
    public void BadOptionsExitWithTwoAndNameTheProblem(string option, string value, string expected)
    {
        // Options are checked before the data are read, so this needs no Fashion-MNIST.
        Assert.That(File.Exists(Cli), $"{Cli} was not copied beside the tests");
        string dir = Path.Combine(Path.GetTempPath(), $"sk-results-{Guid.NewGuid():N}");
        var (exit, output) = RunCli("train", "results", "--models", "784-32-10", option, value, "--epochs", "1", "-o", Path.Combine(dir, "results.md"));
        Assert.That(exit, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain(expected));
        Assert.That(Directory.Exists(dir), Is.False, "nothing was written");
    }

    [Test]
    public void TrainOnCudaWithoutAGpu_ExitsWithTwoAndSaysWhy()
    {
        if (SparseKernels.Runtime.Devices.ProbeCuda() is null) Assert.Ignore("This machine has a usable GPU.");
        Assert.That(File.Exists(Cli), $"{Cli} was not copied beside the tests");
        var (exit, output) = RunCli("train", "--device", "cuda", "--epochs", "1");
        Assert.That(exit, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain("--device cuda:"));
        Assert.That(output, Does.Not.Contain("Unhandled exception"));
    }
}
