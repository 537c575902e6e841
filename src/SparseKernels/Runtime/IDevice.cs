using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>
/// A device that runs our kernels: a CUDA GPU or the emulated device. Owns the context, the default
/// stream and the modules loaded from the embedded kernel images (once per context).
/// All operations are ordered on <see cref="Stream"/> unless a stream is given.
/// </summary>
public interface IDevice : IDisposable
{
    /// <summary>Whether this is a CUDA GPU or the emulated device.</summary>
    DeviceKind Kind { get; }
    /// <summary>The device's name, compute capability, memory and limits.</summary>
    DeviceInfo Info { get; }
    /// <summary>The device's name (<see cref="DeviceInfo.Name"/>).</summary>
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

    /// <summary>Copies <paramref name="length"/> elements between two buffers of this device, ordered on <see cref="Stream"/>. Offsets and length are in elements; throws <see cref="ArgumentOutOfRangeException"/> when a range is outside its buffer.</summary>
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

    /// <summary>The free and total device memory in bytes, as the driver (or, emulated, the process) reports them now.</summary>
    DeviceMemoryInfo GetMemoryInfo();

    /// <summary>Creates a new stream on this device; the caller disposes it, after synchronising it if buffers used on it are to be freed.</summary>
    DeviceStream CreateStream();
    /// <summary>Creates an event for timing and ordering work on this device's streams; the caller disposes it.</summary>
    DeviceEvent CreateEvent();
}
