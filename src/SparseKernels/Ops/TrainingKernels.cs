using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using SparseKernels.Native;
using SparseKernels.Runtime;

namespace SparseKernels.Ops;

/// <summary>
/// Kernel handles of the training kernels (dense_gemm, softmax_cross_entropy, bias_rows, optimizer_update,
/// gather_columns), cached per device by name; kept apart from <see cref="KernelCache"/> so that the
/// launchers of this branch add nothing to that shared table.
/// </summary>
internal static class TrainingKernels
{
    private static readonly ConditionalWeakTable<IDevice, ConcurrentDictionary<string, Kernel>> s_tables = new();

    public static Kernel Get(IDevice device, string name)
        => s_tables.GetValue(device, static _ => new()).GetOrAdd(name, static (n, d) => d.GetKernel(n), device);

    /// <summary>Grid-stride launch of a 1-D kernel over <paramref name="count"/> elements.</summary>
    public static void LaunchFlat(IDevice device, string name, long count, ref KernelArgs args, DeviceStream? stream)
    {
        var config = new LaunchConfig(new Dim3(Elementwise.GridFor(device, count)), new Dim3(Elementwise.BlockSize), 0);
        device.Launch(Get(device, name), config, ref args, stream);
    }
}
