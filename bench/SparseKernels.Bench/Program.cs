using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace SparseKernels.Bench;

/// <summary>
/// Runs the benchmarks with BenchmarkDotNet's command line (--filter, --job, ...). Extra flags, removed before
/// BenchmarkDotNet sees them:
///   --inprocess   run in this process (InProcessEmitToolchain), for machines with a runtime but no SDK;
///                 a --job dry|short|medium|long|verylong|default given with it is applied to that in-process job.
/// Results go to bench/results (found from the repository root) unless --artifacts is given.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var rest = new List<string>(args);
        bool inProcess = rest.Remove("--inprocess");

        IConfig config = DefaultConfig.Instance
            .AddColumn(new GflopsColumn())
            .WithOptions(ConfigOptions.JoinSummary);
        if (!rest.Contains("--artifacts"))
            config = config.WithArtifactsPath(ResultsDir());
        if (inProcess)
        {
            // The --job given (if any) becomes an in-process job, so no out-of-process job (which needs an SDK) runs.
            Job baseJob = Job.Default;
            int at = rest.FindIndex(a => a is "--job" or "-j");
            if (at >= 0 && at + 1 < rest.Count)
            {
                baseJob = rest[at + 1].ToLowerInvariant() switch
                {
                    "dry" => Job.Dry,
                    "short" => Job.ShortRun,
                    "medium" => Job.MediumRun,
                    "long" => Job.LongRun,
                    "verylong" => Job.VeryLongRun,
                    "default" => Job.Default,
                    var other => throw new ArgumentException($"--inprocess: unknown --job '{other}' (use dry, short, medium, long, verylong or default)."),
                };
                rest.RemoveRange(at, 2);
            }
            config = config.AddJob(baseJob.WithToolchain(InProcessEmitToolchain.Instance).WithId("InProcess").AsDefault());
        }

        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.ToArray(), config);
        return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
    }

    /// <summary>bench/results beside this project in the repository, else ./results.</summary>
    private static string ResultsDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SparseKernels.sln")))
                return Path.Combine(dir.FullName, "bench", "results");
        return Path.Combine(Environment.CurrentDirectory, "results");
    }
}
