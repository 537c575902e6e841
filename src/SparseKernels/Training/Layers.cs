using SparseKernels.Autograd;

namespace SparseKernels.Training;

/// <summary>Max pooling over k x k windows with stride s (no padding) of a C x H x W activation.</summary>
/// <param name="input">The input shape.</param>
/// <param name="window">The window k.</param>
/// <param name="stride">The stride s.</param>
public sealed class MaxPool2dLayer(ActivationShape input, int window, int stride) : ILayer
{
    /// <inheritdoc/>
    public string Name => $"maxpool{window}";
    /// <inheritdoc/>
    public IEnumerable<Parameter> Parameters => [];
    /// <inheritdoc/>
    public ActivationShape OutputShape(ActivationShape shape)
    {
        if (shape != input) throw new ArgumentException($"{Name} takes {input} inputs but gets {shape}.", nameof(shape));
        var (oh, ow) = Tensors.ConvShapes.PoolPlane(input.Height, input.Width, window, stride, Name);
        return new ActivationShape(input.Channels, oh, ow);
    }
    /// <inheritdoc/>
    public Var Forward(Tape t, Var x) => Fn.MaxPool2d(t, x, input.Channels, input.Height, input.Width, window, stride);
    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>Global average pooling: C x H x W to C features.</summary>
/// <param name="input">The input shape.</param>
public sealed class GlobalAvgPoolLayer(ActivationShape input) : ILayer
{
    /// <inheritdoc/>
    public string Name => "gap";
    /// <inheritdoc/>
    public IEnumerable<Parameter> Parameters => [];
    /// <inheritdoc/>
    public ActivationShape OutputShape(ActivationShape shape) => ActivationShape.Flat(shape.Channels);
    /// <inheritdoc/>
    public Var Forward(Tape t, Var x) => Fn.GlobalAvgPool(t, x, input.Channels, input.Height * input.Width);
    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>Flatten: C x H x W (CNHW batch) to C*H*W features (feature-major), PyTorch's order; or images to CNHW (<paramref
/// name="toImages"/>, the network's input).</summary>
/// <param name="shape">The image shape.</param>
/// <param name="toImages">True: features to CNHW images (the input layer); false: CNHW to features.</param>
public sealed class FlattenLayer(ActivationShape shape, bool toImages = false) : ILayer
{
    /// <inheritdoc/>
    public string Name => toImages ? "images" : "flatten";
    /// <inheritdoc/>
    public IEnumerable<Parameter> Parameters => [];
    /// <inheritdoc/>
    public ActivationShape OutputShape(ActivationShape input) => toImages ? shape : ActivationShape.Flat(input.Features);
    /// <inheritdoc/>
    public Var Forward(Tape t, Var x)
    {
        if (shape.IsFlat) return x;
        int plane = shape.Height * shape.Width;
        return toImages ? Fn.FeaturesToChannels(t, x, shape.Channels, plane) : Fn.ChannelsToFeatures(t, x, shape.Channels, plane);
    }
    /// <inheritdoc/>
    public void Dispose() { }
}
