using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>
/// The fast CPU path: multithreaded (Parallel.For over row blocks balanced by work) with inner loops
/// vectorised by <see cref="Vector{T}"/> and fused multiply-adds. Accumulates in float, so results differ from
/// <see cref="CpuReference"/> by rounding only. The CPU fallback of the engine and the benchmarks' baseline.
/// </summary>
/// <remarks>
/// Inner loops read through <see cref="Unsafe"/> refs (no raw pointers) after the shapes are checked at the
/// boundary; column indices of CSR inputs are re-checked as they are read, because the arrays of a
/// <see cref="CsrMatrix"/> are mutable after its validation.
/// </remarks>
public static partial class CpuBackend
{
    /// <summary>Parallelism used by every operation (defaults to all cores).</summary>
    public static int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;

    private static ParallelOptions Options => new() { MaxDegreeOfParallelism = Math.Max(1, MaxDegreeOfParallelism) };

    private static int VC => Vector<float>.Count;
}
