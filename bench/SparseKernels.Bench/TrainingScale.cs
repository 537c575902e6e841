using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SparseKernels.Autograd;
using SparseKernels.Cpu;
using SparseKernels.Runs;
using SparseKernels.Sparsity;
using SparseKernels.Training;

namespace SparseKernels.Bench;

/// <summary>
/// <c>SparseKernels.Bench training-scale --layers 784-65536-65536-10 --method rigl|set|static --sparsity 0.995
/// [--distribution erk] [--epochs 1] [--threads 2] [--train-limit N] [--test-limit N] [--update-every 100] [--batch-size 128]
/// [--max-steps N]</c>: one CPU training run (the CLI's <see cref="TrainingRun"/>, same defaults) with its breakdown,
/// as JSON lines on standard output: every topology update (seconds, managed bytes allocated, RSS before/after, the
/// process's peak RSS so far), every 20th step (wall time), then a summary (epoch seconds, median step without
/// updates, test accuracy, peak RSS (VmHWM) of the whole process and of the run after loading the data).
/// <c>--max-steps</c> stops after that many steps (a projection: the summary says so); evaluation then runs on the test set.
/// </summary>
public static class TrainingScale
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] args)
    {
        string Opt(string name, string dflt)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : dflt;
        }
        int threads = int.Parse(Opt("--threads", "2"), Inv), maxSteps = int.Parse(Opt("--max-steps", "0"), Inv);
        string method = Opt("--method", "rigl");
        var (train, test) = FashionMnist.Load(Opt("--data", "/usr/share/datasets/fashion-mnist"));
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        long loadPeak = Status("VmHWM");
        bool reset = ResetPeak();
        long rssStart = Status("VmRSS");
        var options = new RunOptions
        {
            Layers = Opt("--layers", "784-65536-65536-10").Split('-').Select(s => int.Parse(s, Inv)).ToArray(),
            Epochs = int.Parse(Opt("--epochs", "1"), Inv),
            BatchSize = int.Parse(Opt("--batch-size", "128"), Inv),
            TrainLimit = int.Parse(Opt("--train-limit", "0"), Inv),
            TestLimit = int.Parse(Opt("--test-limit", "0"), Inv),
            Seed = ulong.Parse(Opt("--seed", "1"), Inv),
            Method = new SparsityOptions
            {
                Method = method,
                Sparsity = double.Parse(Opt("--sparsity", "0.995"), Inv),
                Distribution = LayerDensities.Parse(Opt("--distribution", "erk")),
                UpdateEvery = int.Parse(Opt("--update-every", "100"), Inv),
            },
        };
        var backend = new CpuTensorBackend(new CpuBackend(threads));
        var build = Stopwatch.StartNew();
        using var run = new TrainingRun(options, backend, train, test);
        Emit(new()
        {
            ["event"] = "built",
            ["seconds"] = build.Elapsed.TotalSeconds,
            ["nnz"] = run.Model.Layers.Select(l => l.WeightCount).ToArray(),
            ["rss_mib"] = Mib(Status("VmRSS")),
            ["peak_rss_mib"] = Mib(Status("VmHWM"))
        });
        var trainer = run.Trainer;
        var timer = new UpdateTimer(() => run.Method?.Updates ?? 0);
        trainer.Hooks.Insert(0, timer.Start);
        trainer.Hooks.Add(timer.End);
        var stepTimes = new List<double>();
        var updateSteps = new HashSet<int>();
        var clock = Stopwatch.StartNew();
        double last = 0;
        trainer.Progress += p =>
        {
            double now = clock.Elapsed.TotalSeconds;
            stepTimes.Add(now - last);
            last = now;
            if (timer.Updated) { updateSteps.Add(p.Step - 1); timer.Updated = false; }
            if (p.Step % 20 == 0)
                Emit(new()
                {
                    ["event"] = "step",
                    ["step"] = p.Step,
                    ["of"] = p.StepsPerEpoch,
                    ["elapsed_s"] = now,
                    ["loss"] = p.RunningLoss,
                    ["acc"] = p.RunningAccuracy,
                    ["rss_mib"] = Mib(Status("VmRSS"))
                });
            if (maxSteps > 0 && p.Step >= maxSteps) throw new StopSteps();
        };
        timer.Report = (step, seconds, bytes, before, after) =>
            Emit(new()
            {
                ["event"] = "topology_update",
                ["step"] = step,
                ["seconds"] = seconds,
                ["allocated_mib"] = Mib(bytes),
                ["rss_before_mib"] = Mib(before),
                ["rss_after_mib"] = Mib(after),
                ["peak_rss_mib"] = Mib(Status("VmHWM"))
            });
        double epochSeconds; double testAcc; bool projected = false;
        try
        {
            var m = run.Run();
            epochSeconds = m[^1].EpochSeconds; testAcc = m[^1].TestAccuracy;
        }
        catch (StopSteps)
        {
            projected = true;
            epochSeconds = clock.Elapsed.TotalSeconds;
            testAcc = trainer.Evaluate(run.TestBatches).Accuracy;
        }
        var plain = stepTimes.Where((_, i) => !updateSteps.Contains(i)).OrderBy(x => x).ToArray();
        double median = plain.Length > 0 ? plain[plain.Length / 2] : double.NaN;
        int stepsPerEpoch = trainer.StepsPerEpoch;
        int expected = ExpectedUpdates(options, stepsPerEpoch);
        double missing = projected && timer.Seconds.Count > 0 ? timer.Seconds.Average() * Math.Max(0, expected - timer.Seconds.Count) : 0;
        Emit(new()
        {
            ["event"] = "summary",
            ["layers"] = string.Join('-', options.Layers),
            ["method"] = method,
            ["sparsity"] = options.Method.Sparsity,
            ["threads"] = threads,
            ["batch"] = options.BatchSize,
            ["steps_run"] = stepTimes.Count,
            ["steps_per_epoch"] = stepsPerEpoch,
            ["projected"] = projected,
            ["train_seconds"] = epochSeconds,
            ["median_step_ms"] = 1000 * median,
            ["updates"] = timer.Seconds.Count,
            ["update_seconds"] = timer.Seconds.ToArray(),
            ["projected_epoch_s"] = median * (stepsPerEpoch - timer.Seconds.Count) + timer.Seconds.Sum() + missing,
            ["test_acc"] = testAcc,
            ["peak_rss_mib"] = Mib(Status("VmHWM")),
            ["load_peak_rss_mib"] = Mib(loadPeak),
            ["rss_after_load_mib"] = Mib(rssStart),
            ["peak_reset_after_load"] = reset,
        });
        return 0;
    }

    private static int ExpectedUpdates(RunOptions o, int stepsPerEpoch)
    {
        long total = (long)stepsPerEpoch * o.Epochs, end = DropSchedule.EndStep(o.Method!.EndFraction, total);
        int n = 0;
        for (long s = 0; s < total; s++) if (DropSchedule.IsUpdateStep(s, o.Method.UpdateEvery, end)) n++;
        return o.Method.Method is "rigl" or "set" ? n : 0;
    }

    private sealed class StopSteps : Exception;

    /// <summary>Two hooks around the method's: the time, managed allocation and RSS of a topology update (RigL updates
    /// before the optimizer step, SET after it; an update is seen as a change of the method's update count).</summary>
    private sealed class UpdateTimer(Func<long> updates)
    {
        private long _t0, _bytes0, _rss0, _count0;
        public List<double> Seconds { get; } = [];
        public bool Updated { get; set; }
        public Action<long, double, long, long, long>? Report { get; set; }
        public IStepHook Start => new Hook(_ => Begin(), _ => Begin());
        public IStepHook End => new Hook(Finish, Finish);

        private void Begin()
        {
            _t0 = Stopwatch.GetTimestamp(); _bytes0 = GC.GetTotalAllocatedBytes(true); _rss0 = Status("VmRSS"); _count0 = updates();
        }

        private void Finish(StepContext c)
        {
            if (updates() == _count0) return;
            double s = Stopwatch.GetElapsedTime(_t0).TotalSeconds;
            Seconds.Add(s); Updated = true;
            Report?.Invoke(c.GlobalStep, s, GC.GetTotalAllocatedBytes(true) - _bytes0, _rss0, Status("VmRSS"));
        }

        private sealed class Hook(Action<StepContext> before, Action<StepContext> after) : IStepHook
        {
            public void BeforeOptimizerStep(StepContext context) => before(context);
            public void AfterOptimizerStep(StepContext context) => after(context);
        }
    }

    private static double Mib(long bytes) => Math.Round(bytes / 1048576.0, 1);

    private static void Emit(Dictionary<string, object?> o) => Console.WriteLine(JsonSerializer.Serialize(o));

    private static long Status(string field)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        foreach (var l in File.ReadLines(status))
            if (l.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(l[(field.Length + 1)..].Trim().Split(' ')[0], Inv) * 1024;
        return 0;
    }

    private static bool ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
