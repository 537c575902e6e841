using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Bench;

/// <summary>Shared data and device for the topology benchmarks (TopkSelect, RiglUpdate).</summary>
internal static class TopologyBenchSupport
{
    private static readonly Lazy<IDevice?> s_cuda = new(() => Devices.ProbeCuda() is null ? Devices.OpenCuda(0) : null);

    /// <summary>The CUDA device, or null (the GPU benchmarks then have no cases and do not run).</summary>
    public static IDevice? Cuda => s_cuda.Value;

    /// <summary>Nonzero values in [-1, -0.05] U [0.05, 1].</summary>
    public static float[] Values(int n, int seed) => BenchData.NonZeroArray(new Random(seed), n);

    public static DenseTensor Dense(int rows, int cols, int seed) => BenchData.Dense(rows, cols, seed);

    public static CsrMatrix Layer(int size, double sparsity, int seed) => BenchData.RandomCsr(new Random(seed), size, size, 1 - sparsity);
}
