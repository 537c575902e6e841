using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>How a device runs kernels.</summary>
public enum DeviceKind
{
    /// <summary>A real NVIDIA GPU through the CUDA driver API.</summary>
    Cuda,
    /// <summary>The kernels compiled for the CPU and run by the emulator (device memory is host memory).</summary>
    Emulated,
}

/// <summary>What a device is: name, compute capability, memory, driver.</summary>
public sealed record DeviceInfo(
    string Name,
    int Ordinal,
    int ComputeCapabilityMajor,
    int ComputeCapabilityMinor,
    long TotalMemoryBytes,
    int MultiprocessorCount,
    int DriverVersion,
    int MaxThreadsPerBlock,
    int MaxSharedMemoryPerBlock,
    int WarpSize)
{
    public string ComputeCapability => $"{ComputeCapabilityMajor}.{ComputeCapabilityMinor}";
    public string DriverVersionText => DriverVersion <= 0 ? "n/a" : $"{DriverVersion / 1000}.{DriverVersion % 1000 / 10}";
}

/// <summary>Free and total device memory in bytes.</summary>
public readonly record struct DeviceMemoryInfo(long FreeBytes, long TotalBytes);

/// <summary>The geometry of a launch.</summary>
internal readonly record struct LaunchConfig(Dim3 Grid, Dim3 Block, int SharedMemoryBytes = 0);

/// <summary>
/// A device that runs our kernels: a CUDA GPU or the emulated device. Owns the context, the default
/// stream and the modules loaded from the embedded kernel images (once per context).
/// All operations are ordered on <see cref="Stream"/> unless a stream is given.
/// </summary>
public interface IDevice : IDisposable
{
    DeviceKind Kind { get; }
    DeviceInfo Info { get; }
    string Name => Info.Name;

    /// <summary>The stream that launches and copies use by default.</summary>
    DeviceStream Stream { get; }

    /// <summary>Allocates <paramref name="length"/> elements (uninitialised).</summary>
    DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged;

    /// <summary>Copies host data into a device buffer (synchronous with respect to the host).</summary>
    void CopyToDevice<T>(ReadOnlySpan<T> source, DeviceBuffer<T> destination, long destinationOffset = 0) where T : unmanaged;

    /// <summary>
    /// Copies device data to the host after all work queued on <see cref="Stream"/>. Copies are ordered on
    /// <see cref="Stream"/> only: synchronise work queued on other streams (CreateStream, External.WrapStream) first.
    /// </summary>
    void CopyToHost<T>(DeviceBuffer<T> source, long sourceOffset, Span<T> destination) where T : unmanaged;

    void CopyDeviceToDevice<T>(DeviceBuffer<T> source, long sourceOffset, DeviceBuffer<T> destination, long destinationOffset, long length) where T : unmanaged;

    /// <summary>Sets every 32-bit word of the buffer to <paramref name="bits"/> (e.g. a NaN pattern to poison outputs).</summary>
    void Fill32<T>(DeviceBuffer<T> buffer, uint bits) where T : unmanaged;

    /// <summary>The names of the kernels this device can launch (empty when no kernel images were built).</summary>
    IReadOnlyList<string> KernelNames { get; }

    /// <summary>The kernel with this <c>extern "C"</c> name. Throws <see cref="KernelNotFoundException"/> naming what is loaded.</summary>
    internal Kernel GetKernel(string name);

    /// <summary>Launches a kernel on <paramref name="stream"/> (default: <see cref="Stream"/>). Neither boxes nor allocates.</summary>
    internal void Launch(Kernel kernel, in LaunchConfig config, ref KernelArgs args, DeviceStream? stream = null);

    /// <summary>Waits for all work on the device.</summary>
    void Synchronize();

    DeviceMemoryInfo GetMemoryInfo();

    DeviceStream CreateStream();
    DeviceEvent CreateEvent();
}

/// <summary>A kernel function of a loaded module, by its extern "C" name.</summary>
internal abstract class Kernel
{
    protected Kernel(string name) { Name = name; }
    public string Name { get; }
    public override string ToString() => Name;
}

public sealed class KernelNotFoundException(string message) : Exception(message);
