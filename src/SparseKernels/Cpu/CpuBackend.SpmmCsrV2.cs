using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>The V2 SpMM kernel: Vector512 (or Vector256) register tiles over N, column panels sized to L2.</summary>
public sealed partial class CpuBackend
{
    /// <summary>Whether V2 kernels use Vector512 (tests turn it off to cover the Vector256 path on AVX-512 machines).</summary>
    internal static bool UseVector512 { get; set; } = Vector512.IsHardwareAccelerated;

    /// <summary>
    /// The K x panel slice of B that one pass over a block of rows reads should stay in L2 (1 MB per core on the
    /// target machine, 512 KB on many others): 128-column panels up to this K, 64-column panels beyond.
    /// </summary>
    internal static int WidePanelMaxK { get; set; } = 1024;

    /// <summary>Where a kernel reads the value of nonzero p (JIT-specialised per struct, so no call remains).</summary>
    private interface IValues
    {
        float this[int p] { get; }
    }

    /// <summary>values[p]: A's own order.</summary>
    private readonly struct DirectValues(float[] values) : IValues
    {
        private readonly float[] _values = values;
        public float this[int p]
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_values), p);
        }
    }

    /// <summary>
    /// values[positions[p]]: the transposed pattern reading A's values where they are (positions built by
    /// <see cref="TransposePlan"/>, all in range).
    /// </summary>
    private readonly struct GatheredValues(float[] values, int[] positions) : IValues
    {
        private readonly float[] _values = values;
        private readonly int[] _positions = positions;
        public float this[int p]
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_values),
                Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_positions), p));
        }
    }

    private static void SpmmRowsV2<TV>(int r0, int r1, int k, int[] ro, int[] ci, TV v, float[] b, int n, float[] c)
        where TV : struct, IValues
    {
        ref int CI = ref MemoryMarshal.GetArrayDataReference(ci);
        ref float B = ref MemoryMarshal.GetArrayDataReference(b);
        ref float C = ref MemoryMarshal.GetArrayDataReference(c);
        int j = 0;
        if (UseVector512)
        {
            // Panels outermost (see SpmmRowsV1): a block of rows reads a K x panel slice of B that stays in L2.
            if (k <= WidePanelMaxK)
                for (; j + 128 <= n; j += 128)
                    for (int i = r0; i < r1; i++)
                        Panel8x512(ro[i], ro[i + 1], ref CI, v, ref Unsafe.Add(ref B, j), n, ref Unsafe.Add(ref C, (nint)i * n + j));
            for (; j + 64 <= n; j += 64)
                for (int i = r0; i < r1; i++)
                    Panel4x512(ro[i], ro[i + 1], ref CI, v, ref Unsafe.Add(ref B, j), n, ref Unsafe.Add(ref C, (nint)i * n + j));
            for (; j + 16 <= n; j += 16)
                for (int i = r0; i < r1; i++)
                    Panel1x512(ro[i], ro[i + 1], ref CI, v, ref Unsafe.Add(ref B, j), n, ref Unsafe.Add(ref C, (nint)i * n + j));
        }
        else
        {
            for (; j + 64 <= n; j += 64)
                for (int i = r0; i < r1; i++)
                    Panel8x256(ro[i], ro[i + 1], ref CI, v, ref Unsafe.Add(ref B, j), n, ref Unsafe.Add(ref C, (nint)i * n + j));
        }
        for (; j + 8 <= n; j += 8)
            for (int i = r0; i < r1; i++)
                Panel1x256(ro[i], ro[i + 1], ref CI, v, ref Unsafe.Add(ref B, j), n, ref Unsafe.Add(ref C, (nint)i * n + j));
        if (j < n)
            for (int i = r0; i < r1; i++)
                ScalarColumns(ro[i], ro[i + 1], ref CI, v, ref Unsafe.Add(ref B, j), n, n - j, ref Unsafe.Add(ref C, (nint)i * n + j));
    }

    /// <summary>The row of B that nonzero p multiplies (B already offset to the panel's first column).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref float Row(ref float B, ref int CI, int p, int n) => ref Unsafe.Add(ref B, (nint)Unsafe.Add(ref CI, p) * n);

    /// <summary>128 columns of one output row: 8 Vector512 accumulators, one broadcast and 8 FMAs per nonzero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Panel8x512<TV>(int start, int end, ref int CI, TV v, ref float B, int n, ref float cr) where TV : struct, IValues
    {
        Vector512<float> x0 = default, x1 = default, x2 = default, x3 = default, x4 = default, x5 = default, x6 = default, x7 = default;
        for (int p = start; p < end; p++)
        {
            var s = Vector512.Create(v[p]);
            ref float br = ref Row(ref B, ref CI, p, n);
            x0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br), s, x0);
            x1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 16), s, x1);
            x2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 32), s, x2);
            x3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 48), s, x3);
            x4 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 64), s, x4);
            x5 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 80), s, x5);
            x6 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 96), s, x6);
            x7 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 112), s, x7);
        }
        x0.StoreUnsafe(ref cr); x1.StoreUnsafe(ref cr, 16); x2.StoreUnsafe(ref cr, 32); x3.StoreUnsafe(ref cr, 48);
        x4.StoreUnsafe(ref cr, 64); x5.StoreUnsafe(ref cr, 80); x6.StoreUnsafe(ref cr, 96); x7.StoreUnsafe(ref cr, 112);
    }

    /// <summary>64 columns of one output row: two nonzeros per step into two sets of 4 Vector512 accumulators (8 FMA chains).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Panel4x512<TV>(int start, int end, ref int CI, TV v, ref float B, int n, ref float cr) where TV : struct, IValues
    {
        Vector512<float> x0 = default, x1 = default, x2 = default, x3 = default, y0 = default, y1 = default, y2 = default, y3 = default;
        int p = start;
        for (; p + 2 <= end; p += 2)
        {
            var s = Vector512.Create(v[p]);
            var t = Vector512.Create(v[p + 1]);
            ref float br = ref Row(ref B, ref CI, p, n);
            ref float bs = ref Row(ref B, ref CI, p + 1, n);
            x0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br), s, x0);
            x1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 16), s, x1);
            x2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 32), s, x2);
            x3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 48), s, x3);
            y0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref bs), t, y0);
            y1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref bs, 16), t, y1);
            y2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref bs, 32), t, y2);
            y3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref bs, 48), t, y3);
        }
        if (p < end)
        {
            var s = Vector512.Create(v[p]);
            ref float br = ref Row(ref B, ref CI, p, n);
            x0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br), s, x0);
            x1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 16), s, x1);
            x2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 32), s, x2);
            x3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref br, 48), s, x3);
        }
        (x0 + y0).StoreUnsafe(ref cr); (x1 + y1).StoreUnsafe(ref cr, 16);
        (x2 + y2).StoreUnsafe(ref cr, 32); (x3 + y3).StoreUnsafe(ref cr, 48);
    }

    /// <summary>16 columns of one output row (the part of N below a 64-column panel).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Panel1x512<TV>(int start, int end, ref int CI, TV v, ref float B, int n, ref float cr) where TV : struct, IValues
    {
        Vector512<float> x0 = default, y0 = default;
        int p = start;
        for (; p + 2 <= end; p += 2)
        {
            x0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref Row(ref B, ref CI, p, n)), Vector512.Create(v[p]), x0);
            y0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref Row(ref B, ref CI, p + 1, n)), Vector512.Create(v[p + 1]), y0);
        }
        if (p < end)
            x0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref Row(ref B, ref CI, p, n)), Vector512.Create(v[p]), x0);
        (x0 + y0).StoreUnsafe(ref cr);
    }

    /// <summary>64 columns of one output row: 8 Vector256 accumulators (machines without AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Panel8x256<TV>(int start, int end, ref int CI, TV v, ref float B, int n, ref float cr) where TV : struct, IValues
    {
        Vector256<float> x0 = default, x1 = default, x2 = default, x3 = default, x4 = default, x5 = default, x6 = default, x7 = default;
        for (int p = start; p < end; p++)
        {
            var s = Vector256.Create(v[p]);
            ref float br = ref Row(ref B, ref CI, p, n);
            x0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref br), s, x0);
            x1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref br, 8), s, x1);
            x2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref br, 16), s, x2);
            x3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref br, 24), s, x3);
            x4 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref br, 32), s, x4);
            x5 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref br, 40), s, x5);
            x6 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref br, 48), s, x6);
            x7 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref br, 56), s, x7);
        }
        x0.StoreUnsafe(ref cr); x1.StoreUnsafe(ref cr, 8); x2.StoreUnsafe(ref cr, 16); x3.StoreUnsafe(ref cr, 24);
        x4.StoreUnsafe(ref cr, 32); x5.StoreUnsafe(ref cr, 40); x6.StoreUnsafe(ref cr, 48); x7.StoreUnsafe(ref cr, 56);
    }

    /// <summary>8 columns of one output row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Panel1x256<TV>(int start, int end, ref int CI, TV v, ref float B, int n, ref float cr) where TV : struct, IValues
    {
        Vector256<float> x0 = default, y0 = default;
        int p = start;
        for (; p + 2 <= end; p += 2)
        {
            x0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref Row(ref B, ref CI, p, n)), Vector256.Create(v[p]), x0);
            y0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref Row(ref B, ref CI, p + 1, n)), Vector256.Create(v[p + 1]), y0);
        }
        if (p < end)
            x0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref Row(ref B, ref CI, p, n)), Vector256.Create(v[p]), x0);
        (x0 + y0).StoreUnsafe(ref cr);
    }

    /// <summary>The last <paramref name="width"/> (&lt; 8) columns of one output row, one at a time.</summary>
    private static void ScalarColumns<TV>(int start, int end, ref int CI, TV v, ref float B, int n, int width, ref float cr)
        where TV : struct, IValues
    {
        for (int j = 0; j < width; j++)
        {
            float acc = 0;
            for (int p = start; p < end; p++)
                acc = MathF.FusedMultiplyAdd(v[p], Unsafe.Add(ref B, (nint)Unsafe.Add(ref CI, p) * n + j), acc);
            Unsafe.Add(ref cr, j) = acc;
        }
    }

    /// <summary>
    /// The pattern of A^T for <see cref="SpmmCsrTransposedInto(CsrMatrix, DenseTensor, DenseTensor)"/>: offsets (K + 1),
    /// the row of A of each nonzero, and its position in A (to read A's values where they are). Cached per matrix
    /// (a weak table: it goes with the matrix) together with a copy of the pattern it was built from; a pattern
    /// changed in place no longer matches the copy and gets a new plan.
    /// </summary>
    private sealed class TransposePlan
    {
        private static readonly ConditionalWeakTable<CsrMatrix, TransposePlan> s_plans = new();

        private readonly int[] _rowOffsets, _columnIndices;
        internal int[] Offsets { get; }
        internal int[] RowIndices { get; }
        internal int[] Positions { get; }

        private TransposePlan(CsrMatrix a)
        {
            int[] ro = a.RowOffsets, ci = a.ColumnIndices;
            CsrMatrix.Validate(a.Rows, a.Cols, ro, ci, a.Values.Length);
            _rowOffsets = (int[])ro.Clone();
            _columnIndices = (int[])ci.Clone();
            int nnz = ci.Length, cols = a.Cols;
            var offsets = new int[cols + 1];
            foreach (int col in _columnIndices) offsets[col + 1]++;
            for (int col = 0; col < cols; col++) offsets[col + 1] += offsets[col];
            var next = offsets[..cols];
            var rows = new int[nnz];
            var positions = new int[nnz];
            for (int r = 0; r < a.Rows; r++)
                for (int p = _rowOffsets[r]; p < _rowOffsets[r + 1]; p++)
                {
                    int q = next[_columnIndices[p]]++;
                    rows[q] = r;
                    positions[q] = p;
                }
            Offsets = offsets; RowIndices = rows; Positions = positions;
        }

        /// <summary>The plan of <paramref name="a"/>'s current pattern (cached, or rebuilt after a validation of the arrays).</summary>
        internal static TransposePlan For(CsrMatrix a)
        {
            if (s_plans.TryGetValue(a, out var plan)
                && a.RowOffsets.AsSpan().SequenceEqual(plan._rowOffsets) && a.ColumnIndices.AsSpan().SequenceEqual(plan._columnIndices))
                return plan;
            plan = new TransposePlan(a);
            s_plans.AddOrUpdate(a, plan);
            return plan;
        }
    }
}
