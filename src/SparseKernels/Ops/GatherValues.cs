using SparseKernels.Native;
using SparseKernels.Runtime;

namespace SparseKernels.Ops;

/// <summary>
/// dst[i] = src[perm[i]] on a device (kernels/gather_values.cu): refreshes a transposed CSR's values from the weight's
/// values through the stored permutation (<see cref="SparseKernels.Autograd.SparsePermutation"/>).
/// </summary>
public static class GatherValues
{
    private const string Op = "GatherValues";
    private static readonly KernelRef s_gatherValuesV1 = new("gather_values_v1");

    /// <summary>dst[i] = src[perm[i]] over whole buffers (refreshes a transposed CSR's values from the weight's).</summary>
    public static void Run(IDevice device, DeviceBuffer<float> src, DeviceBuffer<int> perm, DeviceBuffer<float> dst, DeviceStream? stream = null)
    {
        const string op = Op;
        OperandChecks.Device(device, op);
        DevicePtr ps = OperandChecks.On(device, src, op, nameof(src));
        DevicePtr pp = OperandChecks.On(device, perm, op, nameof(perm));
        DevicePtr pd = OperandChecks.On(device, dst, op, nameof(dst));
        if (perm.Length != dst.Length) throw new ArgumentException($"{op}: perm has {perm.Length} entries; dst has {dst.Length}.", nameof(perm));
        if (dst.Length == 0) return;
        var args = new KernelArgs();
        args.Add(dst.Length); args.Add(ps.Address); args.Add(pp.Address); args.Add(pd.Address);
        s_gatherValuesV1.LaunchFlat(device, dst.Length, ref args, stream);
    }
}
