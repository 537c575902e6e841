// SET (Mocanu et al. 2018, "Scalable training of artificial neural networks with adaptive sparse connectivity
// inspired by network science"), as the RigL paper's SET baseline: google-research/rigl
// rigl/sparse_optimizers_base.py SparseSETOptimizerBase (apply_gradients: the optimizer update, then
// cond_mask_update_op; generic_mask_update / _get_update_op with get_grow_tensor 'zeros' for the grown weights).
// The rule: every step the optimizer updates the weights; then, on a mask-update step (every dT steps from t = 0 to
// T_end, DropSchedule), each sparse layer drops the floor(a_t x nnz) smallest |w| (cosine a_t) and grows as many
// absent positions uniformly at random (the just-dropped ones included), at weight 0 with zero optimizer state; nnz
// per layer constant. Randomness: Philox4x32-10 keys (Topology.RandomGrow) seeded by the run's seed, the layer and
// the step, so it is stateless and resume is exact.
// Departs from the reference: RigL's drop score adds N(0, 1e-5) noise to |w| to break ties, ours breaks ties by
// position; its post-increment global_step evaluates a_t one step later (t + 1).
// Departs from Mocanu's original SET (not offered): it drops the zeta fraction of the smallest positive and of the
// largest negative weights separately, once per epoch with constant zeta, and grows random (not zero) weights.
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

/// <summary>SET (Mocanu et al. 2018, as RigL's baseline): on each mask-update step each sparse layer drops its smallest |w| and grows as many absent positions uniformly at random, at weight 0.</summary>
/// <param name="options">The method's options (<c>Method = "set"</c>); validated, throwing <see cref="ArgumentException"/>.</param>
public sealed class Set(SparsityOptions options) : SparsityMethod(options)
{
    /// <inheritdoc/>
    public override string Name => "set";
    /// <summary>The number of weights dropped (and grown) per layer at the last mask update.</summary>
    public long[] LastCounts { get; private set; } = [];

    /// <inheritdoc/>
    public override void AfterOptimizerStep(StepContext c)
    {
        long tEnd = DropSchedule.EndStep(Options.EndFraction, c.TotalSteps);
        if (!DropSchedule.IsUpdateStep(c.GlobalStep, Options.UpdateEvery, tEnd)) return;
        var counts = new long[c.Model.Layers.Count];
        foreach (var l in c.Model.Layers)
        {
            if (!l.IsSparse) continue;
            counts[l.Index] = DropSchedule.Count(Options.Alpha, c.GlobalStep, tEnd, l.Sparse!.Nnz);
            LayerSurgery.DropGrow(c.Model.Backend, l, counts[l.Index], GrowRule.Random, LayerSurgery.GrowSeed(Options.Seed, l.Index, c.GlobalStep));
        }
        LastCounts = counts;
        Updates++;
    }
}
