using System.Reflection;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using SparseKernels.Runtime;

namespace SparseKernels.Bench;

/// <summary>
/// Runs the benchmarks with BenchmarkDotNet's command line (--filter, --job, ...). Extra flags, removed before
/// BenchmarkDotNet sees them:
///   --inprocess    run in this process (InProcessEmitToolchain), for machines with a runtime but no SDK;
///                  a --job dry|short|medium|long|verylong|default given with it is applied to that in-process job.
///   --suite NAME   the results folder: bench/results/NAME/ (default: gpu when a GPU benchmark ran, else cpu).
/// Benchmark classes in the "Gpu" category are left out, saying why, when no CUDA device can be opened.
/// Reports go to bench/results/&lt;suite&gt;/ (found from the repository root) unless --artifacts is given.
/// </summary>
public static class Program
{
    public const string GpuCategory = "Gpu";

    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "cpu-quick") return CpuQuick.Run(args[1..]);   // tuning aid (Stopwatch)
        if (args.Length > 0 && args[0] == "write-stress")
        {
            StressSet.Write(args.Length > 1 ? args[1] : "stress");
            return 0;
        }
        if (args.Length > 0 && args[0] == "verify") return Verify.VerifyCommand.Run(args[1..]);   // the lean GPU harness (bench/gpu/verify.sh)
        if (args.Length > 0 && args[0] == "training-scale") return TrainingScale.Run(args[1..]);   // bench/results/training-scale
        var rest = new List<string>(args);
        bool inProcess = rest.Remove("--inprocess");
        string? suite = TakeOption(rest, "--suite");
        bool ownArtifacts = !rest.Contains("--artifacts");

        var columns = new BenchmarkDotNet.Columns.IColumn[]
        {
            new L2Column(), new GflopsColumn(), new GbpsColumn(),
            new SpeedupColumn("cuSPARSE", "CusparseAlg1", "CusparseAlg2", "CusparseAlg3", "CusparseSddmm"),
            new SpeedupColumn("SGEMM", "CublasSgemm"), new SpeedupColumn("TF32", "CublasTf32"), new SpeedupColumn("CPU", "CpuBackend"),
        };
        IConfig config = DefaultConfig.Instance.AddColumn(columns);  // one report per class: SparseKernels.Bench.<Class>-report.*
        string staging = Path.Combine(ResultsDir(), ".artifacts");
        if (ownArtifacts) config = config.WithArtifactsPath(staging);
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

        var types = typeof(Program).Assembly.GetTypes()
            .Where(t => t.IsPublic && !t.IsAbstract && t.GetMethods().Any(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null))
            .ToList();
        string? cudaWhy = Devices.ProbeCuda();
        if (cudaWhy is not null)
        {
            var gpu = types.Where(IsGpu).ToList();
            if (gpu.Count > 0)
                Console.WriteLine($"Leaving out the GPU benchmarks ({string.Join(", ", gpu.Select(t => t.Name))}): {cudaWhy}");
            types.RemoveAll(IsGpu);
        }

        // With a --filter, the classes run one at a time and each class's report is copied as soon as it finishes (a
        // run cut short keeps the finished classes); without one, BenchmarkDotNet's switcher asks which to run.
        var filters = FilterPatterns(rest);
        var summaries = new List<BenchmarkDotNet.Reports.Summary>();
        string target = Path.Combine(ResultsDir(), suite ?? (types.Where(IsGpu).Any(t => Matches(t, filters)) ? "gpu" : "cpu"));
        if (filters.Count > 0)
        {
            foreach (var type in types.Where(t => Matches(t, filters)))
            {
                var done = BenchmarkSwitcher.FromTypes([type]).Run(rest.ToArray(), config).ToList();
                summaries.AddRange(done);
                if (ownArtifacts) CopyReports(done, target);
            }
        }
        else
        {
            summaries = BenchmarkSwitcher.FromTypes(types.ToArray()).Run(rest.ToArray(), config).ToList();
            if (ownArtifacts)
            {
                bool ranGpu = summaries.Any(s => s.BenchmarksCases.Any(c => IsGpuClass(c.Descriptor.Type)));
                CopyReports(summaries, Path.Combine(ResultsDir(), suite ?? (ranGpu ? "gpu" : "cpu")));
            }
        }
        return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
    }

    private static bool IsGpu(Type t) => t.GetCustomAttributes<BenchmarkCategoryAttribute>().Any(a => a.Categories.Contains(GpuCategory));

    private static bool IsGpuClass(Type t) => GpuBench.IsGpu(t);

    private static void CopyReports(IEnumerable<BenchmarkDotNet.Reports.Summary> summaries, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var s in summaries)
            if (Directory.Exists(s.ResultsDirectoryPath))
                foreach (var file in Directory.EnumerateFiles(s.ResultsDirectoryPath))
                    File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        Console.WriteLine($"Reports copied to {target}");
    }

    /// <summary>The glob patterns after --filter / -f (BenchmarkDotNet's syntax: several values, '*' and '?').</summary>
    private static List<string> FilterPatterns(List<string> args)
    {
        var patterns = new List<string>();
        for (int i = 0; i < args.Count; i++)
            if (args[i] is "--filter" or "-f")
                for (int j = i + 1; j < args.Count && !args[j].StartsWith('-'); j++) patterns.Add(args[j]);
        return patterns;
    }

    /// <summary>Whether a glob matches one of the class's benchmarks by full name (Namespace.Class.Method), as BenchmarkDotNet's filter does.</summary>
    private static bool Matches(Type t, List<string> patterns)
    {
        var regexes = patterns.Select(p => new System.Text.RegularExpressions.Regex(
            "^" + System.Text.RegularExpressions.Regex.Escape(p).Replace("\\*", ".*").Replace("\\?", ".") + "$", System.Text.RegularExpressions.RegexOptions.IgnoreCase));
        var names = t.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null).Select(m => $"{t.FullName}.{m.Name}").ToList();
        return regexes.Any(r => names.Any(r.IsMatch));
    }

    private static string? TakeOption(List<string> args, string name)
    {
        int at = args.IndexOf(name);
        if (at < 0) return null;
        if (at + 1 >= args.Count) throw new ArgumentException($"{name} needs a value.");
        string value = args[at + 1];
        args.RemoveRange(at, 2);
        return value;
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
