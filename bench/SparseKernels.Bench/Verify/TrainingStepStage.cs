using System.Diagnostics;
using System.Globalization;
using System.Text;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Runtime;
using SparseKernels.Sparsity;
using SparseKernels.Training;

namespace SparseKernels.Bench.Verify;

/// <summary>
/// The training-step profile (the <c>training-step</c> stage of bench/gpu/verify.sh): a wide MLP (784-4096-4096-4096-10, batch 1024; rehearsal: 64-48-48-48-10,
/// batch 32) on the device, dense against 90 % sparse (RigL, ERK), on synthetic data (step time does not depend on the
/// values). Per configuration: warm-up steps, then timed steps (the device synchronised at every step boundary; RigL's
/// mask-update steps timed apart), then profiled steps whose device time is split by backend op
/// (<see cref="DeviceOpProfiler"/>), and the bytes of weights (with CSR indices, the transposed copy and its
/// permutation) + gradients + optimizer state, read off the model's tensors just before an optimizer step.
/// Writes training-step.md and training-step.csv into the output folder.
/// </summary>
public static class TrainingStepStage
{
    public const string Name = "training-step";

    private sealed record Config(string Label, SparsityOptions? Method);

    private sealed record Result(string Label, double StepMs, double UpdateStepMs, int UpdateSteps, long WeightBytes, long GradBytes,
                                 long StateBytes, long PeakInUseBytes, IReadOnlyDictionary<string, (double Ms, int Calls)> Ops, int ProfiledSteps, double ProfiledWallMs);

    /// <summary>The stage as <see cref="Stages"/> runs it: the report files and a few summary lines.</summary>
    public static StageResult RunStage(VerifyContext context)
    {
        var result = new StageResult();
        var results = Measure(context.Device, context.OutDir, context.Rehearse, Console.Out);
        var dense = results[0];
        long denseMem = dense.WeightBytes + dense.GradBytes + dense.StateBytes;
        foreach (var r in results.Skip(1))
        {
            long mem = r.WeightBytes + r.GradBytes + r.StateBytes;
            result.SummaryLines.Add($"- {r.Label}: step {VerifyContext.F(r.StepMs, "F3")} ms vs dense {VerifyContext.F(dense.StepMs, "F3")} ms "
                + $"({VerifyContext.F(dense.StepMs / r.StepMs)}x; target > 1x); weights+grads+state {VerifyContext.F((double)mem / denseMem, "F3")}x dense "
                + $"(target < 0.3x); mask-update step {VerifyContext.F(r.UpdateStepMs, "F3")} ms");
        }
        return result;
    }

    private static List<Result> Measure(IDevice device, string outDir, bool rehearse, TextWriter log)
    {
        int[] layers = rehearse ? [64, 48, 48, 48, 10] : [784, 4096, 4096, 4096, 10];
        int batch = rehearse ? 32 : 1024, warm = 2, timed = rehearse ? 4 : 12, profiled = rehearse ? 2 : 4;
        int steps = warm + timed + profiled;
        var rng = new Random(11);
        int features = layers[0], classes = layers[^1], count = steps * batch;
        var images = new float[(long)count * features];
        for (long i = 0; i < images.LongLength; i++) images[i] = (float)rng.NextDouble();
        var labels = Enumerable.Range(0, count).Select(_ => rng.Next(classes)).ToArray();
        var data = new ImageDataset(images, labels, features, classes, "synthetic");
        var test = data.Take(batch);

        Config[] configs =
        [
            new("dense", null),
            new("rigl 90 % erk", new SparsityOptions { Method = "rigl", Sparsity = 0.9, Distribution = DensityDistribution.ErdosRenyiKernel, UpdateEvery = 4 }),
        ];
        var results = new List<Result>();
        foreach (var c in configs)
        {
            log.WriteLine($"{Name}: {c.Label}, layers {string.Join("-", layers)}, batch {batch}, {warm} warm-up + {timed} timed + {profiled} profiled steps");
            results.Add(RunOne(device, c, layers, batch, warm, timed, profiled, data, test));
            var r = results[^1];
            log.WriteLine($"{Name}: {c.Label}: {r.StepMs:F3} ms/step; weights+grads+state {Mib(r.WeightBytes + r.GradBytes + r.StateBytes)}");
        }
        Directory.CreateDirectory(outDir);
        WriteAtomically(Path.Combine(outDir, "training-step.md"), Markdown(device, layers, batch, results));
        WriteAtomically(Path.Combine(outDir, "training-step.csv"), Csv(results));
        return results;
    }

