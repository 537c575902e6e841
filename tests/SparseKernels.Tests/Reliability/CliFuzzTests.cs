using System.CommandLine;
using System.Diagnostics;
using NUnit.Framework;
using SparseKernels.Cli;
using SparseKernels.Runs;
using SparseKernels.Runtime;
using Spectre.Console;

namespace SparseKernels.Tests.Reliability;

/// <summary>
/// Fuzzing of the CLI's option parsing (issue 17): valid <c>train</c> / <c>info</c> command lines mutated token by token
/// (interesting values, deleted, duplicated, swapped or spliced tokens, options from other lines, changed characters),
/// fixed seed, 3 s in CI (60 s with SPARSEKERNELS_LONG_TESTS=1). Each line runs in-process through the same
/// System.CommandLine root as the CLI with the default exception handler off; <c>train</c> parses and checks its options,
/// opens the backend and builds the <see cref="TrainingRun"/> on 64 synthetic samples instead of loading data and
/// training (<see cref="TrainCommand.ValidateOnly"/>). A crash is an exception escaping the command; every non-zero exit
/// must come with a message; a hang is a line taking over 5 s.
/// </summary>
[NonParallelizable]
public class CliFuzzTests
{
    private static double Budget => Environment.GetEnvironmentVariable("SPARSEKERNELS_CLI_FUZZ_SECONDS") is { } v
        ? double.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : Figures.Long ? 60 : 3;

    private static readonly string[][] Seeds =
    [
        ["train", "--layers", "784-300-100-10", "--epochs", "1", "--batch-size", "64", "--lr", "0.1", "--device", "cpu"],
        ["train", "--method", "rigl", "--sparsity", "0.9", "--distribution", "erk", "--update-every", "50", "--alpha", "0.3",
         "--end-fraction", "0.75"],
        ["train", "--model", "lenet5", "--method", "set", "--sparsity", "0.8", "--first-sparse", "--last-dense"],
        ["train", "--optimizer", "adam", "--schedule", "step", "--weight-decay", "0", "--momentum", "0.5", "--nesterov"],
        ["train", "--zap", "k:3", "--zap-every", "2", "--on-nonfinite", "skip-batch", "--checkpoint-every", "10", "--threads", "2"],
        ["train", "--method", "imp", "--imp-levels", "2", "--prune-fraction", "0.2", "--rewind-step", "10", "--sparsity", "0.5"],
        ["train", "--method", "gmp", "--gmp-start", "0.1", "--gmp-end", "0.9", "--gmp-every", "5", "--csr-below-density", "0.3",
         "--sparsity", "0.7"],
        ["train", "--method", "kd-ticket", "--kd-temperature", "4", "--kd-alpha", "0.5", "--no-rewind", "--per-layer-pruning",
         "--sparsity", "0.6"],
        ["train", "--sparsity", "0.5,0.5,0", "--layers", "784-64-32-10", "--init", "glorot", "--seed", "3", "--train-limit", "10"],
        ["train", "--model", "1x28x28:conv4k5,relu,maxpool2,flatten,fc10", "--method", "snip", "--sparsity", "0.5"],
        ["train", "--device", "emulated", "--layers", "784-16-10", "--test-limit", "5", "--schedule", "constant"],
        ["info"],
    ];

    private static readonly string[] Values =
    [
        "", " ", "-1", "0", "1", "-0", "1e309", "-1e309", "NaN", "Infinity", "-Infinity", "2147483647", "2147483648", "-2147483648",
        "99999999999999999999", "0.5", "1.0", "0.999999", "abc", "784-0-10", "784--10", "784-1000000000-10", "784-10", "10",
        "784-300-100-10-", "1x28x28:conv0k5", "1x28x28:conv4k99,flatten,fc10", "0x0x0:fc10", "mlp:", ":", ",", ";", "k:0", "k:-1",
        "k:99", "all", "none", "erk", "er", "uniform", "rigl", "dense", "\0", "\u00fc\u00df", "--", "-o", "--resume", "lenet5",
        "vgg-tiny", "cuda", "auto", "emulated", "0.9,0.9", "0.9,0.9,0.9,0.9,0.9", "1,1", "NaN,0", new string('9', 5000),
        "18446744073709551616", "-5", "3.5", "0x10",
    ];

    private static readonly string[] OptionNames =
        Seeds.SelectMany(s => s).Where(t => t.StartsWith("--", StringComparison.Ordinal)).Distinct().ToArray();

