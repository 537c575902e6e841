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
