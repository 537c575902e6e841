using SparseKernels.Linalg;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Autograd;

/// <summary>
/// The device backend of the autograd: our kernels (SpmmCsr, SddmmCsr, Elementwise, BiasPerRow,
/// SoftmaxCrossEntropy, OptimizerUpdate, GatherColumns) and, for dense matmul, cuBLAS on a CUDA
/// device or <c>dense_gemm_v1</c> on the emulated device.
/// </summary>
/// <remarks>
/// <para>A sparse layer's matmuls go through <see cref="SparseMatmulDispatch"/>: at or above the crossover sparsity
/// (for the dense operand's column count) our SpMM / SDDMM (<see cref="SpmmCsrVersion"/>, <see cref="SddmmCsrVersion"/>);
/// below it the dense path: the CSR weight scattered into a dense matrix (<see cref="CsrDense.Scatter"/>) and
/// multiplied by cuBLAS (dense_gemm on the emulated device), and the weight gradient computed densely and gathered
/// back at the pattern (<see cref="CsrDense.Gather"/>). The masked GEMM kernel is not used here: it takes
/// batch-major activations, and the autograd's are feature-major.</para>
/// <para>Tensors come from the device's caching allocator (<see cref="DeviceMemoryPool"/>): a training step after
/// the first allocates no driver memory and frees none.</para>
/// </remarks>
public sealed class DeviceTensorBackend : ITensorBackend, IDisposable
{
    private readonly CublasContext? _cublas;
    private IReadOnlyList<CrossoverRow> _crossover = SparseMatmulDispatch.DefaultTable;

    /// <summary>Creates a backend running on <paramref name="device"/> (with a cuBLAS context on a CUDA device). Throws <see cref="ArgumentNullException"/> for a null device and <see cref="SparseKernels.Native.CudaUnavailableException"/> when cuBLAS cannot be loaded.</summary>
    public DeviceTensorBackend(IDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        Device = device;
        if (device.Kind == DeviceKind.Cuda) _cublas = new CublasContext(device);
    }

    /// <inheritdoc/>
    public IDevice Device { get; }
    IDevice? ITensorBackend.Device => Device;
    /// <inheritdoc/>
    public string Name => $"{Device.Kind} '{Device.Name}'";

    /// <summary>The crossover table the sparse matmuls are dispatched by (default <see cref="SparseMatmulDispatch.DefaultTable"/>).</summary>
    public IReadOnlyList<CrossoverRow> CrossoverTable
    {
        get => _crossover;
        set
        {
            _crossover = SparseMatmulDispatch.Validate(value);
        }
    }

    /// <summary>Forces one path for every sparse matmul (default Auto: by <see cref="CrossoverTable"/>).</summary>
    public SparseMatmulKernel ForceKernel { get; set; } = SparseMatmulKernel.Auto;

    /// <summary>The SpMM kernel version of the sparse path (default V2).</summary>
    public SpmmCsrVersion SpmmVersion { get; set; } = SpmmCsrVersion.V2;

    /// <summary>The SDDMM kernel version of the sparse path (default V2).</summary>
    public SddmmCsrVersion SddmmVersion { get; set; } = SddmmCsrVersion.V2;

    /// <summary>When set, every op is timed on the device under its name (see <see cref="DeviceOpProfiler"/>).</summary>
    public DeviceOpProfiler? Profiler { get; set; }

    /// <summary>The path a sparse matmul on <paramref name="a"/> with <paramref name="n"/> dense columns takes.</summary>
    public SparseMatmulKernel PathFor(CsrMatrix a, int n)
    {
        ArgumentNullException.ThrowIfNull(a);
        long size = (long)a.Rows * a.Cols;
        double sparsity = size == 0 ? 1.0 : 1.0 - (double)a.Nnz / size;
        return SparseMatmulDispatch.Choose(Device.Kind, sparsity, n, ForceKernel, _crossover);
    }

    private int Begin() => Profiler?.Begin() ?? -1;

    private void End(string op, int token)
    {
        if (token >= 0) Profiler?.End(op, token);
    }

    private DenseTensor New(int rows, int cols) => DenseTensor.Allocate(Device, rows, cols);

    /// <inheritdoc/>
    public DenseTensor Full(int rows, int cols, float value)
    {
        int token = Begin();
        var t = New(rows, cols);
        Elementwise.Fill(Device, t, value);
        End("Full", token);
        return t;
    }

