using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>SDDMM (sampled dense-dense products at a CSR pattern) of the CPU backend.</summary>
public sealed partial class CpuBackend
{
    // ---------------------------------------------------------------- SDDMM

    /// <summary>
    /// For each nonzero (i, j) of the MxN pattern: dot(X[i,:], Y[j,:]) -> a new CSR matrix with the pattern's arrays
    /// (see <see cref="SddmmCsrInto(CsrMatrix, DenseTensor, DenseTensor, Memory{float})"/>).
    /// </summary>
    public CsrMatrix SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        Shapes.SddmmCsr(pattern, x, y);
        var values = new float[pattern.Nnz];
        SddmmCsrInto(pattern, x, y, values);
        return pattern.WithValues(values);
    }

    /// <summary>
    /// For each nonzero p = (i, j) of the MxN pattern: values[p] = dot(X[i,:], Y[j,:]), X MxK and Y NxK, written
    /// into the caller's <paramref name="values"/> (exactly <c>pattern.Nnz</c> long, in the pattern's order; an
    /// array converts to it). Allocates nothing after the first calls. Rows are split into chunks of similar work
    /// run by the calling thread and the backend's persistent workers; a small problem stays on the calling thread.
    /// </summary>
    /// <exception cref="ArgumentException">A shape does not match, a tensor lives on a device, or values has the wrong length.</exception>
    /// <exception cref="CsrFormatException">The arrays of <paramref name="pattern"/> were made invalid after its validation.</exception>
    public void SddmmCsrInto(CsrMatrix pattern, DenseTensor x, DenseTensor y, Memory<float> values)
        => SddmmCsrInto(pattern, x, y, values, CpuKernel.V2);

    [ThreadStatic] private static SddmmJob? t_sddmmJob;

    internal void SddmmCsrInto(CsrMatrix pattern, DenseTensor x, DenseTensor y, Memory<float> values, CpuKernel version)
    {
        Shapes.SddmmCsrInto(pattern, x, y, values.Length);
        int rows = pattern.Rows, k = x.Cols;
        int[] ro = pattern.RowOffsets, ci = pattern.ColumnIndices;
        if (rows == 0) return;
        if (ro.Length != rows + 1 || ro[rows] != ci.Length || ci.Length != values.Length)
            throw new CsrFormatException($"The arrays of this {rows}x{pattern.Cols} CSR matrix were changed after validation.");
        long work = ((long)ro[rows] + rows) * Math.Max(k, 1);
        int threads = MaxDegreeOfParallelism;
        if (threads == 1 || work < SerialWork)
        {
            SddmmRange(0, rows, pattern.Cols, ro, ci, x.HostData, y.HostData, k, values.Span, version);
            return;
        }
        int chunks = (int)Math.Min(Math.Min(8L * threads, work / ChunkWork), rows);
        var job = t_sddmmJob ??= new SddmmJob();
        job.Set(rows, pattern.Cols, ro, ci, x.HostData, y.HostData, k, values, version, chunks);
        CpuWorkers.Shared.Run(job, threads);
    }

    private sealed class SddmmJob : CpuJob
    {
        private int[] _bounds = new int[17];
        private int[]? _ro, _ci;
        private float[]? _x, _y;
        private Memory<float> _values;
        private int _cols, _k;
        private CpuKernel _version;

        internal void Set(int rows, int cols, int[] ro, int[] ci, float[] x, float[] y, int k, Memory<float> values,
            CpuKernel version, int chunks)
        {
            if (_bounds.Length < chunks + 1) _bounds = new int[chunks + 1];
            BalancedRowRanges(ro, rows, _bounds.AsSpan(0, chunks + 1));
            Count = chunks;
            _ro = ro; _ci = ci; _x = x; _y = y; _k = k; _cols = cols; _values = values; _version = version;
        }

        protected override void RunChunk(int chunk)
            => SddmmRange(_bounds[chunk], _bounds[chunk + 1], _cols, _ro!, _ci!, _x!, _y!, _k, _values.Span, _version);

        protected override void Clear() { _ro = _ci = null; _x = _y = null; _values = default; }
    }

    private static void SddmmRange(int r0, int r1, int cols, int[] ro, int[] ci, float[] x, float[] y, int k, Span<float> values,
        CpuKernel version)
    {
        CheckRows(r0, r1, cols, ro, ci, values.Length);
        if (version == CpuKernel.V1) SddmmRowsV1(r0, r1, ro, ci, x, y, k, values);
        else SddmmRowsV2(r0, r1, ro, ci, x, y, k, values);
    }

    // ---------------------------------------------------------------- V1: one nonzero at a time, Vector<T>

    private static void SddmmRowsV1(int r0, int r1, int[] ro, int[] ci, float[] xd, float[] yd, int k, Span<float> values)
    {
        for (int i = r0; i < r1; i++)
        {
            var xr = new ReadOnlySpan<float>(xd, i * k, k);
            for (int p = ro[i]; p < ro[i + 1]; p++)
                values[p] = Dot(xr, new ReadOnlySpan<float>(yd, ci[p] * k, k));
        }
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

    // ---------------------------------------------------------------- V2: four nonzeros at a time, Vector512

    /// <summary>
    /// Per row, nonzeros four at a time: each step loads a vector of X's row once and multiplies it with the four
    /// rows of Y (4 independent FMA chains), then the four sums are reduced. Vector512 when enabled, else Vector256.
    /// </summary>
    private static void SddmmRowsV2(int r0, int r1, int[] ro, int[] ci, float[] xd, float[] yd, int k, Span<float> values)
    {
        ref int CI = ref MemoryMarshal.GetArrayDataReference(ci);
        ref float Y = ref MemoryMarshal.GetArrayDataReference(yd);
        ref float V = ref MemoryMarshal.GetReference(values);
        bool wide = UseVector512;
        for (int i = r0; i < r1; i++)
        {
            ref float X = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(xd), (nint)i * k);
            int p = ro[i], end = ro[i + 1];
            for (; p + 4 <= end; p += 4)
            {
                ref float y0 = ref Unsafe.Add(ref Y, (nint)Unsafe.Add(ref CI, p) * k);
                ref float y1 = ref Unsafe.Add(ref Y, (nint)Unsafe.Add(ref CI, p + 1) * k);
                ref float y2 = ref Unsafe.Add(ref Y, (nint)Unsafe.Add(ref CI, p + 2) * k);
                ref float y3 = ref Unsafe.Add(ref Y, (nint)Unsafe.Add(ref CI, p + 3) * k);
                var sums = wide ? Dot4x512(ref X, ref y0, ref y1, ref y2, ref y3, k) : Dot4x256(ref X, ref y0, ref y1, ref y2, ref y3, k);
                sums.StoreUnsafe(ref Unsafe.Add(ref V, p));
            }
            for (; p < end; p++)
                Unsafe.Add(ref V, p) = Dot1(ref X, ref Unsafe.Add(ref Y, (nint)Unsafe.Add(ref CI, p) * k), k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Dot4x512(ref float x, ref float y0, ref float y1, ref float y2, ref float y3, int k)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int t = 0;
        for (; t + 16 <= k; t += 16)
        {
            var xv = Vector512.LoadUnsafe(ref x, (nuint)t);
            a0 = Vector512.FusedMultiplyAdd(xv, Vector512.LoadUnsafe(ref y0, (nuint)t), a0);
            a1 = Vector512.FusedMultiplyAdd(xv, Vector512.LoadUnsafe(ref y1, (nuint)t), a1);
            a2 = Vector512.FusedMultiplyAdd(xv, Vector512.LoadUnsafe(ref y2, (nuint)t), a2);
            a3 = Vector512.FusedMultiplyAdd(xv, Vector512.LoadUnsafe(ref y3, (nuint)t), a3);
        }
        // Fold each 512-bit sum to 256 bits, then finish with the 256-bit reduction (which also takes the tail).
        return Reduce4(a0.GetLower() + a0.GetUpper(), a1.GetLower() + a1.GetUpper(), a2.GetLower() + a2.GetUpper(),
            a3.GetLower() + a3.GetUpper(), ref x, ref y0, ref y1, ref y2, ref y3, t, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Dot4x256(ref float x, ref float y0, ref float y1, ref float y2, ref float y3, int k)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int t = 0;
        for (; t + 8 <= k; t += 8)
        {
            var xv = Vector256.LoadUnsafe(ref x, (nuint)t);
            a0 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref y0, (nuint)t), a0);
            a1 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref y1, (nuint)t), a1);
            a2 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref y2, (nuint)t), a2);
            a3 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref y3, (nuint)t), a3);
        }
        return Reduce4(a0, a1, a2, a3, ref x, ref y0, ref y1, ref y2, ref y3, t, k);
    }

    /// <summary>The 8-wide step (if 8 columns remain), then the four horizontal sums, then the scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Reduce4(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3,
        ref float x, ref float y0, ref float y1, ref float y2, ref float y3, int t, int k)
    {
        if (t + 8 <= k)
        {
            var xv = Vector256.LoadUnsafe(ref x, (nuint)t);
            a0 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref y0, (nuint)t), a0);
            a1 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref y1, (nuint)t), a1);
            a2 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref y2, (nuint)t), a2);
            a3 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref y3, (nuint)t), a3);
            t += 8;
        }
        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; t < k; t++)
        {
            float xv = Unsafe.Add(ref x, t);
            s0 = MathF.FusedMultiplyAdd(xv, Unsafe.Add(ref y0, t), s0);
            s1 = MathF.FusedMultiplyAdd(xv, Unsafe.Add(ref y1, t), s1);
            s2 = MathF.FusedMultiplyAdd(xv, Unsafe.Add(ref y2, t), s2);
            s3 = MathF.FusedMultiplyAdd(xv, Unsafe.Add(ref y3, t), s3);
        }
        return Vector128.Create(s0, s1, s2, s3);
    }

    /// <summary>One dot product (a row's last nonzeros, fewer than four).</summary>
    private static float Dot1(ref float x, ref float y, int k)
    {
        Vector256<float> a0 = default, a1 = default;
        int t = 0;
        for (; t + 16 <= k; t += 16)
        {
            a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)t), Vector256.LoadUnsafe(ref y, (nuint)t), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)(t + 8)), Vector256.LoadUnsafe(ref y, (nuint)(t + 8)), a1);
        }
        if (t + 8 <= k)
        {
            a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)t), Vector256.LoadUnsafe(ref y, (nuint)t), a0);
            t += 8;
        }
        float s = Vector256.Sum(a0 + a1);
        for (; t < k; t++) s = MathF.FusedMultiplyAdd(Unsafe.Add(ref x, t), Unsafe.Add(ref y, t), s);
        return s;
    }
}
