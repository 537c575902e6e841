// Static sparse training: a fixed uniformly random mask from the start (exact per-layer counts from
// LayerDensities; Mlp.RandomPattern draws them by selection sampling), never changed. No hook is needed: the model
// is created sparse (Methods.InitialSparsity) and trained as is. This file is the method's entry point in the API.
using SparseKernels.Autograd;
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

public static class StaticSparsity
{
    /// <summary>A model with the fixed random mask of <paramref name="options"/> (sparsity, distribution).</summary>
    public static Mlp CreateModel(ITensorBackend backend, IReadOnlyList<int> sizes, SparsityOptions options, IWeightInitializer init, TrainRng rng)
        => Mlp.Create(backend, sizes, LayerDensities.ToSparsity(sizes, options.Counts(sizes)), init, rng);
}
