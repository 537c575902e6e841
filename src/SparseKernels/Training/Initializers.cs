using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>What an initializer knows about the layer it fills.</summary>
/// <param name="FanIn">Inputs of the layer (columns of the out x in weight).</param>
/// <param name="FanOut">Outputs of the layer (rows).</param>
/// <param name="Pattern">The CSR pattern for a sparse layer (values to be filled), null for a dense one.</param>
public sealed record LayerInitContext(int FanIn, int FanOut, CsrMatrix? Pattern)
{
    /// <summary>Fraction of the weights that are stored (1 for a dense layer).</summary>
    public double Density => Pattern is null ? 1.0 : Pattern.Density;
}

/// <summary>
/// Fills a layer's weights (dense: out x in row-major; sparse: the CSR values in order). The standard rules
/// use the dense fan-in; sparsity-aware rules (<see cref="SparsityAwareInit"/>) read the pattern from the context.
/// </summary>
public interface IWeightInitializer
{
    /// <summary>The initializer's name as <see cref="Initializers.ByName"/> accepts it.</summary>
    string Name { get; }
    /// <summary>Fills <paramref name="values"/> (dense: out x in row-major; sparse: the CSR values in order) for <paramref name="layer"/>, drawing from <paramref name="rng"/>.</summary>
    void Initialize(Span<float> values, LayerInitContext layer, TrainRng rng);
}

/// <summary>Kaiming (He) normal: N(0, 2 / fan_in).</summary>
public sealed class KaimingNormal : IWeightInitializer
{
    /// <inheritdoc/>
    public string Name => "kaiming-normal";
    /// <inheritdoc/>
    public void Initialize(Span<float> values, LayerInitContext layer, TrainRng rng)
    {
        double std = Math.Sqrt(2.0 / layer.FanIn);
        for (int i = 0; i < values.Length; i++) values[i] = (float)(std * rng.NextGaussian());
    }
}

/// <summary>Kaiming (He) uniform: U(-b, b), b = sqrt(6 / fan_in).</summary>
public sealed class KaimingUniform : IWeightInitializer
{
    /// <inheritdoc/>
    public string Name => "kaiming-uniform";
    /// <inheritdoc/>
    public void Initialize(Span<float> values, LayerInitContext layer, TrainRng rng)
    {
        double b = Math.Sqrt(6.0 / layer.FanIn);
        for (int i = 0; i < values.Length; i++) values[i] = (float)((2 * rng.NextDouble() - 1) * b);
    }
}

/// <summary>
/// PyTorch's default for nn.Linear and nn.Conv2d weights, kaiming_uniform_(a = sqrt(5)): U(-b, b), b = 1 / sqrt(fan_in)
/// (variance 1 / (3 fan_in), a sixth of Kaiming's). On a CSR layer fan_in is each row's stored inputs (the
/// sparsity-aware rule of <see cref="SparsityAwareInit"/> with variance scale 1/3), so that a sparse layer's outputs
/// start with the dense layer's variance; on the dense fan-in a 90 % sparse LeNet-5 starts with vanishing signals and
/// does not train. The default for models with convolutions (<see cref="Runs.RunOptions.InitName"/>).
/// </summary>
public sealed class TorchDefault : IWeightInitializer
{
    private static readonly SparsityAwareInit s_sparse = new(uniform: true, scale: 1.0 / 3);
    /// <inheritdoc/>
    public string Name => "torch-default";
    /// <inheritdoc/>
    public void Initialize(Span<float> values, LayerInitContext layer, TrainRng rng)
    {
        if (layer.Pattern is not null) { s_sparse.Initialize(values, layer, rng); return; }
        double b = 1.0 / Math.Sqrt(layer.FanIn);
        for (int i = 0; i < values.Length; i++) values[i] = (float)((2 * rng.NextDouble() - 1) * b);
    }
}

/// <summary>Glorot (Xavier) uniform: U(-b, b), b = sqrt(6 / (fan_in + fan_out)).</summary>
public sealed class GlorotUniform : IWeightInitializer
{
    /// <inheritdoc/>
    public string Name => "glorot-uniform";
    /// <inheritdoc/>
    public void Initialize(Span<float> values, LayerInitContext layer, TrainRng rng)
    {
        double b = Math.Sqrt(6.0 / (layer.FanIn + layer.FanOut));
        for (int i = 0; i < values.Length; i++) values[i] = (float)((2 * rng.NextDouble() - 1) * b);
    }
}

/// <summary>The weight initializers by name.</summary>
public static class Initializers
{
    /// <summary>The names <see cref="ByName"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } = ["kaiming-normal", "kaiming-uniform", "torch-default", "glorot-uniform", "sparsity-aware", "sparsity-aware-uniform", "sparsity-aware-he"];

    /// <summary>The initializer of this name (case-insensitive; aliases kaiming, glorot, xavier, sparsity-aware-normal). Throws <see cref="ArgumentException"/> listing the known names.</summary>
    public static IWeightInitializer ByName(string name) => name.ToLowerInvariant() switch
    {
        "kaiming-normal" or "kaiming" => new KaimingNormal(),
        "kaiming-uniform" => new KaimingUniform(),
        "torch-default" => new TorchDefault(),
        "glorot-uniform" or "glorot" or "xavier" => new GlorotUniform(),
        "sparsity-aware" or "sparsity-aware-normal" => new SparsityAwareInit(uniform: false),
        "sparsity-aware-uniform" => new SparsityAwareInit(uniform: true),
        "sparsity-aware-he" => new SparsityAwareInit(uniform: false, scale: 2.0),
        _ => throw new ArgumentException($"Unknown initializer '{name}'; known: {string.Join(", ", Names)}.", nameof(name)),
    };
}
