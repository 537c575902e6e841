using SparseKernels.Native;

namespace SparseKernels.Runtime;

public static partial class Devices
{
    private static readonly Lock s_emulatedLock = new();
    private static EmulatedDevice? s_emulated;

    public static partial string? ProbeEmulated() => Emulator.Probe();

    /// <summary>
    /// The emulated device. Its memory arena and kernel registry are process-wide, so this returns the
    /// same instance while it is open; each call counts one open, matched by one Dispose (the last one disposes it), so
    /// threads that open and dispose it on their own never dispose it under each other.
    /// </summary>
    public static partial IDevice OpenEmulated()
    {
        if (ProbeEmulated() is string why) throw new CudaUnavailableException($"The emulated device is unavailable: {why}");
        lock (s_emulatedLock)
        {
            if (s_emulated is { } open && open.TryAddOpen()) return open;
            s_emulated = new EmulatedDevice();
            return s_emulated;
        }
    }
}