    private static Result RunOne(IDevice device, Config c, int[] layers, int batch, int warm, int timed, int profiled, ImageDataset data, ImageDataset test)
    {
        using var backend = new DeviceTensorBackend(device);
        var options = new RunOptions
        {
            Layers = layers,
            Sparsity = [0],
            Epochs = 1,
            BatchSize = batch,
            LearningRate = 0.01f,
            Optimizer = "sgd",
            Schedule = "constant",
            Seed = 3,
            Method = c.Method,
        };
        using var run = new TrainingRun(options, backend, data, test);
        var pool = device switch { CudaDevice d => d.MemoryPool, EmulatedDevice e => e.MemoryPool, _ => null };
        using var profiler = new DeviceOpProfiler(device);
        var hook = new StepHook(backend, profiler, run.Method, warm, timed, profiled, pool);
        // After the method's hook: a RigL update step has then done its surgery, and the timing covers it.
        run.Trainer.Hooks.Add(hook);
        run.Trainer.RunEpoch(0);
        var ops = hook.Ops ?? throw new InvalidOperationException($"{Name}: the profiled steps did not run.");
        double normal = Median(hook.NormalSteps), update = Median(hook.UpdateSteps);
        return new Result(c.Label, normal, update, hook.UpdateSteps.Count, hook.WeightBytes, hook.GradBytes, hook.StateBytes,
                          pool?.Statistics.PeakInUseBytes ?? 0, ops, hook.ProfiledSteps.Count, hook.ProfiledSteps.Sum());
    }

    private sealed class StepHook(DeviceTensorBackend backend, DeviceOpProfiler profiler, SparsityMethod? method, int warm, int timed,
                                  int profiled, DeviceMemoryPool? pool) : IStepHook
    {
        private long _last = -1;
        private int _updatesBefore;
        public List<double> NormalSteps { get; } = [];
        public List<double> UpdateSteps { get; } = [];
        public List<double> ProfiledSteps { get; } = [];
        public long WeightBytes { get; private set; }
        public long GradBytes { get; private set; }
        public long StateBytes { get; private set; }
        public IReadOnlyDictionary<string, (double Ms, int Calls)>? Ops { get; private set; }

        public void BeforeOptimizerStep(StepContext context)
        {
            // Optimizer state exists from the second step on; gradients are present now.
            if (context.Step != warm - 1) return;
            long w = 0, g = 0, s = 0;
            foreach (var l in context.Model.Layers)
            {
                if (l.Sparse is { } sw)
                    w += CsrBytes(sw.Matrix) + CsrBytes(sw.Transposed) + (long)sw.Nnz * sizeof(int);   // + the permutation
                else w += l.Weight.Value.Length * sizeof(float);
                w += l.Bias.Value.Length * sizeof(float);
                foreach (var p in new[] { l.Weight, l.Bias })
                {
                    g += (p.Grad?.Length ?? 0) * sizeof(float);
                    s += p.State.Sum(t => t.Length) * sizeof(float);
                }
            }
            WeightBytes = w; GradBytes = g; StateBytes = s;
        }

        public void AfterOptimizerStep(StepContext context)
        {
            backend.Device.Synchronize();
            long now = Stopwatch.GetTimestamp();
            int updates = method?.Updates ?? 0;
            if (_last >= 0 && context.Step >= warm)
            {
                double ms = Stopwatch.GetElapsedTime(_last, now).TotalMilliseconds;
                if (context.Step >= warm + timed) ProfiledSteps.Add(ms);
                else if (updates != _updatesBefore) UpdateSteps.Add(ms);
                else NormalSteps.Add(ms);
            }
            if (context.Step == warm - 1) pool?.ResetPeak();
            if (context.Step == warm + timed - 1) { profiler.Collect(); backend.Profiler = profiler; }
            if (context.Step == warm + timed + profiled - 1) { backend.Profiler = null; Ops = profiler.Collect(); }
            _updatesBefore = updates;
            _last = Stopwatch.GetTimestamp();
        }
    }

