using SparseKernels.Linalg;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Autograd;

/// <summary>
/// The device backend of the autograd: our kernels (SpmmCsr, SddmmCsr, Elementwise, BiasRows,
/// SoftmaxCrossEntropy, OptimizerUpdate, GatherColumns) and, for dense matmul, cuBLAS on a CUDA
/// device or <c>dense_gemm_v1</c> on the emulated device. Every new tensor is a fresh device allocation.
/// </summary>
public sealed class DeviceTensorBackend : ITensorBackend, IDisposable
{
    private readonly CublasContext? _cublas;

    public DeviceTensorBackend(IDevice device)
    {
        Device = device;
        if (device.Kind == DeviceKind.Cuda) _cublas = new CublasContext(device);
    }

    public IDevice Device { get; }
    IDevice? ITensorBackend.Device => Device;
    public string Name => $"{Device.Kind} '{Device.Name}'";

    private DenseTensor New(int rows, int cols) => DenseTensor.Allocate(Device, rows, cols);

    public DenseTensor Full(int rows, int cols, float value)
    {
        var t = New(rows, cols);
        Elementwise.Fill(Device, t, value);
        return t;
    }

    public DenseTensor Upload(DenseTensor host) => host.ToDevice(Device);
    public DenseTensor Copy(DenseTensor x) => x.ToDevice(Device);
    public void AddInPlace(DenseTensor y, DenseTensor x) => Elementwise.Axpy(Device, 1f, x, y);

    public DenseTensor Scale(DenseTensor x, float alpha)
    {
        var o = New(x.Rows, x.Cols);
        Elementwise.Scale(Device, alpha, x, o);
        return o;
    }

    public DenseTensor Matmul(DenseTensor a, DenseTensor b, bool transA, bool transB)
    {
        int m = transA ? a.Cols : a.Rows, n = transB ? b.Rows : b.Cols;
        var c = New(m, n);
        try
        {
            if (_cublas is not null) _cublas.Sgemm(a, b, c, transA, transB);
            else DenseGemm.Run(Device, a, b, c, transA, transB);
        }
        catch { c.Dispose(); throw; }
        return c;
    }

    public DenseTensor Spmm(CsrMatrix a, DenseTensor b) => SpmmCsr.Compute(Device, a, b);

    public DenseTensor Sddmm(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        var o = New(1, pattern.Nnz);
        try { SddmmCsr.Run(Device, x, y, pattern, o.DeviceData); }
        catch { o.Dispose(); throw; }
        return o;
    }

    public void GatherValues(CsrMatrix source, SparsePermutation perm, CsrMatrix destination)
        => GatherColumns.GatherValues(Device, source.DeviceValues, perm.Device ?? throw new InvalidOperationException("The permutation was built for the host; build it with this device."), destination.DeviceValues);

    public void AddBiasRows(DenseTensor x, DenseTensor bias) => BiasRows.Add(Device, x, bias);

    public DenseTensor RowSum(DenseTensor x, float scale)
    {
        var o = New(x.Rows, 1);
        BiasRows.Sum(Device, x, o, scale);
        return o;
    }

    public DenseTensor Sum(DenseTensor x, float scale)
    {
        // One row of all elements: a flat view that shares (does not own) the buffer is not available, so
        // sum rows first, then the row sums.
        using var rows = RowSum(x, 1f);
        var o = New(1, 1);
        using var flat = DenseTensor.Allocate(Device, 1, rows.Rows);
        Device.CopyDeviceToDevice(rows.DeviceData, 0, flat.DeviceData, 0, rows.Rows);
        BiasRows.Sum(Device, flat, o, scale);
        return o;
    }

    public DenseTensor Broadcast(DenseTensor scalar, int rows, int cols, float scale)
    {
        var o = Full(rows, cols, 0f);
        BiasRows.AddScalar(Device, o, scalar);
        if (scale != 1f) Elementwise.Scale(Device, scale, o, o);
        return o;
    }

    public DenseTensor Relu(DenseTensor x)
    {
        var o = New(x.Rows, x.Cols);
        Elementwise.Relu(Device, x, o);
        return o;
    }

    public DenseTensor ReluBackward(DenseTensor x, DenseTensor dy)
    {
        var o = New(x.Rows, x.Cols);
        Elementwise.ReluBackward(Device, x, dy, o);
        return o;
    }

    public (DenseTensor Probs, DenseTensor Loss) SoftmaxCrossEntropy(DenseTensor logits, Labels? labels, DenseTensor? targets)
    {
        var p = New(logits.Rows, logits.Cols);
        var l = New(1, logits.Cols);
        try { Ops.SoftmaxCrossEntropy.Forward(Device, logits, DeviceLabels(labels), targets, p, l); }
        catch { p.Dispose(); l.Dispose(); throw; }
        return (p, l);
    }

    public DenseTensor SoftmaxCrossEntropyBackward(DenseTensor probs, Labels? labels, DenseTensor? targets, DenseTensor dloss)
    {
        var d = New(probs.Rows, probs.Cols);
        try { Ops.SoftmaxCrossEntropy.Backward(Device, probs, DeviceLabels(labels), targets, dloss, d); }
        catch { d.Dispose(); throw; }
        return d;
    }

    public void SgdMomentum(DenseTensor w, DenseTensor g, DenseTensor velocity, float lr, float momentum, float weightDecay, bool nesterov)
        => OptimizerUpdate.SgdMomentum(Device, w.DeviceData, g.DeviceData, velocity.DeviceData, lr, momentum, weightDecay, nesterov);

    public void Adam(DenseTensor w, DenseTensor g, DenseTensor m, DenseTensor v, float lr, float beta1, float beta2, float eps, float weightDecay, long step)
        => OptimizerUpdate.Adam(Device, w.DeviceData, g.DeviceData, m.DeviceData, v.DeviceData, lr, beta1, beta2, eps, weightDecay, step);

    public void Synchronize() => Device.Synchronize();

    private static DeviceBuffer<int>? DeviceLabels(Labels? labels)
        => labels is null ? null : labels.Device ?? throw new ArgumentException("SoftmaxCrossEntropy: the labels are on the host; upload them to the device (new Labels(deviceBuffer)).", nameof(labels));

    public void Dispose() => _cublas?.Dispose();
}
