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

/// <summary>Shape checks shared by the convolution and pooling ops of every backend (messages name the op and operand).</summary>
internal static class ConvShapes
{
    /// <summary>Checks a CNHW batch x (C x (batch * H * W)) and the sample range [b0, b0 + bc) against <paramref name="g"/>.</summary>
    public static void CheckBatch(Conv2dGeometry g, DenseTensor x, int batch, int b0, int bc, string op, string name = "x")
    {
        g.Validate();
        if (batch <= 0) throw new ArgumentException($"{op}: the batch is {batch}; it must be positive.", nameof(batch));
        if (x.Rows != g.InChannels || x.Cols != (long)batch * g.Height * g.Width)
            throw new ArgumentException(
                $"{op}: {name} is {x.Rows}x{x.Cols} but a batch of {batch} {g.InChannels}x{g.Height}x{g.Width} images in CNHW layout is " +
                $"{g.InChannels}x{(long)batch * g.Height * g.Width}.", name);
        if (b0 < 0 || bc <= 0 || b0 + bc > batch)
            throw new ArgumentException($"{op}: samples [{b0}, {b0 + bc}) are not a non-empty range inside the batch of {batch}.",
                nameof(b0));
    }

    /// <summary>The columns of <paramref name="bc"/> samples: (C * kh * kw) x (bc * Ho * Wo).</summary>
    public static (int Rows, int Cols) Columns(Conv2dGeometry g, int bc) => (g.ColumnRows, checked(bc * g.OutHeight * g.OutWidth));

    /// <summary>The output plane of a k x k, stride s pooling of an h x w plane; throws when the window does not fit.</summary>
    public static (int OutH, int OutW) PoolPlane(int height, int width, int k, int stride, string op)
    {
        if (k <= 0 || stride <= 0) throw new ArgumentException($"{op}: window {k} and stride {stride} must be positive.");
        if (height < k || width < k) throw new ArgumentException($"{op}: a {k}x{k} window does not fit a {height}x{width} plane.");
        return ((height - k) / stride + 1, (width - k) / stride + 1);
    }

    /// <summary>Checks a pooling's input (C x (batch * H * W)) and output/which (C x (batch * Ho * Wo)).</summary>
    public static void CheckPool(string op, DenseTensor x, int batch, int height, int width, DenseTensor y, DenseTensor which, int outH,
        int outW)
    {
        if (batch <= 0 || x.Cols != (long)batch * height * width)
            throw new ArgumentException($"{op}: x is {x.Rows}x{x.Cols}, not C x ({batch} * {height} * {width}).", nameof(x));
        if (y.Rows != x.Rows || y.Cols != (long)batch * outH * outW || which.Rows != y.Rows || which.Cols != y.Cols)
            throw new ArgumentException(
                $"{op}: y is {y.Rows}x{y.Cols} and which {which.Rows}x{which.Cols}; both must be {x.Rows}x{(long)batch * outH * outW}.",
                    nameof(y));
    }
}
