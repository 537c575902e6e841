using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>
/// The launch rules every device applies before a kernel runs, written once: both <see cref="CudaDevice"/> and
/// <see cref="EmulatedDevice"/> call <see cref="Check"/>, so a launch the GPU would refuse is refused on the emulated
/// device too, with the same message. (The emulator's native library keeps its own checks as a backstop for callers
/// that bypass C#.)
/// </summary>
internal static class LaunchChecks
{
    /// <summary>CUDA's limits on the grid (x below 2^31, y and z at most 65535) and the block (x, y at most 1024, z at most 64).</summary>
    public const uint MaxGridX = int.MaxValue, MaxGridYZ = 65535, MaxBlockXY = 1024, MaxBlockZ = 64;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the kernel when the geometry is empty or outside the device's
    /// limits, the dynamic shared memory is negative or above the device's per-block limit, or the argument count is
    /// not the kernel's parameter count (<paramref name="parameterCount"/> below 0: unknown, not checked).
    /// </summary>
    public static void Check(string kernel, in LaunchConfig config, int argumentCount, int parameterCount, DeviceInfo device)
    {
        Dim3 g = config.Grid, b = config.Block;
        if (g.Volume == 0 || b.Volume == 0)
            throw new ArgumentException($"Launch of '{kernel}': grid {g} and block {b} must both be non-empty.", nameof(config));
        if (g.X > MaxGridX || g.Y > MaxGridYZ || g.Z > MaxGridYZ)
            throw new ArgumentException($"Launch of '{kernel}': grid {g} exceeds CUDA's limits (x < 2^31, y and z <= 65535).", nameof(config));
        if (b.X > MaxBlockXY || b.Y > MaxBlockXY || b.Z > MaxBlockZ || b.Volume > (ulong)device.MaxThreadsPerBlock)
            throw new ArgumentException($"Launch of '{kernel}': block {b} has {b.Volume} threads; {device.Name} allows at most {device.MaxThreadsPerBlock} (x, y <= 1024, z <= 64).", nameof(config));
        if (config.SharedMemoryBytes < 0 || config.SharedMemoryBytes > device.MaxSharedMemoryPerBlock)
            throw new ArgumentException($"Launch of '{kernel}': {config.SharedMemoryBytes} bytes of dynamic shared memory; {device.Name} allows 0 to {device.MaxSharedMemoryPerBlock} per block.", nameof(config));
        // cuLaunchKernel reads as many argument pointers as the kernel declares: a short list would crash the process.
        if (parameterCount >= 0 && argumentCount != parameterCount)
            throw new ArgumentException($"Launch of '{kernel}': the kernel takes {parameterCount} arguments but {argumentCount} were given.", nameof(config));
    }
}
