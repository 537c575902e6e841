// Sparsity-aware initialisation (Evci et al. 2022, "Gradient Flow in Sparse Neural Networks and How Lottery
// Tickets Win"): each nonzero weight is drawn with variance scale / fan_in of its own unit, fan_in being the
// unit's actual nonzero inputs (the nonzeros of its CSR row), not the dense fan-in; normal N(0, scale / fan_in) or
// uniform U(-b, b) with b = sqrt(3 scale / fan_in). scale = 2 is Kaiming's ReLU gain. A dense layer (or a row with
// every input) gets the dense rule. Plugs into IWeightInitializer (`--init sparsity-aware[-uniform]`).
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

public sealed class SparsityAwareInit(bool uniform = false, double scale = 2.0) : IWeightInitializer
{
    public bool Uniform { get; } = uniform;
    public double Scale { get; } = scale > 0 ? scale : throw new ArgumentOutOfRangeException(nameof(scale), scale, "The variance scale must be > 0.");
    public string Name => Uniform ? "sparsity-aware-uniform" : "sparsity-aware";

    /// <summary>The standard deviation of unit (row) weights with this many nonzero inputs.</summary>
    public double Std(int fanIn) => Math.Sqrt(Scale / fanIn);

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
