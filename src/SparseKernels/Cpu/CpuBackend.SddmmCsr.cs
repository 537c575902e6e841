using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>SDDMM (sampled dense-dense products at a CSR pattern) of the CPU backend.</summary>
public sealed partial class CpuBackend
{
    // ---------------------------------------------------------------- SDDMM

    /// <summary>For each nonzero (i, j) of the MxN pattern: dot(X[i,:], Y[j,:]), vectorised over K; rows in parallel.</summary>
    public CsrMatrix SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        Shapes.SddmmCsr(pattern, x, y);
        CheckColumns(pattern);
        int rows = pattern.Rows, k = x.Cols;
        int[] ro = pattern.RowOffsets, ci = pattern.ColumnIndices;
        float[] xd = x.HostData, yd = y.HostData;
        var values = new float[pattern.Nnz];
        int[] bounds = BalancedRowRanges(ro, rows, Math.Max(1, MaxDegreeOfParallelism) * 8);
        void Rows(int r0, int r1)
        {
            for (int i = r0; i < r1; i++)
            {
                var xr = new ReadOnlySpan<float>(xd, i * k, k);
                for (int p = ro[i]; p < ro[i + 1]; p++)
                    values[p] = Dot(xr, new ReadOnlySpan<float>(yd, ci[p] * k, k));
            }
        }
        if (rows == 0) return pattern.WithValues(values);
        if (bounds.Length == 2 || (long)pattern.Nnz * k < 32_768) Rows(0, rows);
        else Parallel.For(0, bounds.Length - 1, Options, t => Rows(bounds[t], bounds[t + 1]));
        return pattern.WithValues(values);
    }

    private static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        ref float X = ref MemoryMarshal.GetReference(x);
        ref float Y = ref MemoryMarshal.GetReference(y);
        int k = x.Length, vc = VC, t = 0;
        Vector<float> s0 = default, s1 = default;
        for (; t + 2 * vc <= k; t += 2 * vc)
        {
            s0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref X, (nuint)t), Vector.LoadUnsafe(ref Y, (nuint)t), s0);
            s1 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref X, (nuint)(t + vc)), Vector.LoadUnsafe(ref Y, (nuint)(t + vc)), s1);
        }
        for (; t + vc <= k; t += vc)
            s0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref X, (nuint)t), Vector.LoadUnsafe(ref Y, (nuint)t), s0);
        float sum = Vector.Sum(s0 + s1);
        for (; t < k; t++) sum = MathF.FusedMultiplyAdd(x[t], y[t], sum);
        return sum;
    }
}
