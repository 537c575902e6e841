using System.Globalization;
using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>The kind of a layer in a <see cref="ModelSpec"/>.</summary>
public enum LayerKind
{
    /// <summary>Fully connected (<c>fc&lt;N&gt;</c>).</summary>
    Linear,
    /// <summary>2-D convolution (<c>conv&lt;C&gt;k&lt;K&gt;[s&lt;S&gt;][p&lt;P&gt;]</c>).</summary>
    Conv2d,
    /// <summary>ReLU (<c>relu</c>).</summary>
    Relu,
    /// <summary>Max pooling (<c>maxpool&lt;K&gt;[s&lt;S&gt;]</c>).</summary>
    MaxPool2d,
    /// <summary>Global average pooling to C x 1 x 1 (<c>gap</c>).</summary>
    GlobalAvgPool,
    /// <summary>C x H x W to C*H*W features (<c>flatten</c>).</summary>
    Flatten,
}

/// <summary>One layer of a <see cref="ModelSpec"/>: its token, kind, input and output shapes and settings.</summary>
/// <param name="Token">The token as written in the spec.</param>
/// <param name="Kind">The layer kind.</param>
/// <param name="Input">The input shape.</param>
/// <param name="Output">The output shape.</param>
/// <param name="Conv">The convolution's geometry (Conv2d only).</param>
/// <param name="Window">The pooling window (MaxPool2d only).</param>
/// <param name="Stride">The pooling stride (MaxPool2d only).</param>
public sealed record LayerSpec(string Token, LayerKind Kind, ActivationShape Input, ActivationShape Output, Conv2dGeometry? Conv = null,
    int Window = 0, int Stride = 0);

/// <summary>
/// A model architecture as text. <c>mlp:784-300-100-10</c> is a multilayer perceptron (fully connected layers, ReLU
/// between them).
/// </summary>
public sealed class ModelSpec
{
    private ModelSpec(string text, ActivationShape input, IReadOnlyList<LayerSpec> layers, int[]? mlpSizes)
    {
        Text = text; Input = input; Layers = layers; MlpSizes = mlpSizes;
        WeightMatrices = layers.Where(l => l.Kind is LayerKind.Linear or LayerKind.Conv2d)
            .Select(l => l.Conv is { } g ? (g.OutChannels, g.ColumnRows) : (l.Output.Features, l.Input.Features)).ToArray();
    }

    /// <summary>The canonical text (checkpoints compare it).</summary>
    public string Text { get; }
    /// <summary>The shape of one input sample.</summary>
    public ActivationShape Input { get; }
    /// <summary>The layers in order.</summary>
    public IReadOnlyList<LayerSpec> Layers { get; }
    /// <summary>Outputs of the last layer (classes).</summary>
    public int Classes => Layers[^1].Output.Features;
    /// <summary>The layer sizes when the model is an MLP (inputs first), else null.</summary>
    public int[]? MlpSizes { get; }
    /// <summary>Each weight layer's matrix (rows = outputs, cols = inputs; a convolution's out_channels x in_channels*kh*kw).</summary>
    public IReadOnlyList<(int Rows, int Cols)> WeightMatrices { get; }

    /// <inheritdoc/>
    public override string ToString() => Text;

    /// <summary>An MLP of layer sizes <paramref name="sizes"/> (inputs, hidden..., outputs); throws <see cref="ArgumentException"/> for
    /// fewer than two sizes or a size below 1.</summary>
    public static ModelSpec Mlp(IReadOnlyList<int> sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Count < 2) throw new ArgumentException($"An MLP needs at least an input and an output size; got {sizes.Count} size(s).", nameof(sizes));
        for (int i = 0; i < sizes.Count; i++)
            if (sizes[i] <= 0) throw new ArgumentException($"Layer size {i} is {sizes[i]}; sizes must be positive.", nameof(sizes));
        var layers = new List<LayerSpec>();
        for (int i = 1; i < sizes.Count; i++)
        {
            var inS = ActivationShape.Flat(sizes[i - 1]); var outS = ActivationShape.Flat(sizes[i]);
            layers.Add(new LayerSpec($"fc{sizes[i]}", LayerKind.Linear, inS, outS));
            if (i + 1 < sizes.Count) layers.Add(new LayerSpec("relu", LayerKind.Relu, outS, outS));
        }
        return new ModelSpec("mlp:" + string.Join('-', sizes), ActivationShape.Flat(sizes[0]), layers, sizes.ToArray());
    }

    /// <summary>
    /// Parses a spec: <c>mlp:N-N-...</c>. Throws <see cref="ArgumentException"/> whose message quotes the token that is wrong.
    /// </summary>
    public static ModelSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string s = text.Trim();
        if (s.StartsWith("mlp:", StringComparison.OrdinalIgnoreCase))
        {
            var parts = s[4..].Split('-');
            var sizes = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]) || sizes[i] <= 0)
                    throw new ArgumentException($"Model spec '{text}': size {i + 1} '{parts[i]}' is not a positive integer (mlp:784-300-100-10).");
            if (sizes.Length < 2) throw new ArgumentException($"Model spec '{text}': an MLP needs at least an input and an output size (mlp:784-300-100-10).");
            return Mlp(sizes);
        }
        throw new ArgumentException($"Model spec '{text}': expected mlp:<sizes> (e.g. mlp:784-300-100-10).");
    }

    /// <summary>The layer object of a layer without weights.</summary>
    internal ILayer CreateModule(LayerSpec layer) => layer.Kind switch
    {
        LayerKind.Relu => new ReluLayer(),
        _ => throw new ArgumentException($"Model spec '{Text}': token '{layer.Token}' is a weight layer, built from its weights."),
    };
}
