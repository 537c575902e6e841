// Zapping (Frati et al. 2023, "Reset It and Forget It: Relearning Last-Layer Weights Improves Continual and
// Transfer Learning"). Reference code: uvm-neurobotics-lab/higherANML, anml.py `lobotomize(layer, class_num)`, which
// `train` calls before each task's inner loop: torch.nn.init.kaiming_normal_ on the output layer's rows of the
// classes about to be learned; the bias and the optimizer state are left alone.
//
// The rule here: at the START of every epoch e > 0 with e % n == 0 (Trainer hook BeforeEpoch, before the epoch's
// first forward pass), re-initialise the output layer's weights - all of them, or the rows of k classes drawn at
// random. Never after an epoch's last step, so the reported test accuracy, the saved model and the checkpoint never
// carry a freshly random output layer. As in the reference the bias and the optimizer state (momentum, Adam moments)
// of the zapped rows are kept. A layer that is CSR keeps its pattern; a masked-dense layer (GMP/IMP) keeps its mask:
// only present positions are re-drawn, pruned ones stay 0. The classes are drawn from a generator seeded by the run's
// seed and the epoch (stateless: resume is exact).
//
// Departs from the reference: the new values come from the run's initializer (--init) with the layer's fan-in n_in;
// the reference always uses Kaiming normal, and because it calls kaiming_normal_ on weight[rows].unsqueeze(0), a
// (1, k, n_in) tensor, its fan-in is k x n_in when k > 1 classes are zapped at once (std shrinks by sqrt(k)). We keep
// the per-unit fan-in so that a zapped row has the scale of a freshly initialised one whatever k is.
// With IMP / KD tickets, a level start that rewinds overwrites the zap of that epoch (rewinding restores the output
// layer too).
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

/// <summary>Zapping (Frati et al. 2023): a step hook that re-initialises the output layer's weights (all rows, or k random classes) at the start of every n-th epoch; biases and optimizer state are kept.</summary>
public sealed class Zapping : IStepHook
{
    /// <param name="every">n: zap at the start of epochs e &gt; 0 with e % n == 0.</param>
    /// <param name="classes">Output rows re-initialised each time (k random classes); 0 = all.</param>
    /// <param name="init">The initializer that draws the new values.</param>
    /// <param name="seed">The run's seed (the classes and values depend on it and on the epoch only).</param>
    /// <param name="mask">The mask of a masked-dense layer by index (SparsityMethod.Mask), or null when no layer has one.</param>
    public Zapping(int every, int classes, IWeightInitializer init, ulong seed, Func<int, bool[]?>? mask = null)
    {
        if (every <= 0) throw new ArgumentOutOfRangeException(nameof(every), every, "The zapping period must be positive.");
        if (classes < 0) throw new ArgumentOutOfRangeException(nameof(classes), classes, "The classes zapped must be >= 1 (0 = all classes).");
        Every = every; Classes = classes; Init = init; Seed = seed; MaskOf = mask;
    }

    /// <summary>n: zaps happen at the start of epochs e &gt; 0 with e % n == 0.</summary>
    public int Every { get; }
    /// <summary>Classes (output rows) re-initialised each time; 0 = all.</summary>
    public int Classes { get; }
    /// <summary>The initializer that draws the new values.</summary>
    public IWeightInitializer Init { get; }
    /// <summary>The run's seed; the zapped classes and values depend on it and on the epoch only.</summary>
    public ulong Seed { get; }
    /// <summary>The mask of a masked-dense layer by index (only present positions are re-drawn), or null.</summary>
    public Func<int, bool[]?>? MaskOf { get; }
    /// <summary>The number of zaps done so far.</summary>
    public int Zaps { get; private set; }
    /// <summary>The output rows re-initialised by the last zap.</summary>
    public int[] LastRows { get; private set; } = [];

    /// <summary>Parses --zap: "all" or "k:N".</summary>
    public static int ParseClasses(string text)
    {
        if (text.Equals("all", StringComparison.OrdinalIgnoreCase)) return 0;
        if (text.StartsWith("k:", StringComparison.OrdinalIgnoreCase) && int.TryParse(text[2..], out int k) && k > 0) return k;
        throw new ArgumentException($"Zap '{text}': use all or k:N with N >= 1.");
    }

    /// <summary>Whether epoch <paramref name="epoch"/> (0-based) starts with a zap: e &gt; 0 and e % n == 0.</summary>
    public bool ZapsAt(int epoch) => epoch > 0 && epoch % Every == 0;

    /// <inheritdoc/>
    public void BeforeEpoch(Sequential model, Optimizer optimizer, int epoch)
    {
        if (ZapsAt(epoch)) Zap(model, epoch);
    }

    /// <summary>Re-initialises the output layer's rows (all, or Classes random ones); bias and optimizer state kept.</summary>
    public void Zap(Sequential model, int epoch)
    {
        var layer = model.Layers[^1];
        if (Classes > layer.Out) throw new ArgumentOutOfRangeException(nameof(model), Classes, $"Zapping {Classes} classes: the model's output layer has only {layer.Out} classes.");
        var rng = new TrainRng(LayerSurgery.GrowSeed(Seed, layer.Index, epoch));
        var rows = Enumerable.Range(0, layer.Out).ToArray();
        if (Classes > 0) { rng.Shuffle(rows); rows = rows[..Classes]; Array.Sort(rows); }
        var values = layer.Weight.Value.ToArray();
        var pattern = layer.Sparse?.ToHost();
        var mask = pattern is null ? MaskOf?.Invoke(layer.Index) : null;
        var fresh = (float[])values.Clone();
        Init.Initialize(fresh, new LayerInitContext(layer.In, layer.Out, pattern), rng);
        foreach (int r in rows)
        {
            int a = pattern?.RowOffsets[r] ?? r * layer.In, b = pattern?.RowOffsets[r + 1] ?? (r + 1) * layer.In;
            for (int i = a; i < b; i++) if (mask is null || mask[i]) values[i] = fresh[i];
        }
        var t = layer.Weight.Value;
        if (t.IsOnDevice) t.DeviceData.CopyFrom(values);
        else if (!ReferenceEquals(t.HostData, values)) values.CopyTo(t.HostData, 0);
        LastRows = rows;
        Zaps++;
    }
}
