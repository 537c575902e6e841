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
    /// <summary>The compute capability as text, e.g. <c>9.0</c>.</summary>
    public string ComputeCapability => $"{ComputeCapabilityMajor}.{ComputeCapabilityMinor}";
    /// <summary>The CUDA driver version as text, e.g. <c>12.4</c>, or <c>n/a</c> when there is no driver (the emulated device).</summary>
    public string DriverVersionText => DriverVersion <= 0 ? "n/a" : $"{DriverVersion / 1000}.{DriverVersion % 1000 / 10}";
}

/// <summary>Free and total device memory in bytes.</summary>
public readonly record struct DeviceMemoryInfo(long FreeBytes, long TotalBytes);

/// <summary>The geometry of a launch.</summary>
internal readonly record struct LaunchConfig(Dim3 Grid, Dim3 Block, int SharedMemoryBytes = 0);
