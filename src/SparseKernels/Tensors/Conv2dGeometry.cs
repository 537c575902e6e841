namespace SparseKernels.Tensors;

/// <summary>
/// The geometry of a 2-D convolution over a batch in CNHW layout (C x (batch * H * W), see im2col): input channels and
/// plane, output channels, kernel, stride and zero padding (the same in both directions). The weight is the
/// <see cref="OutChannels"/> x <see cref="ColumnRows"/> matrix whose column (c, i, j) = c * KernelH * KernelW + i *
/// KernelW + j multiplies input channel c at kernel offset (i, j), as PyTorch's weight.view(out, -1).
/// </summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="OutChannels">Output channels.</param>
/// <param name="KernelH">Kernel height.</param>
/// <param name="KernelW">Kernel width.</param>
/// <param name="Stride">Stride (both directions).</param>
/// <param name="Padding">Zero padding on every side.</param>
public readonly record struct Conv2dGeometry(int InChannels, int Height, int Width, int OutChannels, int KernelH, int KernelW,
    int Stride = 1, int Padding = 0)
{
    /// <summary>Output height: (H + 2 padding - kh) / stride + 1.</summary>
    public int OutHeight => (Height + 2 * Padding - KernelH) / Stride + 1;
    /// <summary>Output width: (W + 2 padding - kw) / stride + 1.</summary>
    public int OutWidth => (Width + 2 * Padding - KernelW) / Stride + 1;
    /// <summary>Rows of the im2col matrix and columns of the weight matrix: in_channels * kh * kw.</summary>
    public int ColumnRows => InChannels * KernelH * KernelW;

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when a size is not positive, the padding is negative, or the kernel
    /// does not fit the padded input.</summary>
    public void Validate()
    {
        if (InChannels <= 0 || Height <= 0 || Width <= 0 || OutChannels <= 0 || KernelH <= 0 || KernelW <= 0 || Stride <= 0)
            throw new ArgumentException($"Conv2d geometry {this}: every size and the stride must be positive.");
        if (Padding < 0) throw new ArgumentException($"Conv2d geometry {this}: the padding must be >= 0.");
        if (Height + 2 * Padding < KernelH || Width + 2 * Padding < KernelW)
            throw new ArgumentException($"Conv2d geometry {this}: a {KernelH}x{KernelW} kernel does not fit the {Height}x{Width} input with padding {Padding}.");
    }
}
