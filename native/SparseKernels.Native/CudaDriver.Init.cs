namespace SparseKernels.Native;

internal static partial class CudaDriver
{
    private static readonly Lazy<(int DriverVersion, int DeviceCount, CudaUnavailableException? Error)> s_init =
        new(InitializeOnce, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Loads the driver library, checks its version, calls cuInit and counts devices, once per process.
    /// Throws <see cref="CudaUnavailableException"/> saying which step failed and why; never crashes.
    /// Returns the driver version (e.g. 12040) and the device count (at least 1).
    /// </summary>
    public static (int DriverVersion, int DeviceCount) Initialize()
    {
        var (version, count, error) = s_init.Value;
        if (error is not null) throw new CudaUnavailableException(error.Message, error.InnerException);
        return (version, count);
    }

    /// <summary>The driver version (cuDriverGetVersion, works without cuInit), or null with why not.</summary>
    public static int? TryDriverVersion(out string? why)
    {
        why = null;
        try
        {
            NativeLibraries.Require(NativeLibraries.Cuda);
            int r = cuDriverGetVersion(out int v);
            if (r == CUDA_SUCCESS) return v;
            why = Error(r, nameof(cuDriverGetVersion)).Message;
        }
        catch (CudaUnavailableException e) { why = e.Message; }
        catch (EntryPointNotFoundException e) { why = $"the CUDA driver library lacks an entry point: {e.Message}"; }
        return null;
    }

    public static string VersionText(int version) => $"{version / 1000}.{version % 1000 / 10}";

    private static (int, int, CudaUnavailableException?) InitializeOnce()
    {
        try
        {
            NativeLibraries.Require(NativeLibraries.Cuda);
            int r = cuDriverGetVersion(out int version);
            if (r != CUDA_SUCCESS)
                return (0, 0, new CudaUnavailableException($"The CUDA driver did not report its version: {Error(r, nameof(cuDriverGetVersion)).Message}"));
            if (version < MinimumDriverVersion)
                return (version, 0, new CudaUnavailableException(
                    $"The CUDA driver is version {VersionText(version)} ({version}); this engine's PTX was built with CUDA 11.8 and needs a driver >= {VersionText(MinimumDriverVersion)}. Update the NVIDIA driver."));
            r = cuInit(0);
            if (r != CUDA_SUCCESS)
            {
                var e = Error(r, nameof(cuInit));
                return (version, 0, new CudaUnavailableException(
                    $"cuInit failed with {e.ErrorName} ({r}): {ErrorDescription(r)}. The CUDA driver library {NativeLibraries.ResolvedFile(NativeLibraries.Cuda)} (version {VersionText(version)}) is installed, but no usable GPU or NVIDIA kernel module was found.", e));
            }
            r = cuDeviceGetCount(out int count);
            if (r != CUDA_SUCCESS)
                return (version, 0, new CudaUnavailableException($"cuDeviceGetCount failed: {Error(r, nameof(cuDeviceGetCount)).Message}"));
            if (count == 0)
                return (version, 0, new CudaUnavailableException("The CUDA driver initialised but found no CUDA devices (cuDeviceGetCount = 0)."));
            return (version, count, null);
        }
        catch (CudaUnavailableException e) { return (0, 0, e); }
        catch (EntryPointNotFoundException e)
        {
            return (0, 0, new CudaUnavailableException($"The CUDA driver library is too old: it lacks an entry point this engine binds ({e.Message}).", e));
        }
    }
}
