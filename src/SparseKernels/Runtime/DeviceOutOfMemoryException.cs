using System.Globalization;

namespace SparseKernels.Runtime;

/// <summary>
/// A device allocation failed: the driver (cuMemAlloc, or the emulated device's arena) ran out of memory even after the
/// pool gave its cached blocks back, or the allocation would take the pool over its limit
/// (<see cref="DeviceMemoryPool.LimitBytes"/>, <c>SPARSEKERNELS_DEVICE_MEMORY_LIMIT</c>). Names the device, the bytes
/// asked for and the bytes free. An <see cref="OutOfMemoryException"/>, so code that handles host exhaustion handles it.
/// </summary>
public sealed class DeviceOutOfMemoryException : OutOfMemoryException
{
    /// <summary>The device that could not allocate (its <see cref="DeviceInfo.Name"/>).</summary>
    public string DeviceName { get; }
    /// <summary>The bytes the failed allocation asked for.</summary>
    public long RequestedBytes { get; }
    /// <summary>The bytes free when it failed: the driver's free memory, or what the pool's limit leaves.</summary>
    public long FreeBytes { get; }
    /// <summary>The pool's limit when that is what refused the allocation; null when the driver itself ran out.</summary>
    public long? LimitBytes { get; }

    internal DeviceOutOfMemoryException(string deviceName, long requestedBytes, long freeBytes, long? limitBytes, string detail,
                                        Exception? inner = null)
        : base(Format(deviceName, requestedBytes, freeBytes, limitBytes, detail), inner)
    {
        DeviceName = deviceName; RequestedBytes = requestedBytes; FreeBytes = freeBytes; LimitBytes = limitBytes;
    }

    private static string Format(string device, long requested, long free, long? limit, string detail)
        => string.Create(CultureInfo.InvariantCulture,
            $"Device '{device}' is out of memory: asked for {requested:N0} bytes{detail}, {free:N0} bytes free") +
           (limit is long l ? string.Create(CultureInfo.InvariantCulture,
               $" under the pool's limit of {l:N0} bytes ({DeviceMemoryPool.LimitVariable}). ") : " (the driver's figure). ") +
           "Use a smaller batch, model or density, or free buffers you no longer need.";
}
