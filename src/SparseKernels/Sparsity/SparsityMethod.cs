// The sparse-training methods' common shape: each is an IStepHook on the Trainer (before the epoch, after backward
// and before the optimizer step, after it), built from SparsityOptions. Methods.Create picks one by name; the
// per-method files (StaticSparsity, Set, Rigl, Snip, Gmp, LotteryTicket, KdTicket) hold the rules, each citing its
// paper and reference code at its top and saying where it departs; README.md beside them has the fidelity table.
// Defaults (one set for every method, so that the methods are compared on the same layers): every layer sparse, as
// sparse_learning (TimDettmers/sparse_learning sparselearning/core.py Masking.add_module: every weight but biases)
// and Mocanu's SET prune every layer, with ERK (the RigL paper's distribution of choice; sparse_learning defaults to
// uniform 'constant'). The references that keep the output layer dense - RigL's MNIST MLP
// (rigl/mnist/mnist_train_eval.py custom_sparsities: layer3 dense, layer2 at 0.9 S, uniform) and open_lth's LeNet
// (models/mnist_lenet.py pruning_layers_to_ignore='fc.weight') - are `--last-dense` (RigL's 0.9 S for layer 2 is not
// offered).
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

/// <summary>Every setting of the sparsity methods (library API; the CLI's `train --method ...` fills it).</summary>
public sealed record SparsityOptions
{
    /// <summary>dense, static, set, rigl, snip, gmp, imp or kd-ticket.</summary>
    public string Method { get; init; } = "dense";
    /// <summary>
    /// Fraction of zero weights over the layers not kept dense (all layers when none is; RigL's convention: layers
    /// kept dense are left out, see LayerDensities); the final one for GMP; per IMP level see PruneFraction.
    /// </summary>
    public double Sparsity { get; init; }
    /// <summary>How the sparsity is spread over the layers (default <see cref="DensityDistribution.ErdosRenyiKernel"/>).</summary>
    public DensityDistribution Distribution { get; init; } = DensityDistribution.ErdosRenyiKernel;
    /// <summary>Keep the first layer dense (it is then left out of <see cref="Sparsity"/>).</summary>
    public bool FirstLayerDense { get; init; }
    /// <summary>Keep the output layer dense (it is then left out of <see cref="Sparsity"/>).</summary>
    public bool LastLayerDense { get; init; }
    /// <summary>RigL/SET: steps between mask updates (dT).</summary>
    public int UpdateEvery { get; init; } = 100;
    /// <summary>RigL/SET: last mask update at this fraction of training (T_end).</summary>
    public double EndFraction { get; init; } = 0.75;
    /// <summary>RigL/SET: initial drop fraction a.</summary>
    public double Alpha { get; init; } = 0.3;
    /// <summary>GMP: prune every n steps, from step GmpStartFraction x T to GmpEndFraction x T.</summary>
    public int GmpEvery { get; init; } = 100;
    /// <summary>GMP: the first pruning step as a fraction of training (default 0).</summary>
    public double GmpStartFraction { get; init; }
    /// <summary>GMP: the step from which the final sparsity holds, as a fraction of training (default 0.75).</summary>
    public double GmpEndFraction { get; init; } = 0.75;
    /// <summary>
    /// GMP/IMP: a layer whose density drops below this becomes CSR; above it stays dense with a mask. Defaults to
    /// the sparse/dense dispatch crossover (<see cref="SparseKernels.Ops.SparseMatmulDispatch"/>) at training batch
    /// sizes (N &gt; 64).
    /// </summary>
    public double CsrBelowDensity { get; init; } = DefaultCsrBelowDensity;

