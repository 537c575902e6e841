using SparseKernels.Native;
using SparseKernels.Ops;
using SparseKernels.Runtime;

using SparseKernels.Tensors;

namespace SparseKernels.Topology;

/// <summary>
/// A full descending sort of |x| keys on a device (kernels/device_sort.cu, a bitonic network over the array padded
/// to a power of two): the baseline the selection benchmarks compare <see cref="TopkSelect"/> against.
/// </summary>
internal static class DeviceSort
{
    private static readonly KernelRef s_deviceSortBitonicStepV1 = new("device_sort_bitonic_step_v1");

    internal const string Op = "DeviceSort";

    /// <summary>The |x| keys of <paramref name="values"/> sorted descending, in a new buffer of the next power of two (padded with 0 keys).</summary>
    public static DeviceBuffer<uint> SortMagnitudes(IDevice device, DeviceBuffer<float> values, string layer = "values")
    {
        OperandChecks.Device(device, Op);
        OperandChecks.On(device, values, Op, nameof(values));
        TopologyChecks.SizeFitsInt(Op, layer, values.Length, "values");
        long n = 1;
        while (n < values.Length) n <<= 1;
        var keys = device.Allocate<uint>(n);
        try
        {
            device.Fill32(keys, 0u);
            TopkSelect.MagnitudeKeys(device, [values], [layer], keys);
            for (long k = 2; k <= n; k <<= 1)
                for (long j = k >> 1; j > 0; j >>= 1)
                {
                    var args = new KernelArgs();
                    args.Add(n);
                    args.Add(keys.Pointer.Address);
                    args.Add(j);
                    args.Add(k);
                    TopkSelect.Launch(device, s_deviceSortBitonicStepV1, n, ref args);
                }
            return keys;
        }
        catch
        {
            keys.Dispose();
            throw;
        }
    }
}
