// Gradual magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune: exploring the efficacy of pruning for
// model compression"). Reference code: tensorflow/contrib/model_pruning (pruning.py: the polynomial sparsity
// function with exponent 3, begin_pruning_step / end_pruning_step / pruning_frequency, a per-layer magnitude
// threshold), as driven by the RigL paper's pruning baseline (google-research/rigl rigl/mnist/mnist_train_eval.py:
// prune_begin_step, prune_end_step, pruning_frequency, end_sparsity).
// The rule: dense start; every n steps from t0 to t_end the sparsity target is s_t = s_f + (s_i - s_f)(1 - (t - t0) /
// (t_end - t0))^3 (s_i = 0), and EVERY layer is taken to its count under the chosen distribution at s_t
// (LayerDensities, exact counts; uniform = model_pruning's "every layer at s_t"); each layer keeps its largest |w|.
// A pruned layer stays dense with a mask (pruned weights and their optimizer state zeroed after every step) until its
// density drops below SparsityOptions.CsrBelowDensity, then becomes CSR - by default the sparse/dense dispatch
// crossover (SparseMatmulDispatch). Pruning does not skip the optimizer step. Every layer's final count is checked
// when the run is built (CheckFeasible).
// Departs from the reference: no global selection (model_pruning thresholds per layer, as here; a single threshold
// over all layers is not offered); ERK/ER spread the per-step target like RigL's ERK masks (Zhu & Gupta: uniform).
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

/// <summary>Gradual magnitude pruning (Zhu and Gupta 2017): dense start, then every <see cref="SparsityOptions.GmpEvery"/> steps each layer is pruned to the cubic schedule's sparsity by magnitude, masked dense until its density falls below <see cref="SparsityOptions.CsrBelowDensity"/>, then CSR.</summary>
/// <param name="options">The method's options (<c>Method = "gmp"</c>); validated, throwing <see cref="ArgumentException"/>.</param>
public sealed class Gmp(SparsityOptions options) : SparsityMethod(options)
{
    private readonly Dictionary<int, bool[]> _masks = [];
    /// <inheritdoc/>
    public override string Name => "gmp";
    /// <summary>The sparsity target s_t of the last pruning step (0 before the first).</summary>
    public double CurrentSparsity { get; private set; }
    /// <summary>The mask of a masked-dense layer (null: full, or CSR), for tests.</summary>
    public override bool[]? Mask(int layer) => _masks.GetValueOrDefault(layer);

    /// <summary>s_t of the cubic schedule (s_i = 0) at step t; 0 before t0, s_f from t_end on.</summary>
    public static double SparsityAt(double finalSparsity, long t, long t0, long tEnd)
    {
        if (t < t0) return 0;
        if (t >= tEnd) return finalSparsity;
        double f = 1 - (double)(t - t0) / (tEnd - t0);
        return finalSparsity + (0 - finalSparsity) * f * f * f;
    }

    /// <summary>Every layer must reach its count at the final sparsity (s_t only grows, and the counts shrink with it).</summary>
    public override void CheckFeasible(IReadOnlyList<LayerShape> shapes)
        => LayerDensities.CheckFeasible(shapes, Options.Sparsity, Options.Distribution, Options.FirstLayerDense, Options.LastLayerDense,
            $"GMP at its final sparsity {Options.Sparsity}");

    /// <inheritdoc/>
    public override void Attach(Sequential model, Trainer trainer) => CheckFeasible(LayerDensities.Shapes(model.Spec));

    /// <summary>The first and last pruning steps (t0, t_end) for a run of <paramref name="totalSteps"/> steps, from <see cref="SparsityOptions.GmpStartFraction"/> and <see cref="SparsityOptions.GmpEndFraction"/>.</summary>
    public (long T0, long TEnd) Steps(long totalSteps) => ((long)Math.Floor(Options.GmpStartFraction * totalSteps), Math.Max(1, (long)Math.Floor(Options.GmpEndFraction * totalSteps)));

    /// <inheritdoc/>
    public override void BeforeOptimizerStep(StepContext c)
    {
        var (t0, tEnd) = Steps(c.TotalSteps);
        long t = c.GlobalStep;
        if (t < t0 || t > tEnd || (t - t0) % Options.GmpEvery != 0 && t != tEnd) return;
        double s = SparsityAt(Options.Sparsity, t, t0, tEnd);
        if (s <= CurrentSparsity || s == 0) return;
        var counts = LayerDensities.Counts(LayerDensities.Shapes(c.Model.Spec), s, Options.Distribution, Options.FirstLayerDense,
            Options.LastLayerDense);
        foreach (var l in c.Model.Layers)
        {
            long have = l.IsSparse ? l.Sparse!.Nnz : _masks.TryGetValue(l.Index, out var m0) ? m0.LongCount(x => x) : (long)l.In * l.Out;
            if (counts[l.Index] >= have) continue;
            var mask = LayerSurgery.PruneTo(c.Model.Backend, l, _masks.GetValueOrDefault(l.Index), counts[l.Index], Options.CsrBelowDensity);
            if (mask is null) _masks.Remove(l.Index); else _masks[l.Index] = mask;
        }
        CurrentSparsity = s;
        Updates++;
    }

    /// <inheritdoc/>
    public override void AfterOptimizerStep(StepContext c)
    {
        foreach (var (i, m) in _masks) LayerSurgery.ApplyMask(c.Model.Layers[i], m);
    }

    /// <summary>Checkpoint state: Updates, the sparsity reached (s_t of the last prune) and the masks of masked-dense layers.</summary>
    public override void WriteState(BinaryWriter w)
    {
        base.WriteState(w);
        w.Write(CurrentSparsity);
        LayerSurgery.WriteMasks(w, _masks);
    }

    /// <inheritdoc/>
    public override void ReadState(BinaryReader r, Sequential model)
    {
        base.ReadState(r, model);
        CurrentSparsity = r.ReadDouble();
        if (!(CurrentSparsity >= 0 && CurrentSparsity <= Options.Sparsity))
            throw new InvalidDataException($"the sparsity reached, {CurrentSparsity}, is not in [0, {Options.Sparsity}] (Sparsity).");
        _masks.Clear();
        foreach (var (i, m) in LayerSurgery.ReadMasks(r, model)) _masks[i] = m;
    }
}
