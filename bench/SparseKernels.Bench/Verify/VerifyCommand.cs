using System.Diagnostics;
using SparseKernels.Runtime;

namespace SparseKernels.Bench.Verify;

/// <summary>
/// <c>SparseKernels.Bench verify STAGE --out DIR [--rehearse] [--budget SECONDS]</c>: one stage of the GPU verification
/// run (bench/gpu/verify.sh; stages in <see cref="Stages.All"/>). One device is opened for the stage (the CUDA GPU;
/// with --rehearse the emulated device and tiny sizes), its Markdown and CSV reports are rewritten under DIR after every
/// case (so a killed stage leaves what finished), and a few lines for the run's summary go to DIR/STAGE.summary.md.
/// Exit codes: 0 passed, 1 a check failed or the stage failed, 2 bad usage, 3 unknown stage (verify.sh: "not available").
/// </summary>
public static class VerifyCommand
{
    public const int Passed = 0, Failed = 1, Usage = 2, UnknownStage = 3;

    public static string UsageText => "usage: SparseKernels.Bench verify STAGE --out DIR [--rehearse] [--budget SECONDS]\n       SparseKernels.Bench verify --list\n"
        + "stages:\n" + string.Join("\n", Stages.All.Select(s => $"  {s.Name,-14} {s.Description}"));

    public static int Run(string[] args)
    {
        if (args.Length == 1 && args[0] is "--list")
        {
            foreach (var s in Stages.All) Console.WriteLine(s.Name);
            return Passed;
        }
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine(UsageText);
            return args.Length == 0 ? Usage : Passed;
        }
        string name = args[0];
        string? outDir = null;
        bool rehearse = false;
        double budget = 0;
        for (int i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rehearse": rehearse = true; break;
                case "--out" when i + 1 < args.Length: outDir = args[++i]; break;
                case "--budget" when i + 1 < args.Length:
                    if (!double.TryParse(args[++i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out budget) || budget <= 0)
                    {
                        Console.Error.WriteLine($"verify: --budget '{args[i]}' is not a positive number of seconds.\n{UsageText}");
                        return Usage;
                    }
                    break;
                default:
                    Console.Error.WriteLine($"verify: unknown or incomplete option '{args[i]}'.\n{UsageText}");
                    return Usage;
            }
        }
        var stage = Stages.Find(name);
        if (stage is null)
        {
            Console.Error.WriteLine($"verify: unknown stage '{name}' (this program knows: {string.Join(", ", Stages.All.Select(s => s.Name))}).");
            return UnknownStage;
        }
        if (outDir is null)
        {
            Console.Error.WriteLine($"verify: --out DIR is required.\n{UsageText}");
            return Usage;
        }
        try
        {
            Directory.CreateDirectory(outDir);
            string probe = Path.Combine(outDir, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"verify: cannot write to the output folder '{outDir}': {e.Message}");
            return Usage;
        }

        var clock = Stopwatch.StartNew();
        IDevice device;
        try
        {
            device = rehearse ? Devices.Open(DevicePreference.Emulated) : Devices.Open(DevicePreference.Cuda);
        }
        catch (Exception e)
        {
            string msg = $"verify {name}: no {(rehearse ? "emulated device" : "CUDA device")}: {e.Message}";
            Console.Error.WriteLine(msg);
            File.WriteAllText(Path.Combine(outDir, $"{name}.summary.md"), $"- {name}: FAILED: {msg}\n");
            return Failed;
        }
        using var ctx = new VerifyContext(device, outDir, rehearse, budget > 0 ? budget : double.PositiveInfinity, clock);
        Console.WriteLine($"verify {name}{(rehearse ? " (rehearsal: emulated device, tiny sizes)" : "")} on {device.Kind} '{device.Info.Name}'");
        StageResult result;
        try
        {
            result = stage.Run(ctx);
        }
        catch (Exception e)
        {
            result = new StageResult();
            result.Failures.Add($"{e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine(e);
        }
        var lines = new List<string>();
        string status = result.Passed ? "passed" : "FAILED";
        lines.Add($"- **{name}** {status} in {clock.Elapsed.TotalSeconds:F1} s{(result.StoppedByBudget ? " (stopped at its time budget: the reports hold what finished)" : "")}");
        lines.AddRange(result.SummaryLines.Select(l => "  " + l));
        lines.AddRange(result.Failures.Take(5).Select(f => "  - FAILURE: " + FirstLine(f)));
        if (result.Failures.Count > 5) lines.Add($"  - ... and {result.Failures.Count - 5} more failures (see {name}.md)");
        File.WriteAllText(Path.Combine(outDir, $"{name}.summary.md"), string.Join("\n", lines) + "\n");
        Console.WriteLine(string.Join("\n", lines));
        return result.Passed ? Passed : Failed;
    }

    private static string FirstLine(string s)
    {
        int nl = s.IndexOf('\n');
        string line = nl < 0 ? s : s[..nl];
        return line.Length > 300 ? line[..300] + "..." : line;
    }
}
