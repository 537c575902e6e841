// Gradual magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune"): dense start; every n steps from t0 to
// t_end the sparsity target is s_t = s_f + (s_i - s_f)(1 - (t - t0)/(t_end - t0))^3 (s_i = 0), spread over the
// layers by the chosen distribution (LayerDensities, exact counts); each layer keeps its largest |w|. A pruned layer
// stays dense with a mask (pruned weights and their optimizer state zeroed after every step) until its density
// drops below SparsityOptions.CsrBelowDensity, then becomes CSR - by default the sparse/dense dispatch crossover
// (SparseMatmulDispatch). Pruning does not skip the optimizer step.
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

public sealed class Gmp(SparsityOptions options) : SparsityMethod(options)
{
    private readonly Dictionary<int, bool[]> _masks = [];
    public override string Name => "gmp";
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
    public override void CheckFeasible(IReadOnlyList<int> sizes)
        => LayerDensities.CheckFeasible(sizes, Options.Sparsity, Options.Distribution, Options.FirstLayerDense, Options.LastLayerDense, $"GMP at its final sparsity {Options.Sparsity}");

    public override void Attach(Mlp model, Trainer trainer) => CheckFeasible(model.Sizes);

    public (long T0, long TEnd) Steps(long totalSteps) => ((long)Math.Floor(Options.GmpStartFraction * totalSteps), Math.Max(1, (long)Math.Floor(Options.GmpEndFraction * totalSteps)));

    public override void BeforeOptimizerStep(StepContext c)
    {
        var (t0, tEnd) = Steps(c.TotalSteps);
        long t = c.GlobalStep;
        if (t < t0 || t > tEnd || (t - t0) % Options.GmpEvery != 0 && t != tEnd) return;
        double s = SparsityAt(Options.Sparsity, t, t0, tEnd);
        if (s <= CurrentSparsity || s == 0) return;
        var counts = LayerDensities.Counts(c.Model.Sizes, s, Options.Distribution, Options.FirstLayerDense, Options.LastLayerDense);
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

    public override void ReadState(BinaryReader r, Mlp model)
    {
        base.ReadState(r, model);
        CurrentSparsity = r.ReadDouble();
        if (!(CurrentSparsity >= 0 && CurrentSparsity <= Options.Sparsity))
            throw new InvalidDataException($"the sparsity reached, {CurrentSparsity}, is not in [0, {Options.Sparsity}] (--sparsity).");
        _masks.Clear();
        foreach (var (i, m) in LayerSurgery.ReadMasks(r, model)) _masks[i] = m;
    }
}
