// Placeholders until the CUDA device and the emulated device exist. Each helper replaces its half.
using SparseKernels.Native;

namespace SparseKernels.Runtime;

public static partial class Devices
{
    public static partial string? ProbeCuda() => "the CUDA device is not implemented yet";
    public static partial IDevice OpenCuda(int ordinal) => throw new CudaUnavailableException(ProbeCuda()!);
}
