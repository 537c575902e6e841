using SparseKernels.Autograd;

namespace SparseKernels.Training;

/// <summary>
/// The shape of one sample's activation: channels x height x width. A batch is stored channel-major, as a
/// C x (batch * H * W) tensor (CNHW: row c holds every sample's H x W plane, sample after sample); a flat activation
/// (H = W = 1) is then the feature-major features x batch tensor of the fully connected layers, so the two layouts
/// agree where they meet.
/// </summary>
/// <param name="Channels">Channels (features for a flat activation).</param>
/// <param name="Height">Height (1 for a flat activation).</param>
/// <param name="Width">Width (1 for a flat activation).</param>
public readonly record struct ActivationShape(int Channels, int Height, int Width)
{
    /// <summary>A flat activation of <paramref name="features"/> features.</summary>
    public static ActivationShape Flat(int features) => new(features, 1, 1);
    /// <summary>Channels x height x width.</summary>
    public int Features => Channels * Height * Width;
    /// <summary>Whether the activation is flat (H = W = 1).</summary>
    public bool IsFlat => Height == 1 && Width == 1;
    /// <summary><c>C</c> for a flat activation, else <c>CxHxW</c>.</summary>
    public override string ToString() => IsFlat ? $"{Channels}" : $"{Channels}x{Height}x{Width}";
}

/// <summary>
/// One layer of a <see cref="Sequential"/> model: its forward pass recorded on a tape (the backward comes with the
/// ops), its trainable parameters (with their optimizer state), and its output shape. A layer lives on the backend
/// its model was built on (device placement is the model's); checkpoints hold the weight layers
/// (<see cref="WeightLayer"/>) and the model's spec (<see cref="ModelSpec"/>) that rebuilds the rest.
/// </summary>
public interface ILayer : IDisposable
{
    /// <summary>A short name for messages, e.g. <c>layer0</c> or <c>relu</c>.</summary>
    string Name { get; }
    /// <summary>The trainable parameters (none for ReLU, pooling, flatten).</summary>
    IEnumerable<Parameter> Parameters { get; }
    /// <summary>The output shape for an input of <paramref name="input"/>; throws <see cref="ArgumentException"/> when the input does not
    /// fit.</summary>
    ActivationShape OutputShape(ActivationShape input);
    /// <summary>Records the layer on <paramref name="t"/> for a batch <paramref name="x"/> (layout of <see
    /// cref="ActivationShape"/>).</summary>
    Var Forward(Tape t, Var x);
}

/// <summary>max(x, 0) elementwise.</summary>
public sealed class ReluLayer : ILayer
{
    /// <inheritdoc/>
    public string Name => "relu";
    /// <inheritdoc/>
    public IEnumerable<Parameter> Parameters => [];
    /// <inheritdoc/>
    public ActivationShape OutputShape(ActivationShape input) => input;
    /// <inheritdoc/>
    public Var Forward(Tape t, Var x) => Fn.Relu(t, x);
    /// <inheritdoc/>
    public void Dispose() { }
}