    /// <summary>1 - the dispatch table's crossover sparsity for N &gt; 64 (a stated default until measured on a GPU).</summary>
    public static double DefaultCsrBelowDensity => 1 - SparseKernels.Ops.SparseMatmulDispatch.CrossoverFor(int.MaxValue);
    /// <summary>IMP: pruning levels L (each trains Epochs, then prunes).</summary>
    public int ImpLevels { get; init; } = 5;
    /// <summary>IMP: fraction of the remaining weights pruned per level; 0 = reach Sparsity after ImpLevels levels.</summary>
    public double PruneFraction { get; init; }
    /// <summary>IMP: rewind the survivors to their values at this global step and resume each later level's LR schedule there, training T - k steps (0 = the original lottery ticket).</summary>
    public long RewindStep { get; init; }
    /// <summary>IMP / KD ticket: rewind at all (false: the pruned weights keep their trained values - fine-tuning, or fine-tuning + KD for a KD ticket).</summary>
    public bool Rewind { get; init; } = true;
    /// <summary>IMP: one magnitude threshold over all layers (true) or per layer under the distribution.</summary>
    public bool GlobalPruning { get; init; } = true;
    /// <summary>KD ticket: distillation temperature and weight of the soft-label term.</summary>
    public float KdTemperature { get; init; } = 4f;
    /// <summary>KD ticket: the weight alpha of the soft-label term ((1 - alpha) CE + alpha T^2 KL; default 0.9).</summary>
    public float KdAlpha { get; init; } = 0.9f;
    /// <summary>The seed of the method's randomness (random growth, masks; default 1).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>The method names <see cref="Method"/> accepts.</summary>
    public static IReadOnlyList<string> Methods { get; } = ["dense", "static", "set", "rigl", "snip", "gmp", "imp", "kd-ticket"];

    /// <summary>Whether the model starts dense (dense, SNIP, GMP, IMP, KD ticket) or with the sparse pattern (static, SET, RigL).</summary>
    public bool StartsDense => Method is "dense" or "snip" or "gmp" or "imp" or "kd-ticket";

    /// <summary>Whether layers go from dense to masked dense to CSR during training (GMP, IMP, KD ticket), so which are CSR is known only as it runs.</summary>
    public bool PrunesGradually => Method is "gmp" or "imp" or "kd-ticket";

    /// <summary>Checks the options (method name, sparsity in [0, 1), the periods and fractions in range); throws <see cref="ArgumentException"/> naming the property that is wrong.</summary>
    public void Validate()
    {
        if (!Methods.Contains(Method)) throw new ArgumentException($"Unknown method '{Method}'; use {string.Join(", ", Methods)}.");
        if (!(Sparsity >= 0 && Sparsity < 1)) throw new ArgumentException($"SparsityOptions.Sparsity {Sparsity} must lie in [0, 1).");
        if (Method != "dense" && Sparsity == 0) throw new ArgumentException($"SparsityOptions.Method {Method} needs SparsityOptions.Sparsity > 0.");
        if (UpdateEvery <= 0) throw new ArgumentException($"SparsityOptions.UpdateEvery is {UpdateEvery}; it must be positive.");
        if (GmpEvery <= 0) throw new ArgumentException($"SparsityOptions.GmpEvery is {GmpEvery}; it must be positive.");
        if (!(EndFraction > 0 && EndFraction <= 1)) throw new ArgumentException($"SparsityOptions.EndFraction {EndFraction} must lie in (0, 1].");
        if (!(Alpha > 0 && Alpha <= 1)) throw new ArgumentException($"SparsityOptions.Alpha {Alpha} must lie in (0, 1].");
        if (!(GmpStartFraction >= 0 && GmpStartFraction < GmpEndFraction && GmpEndFraction <= 1))
            throw new ArgumentException($"GMP start {GmpStartFraction} and end {GmpEndFraction} must satisfy 0 <= start < end <= 1.");
        if (ImpLevels <= 0) throw new ArgumentException($"SparsityOptions.ImpLevels is {ImpLevels}; it must be positive.");
        if (!(PruneFraction >= 0 && PruneFraction < 1)) throw new ArgumentException($"SparsityOptions.PruneFraction {PruneFraction} must lie in [0, 1).");
        if (RewindStep < 0) throw new ArgumentException($"SparsityOptions.RewindStep is {RewindStep}; it must be >= 0.");
        if (!(KdTemperature > 0)) throw new ArgumentException($"SparsityOptions.KdTemperature {KdTemperature} must be > 0.");
        if (!(KdAlpha >= 0 && KdAlpha <= 1)) throw new ArgumentException($"SparsityOptions.KdAlpha {KdAlpha} must lie in [0, 1].");
    }

    /// <summary>Exact nonzeros per layer of the final pattern.</summary>
    public long[] Counts(IReadOnlyList<int> sizes) => LayerDensities.Counts(sizes, Sparsity, Distribution, FirstLayerDense, LastLayerDense);

