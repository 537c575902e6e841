using SparseKernels.Runtime;

namespace SparseKernels.Ops;

/// <summary>Which kernel computes a sparse layer's matmul.</summary>
public enum SparseMatmulKernel
{
    /// <summary>Decide from the crossover table (<see cref="SparseMatmulDispatch.Choose"/>).</summary>
    Auto = 0,
    /// <summary>Our SpMM (<see cref="SpmmCsr"/>, V2) on the CSR weight.</summary>
    Spmm,
    /// <summary>Our masked dense GEMM (<see cref="MaskedGemm"/>) on the dense weight times its mask.</summary>
    MaskedGemm,
    /// <summary>cuBLAS SGEMM on the dense weight (CUDA devices only).</summary>
    Cublas,
}

/// <summary>
/// Sparsity from which our SpMM beats dense compute, by the dense operand's column count N. A row applies to
/// every N up to and including <see cref="MaxN"/>; the last row should have <c>int.MaxValue</c>.
/// </summary>
public readonly record struct CrossoverRow(int MaxN, double SparseFromSparsity);

/// <summary>
/// Picks the kernel for a sparse layer's matmul (Y = X . W^T with W out x in at a given sparsity, N columns of
/// the dense operand) from a crossover table, or honours a forced choice.
/// </summary>
/// <remarks>
/// The default crossover is NOT measured here (no GPU has been lent to this project yet): it is Sputnik's
/// published fp32 result (Gale et al., SC'20: their SpMM overtakes cuBLAS SGEMM between about 70 % and 80 %
/// sparsity on the DLMC set), taken as 75 % for N above 64 and 70 % for N up to 64 (small N leaves dense GEMM
/// with little reuse per weight). Replace <see cref="DefaultTable"/> with rows measured by the SpmmCsrBenchmarks
/// synthetic sweep (50 ... 99 % sparsity) on the target GPU and pass it per call, or set it on a backend
/// (<see cref="SparseKernels.Autograd.DeviceTensorBackend.CrossoverTable"/>); there is no global table.
/// </remarks>
public static class SparseMatmulDispatch
{
    /// <summary>The stated default (see remarks): 70 % for N &lt;= 64, 75 % above.</summary>
    public static readonly IReadOnlyList<CrossoverRow> DefaultTable = [new(64, 0.70), new(int.MaxValue, 0.75)];

    /// <summary>The crossover sparsity for <paramref name="n"/> columns in <paramref name="table"/>.</summary>
    public static double CrossoverFor(int n, IReadOnlyList<CrossoverRow>? table = null)
    {
        table ??= DefaultTable;
        foreach (var row in table)
            if (n <= row.MaxN) return row.SparseFromSparsity;
        return table[^1].SparseFromSparsity;
    }

    /// <summary>
    /// The kernel for a layer of sparsity <paramref name="sparsity"/> (fraction of zeros, in [0, 1]) whose dense
    /// operand has <paramref name="n"/> columns, on a device of kind <paramref name="device"/>. Auto: SpMM at or
    /// above the crossover; below it cuBLAS on a CUDA device, else the masked dense GEMM (which stands in for
    /// dense compute on the emulated device). A forced choice is returned as is, except cuBLAS off CUDA.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Sparsity outside [0, 1] or negative n.</exception>
    /// <exception cref="NotSupportedException">cuBLAS forced on a device that is not CUDA.</exception>
    public static SparseMatmulKernel Choose(DeviceKind device, double sparsity, int n,
                                            SparseMatmulKernel force = SparseMatmulKernel.Auto, IReadOnlyList<CrossoverRow>? table = null)
    {
        if (double.IsNaN(sparsity) || sparsity < 0 || sparsity > 1)
            throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, "Sparsity must be a fraction of zeros in [0, 1].");
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (table is not null) Validate(table);
        switch (force)
        {
            case SparseMatmulKernel.Cublas when device != DeviceKind.Cuda:
                throw new NotSupportedException($"cuBLAS was forced but the device is {device}; cuBLAS needs a CUDA device (use MaskedGemm for dense compute).");
            case SparseMatmulKernel.Spmm or SparseMatmulKernel.MaskedGemm or SparseMatmulKernel.Cublas:
                return force;
            case SparseMatmulKernel.Auto:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(force), force, "Unknown kernel choice.");
        }
        if (sparsity >= CrossoverFor(n, table)) return SparseMatmulKernel.Spmm;
        return device == DeviceKind.Cuda ? SparseMatmulKernel.Cublas : SparseMatmulKernel.MaskedGemm;
    }

    /// <summary>Checks a crossover table (non-empty, sparsities in [0, 1], MaxN increasing) and returns it.</summary>
    /// <exception cref="ArgumentException">The table is empty or a row is out of order or out of range.</exception>
    public static IReadOnlyList<CrossoverRow> Validate(IReadOnlyList<CrossoverRow> table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Count == 0) throw new ArgumentException("The crossover table is empty.", nameof(table));
        for (int i = 0; i < table.Count; i++)
        {
            var r = table[i];
            if (double.IsNaN(r.SparseFromSparsity) || r.SparseFromSparsity < 0 || r.SparseFromSparsity > 1)
                throw new ArgumentException($"Crossover table row {i}: sparsity {r.SparseFromSparsity} is outside [0, 1].", nameof(table));
            if (i > 0 && r.MaxN <= table[i - 1].MaxN)
                throw new ArgumentException($"Crossover table row {i}: MaxN {r.MaxN} must be above the previous row's {table[i - 1].MaxN}.", nameof(table));
        }
        return table;
    }
}