    /// <inheritdoc/>
    public DenseTensor Upload(DenseTensor host) => host.ToDevice(Device);

    /// <inheritdoc/>
    public DenseTensor Copy(DenseTensor x)
    {
        int token = Begin();
        var c = x.ToDevice(Device);
        End("Copy", token);
        return c;
    }

    /// <inheritdoc/>
    public void AddInPlace(DenseTensor y, DenseTensor x)
    {
        int token = Begin();
        Elementwise.Axpy(Device, 1f, x, y);
        End("AddInPlace", token);
    }

    /// <inheritdoc/>
    public DenseTensor Scale(DenseTensor x, float alpha)
    {
        int token = Begin();
        var o = New(x.Rows, x.Cols);
        Elementwise.Scale(Device, alpha, x, o);
        End("Scale", token);
        return o;
    }

    /// <inheritdoc/>
    public DenseTensor DenseGemm(DenseTensor a, DenseTensor b, bool transA, bool transB)
    {
        int token = Begin();
        var c = DenseMatmul(a, b, transA, transB);
        End("DenseGemm", token);
        return c;
    }

    private DenseTensor DenseMatmul(DenseTensor a, DenseTensor b, bool transA, bool transB)
    {
        int m = transA ? a.Cols : a.Rows, n = transB ? b.Rows : b.Cols;
        var c = New(m, n);
        try
        {
            if (_cublas is not null) _cublas.Sgemm(a, b, c, transA, transB);
            else Ops.DenseGemm.Run(Device, a, b, c, transA, transB);
        }
        catch { c.Dispose(); throw; }
        return c;
    }

    /// <inheritdoc/>
    public DenseTensor SpmmCsr(CsrMatrix a, DenseTensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int token = Begin();
        bool sparse = PathFor(a, b.Cols) == SparseMatmulKernel.Spmm;
        DenseTensor c;
        if (sparse)
        {
            c = New(a.Rows, b.Cols);
            try { Ops.SpmmCsr.Run(Device, a, b, c, SpmmVersion); }
            catch { c.Dispose(); throw; }
        }
        else
        {
            using var dense = New(a.Rows, a.Cols);
            CsrDense.Scatter(Device, a, dense);
            c = DenseMatmul(dense, b, false, false);
        }
        End(sparse ? "SpmmCsr" : "SpmmCsr (dense path)", token);
        return c;
    }

