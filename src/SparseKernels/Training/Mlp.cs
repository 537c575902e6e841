using SparseKernels.Autograd;
using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>
/// The multilayer perceptron, one configuration of the layer stack (<see cref="Sequential"/>, spec
/// <c>mlp:784-300-100-10</c>): fully connected layers of any sizes with ReLU between them, each dense or sparse.
/// </summary>
public static class Mlp
{
    /// <summary>
    /// A new MLP. <paramref name="sparsity"/>[i] in [0, 1) is layer i's fraction of zero weights (0 = dense layer).
    /// The pattern (exactly round((1 - s) * in * out) nonzeros, uniformly at random) and the weights come from
    /// <paramref name="rng"/>; biases start at 0.
    /// </summary>
    public static Sequential Create(ITensorBackend backend, IReadOnlyList<int> sizes, IReadOnlyList<double> sparsity,
        IWeightInitializer init, TrainRng rng)
    {
        var spec = ModelSpec.Mlp(sizes);
        if (sparsity.Count != sizes.Count - 1) throw new ArgumentException($"{sizes.Count - 1} layers but {sparsity.Count} sparsity values.", nameof(sparsity));
        return Sequential.Create(backend, spec, sparsity, init, rng);
    }

    /// <summary>Builds an MLP on <paramref name="backend"/> from host weights (each layer out x in, chained).</summary>
    public static Sequential FromHost(ITensorBackend backend, IReadOnlyList<(DenseTensor? Dense, CsrMatrix? Csr, DenseTensor Bias)> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0) throw new ArgumentException("An MLP needs at least one layer.", nameof(layers));
        var sizes = new List<int> { layers[0].Dense?.Cols ?? layers[0].Csr!.Cols };
        for (int i = 0; i < layers.Count; i++)
        {
            int inF = layers[i].Dense?.Cols ?? layers[i].Csr!.Cols, outF = layers[i].Dense?.Rows ?? layers[i].Csr!.Rows;
            if (i > 0 && inF != sizes[^1]) throw new ArgumentException($"Layer {i} takes {inF} inputs but layer {i - 1} gives {sizes[^1]}.", nameof(layers));
            sizes.Add(outF);
        }
        return Sequential.FromHost(backend, ModelSpec.Mlp(sizes), layers);
    }

    /// <summary>A uniformly random out x in pattern with exactly round(density * in * out) nonzeros (selection sampling), values 0.</summary>
    public static CsrMatrix RandomPattern(int rows, int cols, double density, TrainRng rng)
    {
        long total = (long)rows * cols;
        long need = Math.Max(1, (long)Math.Round(density * total));
        var offsets = new int[rows + 1];
        var ci = new List<int>((int)need);
        long left = total;
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++, left--)
                if (rng.NextDouble() * left < need) { ci.Add(c); need--; }
            offsets[r + 1] = ci.Count;
        }
        return new CsrMatrix(rows, cols, offsets, ci.ToArray(), new float[ci.Count]);
    }
}
