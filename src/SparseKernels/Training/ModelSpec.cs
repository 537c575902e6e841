using System.Globalization;
using System.Text.RegularExpressions;
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
/// A model architecture as text (<see cref="Parse"/>): <c>mlp:784-300-100-10</c> is a multilayer perceptron (fully
/// connected layers, ReLU between them); <c>lenet5</c>, <c>vgg-tiny</c> and <c>1x28x28:conv20k5,relu,...</c> are CNNs.
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

    /// <summary>The presets <see cref="Parse"/> accepts by name, and the spec each stands for.</summary>
    public static IReadOnlyDictionary<string, string> Presets { get; } = new Dictionary<string, string>
    {
        // The Caffe LeNet-5 of sparse_learning (TimDettmers/sparse_learning sparselearning/models.py LeNet_5_Caffe).
        ["lenet5"] = "1x28x28:conv20k5,relu,maxpool2,conv50k5,relu,maxpool2,flatten,fc500,relu,fc10",
        // Three 3x3 conv blocks for 28x28 inputs that a 2-core CPU can train.
        ["vgg-tiny"] = "1x28x28:conv32k3p1,relu,maxpool2,conv64k3p1,relu,maxpool2,conv128k3p1,relu,gap,fc10",
    };

    /// <summary>
    /// Parses a spec: <c>mlp:N-N-...</c>; a preset (<see cref="Presets"/>: <c>lenet5</c>, <c>vgg-tiny</c>); or
    /// <c>&lt;input&gt;:&lt;token&gt;,&lt;token&gt;,...</c> with the input <c>CxHxW</c> (images) or <c>N</c> (features) and tokens
    /// <c>fc&lt;N&gt;</c>, <c>conv&lt;C&gt;k&lt;K&gt;[s&lt;S&gt;][p&lt;P&gt;]</c> (C output channels, K x K kernel, stride S = 1,
    /// zero padding P = 0), <c>relu</c>, <c>maxpool&lt;K&gt;[s&lt;S&gt;]</c> (stride = K by default), <c>gap</c> (global average
    /// pooling) and <c>flatten</c>. Activations are CNHW (see <see cref="ActivationShape"/>). Throws
    /// <see cref="ArgumentException"/> whose message quotes the token that is wrong.
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
        if (Presets.TryGetValue(s.ToLowerInvariant(), out var preset)) return Parse(preset);
        int colon = s.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
            throw new ArgumentException(
                $"Model spec '{text}': expected mlp:<sizes>, a preset ({string.Join(", ", Presets.Keys)}) or <input>:<token>,... " +
                "(e.g. 1x28x28:conv20k5,relu,maxpool2,flatten,fc10).");
        string inText = s[..colon].Trim();
        var dims = inText.Split('x');
        var d = new int[dims.Length];
        if (dims.Length is not (1 or 3)
            || dims.Where((v, i) => !int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out d[i]) || d[i] <= 0).Any())
            throw new ArgumentException($"Model spec '{text}': the input '{inText}' is neither CxHxW (e.g. 1x28x28) nor a feature " +
                $"count (e.g. 784).");
        var input = d.Length == 1 ? ActivationShape.Flat(d[0]) : new ActivationShape(d[0], d[1], d[2]);
        var tokens = s[(colon + 1)..].Split(',').Select(x => x.Trim().ToLowerInvariant()).ToArray();
        var layers = new List<LayerSpec>();
        var shape = input;
        for (int n = 0; n < tokens.Length; n++)
        {
            string tok = tokens[n];
            string where = $"Model spec '{text}': token {n + 1} '{tok}'";
            Match m;
            if ((m = Regex.Match(tok, @"^fc(\d+)$")).Success)
            {
                if (!shape.IsFlat) throw new ArgumentException($"{where}: its input is {shape} images; put flatten or gap before it.");
                int outF = Int(m.Groups[1].Value, where);
                layers.Add(new LayerSpec(tok, LayerKind.Linear, shape, ActivationShape.Flat(outF)));
                shape = ActivationShape.Flat(outF);
            }
            else if ((m = Regex.Match(tok, @"^conv(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?$")).Success)
            {
                int k = Int(m.Groups[2].Value, where);
                var g = new Conv2dGeometry(shape.Channels, shape.Height, shape.Width, Int(m.Groups[1].Value, where), k, k,
                    m.Groups[3].Success ? Int(m.Groups[3].Value, where) : 1,
                        m.Groups[4].Success ? int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture) : 0);
                try { g.Validate(); }
                catch (ArgumentException e) { throw new ArgumentException($"{where}: its input is {shape}: {e.Message}", e); }
                var outS = new ActivationShape(g.OutChannels, g.OutHeight, g.OutWidth);
                layers.Add(new LayerSpec(tok, LayerKind.Conv2d, shape, outS, g));
                shape = outS;
            }
            else if ((m = Regex.Match(tok, @"^maxpool(\d+)(?:s(\d+))?$")).Success)
            {
                int k = Int(m.Groups[1].Value, where), st = m.Groups[2].Success ? Int(m.Groups[2].Value, where) : k;
                (int OutH, int OutW) plane;
                try { plane = ConvShapes.PoolPlane(shape.Height, shape.Width, k, st, "maxpool"); }
                catch (ArgumentException e) { throw new ArgumentException($"{where}: its input is {shape}: {e.Message}", e); }
                var outS = new ActivationShape(shape.Channels, plane.OutH, plane.OutW);
                layers.Add(new LayerSpec(tok, LayerKind.MaxPool2d, shape, outS, null, k, st));
                shape = outS;
            }
            else if (tok == "relu") layers.Add(new LayerSpec(tok, LayerKind.Relu, shape, shape));
            else if (tok == "gap")
            {
                layers.Add(new LayerSpec(tok, LayerKind.GlobalAvgPool, shape, ActivationShape.Flat(shape.Channels)));
                shape = ActivationShape.Flat(shape.Channels);
            }
            else if (tok == "flatten")
            {
                layers.Add(new LayerSpec(tok, LayerKind.Flatten, shape, ActivationShape.Flat(shape.Features)));
                shape = ActivationShape.Flat(shape.Features);
            }
            else
                throw new ArgumentException($"{where} is not a layer; use fc<N>, conv<C>k<K>[s<S>][p<P>], relu, maxpool<K>[s<S>], gap " +
                    $"or flatten.");
        }
        if (!layers.Any(l => l.Kind is LayerKind.Linear or LayerKind.Conv2d)) throw new ArgumentException($"Model spec '{text}' has " +
            $"no fc or conv layer.");
        if (!shape.IsFlat) throw new ArgumentException($"Model spec '{text}': the last layer gives {shape} images; end with " +
            $"flatten/gap and fc<classes>.");
        return new ModelSpec(input + ":" + string.Join(',', tokens), input, layers, null);
    }

    private static int Int(string v, string where)
        => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int x) && x > 0 ? x
            : throw new ArgumentException($"{where}: '{v}' must be a positive integer.");

    /// <summary>The layer object of a layer without weights.</summary>
    internal ILayer CreateModule(LayerSpec layer) => layer.Kind switch
    {
        LayerKind.Relu => new ReluLayer(),
        LayerKind.MaxPool2d => new MaxPool2dLayer(layer.Input, layer.Window, layer.Stride),
        LayerKind.GlobalAvgPool => new GlobalAvgPoolLayer(layer.Input),
        LayerKind.Flatten => new FlattenLayer(layer.Input),
        _ => throw new ArgumentException($"Model spec '{Text}': token '{layer.Token}' is a weight layer, built from its weights."),
    };
}