    /// <inheritdoc/>
    public DenseTensor SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        int token = Begin();
        bool sparse = PathFor(pattern, x.Cols) == SparseMatmulKernel.Spmm;
        var o = New(1, pattern.Nnz);
        try
        {
            if (sparse) Ops.SddmmCsr.Run(Device, x, y, pattern, o.DeviceData, SddmmVersion);
            else
            {
                if (x.Rows != pattern.Rows || y.Rows != pattern.Cols || x.Cols != y.Cols)
                    throw new ArgumentException($"SddmmCsr: X is {x.Rows}x{x.Cols} and Y is {y.Rows}x{y.Cols}; the {pattern.Rows}x{pattern.Cols} pattern needs X {pattern.Rows}xk and Y {pattern.Cols}xk.", nameof(x));
                using var dense = DenseMatmul(x, y, false, true);
                CsrDense.Gather(Device, dense, pattern, o.DeviceData);
            }
        }
        catch { o.Dispose(); throw; }
        End(sparse ? "SddmmCsr" : "SddmmCsr (dense path)", token);
        return o;
    }

    /// <inheritdoc/>
    public void GatherValues(CsrMatrix source, SparsePermutation perm, CsrMatrix destination)
    {
        int token = Begin();
        Ops.GatherValues.Run(Device, source.DeviceValues, perm.Device ?? throw new InvalidOperationException("The permutation was built for the host; build it with this device."), destination.DeviceValues);
        End("GatherValues", token);
    }

    /// <inheritdoc/>
    public void AddBiasPerRow(DenseTensor x, DenseTensor bias)
    {
        int token = Begin();
        BiasPerRow.Add(Device, x, bias);
        End("AddBiasPerRow", token);
    }

    /// <inheritdoc/>
    public DenseTensor RowSum(DenseTensor x, float scale)
    {
        int token = Begin();
        var o = New(x.Rows, 1);
        BiasPerRow.Sum(Device, x, o, scale);
        End("RowSum", token);
        return o;
    }

    /// <inheritdoc/>
    public DenseTensor Sum(DenseTensor x, float scale)
    {
        // One row of all elements: a flat view that shares (does not own) the buffer is not available, so
        // sum rows first, then the row sums.
        using var rows = RowSum(x, 1f);
        var o = New(1, 1);
        using var flat = DenseTensor.Allocate(Device, 1, rows.Rows);
        Device.CopyDeviceToDevice(rows.DeviceData, 0, flat.DeviceData, 0, rows.Rows);
        BiasPerRow.Sum(Device, flat, o, scale);
        return o;
    }

    /// <inheritdoc/>
    public DenseTensor Broadcast(DenseTensor scalar, int rows, int cols, float scale)
    {
        var o = Full(rows, cols, 0f);
        BiasPerRow.AddScalar(Device, o, scalar);
        if (scale != 1f) Elementwise.Scale(Device, scale, o, o);
        return o;
    }

    /// <inheritdoc/>
    public DenseTensor Relu(DenseTensor x)
    {
        int token = Begin();
        var o = New(x.Rows, x.Cols);
        Elementwise.Relu(Device, x, o);
        End("Relu", token);
        return o;
    }

    /// <inheritdoc/>
    public DenseTensor ReluBackward(DenseTensor x, DenseTensor dy)
    {
        int token = Begin();
        var o = New(x.Rows, x.Cols);
        Elementwise.ReluBackward(Device, x, dy, o);
        End("ReluBackward", token);
        return o;
    }

    /// <inheritdoc/>
    public (DenseTensor Probs, DenseTensor Loss) SoftmaxCrossEntropy(DenseTensor logits, Labels? labels, DenseTensor? targets)
    {
        int token = Begin();
        var p = New(logits.Rows, logits.Cols);
        var l = New(1, logits.Cols);
        try { Ops.SoftmaxCrossEntropy.Forward(Device, logits, DeviceLabels(labels), targets, p, l); }
        catch { p.Dispose(); l.Dispose(); throw; }
        End("SoftmaxCrossEntropy", token);
        return (p, l);
    }

    /// <inheritdoc/>
    public DenseTensor SoftmaxCrossEntropyBackward(DenseTensor probs, Labels? labels, DenseTensor? targets, DenseTensor dloss)
    {
        int token = Begin();
        var d = New(probs.Rows, probs.Cols);
        try { Ops.SoftmaxCrossEntropy.Backward(Device, probs, DeviceLabels(labels), targets, dloss, d); }
        catch { d.Dispose(); throw; }
        End("SoftmaxCrossEntropyBackward", token);
        return d;
    }

    /// <inheritdoc/>
    public void SgdMomentum(DenseTensor w, DenseTensor g, DenseTensor velocity, float lr, float momentum, float weightDecay, bool nesterov)
    {
        int token = Begin();
        OptimizerUpdate.SgdMomentum(Device, w.DeviceData, g.DeviceData, velocity.DeviceData, lr, momentum, weightDecay, nesterov);
        End("SgdMomentum", token);
    }

    /// <inheritdoc/>
    public void Adam(DenseTensor w, DenseTensor g, DenseTensor m, DenseTensor v, float lr, float beta1, float beta2, float eps, float weightDecay, long step)
    {
        int token = Begin();
        OptimizerUpdate.Adam(Device, w.DeviceData, g.DeviceData, m.DeviceData, v.DeviceData, lr, beta1, beta2, eps, weightDecay, step);
        End("Adam", token);
    }

    /// <inheritdoc/>
    public void Synchronize() => Device.Synchronize();

    /// <inheritdoc/>
    public DenseTensor Im2Col(DenseTensor x, Conv2dGeometry g, int batch, int b0, int bc)
    {
        int token = Begin();
        var (rows, cols) = ConvShapes.Columns(g, bc);
        var col = New(rows, cols);
        try { Ops.Im2Col.Run(Device, g, x, batch, b0, bc, col); }
        catch { col.Dispose(); throw; }
        End("Im2Col", token);
        return col;
    }

    /// <inheritdoc/>
    public void Col2Im(DenseTensor dcol, Conv2dGeometry g, int batch, int b0, int bc, DenseTensor dx)
    {
        int token = Begin();
        Ops.Col2Im.Run(Device, g, dcol, batch, b0, bc, dx);
        End("Col2Im", token);
    }

    /// <inheritdoc/>
    public (DenseTensor Y, DenseTensor Which) MaxPool2d(DenseTensor x, int batch, int height, int width, int k, int stride)
    {
        int token = Begin();
        var (oh, ow) = ConvShapes.PoolPlane(height, width, k, stride, "MaxPool2d");
        var y = New(x.Rows, checked(batch * oh * ow));
        var which = New(y.Rows, y.Cols);
        try { Ops.MaxPool2d.Forward(Device, x, batch, height, width, k, stride, y, which); }
        catch { y.Dispose(); which.Dispose(); throw; }
        End("MaxPool2d", token);
        return (y, which);
    }

    /// <inheritdoc/>
    public DenseTensor MaxPool2dBackward(DenseTensor dy, DenseTensor which, int batch, int height, int width, int k, int stride)
    {
        int token = Begin();
        var dx = New(dy.Rows, checked(batch * height * width));
        try { Ops.MaxPool2d.Backward(Device, dy, which, batch, height, width, k, stride, dx); }
        catch { dx.Dispose(); throw; }
        End("MaxPool2dBackward", token);
        return dx;
    }

    /// <inheritdoc/>
    public DenseTensor ChannelsToFeatures(DenseTensor x, int channels, int batch, int plane)
    {
        var y = New(checked(channels * plane), batch);
        try { Ops.ChannelsToFeatures.Run(Device, x, y, channels, batch, plane); }
        catch { y.Dispose(); throw; }
        return y;
    }

    /// <inheritdoc/>
    public DenseTensor FeaturesToChannels(DenseTensor x, int channels, int batch, int plane)
    {
        var y = New(channels, checked(batch * plane));
        try { Ops.ChannelsToFeatures.Inverse(Device, x, y, channels, batch, plane); }
        catch { y.Dispose(); throw; }
        return y;
    }

    /// <inheritdoc/>
    public DenseTensor GlobalAvgPool(DenseTensor x, int plane)
    {
        if (plane <= 0 || x.Cols % plane != 0) throw new ArgumentException($"GlobalAvgPool: x is {x.Rows}x{x.Cols}; its columns are " +
            $"not a whole number of {plane}-element planes.", nameof(x));
        var y = New(x.Rows, x.Cols / plane);
        try { Ops.GlobalAvgPool.Forward(Device, x, plane, y); }
        catch { y.Dispose(); throw; }
        return y;
    }

    /// <inheritdoc/>
    public DenseTensor GlobalAvgPoolBackward(DenseTensor dy, int plane)
    {
        var dx = New(dy.Rows, checked(dy.Cols * plane));
        try { Ops.GlobalAvgPool.Backward(Device, dy, plane, dx); }
        catch { dx.Dispose(); throw; }
        return dx;
    }

    /// <inheritdoc/>
    public DenseTensor CopyColumns(DenseTensor x, int c0, int n)
    {
        CpuTensorBackend.Columns(x, c0, n, "CopyColumns");
        var o = New(x.Rows, n);
        for (int r = 0; r < x.Rows; r++) Device.CopyDeviceToDevice(x.DeviceData, (long)r * x.Cols + c0, o.DeviceData, (long)r * n, n);
        return o;
    }

    /// <inheritdoc/>
    public void SetColumns(DenseTensor y, int c0, DenseTensor source)
    {
        CpuTensorBackend.Columns(y, c0, source.Cols, "SetColumns");
        if (source.Rows != y.Rows) throw new ArgumentException($"SetColumns: source has {source.Rows} rows, y {y.Rows}.", nameof(source));
        int n = source.Cols;
        for (int r = 0; r < y.Rows; r++) Device.CopyDeviceToDevice(source.DeviceData, (long)r * n, y.DeviceData, (long)r * y.Cols + c0, n);
    }

    private static DeviceBuffer<int>? DeviceLabels(Labels? labels)
        => labels is null ? null : labels.Device ?? throw new ArgumentException("SoftmaxCrossEntropy: the labels are on the host; upload them to the device (new Labels(deviceBuffer)).", nameof(labels));

    /// <inheritdoc/>
    public void Dispose() => _cublas?.Dispose();
}
