using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// The adjoint of <see cref="Im2Col"/> on a device (kernels/col2im.cu): samples [b0, b0 + bc) of the CNHW input
/// gradient dx from the gradient of their columns dcol ((C * kh * kw) x (bc * Ho * Wo)); those samples of dx are
/// overwritten, the others left as they are.
/// </summary>
internal static class Col2Im
{
    private static readonly KernelRef s_v1 = new("col2im_v1");
    private const string Op = "Col2Im";

    /// <summary>Writes samples [b0, b0 + bc) of <paramref name="dx"/> (C x (batch * H * W)) from <paramref name="dcol"/>.</summary>
    public static void Run(IDevice device, Conv2dGeometry g, DenseTensor dcol, int batch, int b0, int bc, DenseTensor dx,
        DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        ConvShapes.CheckBatch(g, dx, batch, b0, bc, Op, "dx");
        var (rows, cols) = ConvShapes.Columns(g, bc);
        if (dcol.Rows != rows
            || dcol.Cols != cols) throw new ArgumentException($"{Op}: dcol is {dcol.Rows}x{dcol.Cols}; it must be {rows}x{cols}.",
                nameof(dcol));
        DevicePtr pc = OperandChecks.On(device, dcol, Op, nameof(dcol));
        DevicePtr px = OperandChecks.On(device, dx, Op, nameof(dx));
        OperandChecks.NotSame(dx.DeviceData, dcol.DeviceData, Op, nameof(dx), nameof(dcol));
        var args = new KernelArgs();
        args.Add(g.InChannels); args.Add(g.Height); args.Add(g.Width); args.Add(g.KernelH); args.Add(g.KernelW); args.Add(g.Stride);
        args.Add(g.Padding);
        args.Add(g.OutHeight); args.Add(g.OutWidth); args.Add(batch); args.Add(b0); args.Add(bc); args.Add(pc.Address);
        args.Add(px.Address);
        s_v1.LaunchFlat(device, (long)g.InChannels * bc * g.Height * g.Width, ref args, stream);
    }
}
