// SNIP (Lee et al. 2019, "SNIP: Single-shot Network Pruning based on Connection Sensitivity"): one shot at step 0,
// before any update. The model starts dense; on the first batch each weight's score is |g . w| (g the gradient of
// the loss); each layer keeps its top-k scores, k the exact count of the chosen layer densities (LayerDensities),
// ties to the lower position; kept weights keep their initial values; the layer becomes CSR (full layers stay
// dense). The step's weight update is skipped, so training starts from the pruned initialisation.
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

public sealed class Snip(SparsityOptions options) : SparsityMethod(options)
{
    public override string Name => "snip";

    public override void BeforeOptimizerStep(StepContext c)
    {
        if (c.GlobalStep != 0) return;
        var counts = Options.Counts(c.Model.Sizes);
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
