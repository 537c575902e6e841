using SparseKernels.Native;

namespace SparseKernels.Runtime;

public static partial class Devices
{
    /// <summary>Null when a CUDA device can be opened; otherwise why not (library missing, driver too old, cuInit failed, no devices).</summary>
    public static partial string? ProbeCuda()
    {
        try
        {
            CudaDriver.Initialize();
            return null;
        }
        catch (CudaUnavailableException e) { return e.Message; }
    }

    /// <summary>Opens CUDA device <paramref name="ordinal"/>; throws <see cref="CudaUnavailableException"/> saying why not.</summary>
    public static partial IDevice OpenCuda(int ordinal) => CudaDevice.Open(ordinal);
}

/// <summary>One CUDA library as the engine sees it: the file it was loaded from and its version, or why it could not be loaded.</summary>
public sealed record CudaLibraryStatus(string Name, string? File, string? Version, string? Error)
{
    /// <summary>Whether the library could be loaded (<see cref="Error"/> is null).</summary>
    public bool IsAvailable => Error is null;
}

/// <summary>What the engine can find of CUDA on this machine, without needing a GPU (for <c>info</c>).</summary>
public static class CudaEnvironment
{
    /// <summary>The driver version text (e.g. "12.4 (12040)"), or null with why it is unknown.</summary>
    public static string? DriverVersion(out string? why)
    {
        int? v = CudaDriver.TryDriverVersion(out why);
        return v is null ? null : $"{CudaDriver.VersionText(v.Value)} ({v.Value})";
    }

    /// <summary>
    /// The kernel images (one per kernels/*.cu file, fatbin and PTX) embedded in this build of the engine; empty when it
    /// was built without nvcc (then only the CPU backend and, where built, the emulated device run).
    /// </summary>
    public static IReadOnlyList<string> KernelImages => Runtime.KernelImages.Available;

    /// <summary>The minimum driver version the embedded PTX needs.</summary>
    public static string MinimumDriverVersion => $"{CudaDriver.VersionText(CudaDriver.MinimumDriverVersion)} ({CudaDriver.MinimumDriverVersion})";

    /// <summary>The CUDA driver library, cuBLAS and cuSPARSE: file and version, or why not.</summary>
    public static IReadOnlyList<CudaLibraryStatus> Libraries()
    {
        var list = new List<CudaLibraryStatus>();
        string? driver = DriverVersion(out string? why);
        list.Add(new CudaLibraryStatus("CUDA driver", NativeLibraries.ResolvedFile(NativeLibraries.Cuda), driver, driver is null ? why : null));
        list.Add(Probe("cuBLAS", NativeLibraries.Cublas, CublasNative.LibraryVersion));
        list.Add(Probe("cuSPARSE", NativeLibraries.Cusparse, CusparseNative.LibraryVersion));
        return list;
    }

    private static CudaLibraryStatus Probe(string display, string logicalName, Func<string> version)
    {
        try
        {
            string v = version();
            return new CudaLibraryStatus(display, NativeLibraries.ResolvedFile(logicalName), v, null);
        }
        catch (Exception e) when (e is CudaUnavailableException or CublasException or CusparseException or EntryPointNotFoundException or DllNotFoundException)
        {
            return new CudaLibraryStatus(display, NativeLibraries.ResolvedFile(logicalName), null, e.Message);
        }
    }
}
