// Static sparse training: a fixed uniformly random mask from the start, never changed. Reference: the RigL paper's
// static baseline, google-research/rigl rigl/sparse_optimizers.py SparseStaticOptimizer (a SET optimizer that never
// updates the mask) and rigl/sparse_utils.py get_mask_random (exactly n_zeros per layer, at random positions).
// The rule here: exact per-layer counts from LayerDensities; Mlp.RandomPattern draws them by selection sampling. No
// hook is needed: the model is created sparse (Methods.InitialSparsity) and trained as is. This file is the method's
// entry point in the API. Departs: floor((1 - S) n) nonzeros where get_mask_random keeps n - floor(S n).
using SparseKernels.Autograd;
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

/// <summary>Static sparse training: a fixed uniformly random mask from the start, never changed (no hook is needed).</summary>
public static class StaticSparsity
{
    /// <summary>A model with the fixed random mask of <paramref name="options"/> (sparsity, distribution).</summary>
    public static Sequential CreateModel(ITensorBackend backend, IReadOnlyList<int> sizes, SparsityOptions options,
        IWeightInitializer init, TrainRng rng)
        => Mlp.Create(backend, sizes, LayerDensities.ToSparsity(sizes, options.Counts(sizes)), init, rng);
}
