using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Autograd;

/// <summary>The CPU backend of the autograd: a thin adapter over <see cref="CpuBackend"/> (multithreaded SIMD).</summary>
public sealed class CpuTensorBackend : ITensorBackend
{
    /// <summary>The adapter over <see cref="CpuBackend.Default"/> (every core).</summary>
    public static readonly CpuTensorBackend Instance = new(CpuBackend.Default);

    /// <summary>An adapter over <paramref name="cpu"/> (e.g. <c>new CpuBackend(2)</c> for two threads).</summary>
    public CpuTensorBackend(CpuBackend cpu)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        Cpu = cpu;
    }

    /// <summary>The CPU backend the ops run on (its settings: threads).</summary>
    public CpuBackend Cpu { get; }

    /// <inheritdoc/>
    public IDevice? Device => null;
    /// <inheritdoc/>
    public string Name => "cpu";

    /// <summary>
    /// The arrays of the tensors this backend returns: every tensor it creates is rented here and goes back on
    /// Dispose (the tape disposes activations and gradients, the optimizer the parameters' gradients), so a training
    /// step allocates no tensor data after the first.
    /// </summary>
    internal HostArrayPool Pool { get; } = new();

    /// <summary>An uninitialised rows x cols host tensor from <see cref="Pool"/> (its array returns there on Dispose).</summary>
    internal DenseTensor Rent(int rows, int cols) => DenseTensor.Rent(Pool, rows, cols);

    /// <inheritdoc/>
    public DenseTensor Full(int rows, int cols, float value)
    {
        var t = Rent(rows, cols);
        t.HostData.AsSpan().Fill(value);
        return t;
    }

    /// <inheritdoc/>
    public DenseTensor Upload(DenseTensor host) => Copy(host);

    /// <inheritdoc/>
    public DenseTensor Copy(DenseTensor x)
    {
        if (x.IsOnDevice) return x.ToHost();
        var t = Rent(x.Rows, x.Cols);
        x.HostData.AsSpan().CopyTo(t.HostData);
        return t;
    }

    /// <inheritdoc/>
    public void AddInPlace(DenseTensor y, DenseTensor x)
    {
        Same(y, x, "AddInPlace");
        var yd = y.HostData; var xd = x.HostData;
        AddSpan(yd, xd);
    }

    /// <inheritdoc/>
    public DenseTensor Scale(DenseTensor x, float alpha)
    {
        var t = Rent(x.Rows, x.Cols);
        Cpu.ScaleInto(alpha, x.HostData, t.HostData);
        return t;
    }

    /// <inheritdoc/>
    public DenseTensor DenseGemm(DenseTensor a, DenseTensor b, bool transA, bool transB)
    {
        int m = transA ? a.Cols : a.Rows, n = transB ? b.Rows : b.Cols;
        var c = Rent(m, n);
        Cpu.DenseGemmInto(a, b, transA, transB, c.HostData, Pool);
        return c;
    }

    /// <inheritdoc/>
    public DenseTensor SpmmCsr(CsrMatrix a, DenseTensor b)
    {
        var c = Rent(a.Rows, b.Cols);
        Cpu.SpmmCsrInto(a, b, c);
        return c;
    }

    /// <inheritdoc/>
    public DenseTensor SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        var v = Rent(1, pattern.Nnz);
        Cpu.SddmmCsrInto(pattern, x, y, v.HostData);
        return v;
    }

    /// <inheritdoc/>
    public void GatherValues(CsrMatrix source, SparsePermutation perm, CsrMatrix destination)
        => Cpu.GatherValues(source.Values, perm.Host, destination.Values);

    /// <inheritdoc/>
    public void AddBiasPerRow(DenseTensor x, DenseTensor bias) => Cpu.AddBiasPerRow(x, bias);

    /// <inheritdoc/>
    public DenseTensor RowSum(DenseTensor x, float scale)
    {
        var o = Rent(x.Rows, 1);
        CpuBackend.RowSumInto(x, scale, o.HostData);
        return o;
    }

    /// <inheritdoc/>
    public DenseTensor Sum(DenseTensor x, float scale)
    {
        double s = 0;
        foreach (float v in x.HostData) s += v;
        return Full(1, 1, (float)(scale * s));
    }

    /// <inheritdoc/>
    public DenseTensor Broadcast(DenseTensor scalar, int rows, int cols, float scale) => Full(rows, cols, scale * scalar.HostData[0]);

    /// <inheritdoc/>
    public DenseTensor Relu(DenseTensor x)
    {
        var t = Rent(x.Rows, x.Cols);
        Cpu.ReluInto(x.HostData, t.HostData);
        return t;
    }

    /// <inheritdoc/>
    public DenseTensor ReluBackward(DenseTensor x, DenseTensor dy)
    {
        var t = Rent(x.Rows, x.Cols);
        Cpu.ReluBackwardInto(x.HostData, dy.HostData, t.HostData);
        return t;
    }

    /// <inheritdoc/>
    public (DenseTensor Probs, DenseTensor Loss) SoftmaxCrossEntropy(DenseTensor logits, Labels? labels, DenseTensor? targets)
    {
        var probs = Rent(logits.Rows, logits.Cols);
        var loss = Rent(1, logits.Cols);
        CpuBackend.SoftmaxCrossEntropyInto(logits, labels?.ToArray(), targets, probs, loss);
        return (probs, loss);
    }

    /// <inheritdoc/>
    public DenseTensor SoftmaxCrossEntropyBackward(DenseTensor probs, Labels? labels, DenseTensor? targets, DenseTensor dloss)
    {
        var d = Rent(probs.Rows, probs.Cols);
        CpuBackend.SoftmaxCrossEntropyBackwardInto(probs, labels?.ToArray(), targets, dloss, d);
        return d;
    }

    /// <inheritdoc/>
    public void SgdMomentum(DenseTensor w, DenseTensor g, DenseTensor velocity, float lr, float momentum, float weightDecay, bool nesterov)
        => Cpu.SgdMomentum(w.HostData, g.HostData, velocity.HostData, lr, momentum, weightDecay, nesterov);

    /// <inheritdoc/>
    public void Adam(DenseTensor w, DenseTensor g, DenseTensor m, DenseTensor v, float lr, float beta1, float beta2, float eps, float weightDecay, long step)
        => Cpu.Adam(w.HostData, g.HostData, m.HostData, v.HostData, lr, beta1, beta2, eps, weightDecay, step);

    /// <inheritdoc/>
    public void Synchronize() { }

    /// <inheritdoc/>
    public DenseTensor Im2Col(DenseTensor x, Conv2dGeometry g, int batch, int b0, int bc)
    {
        ConvShapes.CheckBatch(g, x, batch, b0, bc, "Im2Col");
        var (rows, cols) = ConvShapes.Columns(g, bc);
        var col = Rent(rows, cols);
        Cpu.Im2ColInto(g, x, batch, b0, bc, col.HostData);
        return col;
    }
    /// <inheritdoc/>
    public void Col2Im(DenseTensor dcol, Conv2dGeometry g, int batch, int b0, int bc, DenseTensor dx)
        => Cpu.Col2Im(g, dcol, batch, b0, bc, dx);
    /// <inheritdoc/>
    public (DenseTensor Y, DenseTensor Which) MaxPool2d(DenseTensor x, int batch, int height, int width, int k, int stride)
    {
        var (oh, ow) = ConvShapes.PoolPlane(height, width, k, stride, "MaxPool2d");
        var y = Rent(x.Rows, checked(batch * oh * ow));
        var which = Rent(y.Rows, y.Cols);
        Cpu.MaxPool2dInto(x, batch, height, width, k, stride, y, which);
        return (y, which);
    }
    /// <inheritdoc/>
    public DenseTensor MaxPool2dBackward(DenseTensor dy, DenseTensor which, int batch, int height, int width, int k, int stride)
    {
        var dx = Rent(dy.Rows, checked(batch * height * width));
        Cpu.MaxPool2dBackwardInto(dy, which, batch, height, width, k, stride, dx);
        return dx;
    }
    /// <inheritdoc/>
    public DenseTensor ChannelsToFeatures(DenseTensor x, int channels, int batch, int plane)
    {
        CpuBackend.CheckPermute(x, channels, batch, plane, "ChannelsToFeatures");
        var y = Rent(checked(channels * plane), batch);
        Cpu.ChannelsToFeaturesInto(x, channels, batch, plane, y.HostData);
        return y;
    }
    /// <inheritdoc/>
    public DenseTensor FeaturesToChannels(DenseTensor x, int channels, int batch, int plane)
    {
        CpuBackend.CheckPermute(x, channels, batch, plane, "FeaturesToChannels");
        var y = Rent(channels, checked(batch * plane));
        Cpu.FeaturesToChannelsInto(x, channels, batch, plane, y.HostData);
        return y;
    }
    /// <inheritdoc/>
    public DenseTensor GlobalAvgPool(DenseTensor x, int plane) => Cpu.GlobalAvgPool(x, plane);
    /// <inheritdoc/>
    public DenseTensor GlobalAvgPoolBackward(DenseTensor dy, int plane) => Cpu.GlobalAvgPoolBackward(dy, plane);

    /// <inheritdoc/>
    public DenseTensor CopyColumns(DenseTensor x, int c0, int n)
    {
        Columns(x, c0, n, "CopyColumns");
        var o = DenseTensor.Zeros(x.Rows, n);
        for (int r = 0; r < x.Rows; r++) x.HostData.AsSpan(r * x.Cols + c0, n).CopyTo(o.HostData.AsSpan(r * n, n));
        return o;
    }

    /// <inheritdoc/>
    public void SetColumns(DenseTensor y, int c0, DenseTensor source)
    {
        Columns(y, c0, source.Cols, "SetColumns");
        if (source.Rows != y.Rows) throw new ArgumentException($"SetColumns: source has {source.Rows} rows, y {y.Rows}.", nameof(source));
        int n = source.Cols;
        for (int r = 0; r < y.Rows; r++) source.HostData.AsSpan(r * n, n).CopyTo(y.HostData.AsSpan(r * y.Cols + c0, n));
    }

    internal static void Columns(DenseTensor x, int c0, int n, string op)
    {
        if (c0 < 0 || n < 0 || (long)c0 + n > x.Cols) throw new ArgumentException($"{op}: columns [{c0}, {c0 + n}) are outside the " +
            $"tensor's {x.Cols}.", nameof(c0));
    }

    private static void AddSpan(Span<float> y, ReadOnlySpan<float> x)
    {
        int i = 0, vc = System.Numerics.Vector<float>.Count;
        for (; i <= y.Length - vc; i += vc)
            (new System.Numerics.Vector<float>(y[i..]) + new System.Numerics.Vector<float>(x[i..])).CopyTo(y[i..]);
        for (; i < y.Length; i++) y[i] += x[i];
    }

    private static void Same(DenseTensor a, DenseTensor b, string op)
    {
        if (a.Length != b.Length) throw new ArgumentException($"{op}: operands have {a.Length} and {b.Length} elements.");
    }
}
