using System.Globalization;
using System.Text.Json;

namespace SparseKernels.Cli.Results;

/// <summary>
/// The runs file beside the Markdown file (<c>results.runs.jsonl</c>): one <see cref="RunResult"/> per line, appended as
/// each run finishes, so an interrupted grid keeps its runs, a rerun skips them and --render-only redraws from it.
/// </summary>
internal static class RunsFile
{
    /// <summary>The runs file of a Markdown file: the same name with the extension <c>.runs.jsonl</c>.</summary>
    public static string For(string md) => Path.ChangeExtension(md, ".runs.jsonl");

    public static List<RunResult> Read(string runsFile)
        => File.Exists(runsFile) ? File.ReadAllLines(runsFile).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<RunResult>(l)!).ToList() : [];

    public static void Append(string runsFile, RunResult r) => File.AppendAllText(runsFile, JsonSerializer.Serialize(r) + "\n");

    /// <summary>A configuration's key, <c>model|method|distribution|sparsity|seed|epochs</c>: what a rerun skips and what <c>--one</c> takes.</summary>
    public static string Key(string model, string method, string distribution, double sparsity, ulong seed, int epochs)
        => $"{model}|{method}|{distribution}|{sparsity.ToString("R", CultureInfo.InvariantCulture)}|{seed}|{epochs}";

    public static string Key(RunResult r) => Key(r.Model, r.Method, r.Distribution, r.Sparsity, r.Seed, r.Epochs);
}