    private static long CsrBytes(SparseKernels.Tensors.CsrMatrix m) => (long)m.Nnz * (sizeof(float) + sizeof(int)) + (m.Rows + 1L) * sizeof(int);

    private static double Median(List<double> xs)
    {
        if (xs.Count == 0) return double.NaN;
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MiB";

    private static string Markdown(IDevice device, int[] layers, int batch, List<Result> results)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"# Training step: {string.Join("-", layers)}, batch {batch}, SGD momentum");
        sb.AppendLine();
        sb.AppendLine(inv, $"Device: {device.Kind} '{device.Name}'. Synthetic data. Step = data gather, forward, loss, backward, hooks, optimizer; the device is synchronised at each step boundary; median over the timed steps. RigL's mask-update steps (drop/grow, no weight update) are timed apart.");
        sb.AppendLine();
        sb.AppendLine("| model | step (ms) | vs dense | mask-update step (ms) | weights (MiB) | gradients (MiB) | optimizer state (MiB) | w+g+state vs dense | peak in use (MiB) |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var dense = results[0];
        long denseMem = dense.WeightBytes + dense.GradBytes + dense.StateBytes;
        foreach (var r in results)
        {
            long mem = r.WeightBytes + r.GradBytes + r.StateBytes;
            sb.AppendLine(inv, $"| {r.Label} | {r.StepMs:F3} | {dense.StepMs / r.StepMs:F2}x faster | {(r.UpdateSteps > 0 ? r.UpdateStepMs.ToString("F3", inv) + $" ({r.UpdateSteps})" : "-")} | {r.WeightBytes / 1048576.0:F3} | {r.GradBytes / 1048576.0:F3} | {r.StateBytes / 1048576.0:F3} | {(double)mem / denseMem:F3}x | {r.PeakInUseBytes / 1048576.0:F3} |");
        }
        sb.AppendLine();
        sb.AppendLine("Targets: the 90 % sparse step faster than dense; weights + gradients + optimizer state < 0.3x dense.");
        foreach (var r in results)
        {
            sb.AppendLine();
            sb.AppendLine(inv, $"## Device time per op: {r.Label} ({r.ProfiledSteps} profiled steps, {r.ProfiledWallMs / Math.Max(1, r.ProfiledSteps):F3} ms wall per step)");
            sb.AppendLine();
            sb.AppendLine("| op | ms per step | calls per step | share of the step's wall time |");
            sb.AppendLine("| --- | ---: | ---: | ---: |");
            double wall = r.ProfiledWallMs / Math.Max(1, r.ProfiledSteps), total = 0;
            foreach (var (op, (ms, calls)) in r.Ops.OrderByDescending(kv => kv.Value.Ms))
            {
                double per = ms / Math.Max(1, r.ProfiledSteps);
                total += per;
                sb.AppendLine(inv, $"| {op} | {per:F3} | {(double)calls / Math.Max(1, r.ProfiledSteps):F1} | {per / wall:P1} |");
            }
            sb.AppendLine(inv, $"| (outside the backend's ops: host work, topology, gaps) | {wall - total:F3} | | {(wall - total) / wall:P1} |");
        }
        return sb.ToString();
    }

    private static string Csv(List<Result> results)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("model,step_ms,update_step_ms,update_steps,weight_bytes,grad_bytes,state_bytes,peak_in_use_bytes\n");
        foreach (var r in results)
            sb.AppendLine(inv, $"{r.Label},{r.StepMs:F4},{r.UpdateStepMs:F4},{r.UpdateSteps},{r.WeightBytes},{r.GradBytes},{r.StateBytes},{r.PeakInUseBytes}");
        return sb.ToString();
    }

    private static void WriteAtomically(string path, string text)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
