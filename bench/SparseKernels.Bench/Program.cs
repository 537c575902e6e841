using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace SparseKernels.Bench;

/// <summary>
/// Runs the benchmarks with BenchmarkDotNet's command line (--filter, --job, ...). Extra flags, removed before
/// BenchmarkDotNet sees them:
///   --inprocess   run in this process (InProcessEmitToolchain), for machines with a runtime but no SDK;
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
            config = config.AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithId("InProcess").AsDefault());

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