    internal static string[] Mutate(string[] seed, Random rng)
    {
        var t = new List<string>(seed);
        int count = 1 + rng.Next(3);
        for (int m = 0; m < count; m++)
        {
            int at = t.Count == 0 ? 0 : rng.Next(t.Count);
            switch (rng.Next(8))
            {
                case 0: case 1: if (t.Count > 0) t[at] = Values[rng.Next(Values.Length)]; break;   // a value (or a name) replaced
                case 2: if (t.Count > 0) t.RemoveAt(at); break;
                case 3: if (t.Count > 0) t.Insert(rng.Next(t.Count + 1), t[at]); break;
                case 4:
                    if (t.Count > 1) { int b = rng.Next(t.Count); (t[at], t[b]) = (t[b], t[at]); }
                    break;
                case 5:   // an option of another line, with a value
                    t.InsertRange(Math.Min(t.Count, 1 + rng.Next(Math.Max(t.Count, 1))),
                                  [OptionNames[rng.Next(OptionNames.Length)], Values[rng.Next(Values.Length)]]);
                    break;
                case 6:
                    {
                        var other = Seeds[rng.Next(Seeds.Length)];
                        int from = rng.Next(other.Length), len = 1 + rng.Next(Math.Min(4, other.Length - from));
                        t.InsertRange(Math.Min(t.Count, at + 1), other.Skip(from).Take(len));
                        break;
                    }
                default:
                    if (t.Count > 0 && t[at].Length > 0)
                    {
                        var chars = t[at].ToCharArray();
                        chars[rng.Next(chars.Length)] = "-.,:0123456789xek "[rng.Next(18)];
                        t[at] = new string(chars);
                    }
                    break;
            }
        }
        return t.ToArray();
    }

    [Test]
    public void TrainAndInfoOptionParsing()
    {
        var (train, test) = WorkedValuesTests.Synthetic(features: 784, classes: 10, count: 64);
        var root = new RootCommand("fuzz");
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        var output = new StringWriter();
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output, Error = output };
        var savedConsole = AnsiConsole.Console;
        var savedOut = Console.Out;
        var savedErr = Console.Error;
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No });
        Console.SetOut(output);
        Console.SetError(output);
        string dir = Path.Combine(Path.GetTempPath(), "sk-clifuzz-" + Guid.NewGuid().ToString("N"));
        HostMemory.SetLimitForTests(256L << 20);   // keeps what a fuzzed --layers may allocate small
        TrainCommand.ValidateOnly = (options, backend) =>
        {
            var checkedOptions = options with { OutputFolder = options.OutputFolder is null ? null : dir };
            using var run = new TrainingRun(checkedOptions, backend, train, test);
            return 0;
        };
        const int seed = 17;
        var rng = new Random(seed);
        int inputs = 0, rejected = 0, accepted = 0;
        var crashes = new List<string>();
        double slowest = 0;
        string slowestLine = "";
        var clock = Stopwatch.StartNew();
        try
        {
            while (clock.Elapsed.TotalSeconds < Budget)
            {
                string[] args = Mutate(Seeds[rng.Next(Seeds.Length)], rng);
                output.GetStringBuilder().Clear();
                var t = Stopwatch.StartNew();
                int exit;
                try { exit = root.Parse(args).Invoke(config); }
                catch (Exception e)
                {
                    if (crashes.Count < 5) crashes.Add($"{e.GetType().Name}: {e.Message} (args: {Show(args)})");
                    else crashes.Add("");
                    inputs++;
                    continue;
                }
                if (t.Elapsed.TotalSeconds > slowest) { slowest = t.Elapsed.TotalSeconds; slowestLine = Show(args); }
                inputs++;
                if (exit == 0) accepted++;
                else if (output.ToString().Trim().Length > 0) rejected++;
                else if (crashes.Count < 5) crashes.Add($"exit {exit} without a message (args: {Show(args)})");
                else crashes.Add("");
            }
        }
        finally
        {
            TrainCommand.ValidateOnly = null;
            HostMemory.SetLimitForTests(null);
            AnsiConsole.Console = savedConsole;
            Console.SetOut(savedOut);
            Console.SetError(savedErr);
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
        TestContext.Out.WriteLine($"cli: {inputs} command lines in {clock.Elapsed.TotalSeconds:F1} s (seed {seed}): {accepted} accepted, "
            + $"{rejected} refused with a message, {crashes.Count} crashes; slowest {slowest * 1000:F0} ms ({slowestLine})");
        Figures.Record("fuzz", new()
        {
            ["parser"] = "cli (train/info options)",
            ["inputs"] = inputs,
            ["rejected"] = rejected,
            ["crashes"] = crashes.Count,
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
            ["slowest_ms"] = Math.Round(slowest * 1000, 1),
            ["seed"] = seed,
        });
        Assert.That(crashes, Is.Empty, string.Join("\n", crashes.Where(c => c.Length > 0)));
        Assert.That(slowest, Is.LessThan(5), $"no command line takes over 5 s: {slowestLine}");
        Assert.That(accepted, Is.GreaterThan(0), "some mutated lines are still valid (the hook ran)");
    }

    private static string Show(string[] args)
        => string.Join(' ', args.Select(a => a.Length > 40 ? a[..40] + "..." : a).Select(a => $"'{a}'"));
}
