using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Sparsity;
using SparseKernels.Training;

namespace SparseKernels.Cli.Results;

/// <summary>
/// The child side of the grid (<c>train results --one KEY</c>, hidden): trains one configuration in this process and
/// prints its <see cref="RunResult"/> as one line <c>RESULT {json}</c> on standard output, with this process's memory.
/// </summary>
internal static class SingleRun
{
    /// <summary>What starts the result line among the run's output.</summary>
    public const string ResultPrefix = "RESULT ";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Runs the configuration <paramref name="key"/> (<see cref="RunsFile.Key(string, string, string, double, ulong, int)"/>) and prints its result; returns the exit code.</summary>
    public static int Execute(string key, string dataFolder, int impLevels, int trainLimit, CpuTensorBackend cpu)
    {
        var (train, test) = FashionMnist.Load(dataFolder);
        var k = key.Split('|');
        if (k.Length != 6) throw new ArgumentException($"--one '{key}': expected model|method|distribution|sparsity|seed|epochs.");
        var g1 = new Grid([k[0]], [k[1]], [double.Parse(k[3], Inv)], [k[2]], 1, int.Parse(k[5], Inv), impLevels, trainLimit);
        // The peak of loading the data (decompression buffers) must not count as the run's: collect, then reset
        // the kernel's high-water mark (VmHWM) to the current RSS before the run starts.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        bool reset = ProcessMemory.ResetPeak();
        long before = ProcessMemory.Read("VmRSS");
        var r = Train(k[0], k[1], k[2], double.Parse(k[3], Inv), ulong.Parse(k[4], Inv), g1, train, test, cpu)
            with
        { RssBeforeBytes = before, PeakRssBytes = ProcessMemory.Read("VmHWM"), PeakFromRunStart = reset };
        Console.Out.WriteLine(ResultPrefix + JsonSerializer.Serialize(r));
        return 0;
    }

    private static RunResult Train(string model, string method, string dist, double sparsity, ulong seed, Grid g, ImageDataset train,
        ImageDataset test, CpuTensorBackend cpu)
    {
        var clock = Stopwatch.StartNew();
        using var run = new TrainingRun(Options(model, method, dist, sparsity, seed, g), cpu, train, test);
        var m = run.Run();
        double seconds = clock.Elapsed.TotalSeconds;
        var (weights, nnz, state) = Measure(run);
        string levels = run.Method is LotteryTicket lt
            ? string.Join(" ", lt.Levels.Select(x => $"{x.Sparsity:P0}:{x.TestAccuracy:P1}")) : "";
        return new RunResult(model, method, dist, sparsity, seed, g.Epochs, m[^1].TestAccuracy, seconds, state,
            Math.Max(m.Max(x => x.PeakDeviceBytes), 0), nnz, weights, levels);
    }

    /// <summary>The run options of one grid configuration (also what <see cref="RunImport"/> rebuilds an imported run's model
    /// with).</summary>
    public static RunOptions Options(string model, string method, string dist, double sparsity, ulong seed, Grid g)
    {
        // A model is an MLP's sizes (784-300-100-10) or a model spec / preset (lenet5, vgg-tiny: CNN rows; their first
        // layer stays dense, as train --model does for a CNN).
        bool mlp = model.Split('-').All(x => int.TryParse(x, NumberStyles.None, Inv, out _));
        var spec = mlp ? ModelSpec.Mlp(model.Split('-').Select(x => int.Parse(x, Inv)).ToArray()) : ModelSpec.Parse(model);
        return new RunOptions
        {
            Layers = spec.MlpSizes ?? [784, 10],
            Model = mlp ? null : model,
            Epochs = g.Epochs,
            Seed = seed,
            TrainLimit = g.TrainLimit,
            Method = new SparsityOptions
            {
                // IMP / KD tickets prune with one global threshold: the distribution does not apply ("global").
                Method = method,
                Sparsity = sparsity,
                Distribution = dist is "-" or "global" ? DensityDistribution.Uniform : LayerDensities.Parse(dist),
                ImpLevels = g.ImpLevels,
                GlobalPruning = true,
                FirstLayerDense = spec.Layers.Any(l => l.Kind == LayerKind.Conv2d),
            },
        };
    }

    /// <summary>A model's weight count (dense), its nonzeros and its state bytes as the table counts them.</summary>
    public static (long Weights, long Nonzeros, long StateBytes) Measure(TrainingRun run)
    {
        long weights = run.Model.Layers.Sum(l => (long)l.In * l.Out);
        long nnz = 0, state = 0;
        int slots = run.Optimizer.StateSlots;
        foreach (var l in run.Model.Layers)
        {
            if (l.Sparse is { } sw)
            {
                nnz += sw.Nnz;
                // values, columns, the transpose's values and columns, the permutation, both row-offset arrays, optimizer state
                state += sw.Nnz * (5L + slots) * 4 + (l.Out + 1 + l.In + 1) * 4L;
            }
            else
            {
                var v = l.Weight.Value.ToArray();
                nnz += v.LongCount(x => x != 0);
                state += (long)l.In * l.Out * (1 + slots) * 4;
            }
            state += l.Out * (1 + slots) * 4L;
        }
        return (weights, nnz, state);
    }
}
