using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>Which device to open.</summary>
public enum DevicePreference
{
    /// <summary>A CUDA GPU when one is usable, else the emulated device when it was built, else an error saying why neither.</summary>
    Auto,
    /// <summary>A CUDA GPU; fails with <see cref="SparseKernels.Native.CudaUnavailableException"/> when none is usable.</summary>
    Cuda,
    /// <summary>The emulated device (the kernels compiled for the CPU); fails when its library was not built.</summary>
    Emulated,
}

/// <summary>
/// Device selection. <see cref="Open"/> honours the SPARSEKERNELS_DEVICE environment variable
/// (auto | cuda | emulated) when called with <see cref="DevicePreference.Auto"/>.
/// </summary>
public static partial class Devices
{
    /// <summary>The environment variable (<c>auto</c>, <c>cuda</c> or <c>emulated</c>) that <see cref="Open"/> reads when asked for <see cref="DevicePreference.Auto"/>.</summary>
    public const string DeviceEnvironmentVariable = "SPARSEKERNELS_DEVICE";

    /// <summary>Opens a device by preference. Throws <see cref="CudaUnavailableException"/> saying why none can be opened.</summary>
    public static IDevice Open(DevicePreference preference = DevicePreference.Auto, int ordinal = 0)
    {
        if (preference == DevicePreference.Auto)
            preference = ParseEnvironment() ?? DevicePreference.Auto;
        switch (preference)
        {
            case DevicePreference.Cuda: return OpenCuda(ordinal);
            case DevicePreference.Emulated: return OpenEmulated();
        }
        string? cudaWhy = ProbeCuda();
        if (cudaWhy is null) return OpenCuda(ordinal);
        string? emuWhy = ProbeEmulated();
        if (emuWhy is null) return OpenEmulated();
        throw new CudaUnavailableException($"No device: CUDA is unavailable ({cudaWhy}) and the emulated device is unavailable ({emuWhy}).");
    }

    private static DevicePreference? ParseEnvironment()
    {
        string? v = Environment.GetEnvironmentVariable(DeviceEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(v)) return null;
        return v.Trim().ToLowerInvariant() switch
        {
            "auto" => DevicePreference.Auto,
            "cuda" or "gpu" => DevicePreference.Cuda,
            "emulated" or "emu" => DevicePreference.Emulated,
            _ => throw new ArgumentException($"{DeviceEnvironmentVariable}='{v}' is not one of auto, cuda, emulated."),
        };
    }

    /// <summary>Null when a CUDA device can be opened; otherwise the reason it cannot.</summary>
    public static partial string? ProbeCuda();
    /// <summary>Opens CUDA device <paramref name="ordinal"/>; throws <see cref="CudaUnavailableException"/> saying why not.</summary>
    public static partial IDevice OpenCuda(int ordinal = 0);
    /// <summary>Null when the emulated device can be opened; otherwise the reason it cannot.</summary>
    public static partial string? ProbeEmulated();
    /// <summary>Opens the emulated device (kernels compiled for the CPU).</summary>
    public static partial IDevice OpenEmulated();
}
