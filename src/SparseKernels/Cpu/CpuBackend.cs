using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>
/// The fast CPU path: multithreaded with inner loops vectorised (Vector512 where accelerated, else Vector256 /
/// <see cref="Vector{T}"/>) and fused multiply-adds. SpMM and SDDMM run on persistent workers shared by every
/// instance (row chunks of similar work, no allocation per call; see <c>SpmmCsrInto</c>); the other operations use
/// Parallel.For. Accumulates in float, so results differ from
/// <see cref="CpuReference"/> by rounding only. The CPU fallback of the engine and the benchmarks' baseline.
/// </summary>
/// <remarks>
/// Inner loops read through <see cref="Unsafe"/> refs (no raw pointers) after the shapes are checked at the
/// boundary; column indices of CSR inputs are re-checked as they are read, because the arrays of a
/// <see cref="CsrMatrix"/> are mutable after its validation.
/// </remarks>
public sealed partial class CpuBackend
{
    /// <summary>A backend using every core (its own instance; create another for another setting).</summary>
    public static CpuBackend Default { get; } = new();

    /// <summary>A backend running its operations on up to <paramref name="maxDegreeOfParallelism"/> threads (default: every core).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The thread count is below 1.</exception>
    public CpuBackend(int? maxDegreeOfParallelism = null)
    {
        int threads = maxDegreeOfParallelism ?? Environment.ProcessorCount;
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1, nameof(maxDegreeOfParallelism));
        MaxDegreeOfParallelism = threads;
    }

    /// <summary>Threads every operation of this backend may use.</summary>
    public int MaxDegreeOfParallelism { get; }

    private ParallelOptions Options => new() { MaxDegreeOfParallelism = MaxDegreeOfParallelism };

    private static int VC => Vector<float>.Count;
}
