// Sparsity-aware initialisation (Evci et al. 2022, "Gradient Flow in Sparse Neural Networks and How Lottery
// Tickets Win"). Reference code: google-research/rigl rigl/rigl_tf2/init_utils.py unit_scaled_init(mask, method,
// scale=1.0), used with method 'fanin_normal' by rigl_tf2/mlp_configs/{rigl,set}.gin: each nonzero weight is drawn
// with variance scale / fan_in of its own unit, fan_in being the unit's actual nonzero inputs (the nonzeros of its
// CSR row; the reference's reduce_sum of the mask over the input axis), not the dense fan-in; normal N(0, scale /
// fan_in) or uniform U(-b, b) with b = sqrt(3 scale / fan_in). scale defaults to 1.0 as in the reference
// (`--init sparsity-aware[-uniform]`); `--init sparsity-aware-he` uses scale 2, Kaiming's ReLU gain. A dense layer
// (or a row with every input) gets the dense rule. Plugs into IWeightInitializer.
// Departs from the reference: a row with no nonzero input draws nothing (the reference's max(1, fan_in) only
// matters for weights that do not exist).

namespace SparseKernels.Training;

/// <summary>Sparsity-aware initialisation (Evci et al. 2022): each nonzero weight is drawn with variance scale / fan_in of its own row's nonzero inputs, normal or uniform.</summary>
/// <param name="uniform">Draw from U(-b, b), b = sqrt(3 scale / fan_in), instead of N(0, scale / fan_in).</param>
/// <param name="scale">The variance scale, &gt; 0 (1 as in the reference; 2 is Kaiming's ReLU gain). Throws <see cref="ArgumentOutOfRangeException"/> otherwise.</param>
public sealed class SparsityAwareInit(bool uniform = false, double scale = 1.0) : IWeightInitializer
{
    /// <summary>Whether values are drawn uniformly rather than normally.</summary>
    public bool Uniform { get; } = uniform;
    /// <summary>The variance scale.</summary>
    public double Scale { get; } = scale > 0 ? scale : throw new ArgumentOutOfRangeException(nameof(scale), scale, "The variance scale must be > 0.");
    /// <inheritdoc/>
    public string Name => (Uniform ? "sparsity-aware-uniform" : "sparsity-aware") + (Scale == 1.0 ? "" : Scale == 2.0 && !Uniform ? "-he" : $" (scale {Scale})");

    /// <summary>The standard deviation of unit (row) weights with this many nonzero inputs.</summary>
    public double Std(int fanIn) => Math.Sqrt(Scale / fanIn);

    /// <inheritdoc/>
    public void Initialize(Span<float> values, LayerInitContext layer, TrainRng rng)
    {
        if (layer.Pattern is not { } p)
        {
            Fill(values, layer.FanIn, rng);
            return;
        }
        if (values.Length != p.Nnz) throw new ArgumentException($"sparsity-aware init: {values.Length} values for a pattern of {p.Nnz} nonzeros.", nameof(values));
        for (int r = 0; r < p.Rows; r++)
        {
            int a = p.RowOffsets[r], b = p.RowOffsets[r + 1];
            if (b > a) Fill(values[a..b], b - a, rng);
        }
    }

    private void Fill(Span<float> v, int fanIn, TrainRng rng)
    {
        double std = Std(fanIn), bound = Math.Sqrt(3) * std;
        for (int i = 0; i < v.Length; i++)
            v[i] = (float)(Uniform ? (2 * rng.NextDouble() - 1) * bound : std * rng.NextGaussian());
    }
}
