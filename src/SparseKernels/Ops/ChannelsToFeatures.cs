using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// Between the convolutional and the fully connected layouts on a device (kernels/channels_to_features.cu): CNHW
/// C x (batch * HW) to feature-major (C * HW) x batch (<see cref="Run"/>, flatten) and back (<see cref="Inverse"/>).
/// </summary>
internal static class ChannelsToFeatures
{
    private static readonly KernelRef s_v1 = new("channels_to_features_v1");
    private static readonly KernelRef s_inverseV1 = new("features_to_channels_v1");
    private const string Op = "ChannelsToFeatures";

    private static void Launch(IDevice device, KernelRef k, DenseTensor x, DenseTensor y, int channels, int batch, int plane,
        DeviceStream? stream)
    {
        OperandChecks.Device(device, Op);
        if (channels <= 0 || batch <= 0
            || plane <= 0) throw new ArgumentException($"{Op}: channels {channels}, batch {batch} and plane {plane} must be positive.");
        long n = (long)channels * batch * plane;
        if (x.Length != n || y.Length != n) throw new ArgumentException($"{Op}: x has {x.Length} and y {y.Length} elements; " +
            $"{channels} x {batch} x {plane} = {n} expected.", nameof(x));
        DevicePtr px = OperandChecks.On(device, x, Op, nameof(x)), py = OperandChecks.On(device, y, Op, nameof(y));
        OperandChecks.NotSame(y.DeviceData, x.DeviceData, Op, nameof(y), nameof(x));
        var args = new KernelArgs();
        args.Add(channels); args.Add(batch); args.Add(plane); args.Add(px.Address); args.Add(py.Address);
        k.LaunchFlat(device, n, ref args, stream);
    }

    /// <summary>y ((C * HW) x batch) = x (C x (batch * HW)) permuted.</summary>
    public static void Run(IDevice device, DenseTensor x, DenseTensor y, int channels, int batch, int plane, DeviceStream? stream = null)
        => Launch(device, s_v1, x, y, channels, batch, plane, stream);

    /// <summary>y (C x (batch * HW)) = x ((C * HW) x batch) permuted.</summary>
    public static void Inverse(IDevice device, DenseTensor x, DenseTensor y, int channels, int batch, int plane,
        DeviceStream? stream = null)
        => Launch(device, s_inverseV1, x, y, channels, batch, plane, stream);
}
