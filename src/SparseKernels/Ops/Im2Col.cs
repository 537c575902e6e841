using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// The im2col matrix of a convolution's input on a device (kernels/im2col.cu): for samples [b0, b0 + bc) of a CNHW
/// batch x (C x (batch * H * W)), col ((C * kh * kw) x (bc * Ho * Wo)) holds every kernel window as a column, zero
/// outside the input; the convolution is then the weight (out x C*kh*kw) times col.
/// </summary>
internal static class Im2Col
{
    private static readonly KernelRef s_v1 = new("im2col_v1");
    private const string Op = "Im2Col";

    /// <summary>Writes the columns of samples [b0, b0 + bc) of <paramref name="x"/> into <paramref name="col"/>.</summary>
    public static void Run(IDevice device, Conv2dGeometry g, DenseTensor x, int batch, int b0, int bc, DenseTensor col,
        DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        ConvShapes.CheckBatch(g, x, batch, b0, bc, Op);
        var (rows, cols) = ConvShapes.Columns(g, bc);
        if (col.Rows != rows || col.Cols != cols) throw new ArgumentException($"{Op}: col is {col.Rows}x{col.Cols}; it must be " +
            $"{rows}x{cols}.", nameof(col));
        DevicePtr px = OperandChecks.On(device, x, Op, nameof(x));
        DevicePtr pc = OperandChecks.On(device, col, Op, nameof(col));
        OperandChecks.NotSame(col.DeviceData, x.DeviceData, Op, nameof(col), nameof(x));
        var args = new KernelArgs();
        args.Add(g.InChannels); args.Add(g.Height); args.Add(g.Width); args.Add(g.KernelH); args.Add(g.KernelW); args.Add(g.Stride);
        args.Add(g.Padding);
        args.Add(g.OutHeight); args.Add(g.OutWidth); args.Add(batch); args.Add(b0); args.Add(bc); args.Add(px.Address);
        args.Add(pc.Address);
        s_v1.LaunchFlat(device, col.Length, ref args, stream);
    }
}
