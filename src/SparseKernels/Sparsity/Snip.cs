// SNIP (Lee et al. 2019, "SNIP: Single-shot Network Pruning based on Connection Sensitivity"), as the RigL paper's
// SNIP baseline: google-research/rigl rigl/sparse_optimizers.py SparseSnipOptimizer (apply_gradients: snip_fn once,
// in place of that step's optimizer update). The rule: one shot at step 0, before any update. The model starts dense;
// on the first batch each weight's score is |g . w| (g the gradient of the loss); each layer keeps its top-k scores,
// k the exact count of the chosen layer densities (LayerDensities: uniform, ER or ERK; RigL's snip_fn keeps
// n - floor(S_l n) per layer), ties to the lower position; kept weights keep their initial values; the layer becomes
// CSR (full layers stay dense). The step's weight update is skipped, so training starts from the pruned initialisation.
// Departs from the SNIP paper (deliberately, as RigL's baseline): the paper and its code (namhoonlee/snip-public) take
// ONE global top-k of the normalised scores over all layers; here the selection is per layer under the distribution,
// so every layer keeps its ERK/uniform count (a global top-k on an MLP can empty a layer). Global SNIP is not offered.
// Departs from RigL's snip_fn: it keeps n - floor(S_l n) weights, we keep floor((1 - S_l) n) (at most one fewer).
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

/// <summary>SNIP (Lee et al. 2019, as RigL's baseline): one shot at step 0, each layer keeps the weights with the largest |g . w| on the first batch, at its count under the layer distribution.</summary>
/// <param name="options">The method's options (<c>Method = "snip"</c>); validated, throwing <see cref="ArgumentException"/>.</param>
public sealed class Snip(SparsityOptions options) : SparsityMethod(options)
{
    /// <inheritdoc/>
    public override string Name => "snip";

    /// <inheritdoc/>
    public override void BeforeOptimizerStep(StepContext c)
    {
        if (c.GlobalStep != 0) return;
        var counts = Options.Counts(LayerDensities.Shapes(c.Model.Spec));
        foreach (var l in c.Model.Layers)
        {
            long weights = (long)l.In * l.Out;
            if (counts[l.Index] >= weights) continue;
            if (l.IsSparse) throw new InvalidOperationException($"SNIP: layer{l.Index} is already sparse; SNIP starts from a dense model.");
            var w = l.Weight.Value.ToArray();
            var g = l.Weight.Grad?.ToArray() ?? throw new InvalidOperationException($"SNIP: layer{l.Index} has no gradient at step 0.");
            var scores = new float[w.Length];
            for (int i = 0; i < w.Length; i++) scores[i] = Math.Abs(g[i] * w[i]);
            var keep = LayerSurgery.TopK(scores, counts[l.Index], $"SNIP layer{l.Index}");
            LayerSurgery.SetPattern(c.Model.Backend, l, keep, (float[])w.Clone(), null, csrBelowDensity: 1.0);
        }
        Updates++;
        c.SkipOptimizerStep = true;
    }
}
