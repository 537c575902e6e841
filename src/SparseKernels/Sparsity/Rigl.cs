// RigL (Evci et al. 2020, "Rigging the Lottery: Making All Tickets Winners"). Reference code: google-research/rigl
// rigl/sparse_optimizers_base.py SparseRigLOptimizerBase (apply_gradients: cond_mask_update_op chooses the mask update
// OR the optimizer update; generic_mask_update; _get_update_op; reset_momentum) and rigl/sparse_optimizers.py.
// The rule: every dT steps from t = 0 to T_end inclusive (DropSchedule; defaults dT = 100, T_end = 75 % of training,
// a = 0.3), in every sparse layer drop the floor(a_t x nnz) smallest |w| (a_t = a/2 (1 + cos(pi t / T_end))) and grow
// as many positions with the largest |dense gradient| of the current batch, dY^T X, among those absent after the drop
// (just-dropped positions eligible, as _get_update_op's score_grow_lifted), computed in chunks
// (Topology.GradientGrow / CpuBackend.GradientGrow) and never stored whole. Grown weights and their momentum/Adam
// state start at 0 (grow_init 'zeros', reset_momentum with initial_acc_scale 0); nnz per layer stays constant; the
// optimizer does not update the weights on a mask-update step. Dense layers (ERK-capped, or kept dense) stay dense.
// Departs from the reference: no N(0, 1e-5) tie-breaking noise on the drop score (ties go to the lower position), and
// the mask-update step counts as a training step (see DropSchedule).
// Data-parallel (Distributed.DataParallel sets ScoreSum): as the reference's TPU code, which sums the gradients used
// for regrowth across replicas, each replica's chunk of dY^T X (weighted by its share of the global batch) is summed
// over all replicas before the top-k, chunk by chunk, so every replica grows the same positions without a broadcast.
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

/// <summary>RigL (Evci et al. 2020): every <see cref="SparsityOptions.UpdateEvery"/> steps until <see cref="SparsityOptions.EndFraction"/> of training, each sparse layer drops its smallest |w| and grows as many positions with the largest dense gradient; nonzeros per layer stay constant.</summary>
/// <param name="options">The method's options (<c>Method = "rigl"</c>); validated, throwing <see cref="ArgumentException"/>.</param>
public sealed class Rigl(SparsityOptions options) : SparsityMethod(options)
{
    /// <inheritdoc/>
    public override string Name => "rigl";
    /// <summary>Drop (= grow) counts per layer at the last update.</summary>
    public long[] LastCounts { get; private set; } = [];
    /// <summary>Data-parallel training: sums each chunk of growth scores over the replicas (null: one process).</summary>
    internal Cpu.GrowScoreSum? ScoreSum { get; set; }

    /// <inheritdoc/>
    public override void Attach(Sequential model, Trainer trainer)
    {
        foreach (var l in model.Layers) l.CaptureActivations = l.IsSparse;
    }

    /// <inheritdoc/>
    public override void BeforeOptimizerStep(StepContext c)
    {
        long tEnd = DropSchedule.EndStep(Options.EndFraction, c.TotalSteps);
        if (!DropSchedule.IsUpdateStep(c.GlobalStep, Options.UpdateEvery, tEnd)) return;
        var counts = new long[c.Model.Layers.Count];
        foreach (var l in c.Model.Layers)
        {
            if (!l.IsSparse) continue;
            l.CaptureActivations = true;
            counts[l.Index] = DropSchedule.Count(Options.Alpha, c.GlobalStep, tEnd, l.Sparse!.Nnz);
            ulong seed = LayerSurgery.GrowSeed(Options.Seed, l.Index, c.GlobalStep);
            LayerSurgery.DropGrow(c.Model.Backend, l, counts[l.Index], GrowRule.Gradient, seed, ScoreSum);
        }
        LastCounts = counts;
        Updates++;
        c.SkipOptimizerStep = true;
    }
}
