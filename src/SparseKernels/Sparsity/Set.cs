// SET (Mocanu et al. 2018, "Scalable training of artificial neural networks with adaptive sparse connectivity"):
// every dT steps until T_end drop the fraction a_t of smallest-magnitude weights of each sparse layer and grow as
// many absent positions uniformly at random (Philox4x32-10 keys, Topology.RandomGrow; the seed mixes the run's
// seed, the layer and the step, so it is stateless and resume is exact). Schedule and rules otherwise as RigL's
// (cosine a_t, grown weights and state 0, nnz constant, no weight update on a mask-update step).
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

public sealed class Set(SparsityOptions options) : SparsityMethod(options)
{
    public override string Name => "set";
    public long[] LastCounts { get; private set; } = [];

    public override void BeforeOptimizerStep(StepContext c)
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
        c.SkipOptimizerStep = true;
    }
}