    /// <summary>Exact nonzeros per weight layer of the final pattern, for any layers' shapes (convolutions included).</summary>
    public long[] Counts(IReadOnlyList<LayerShape> shapes)
        => LayerDensities.Counts(shapes, Sparsity, Distribution, FirstLayerDense, LastLayerDense);
}

/// <summary>A sparsity method plugged into the training loop.</summary>
public abstract class SparsityMethod : IStatefulHook
{
    /// <summary>Validates <paramref name="options"/> (throwing <see cref="ArgumentException"/>) and keeps them.</summary>
    protected SparsityMethod(SparsityOptions options) { options.Validate(); Options = options; }
    /// <summary>The method's options.</summary>
    public SparsityOptions Options { get; }
    /// <summary>The method's name as in <see cref="SparsityOptions.Methods"/> (also written into checkpoints).</summary>
    public abstract string Name { get; }
    /// <summary>Mask updates done so far (RigL/SET/GMP/IMP/SNIP).</summary>
    public int Updates { get; protected set; }
    /// <summary>
    /// Checks, before any training, that every layer can reach the counts the method will ask of it on a model of
    /// weight-layer shapes <paramref name="shapes"/> (GMP and per-layer IMP); throws ArgumentException naming the layer
    /// and the numbers. TrainingRun calls it when it builds the run; GMP and IMP also call it from Attach.
    /// </summary>
    public virtual void CheckFeasible(IReadOnlyList<LayerShape> shapes) { }
    /// <summary>Called once the model exists (e.g. to capture activations for gradient growth).</summary>
    public virtual void Attach(Sequential model, Trainer trainer) { }
    /// <inheritdoc/>
    public virtual void BeforeOptimizerStep(StepContext context) { }
    /// <inheritdoc/>
    public virtual void AfterOptimizerStep(StepContext context) { }
    /// <summary>The mask of a masked-dense layer (GMP, IMP, KD ticket); null: full, CSR, or a method without masks.</summary>
    public virtual bool[]? Mask(int layer) => null;

    /// <summary>
    /// Writes what the method holds beyond the model, optimizer and RNG into a checkpoint (after its name; see
    /// Checkpoint), so that resume is exact: here Updates; GMP, IMP and KD tickets add their masks, levels, rewind
    /// weights and teacher.
    /// </summary>
    public virtual void WriteState(BinaryWriter w) => w.Write(Updates);

    /// <summary>Restores what <see cref="WriteState"/> wrote, for the checkpoint's model, before Attach; throws
    /// InvalidDataException saying what does not fit that model.</summary>
    public virtual void ReadState(BinaryReader r, Sequential model)
    {
        Updates = r.ReadInt32();
        if (Updates < 0) throw new InvalidDataException($"{Updates} mask updates.");
    }
}

/// <summary>Creates the hook of a sparsity method from its options.</summary>
public static class Methods
{
    /// <summary>The method's hook (null for dense and static, which need none).</summary>
    public static SparsityMethod? Create(SparsityOptions o) => o.Method switch
    {
        "dense" or "static" => null,
        "set" => new Set(o),
        "rigl" => new Rigl(o),
        "snip" => new Snip(o),
        "gmp" => new Gmp(o),
        "imp" => new LotteryTicket(o),
        "kd-ticket" => new KdTicket(o),
        _ => throw new ArgumentException($"Unknown method '{o.Method}'; use {string.Join(", ", SparsityOptions.Methods)}."),
    };

    /// <summary>Per-layer sparsity for Mlp.Create: the final pattern for static/SET/RigL, all dense for the others.</summary>
    public static double[] InitialSparsity(SparsityOptions o, IReadOnlyList<int> sizes) => InitialSparsity(o, LayerDensities.Shapes(sizes));

    /// <summary>Per-weight-layer sparsity for <see cref="Sequential.Create"/> (any layers' shapes).</summary>
    public static double[] InitialSparsity(SparsityOptions o, IReadOnlyList<LayerShape> shapes)
        => o.StartsDense ? new double[shapes.Count] : LayerDensities.ToSparsity(shapes, o.Counts(shapes));
}
