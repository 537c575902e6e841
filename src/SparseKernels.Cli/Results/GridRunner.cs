using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SparseKernels.Training;
using Spectre.Console;

namespace SparseKernels.Cli.Results;

/// <summary>A run of the grid failed in its child process; the message holds the end of its output.</summary>
internal sealed class ChildRunException(string message) : Exception(message);

/// <summary>
/// Runs every configuration of a <see cref="Grid"/> not yet in the runs file, each in a child process of this program
/// (<see cref="SingleRun"/>, so its peak RSS is its own), appends each result as it finishes and redraws the Markdown file.
/// </summary>
internal static class GridRunner
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Run(Grid g, string dataFolder, string runsFile, string md, string? note, int threads)
    {
        FashionMnist.Load(dataFolder); // fail early, in this process, on missing or bad data
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(runsFile))!);
        var done = RunsFile.Read(runsFile).Select(RunsFile.Key).ToHashSet();
        foreach (string model in g.Models)
            foreach (string method in g.Methods)
                foreach (string dist in method == "dense" ? ["-"] : method is "imp" or "kd-ticket" ? ["global"] : g.Distributions)
                    foreach (double s in method == "dense" ? [0.0] : g.Sparsities)
                        for (ulong seed = 1; seed <= (ulong)g.Seeds; seed++)
                        {
                            var key = RunsFile.Key(model, method, dist, s, seed, g.Epochs);
                            if (done.Contains(key)) continue;
                            var r = RunChild(key, g, dataFolder, threads);
                            RunsFile.Append(runsFile, r);
                            AnsiConsole.MarkupLine(Markup.Escape($"{model} {method} {dist} {s:0.##} seed {seed}: test acc {r.TestAccuracy:P2}, {r.TrainSeconds:F1} s, nnz {r.Nonzeros:N0}"));
                            ResultsMarkdown.Render(RunsFile.Read(runsFile), md, note, g);
                        }
    }

    /// <summary>Runs one configuration in a child process of this program (same executable) and returns its result.</summary>
    private static RunResult RunChild(string key, Grid g, string dataFolder, int threads)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        // Under `dotnet run` / `dotnet X.dll` the process is the dotnet host: pass the program's assembly first.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(GridRunner).Assembly.Location);
        foreach (var a in new[] { "train", "results", "--one", key, "--imp-levels", g.ImpLevels.ToString(Inv), "--train-limit", g.TrainLimit.ToString(Inv),
                                  "--threads", threads.ToString(Inv), "--data", dataFolder })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new ChildRunException($"could not start {psi.FileName} for run {key}.");
        var lines = new List<string>();
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null) lines.Add(line);
        p.WaitForExit();
        string? result = lines.LastOrDefault(l => l.StartsWith(SingleRun.ResultPrefix, StringComparison.Ordinal));
        if (p.ExitCode != 0 || result is null)
            throw new ChildRunException($"run {key} failed (exit code {p.ExitCode}); its output ended with:\n{string.Join('\n', lines.TakeLast(20))}");
        return JsonSerializer.Deserialize<RunResult>(result[SingleRun.ResultPrefix.Length..])!;
    }
}
