using System.Globalization;
using System.Text.Json;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Training;

namespace SparseKernels.Cli.Results;

/// <summary>
/// <c>train results --import KEY=FOLDER</c>: adds to the runs file a finished run that <c>train</c> made elsewhere (for
/// runs too long for one sitting of the grid, e.g. bench/cnn/accuracy.sh's LeNet-5 runs, trained in resumed slices).
/// KEY is the grid's <c>model|method|distribution|sparsity|seed|epochs</c>; FOLDER is the run's output folder. The run
/// must be the configuration the key names with the grid's options: the importer builds that configuration's model and
/// refuses the folder when its metrics.jsonl does not have every epoch 1..epochs or when the nonzeros per layer it
/// recorded differ from the model's (wrong method, sparsity, distribution or model). The row keeps the test accuracy
/// of the last epoch, the nonzeros and the state bytes; its time is the sum of the recorded epoch times, not
/// comparable with the grid's (sliced runs restart the clock), so the table shows '-' for it; <c>Source</c> names the folder.
/// </summary>
internal static class RunImport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static RunResult Read(string spec, ImageDataset train, ImageDataset test, int impLevels, CpuTensorBackend cpu)
    {
        int eq = spec.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == spec.Length - 1)
            throw new ArgumentException($"--import '{spec}': expected KEY=FOLDER with KEY model|method|distribution|sparsity|seed|epochs.");
        string key = spec[..eq], folder = spec[(eq + 1)..];
        var k = key.Split('|');
        if (k.Length != 6)
            throw new ArgumentException($"--import '{spec}': the key '{key}' must be model|method|distribution|sparsity|seed|epochs.");
        if (!double.TryParse(k[3], NumberStyles.Float, Inv, out double sparsity)
            || !ulong.TryParse(k[4], NumberStyles.None, Inv, out ulong seed)
            || !int.TryParse(k[5], NumberStyles.None, Inv, out int epochs) || epochs <= 0)
            throw new ArgumentException($"--import '{spec}': sparsity '{k[3]}', seed '{k[4]}' or epochs '{k[5]}' is not a number.");
        string file = Path.Combine(folder, TrainingRun.JsonFile);
        if (!File.Exists(file)) throw new FileNotFoundException($"--import '{spec}': {file} does not exist.");
        var lines = File.ReadAllLines(file).Where(l => l.Length > 0).ToArray();
        var metrics = new List<(int Epoch, double Acc, double Seconds, long[] Nnz)>();
        for (int i = 0; i < lines.Length; i++)
        {
            try
            {
                using var doc = JsonDocument.Parse(lines[i]);
                var r = doc.RootElement;
                metrics.Add((r.GetProperty("epoch").GetInt32(), r.GetProperty("test_acc").GetDouble(), r.GetProperty("epoch_s").GetDouble(),
                    r.GetProperty("nnz_per_layer").EnumerateArray().Select(x => x.GetInt64()).ToArray()));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"--import: {file} line {i + 1} is not an epoch's metrics: {e.Message}");
            }
        }
        if (metrics.Count != epochs || metrics.Select((m, i) => m.Epoch != i + 1).Any(bad => bad))
            throw new InvalidDataException($"--import: {file} has epochs [{string.Join(',', metrics.Select(m => m.Epoch))}]; a finished "
                + $"{epochs}-epoch run has 1..{epochs}.");
        var g = new Grid([k[0]], [k[1]], [sparsity], [k[2]], 1, epochs, impLevels, 0);
        using var run = new TrainingRun(SingleRun.Options(k[0], k[1], k[2], sparsity, seed, g), cpu, train, test);
        var (weights, nnz, state) = SingleRun.Measure(run);
        long[] built = run.Model.Layers
            .Select(l => l.Sparse is { } s ? (long)s.Nnz : l.Weight.Value.ToArray().LongCount(x => x != 0)).ToArray();
        long[] recorded = metrics[^1].Nnz;
        if (!built.SequenceEqual(recorded))
            throw new InvalidDataException($"--import '{spec}': the run in {folder} ended with nonzeros per layer "
                + $"[{string.Join('/', recorded)}], "
                + $"but the configuration {key} has [{string.Join('/', built)}]: the folder holds another configuration.");
        return new RunResult(k[0], k[1], k[2], sparsity, seed, epochs, metrics[^1].Acc, metrics.Sum(m => m.Seconds), state, 0, nnz,
            weights, "")
        { Source = folder };
    }
}
