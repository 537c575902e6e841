using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>Global average pooling of a CNHW batch on a device (kernels/global_avg_pool.cu): C x (batch * HW) to C x batch, and its
/// gradient.</summary>
internal static class GlobalAvgPool
{
    private static readonly KernelRef s_forwardV1 = new("global_avg_pool_forward_v1");
    private static readonly KernelRef s_backwardV1 = new("global_avg_pool_backward_v1");
    private const string Op = "GlobalAvgPool";

    private static void Check(DenseTensor x, DenseTensor y, int plane)
    {
        if (plane <= 0 || x.Length != y.Length * plane) throw new ArgumentException($"{Op}: x has {x.Length} elements and y " +
            $"{y.Length}; x must have {plane} per element of y.", nameof(x));
    }

    /// <summary>y[i] = mean of x[i * plane .. (i + 1) * plane).</summary>
    public static void Forward(IDevice device, DenseTensor x, int plane, DenseTensor y, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        Check(x, y, plane);
        DevicePtr px = OperandChecks.On(device, x, Op, nameof(x)), py = OperandChecks.On(device, y, Op, nameof(y));
        var args = new KernelArgs();
        args.Add(checked((int)y.Length)); args.Add(plane); args.Add(px.Address); args.Add(py.Address);
        s_forwardV1.LaunchFlat(device, y.Length, ref args, stream);
    }

    /// <summary>dx[e] = dy[e / plane] / plane.</summary>
    public static void Backward(IDevice device, DenseTensor dy, int plane, DenseTensor dx, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        Check(dx, dy, plane);
        DevicePtr pd = OperandChecks.On(device, dy, Op, nameof(dy)), px = OperandChecks.On(device, dx, Op, nameof(dx));
        var args = new KernelArgs();
        args.Add(checked((int)dy.Length)); args.Add(plane); args.Add(pd.Address); args.Add(px.Address);
        s_backwardV1.LaunchFlat(device, dx.Length, ref args, stream);
    }
}
