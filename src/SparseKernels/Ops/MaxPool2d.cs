using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// Max pooling of a CNHW batch on a device (kernels/max_pool2d.cu): k x k windows, stride s, no padding; the forward
/// also writes which element of each window won (i * k + j, as a float), the backward routes dy there.
/// </summary>
internal static class MaxPool2d
{
    private static readonly KernelRef s_forwardV1 = new("max_pool2d_forward_v1");
    private static readonly KernelRef s_backwardV1 = new("max_pool2d_backward_v1");
    private const string Op = "MaxPool2d";

    /// <summary>y = the window maxima of x (C x (batch * H * W)), which = their positions in the window.</summary>
    public static void Forward(IDevice device, DenseTensor x, int batch, int height, int width, int k, int stride, DenseTensor y,
        DenseTensor which, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        var (outH, outW) = ConvShapes.PoolPlane(height, width, k, stride, Op);
        ConvShapes.CheckPool(Op, x, batch, height, width, y, which, outH, outW);
        DevicePtr px = OperandChecks.On(device, x, Op, nameof(x)), py = OperandChecks.On(device, y, Op, nameof(y)),
            pw = OperandChecks.On(device, which, Op, nameof(which));
        var args = new KernelArgs();
        args.Add(checked(x.Rows * batch)); args.Add(height); args.Add(width); args.Add(k); args.Add(stride); args.Add(outH); args.Add(outW);
        args.Add(px.Address); args.Add(py.Address); args.Add(pw.Address);
        s_forwardV1.LaunchFlat(device, y.Length, ref args, stream);
    }

    /// <summary>dx (C x (batch * H * W), overwritten) = dy routed to the winners of the forward pass.</summary>
    public static void Backward(IDevice device, DenseTensor dy, DenseTensor which, int batch, int height, int width, int k, int stride,
        DenseTensor dx, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        var (outH, outW) = ConvShapes.PoolPlane(height, width, k, stride, Op);
        ConvShapes.CheckPool(Op, dx, batch, height, width, dy, which, outH, outW);
        DevicePtr pd = OperandChecks.On(device, dy, Op, nameof(dy)), pw = OperandChecks.On(device, which, Op, nameof(which)),
            px = OperandChecks.On(device, dx, Op, nameof(dx));
        var args = new KernelArgs();
        args.Add(checked(dx.Rows * batch)); args.Add(height); args.Add(width); args.Add(k); args.Add(stride); args.Add(outH);
        args.Add(outW);
        args.Add(pd.Address); args.Add(pw.Address); args.Add(px.Address);
        s_backwardV1.LaunchFlat(device, dx.Length, ref args, stream);
    }
}
