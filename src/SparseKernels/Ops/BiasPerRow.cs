using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// Per-row bias of feature-major activations (features x batch) and row sums on a device (kernels/bias_per_row.cu):
/// the forward bias add and the bias gradient (sum of dY over the batch).
/// </summary>
public static class BiasPerRow
{
    private static readonly KernelRef s_biasRowsSumV1 = new("bias_per_row_sum_v1");
    private static readonly KernelRef s_biasRowsAddV1 = new("bias_per_row_add_v1");

    private const string Op = "BiasPerRow";
    private const int SumBlock = 256;

    /// <summary>x[r, c] += bias[r] (in place); bias has x.Rows elements.</summary>
    public static void Add(IDevice device, DenseTensor x, DenseTensor bias, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        DevicePtr px = OperandChecks.On(device, x, Op, nameof(x));
        DevicePtr pb = OperandChecks.On(device, bias, Op, nameof(bias));
        if (bias.Length != x.Rows)
            throw new ArgumentException($"{Op}.Add: bias has {bias.Length} elements; x is {x.Rows}x{x.Cols} and needs one per row.", nameof(bias));
        if (x.Length == 0) return;
        var args = new KernelArgs();
        args.Add(x.Rows); args.Add(x.Cols); args.Add(pb.Address); args.Add(px.Address);
        s_biasRowsAddV1.LaunchFlat(device, x.Length, ref args, stream);
    }

    /// <summary>x[0, c] += bias[0] over a flat buffer of x.Length elements (broadcasts a 1-element device scalar).</summary>
    internal static void AddScalar(IDevice device, DenseTensor x, DenseTensor scalar, DeviceStream? stream = null)
    {
        DevicePtr px = OperandChecks.On(device, x, Op, nameof(x));
        DevicePtr pb = OperandChecks.On(device, scalar, Op, nameof(scalar));
        if (scalar.Length != 1) throw new ArgumentException($"{Op}.AddScalar: the scalar has {scalar.Length} elements.", nameof(scalar));
        if (x.Length == 0) return;
        var args = new KernelArgs();
        args.Add(1); args.Add(checked((int)x.Length)); args.Add(pb.Address); args.Add(px.Address);
        s_biasRowsAddV1.LaunchFlat(device, x.Length, ref args, stream);
    }

    /// <summary>output[r] = scale * sum_c x[r, c] (+ output[r] when <paramref name="accumulate"/>); output has x.Rows elements.</summary>
    public static void Sum(IDevice device, DenseTensor x, DenseTensor output, float scale = 1, bool accumulate = false, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        DevicePtr px = OperandChecks.On(device, x, Op, nameof(x));
        DevicePtr po = OperandChecks.On(device, output, Op, nameof(output));
        if (output.Length != x.Rows)
            throw new ArgumentException($"{Op}.Sum: output has {output.Length} elements; x is {x.Rows}x{x.Cols} and needs one per row.", nameof(output));
        OperandChecks.NotSame(output.DeviceData, x.DeviceData, Op, nameof(output), nameof(x));
        if (x.Rows == 0) return;
        var args = new KernelArgs();
        args.Add(x.Rows); args.Add(x.Cols); args.Add(scale); args.Add(accumulate ? 1 : 0); args.Add(px.Address); args.Add(po.Address);
        var config = new LaunchConfig(new Dim3((uint)x.Rows), new Dim3(SumBlock), SumBlock * sizeof(float));
        s_biasRowsSumV1.Launch(device, config, ref args, stream);
    }
}
