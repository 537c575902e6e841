// Zapping (Frati et al. 2023, "Reset It and Forget It: Relearning Last-Layer Weights Improves Continual and
// Transfer Learning"): every n epochs, at the end of the epoch's last step, re-initialise the output layer's weights
// - all of them, or the rows of k classes drawn at random - with the run's initializer, and zero their optimizer
// state. The classes are drawn from a generator seeded by the run's seed and the epoch (stateless: resume is exact).
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

public sealed class Zapping : IStepHook
{
    public Zapping(int every, int classes, IWeightInitializer init, ulong seed)
    {
        if (every <= 0) throw new ArgumentOutOfRangeException(nameof(every), every, "--zap-every must be positive.");
        if (classes < 0) throw new ArgumentOutOfRangeException(nameof(classes), classes, "--zap k:N needs N >= 1 (0 = all classes).");
        Every = every; Classes = classes; Init = init; Seed = seed;
    }

    public int Every { get; }
    /// <summary>Classes (output rows) re-initialised each time; 0 = all.</summary>
    public int Classes { get; }
    public IWeightInitializer Init { get; }
    public ulong Seed { get; }
    public int Zaps { get; private set; }
    public int[] LastRows { get; private set; } = [];

    /// <summary>Parses --zap: "all" or "k:N".</summary>
    public static int ParseClasses(string text)
    {
        if (text.Equals("all", StringComparison.OrdinalIgnoreCase)) return 0;
        if (text.StartsWith("k:", StringComparison.OrdinalIgnoreCase) && int.TryParse(text[2..], out int k) && k > 0) return k;
        throw new ArgumentException($"--zap '{text}': use all or k:N with N >= 1.");
    }

    public void AfterOptimizerStep(StepContext c)
    {
        if (c.Step != c.StepsPerEpoch - 1 || (c.Epoch + 1) % Every != 0) return;
        Zap(c.Model, c.Epoch);
    }

    /// <summary>Re-initialises the output layer's rows (all, or Classes random ones) and zeroes their state.</summary>
    public void Zap(Mlp model, int epoch)
    {
        var layer = model.Layers[^1];
        if (Classes > layer.Out) throw new ArgumentException($"--zap k:{Classes}: the output layer has only {layer.Out} classes.");
        var rng = new TrainRng(LayerSurgery.GrowSeed(Seed, layer.Index, epoch));
        var rows = Enumerable.Range(0, layer.Out).ToArray();
        if (Classes > 0) { rng.Shuffle(rows); rows = rows[..Classes]; Array.Sort(rows); }
        var values = layer.Weight.Value.ToArray();
        var pattern = layer.Sparse?.ToHost();
        var fresh = (float[])values.Clone();
        Init.Initialize(fresh, new LayerInitContext(layer.In, layer.Out, pattern), rng);
        var states = layer.Weight.State.Select(s => s.ToArray()).ToArray();
        foreach (int r in rows)
        {
            int a = pattern?.RowOffsets[r] ?? r * layer.In, b = pattern?.RowOffsets[r + 1] ?? (r + 1) * layer.In;
            for (int i = a; i < b; i++) { values[i] = fresh[i]; foreach (var s in states) s[i] = 0; }
        }
        Write(layer.Weight.Value, values);
        for (int s = 0; s < states.Length; s++) Write(layer.Weight.State[s], states[s]);
        LastRows = rows;
        Zaps++;
    }

    private static void Write(Tensors.DenseTensor t, float[] data)
    {
        if (t.IsOnDevice) t.DeviceData.CopyFrom(data);
        else if (!ReferenceEquals(t.HostData, data)) data.CopyTo(t.HostData, 0);
    }
}
