using System.Runtime.CompilerServices;
using SparseKernels.Native;
using SparseKernels.Runtime;

namespace SparseKernels.Ops;

/// <summary>
/// A kernel named by its <c>extern "C"</c> name, declared by the launcher that uses it
/// (<c>private static readonly KernelRef s_v1 = new("spmm_csr_v1");</c>): the first launch on a device looks the
/// kernel up with <see cref="IDevice.GetKernel"/>, later launches read a cache keyed weakly by the device (a
/// disposed and collected device drops its entry). No central table: an op's kernels live with its launcher.
/// </summary>
internal sealed class KernelRef(string name)
{
    private readonly ConditionalWeakTable<IDevice, Kernel> _handles = new();

    /// <summary>Every kernel declared so far (the launchers' static fields), for tests and listings.</summary>
    private static readonly List<string> s_declared = [];

    private readonly string _name = Declare(name);

    public string Name => _name;

    /// <summary>The names of the kernels the launchers of this assembly declare (their classes initialised).</summary>
    public static IReadOnlyList<string> Declared
    {
        get { lock (s_declared) return s_declared.ToArray(); }
    }

    private static string Declare(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        lock (s_declared) if (!s_declared.Contains(name)) s_declared.Add(name);
        return name;
    }

    /// <summary>The handle on <paramref name="device"/> (a race between two first launches looks it up twice; both get the same handle).</summary>
    public Kernel Get(IDevice device)
        => _handles.TryGetValue(device, out var k) ? k : _handles.GetValue(device, d => d.GetKernel(_name));

    /// <summary>Launches with <paramref name="config"/> on <paramref name="stream"/> (default: the device's).</summary>
    public void Launch(IDevice device, in LaunchConfig config, ref KernelArgs args, DeviceStream? stream = null)
        => device.Launch(Get(device), config, ref args, stream);

    /// <summary>A grid-stride 1-D launch over <paramref name="count"/> elements (<see cref="Elementwise.GridFor"/>).</summary>
    public void LaunchFlat(IDevice device, long count, ref KernelArgs args, DeviceStream? stream = null)
    {
        var config = new LaunchConfig(new Dim3(Elementwise.GridFor(device, count)), new Dim3(Elementwise.BlockSize), 0);
        device.Launch(Get(device), config, ref args, stream);
    }

    public override string ToString() => _name;
}
