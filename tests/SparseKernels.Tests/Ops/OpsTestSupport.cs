using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>Shared helpers of the kernel tests: tolerances and row lengths.</summary>
internal static class OpsTestSupport
{
    /// <summary>
    /// Tolerance for an fp32 dot product of <paramref name="terms"/> products of values in [-1, 1],
    /// against a double reference: rounding errors grow like sqrt(terms) * eps * |partial sums|, so
    /// atol = 1e-5 * (1 + sqrt(terms)), rtol = 1e-4 (3000 terms: atol 5.6e-4; a wrong or missing
    /// term is off by at least 0.0025 and NaN poison never passes).
    /// </summary>
    public static (double Atol, double Rtol) DotTolerance(int terms) => (1e-5 * (1 + Math.Sqrt(Math.Max(terms, 0))), 1e-4);

    public static int MaxRowLength(CsrMatrix a)
    {
        int max = 0;
        for (int r = 0; r < a.Rows; r++) max = Math.Max(max, a.RowLength(r));
        return max;
    }
}
